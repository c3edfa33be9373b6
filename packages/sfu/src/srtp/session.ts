// Convenience: the four contexts of one DTLS-SRTP transport.
import type { SrtpProfile } from './profiles.js';
import { fromDtlsKeyingMaterial } from './profiles.js';
import { SrtcpContext } from './rtcp.js';
import type { SrtpContextOptions } from './rtp.js';
import { SrtpContext } from './rtp.js';

export interface SrtpTransportContexts {
  /** protects RTP we send (local keys). */
  readonly rtpOut: SrtpContext;
  /** unprotects RTP we receive (remote keys). */
  readonly rtpIn: SrtpContext;
  readonly rtcpOut: SrtcpContext;
  readonly rtcpIn: SrtcpContext;
}

/**
 * Build the send/receive SRTP and SRTCP contexts from DTLS exporter output
 * (label DTLS_SRTP_EXPORTER_LABEL, length srtpKeyingMaterialLength(profile)).
 */
export function createSrtpTransportContexts(
  profile: SrtpProfile,
  material: Buffer,
  role: 'client' | 'server',
  options?: SrtpContextOptions,
): SrtpTransportContexts {
  const { local, remote } = fromDtlsKeyingMaterial(profile, material, role);
  return {
    rtpOut: new SrtpContext(profile, local, options),
    rtpIn: new SrtpContext(profile, remote, options),
    rtcpOut: new SrtcpContext(profile, local, options),
    rtcpIn: new SrtcpContext(profile, remote, options),
  };
}
