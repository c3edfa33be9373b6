// SRTP protection profiles (RFC 5764 §4.1.2, RFC 7714 §14.2) and the DTLS-SRTP keying-material split (RFC 5764 §4.2).

/** SRTP_AES128_CM_HMAC_SHA1_80 = {0x00, 0x01} */
export const SRTP_AES128_CM_HMAC_SHA1_80 = 0x0001;
/** SRTP_AES128_CM_HMAC_SHA1_32 = {0x00, 0x02}: 32-bit SRTP tag, SRTCP keeps the 80-bit tag. */
export const SRTP_AES128_CM_HMAC_SHA1_32 = 0x0002;
/** SRTP_AEAD_AES_128_GCM = {0x00, 0x07} */
export const SRTP_AEAD_AES_128_GCM = 0x0007;

export type SrtpProfile =
  | typeof SRTP_AES128_CM_HMAC_SHA1_80
  | typeof SRTP_AES128_CM_HMAC_SHA1_32
  | typeof SRTP_AEAD_AES_128_GCM;

/** The exporter label for DTLS-SRTP keying material (RFC 5764 §4.2). */
export const DTLS_SRTP_EXPORTER_LABEL = 'EXTRACTOR-dtls_srtp';

export interface SrtpProfileParams {
  readonly profile: SrtpProfile;
  /** true for AEAD (GCM) profiles. */
  readonly aead: boolean;
  /** master (and session) cipher key length in bytes. */
  readonly keyLength: number;
  /** master (and session) salt length in bytes. */
  readonly saltLength: number;
  /** session authentication key length (HMAC-SHA1), 0 for AEAD. */
  readonly authKeyLength: number;
  /** bytes appended to an RTP packet by protect (auth tag or AEAD tag). */
  readonly rtpTagLength: number;
  /** bytes of auth/AEAD tag in an SRTCP packet (the 4-byte E|index word is extra). */
  readonly rtcpTagLength: number;
}

const PARAMS: Readonly<Record<SrtpProfile, SrtpProfileParams>> = {
  [SRTP_AES128_CM_HMAC_SHA1_80]: {
    profile: SRTP_AES128_CM_HMAC_SHA1_80,
    aead: false,
    keyLength: 16,
    saltLength: 14,
    authKeyLength: 20,
    rtpTagLength: 10,
    rtcpTagLength: 10,
  },
  [SRTP_AES128_CM_HMAC_SHA1_32]: {
    profile: SRTP_AES128_CM_HMAC_SHA1_32,
    aead: false,
    keyLength: 16,
    saltLength: 14,
    authKeyLength: 20,
    rtpTagLength: 4,
    rtcpTagLength: 10,
  },
  [SRTP_AEAD_AES_128_GCM]: {
    profile: SRTP_AEAD_AES_128_GCM,
    aead: true,
    keyLength: 16,
    saltLength: 12,
    authKeyLength: 0,
    rtpTagLength: 16,
    rtcpTagLength: 16,
  },
};

export function isSupportedProfile(profile: number): profile is SrtpProfile {
  return profile === SRTP_AES128_CM_HMAC_SHA1_80 || profile === SRTP_AES128_CM_HMAC_SHA1_32 || profile === SRTP_AEAD_AES_128_GCM;
}

export function profileParams(profile: number): SrtpProfileParams {
  if (!isSupportedProfile(profile)) throw new RangeError(`unsupported SRTP protection profile 0x${profile.toString(16)}`);
  return PARAMS[profile];
}

/** Master key + master salt for one direction. */
export interface SrtpKeys {
  readonly masterKey: Buffer;
  readonly masterSalt: Buffer;
}

/** Bytes to request from the DTLS exporter for `profile`: 2 × (key + salt). */
export function srtpKeyingMaterialLength(profile: SrtpProfile): number {
  const p = profileParams(profile);
  return 2 * (p.keyLength + p.saltLength);
}

/**
 * Split DTLS-SRTP exporter output (RFC 5764 §4.2):
 *   client_write_SRTP_master_key | server_write_SRTP_master_key | client_write_SRTP_master_salt | server_write_SRTP_master_salt
 * `local` protects what this endpoint sends, `remote` unprotects what it receives.
 * The returned buffers are copies (the material buffer may be wiped by the caller).
 */
export function fromDtlsKeyingMaterial(
  profile: SrtpProfile,
  material: Buffer,
  role: 'client' | 'server',
): { local: SrtpKeys; remote: SrtpKeys } {
  const p = profileParams(profile);
  const k = p.keyLength;
  const s = p.saltLength;
  if (material.length < 2 * (k + s)) {
    throw new RangeError(`DTLS-SRTP keying material too short: ${material.length} < ${2 * (k + s)}`);
  }
  const clientKey = Buffer.from(material.subarray(0, k));
  const serverKey = Buffer.from(material.subarray(k, 2 * k));
  const clientSalt = Buffer.from(material.subarray(2 * k, 2 * k + s));
  const serverSalt = Buffer.from(material.subarray(2 * k + s, 2 * k + 2 * s));
  const client: SrtpKeys = { masterKey: clientKey, masterSalt: clientSalt };
  const server: SrtpKeys = { masterKey: serverKey, masterSalt: serverSalt };
  return role === 'client' ? { local: client, remote: server } : { local: server, remote: client };
}
