export {
  SRTP_AES128_CM_HMAC_SHA1_80,
  SRTP_AES128_CM_HMAC_SHA1_32,
  SRTP_AEAD_AES_128_GCM,
  DTLS_SRTP_EXPORTER_LABEL,
  isSupportedProfile,
  profileParams,
  srtpKeyingMaterialLength,
  fromDtlsKeyingMaterial,
} from './profiles.js';
export type { SrtpProfile, SrtpProfileParams, SrtpKeys } from './profiles.js';
export {
  srtpKdf,
  deriveSessionKeys,
  LABEL_RTP_ENCRYPTION,
  LABEL_RTP_AUTH,
  LABEL_RTP_SALT,
  LABEL_RTCP_ENCRYPTION,
  LABEL_RTCP_AUTH,
  LABEL_RTCP_SALT,
} from './kdf.js';
export type { SrtpSessionKeys } from './kdf.js';
export { ReplayWindow, DEFAULT_REPLAY_WINDOW } from './replay.js';
export { SrtpContext, rtpHeaderLength } from './rtp.js';
export type { SrtpContextOptions } from './rtp.js';
export { SrtcpContext } from './rtcp.js';
export { createSrtpTransportContexts } from './session.js';
export type { SrtpTransportContexts } from './session.js';
export { DEFAULT_KEYSTREAM_CACHE_BYTES } from './primitives.js';
