// SRTP key derivation (RFC 3711 §4.3, AES-CM PRF §4.3.3); AEAD_AES_128_GCM uses the same KDF (RFC 7714 §11).
import { createCipheriv } from 'node:crypto';
import type { SrtpKeys, SrtpProfile } from './profiles.js';
import { profileParams } from './profiles.js';

export const LABEL_RTP_ENCRYPTION = 0x00;
export const LABEL_RTP_AUTH = 0x01;
export const LABEL_RTP_SALT = 0x02;
export const LABEL_RTCP_ENCRYPTION = 0x03;
export const LABEL_RTCP_AUTH = 0x04;
export const LABEL_RTCP_SALT = 0x05;

/** Session keys of one SRTP crypto context (both RTP and RTCP halves). */
export interface SrtpSessionKeys {
  readonly rtpKey: Buffer;
  readonly rtpSalt: Buffer;
  /** HMAC-SHA1 key (20 bytes); empty for AEAD profiles. */
  readonly rtpAuthKey: Buffer;
  readonly rtcpKey: Buffer;
  readonly rtcpSalt: Buffer;
  readonly rtcpAuthKey: Buffer;
}

/**
 * AES-CM PRF of RFC 3711 §4.3.3 with key_derivation_rate 0 (r = 0):
 * x = (label || r) XOR master_salt, keystream of AES-CM(master_key, IV = x · 2^16), first `length` bytes.
 * The master salt is placed in the first bytes of the 112-bit x (a 96-bit GCM salt is zero-padded on the
 * right, as libsrtp and the RFC 7714 implementations do), and the label lands in byte 7 of the IV.
 */
export function srtpKdf(masterKey: Buffer, masterSalt: Buffer, label: number, length: number): Buffer {
  if (masterKey.length !== 16) throw new RangeError(`SRTP master key must be 16 bytes, got ${masterKey.length}`);
  if (masterSalt.length > 14) throw new RangeError(`SRTP master salt must be at most 14 bytes, got ${masterSalt.length}`);
  const iv = Buffer.alloc(16);
  masterSalt.copy(iv, 0);
  iv[7] ^= label;
  // bytes 8..13 hold r = index DIV kdr = 0; bytes 14..15 are the 2^16 block counter, starting at 0.
  const c = createCipheriv('aes-128-ctr', masterKey, iv);
  return Buffer.concat([c.update(Buffer.alloc(length)), c.final()]);
}

/** Derive all six session values once per crypto context. */
export function deriveSessionKeys(profile: SrtpProfile, keys: SrtpKeys): SrtpSessionKeys {
  const p = profileParams(profile);
  if (keys.masterKey.length !== p.keyLength) {
    throw new RangeError(`master key for profile ${profile} must be ${p.keyLength} bytes, got ${keys.masterKey.length}`);
  }
  if (keys.masterSalt.length !== p.saltLength) {
    throw new RangeError(`master salt for profile ${profile} must be ${p.saltLength} bytes, got ${keys.masterSalt.length}`);
  }
  const { masterKey, masterSalt } = keys;
  const empty = Buffer.alloc(0);
  return {
    rtpKey: srtpKdf(masterKey, masterSalt, LABEL_RTP_ENCRYPTION, p.keyLength),
    rtpSalt: srtpKdf(masterKey, masterSalt, LABEL_RTP_SALT, p.saltLength),
    rtpAuthKey: p.authKeyLength ? srtpKdf(masterKey, masterSalt, LABEL_RTP_AUTH, p.authKeyLength) : empty,
    rtcpKey: srtpKdf(masterKey, masterSalt, LABEL_RTCP_ENCRYPTION, p.keyLength),
    rtcpSalt: srtpKdf(masterKey, masterSalt, LABEL_RTCP_SALT, p.saltLength),
    rtcpAuthKey: p.authKeyLength ? srtpKdf(masterKey, masterSalt, LABEL_RTCP_AUTH, p.authKeyLength) : empty,
  };
}
