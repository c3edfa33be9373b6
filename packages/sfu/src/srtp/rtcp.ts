// SRTCP: RFC 3711 §3.4 (AES-CM + HMAC-SHA1-80) and RFC 7714 §9 / §17 (AEAD_AES_128_GCM).
//
// Wire formats (E = encryption flag, index = 31-bit SRTCP index of the sender SSRC):
//   AES-CM:  header(8) | E(payload) | E|index(4) | HMAC-SHA1-80(header | E(payload) | E|index)
//   GCM:     header(8) | E(payload) | tag(16) | E|index(4)      AAD = header | E|index
//            (E = 0, not produced here: AAD = header | payload | E|index, empty plaintext)
import { createCipheriv, createDecipheriv } from 'node:crypto';
import type { SrtpSessionKeys } from './kdf.js';
import { deriveSessionKeys } from './kdf.js';
import type { SrtpKeys, SrtpProfile } from './profiles.js';
import { profileParams } from './profiles.js';
import { AesCmKeystream, HmacSha1 } from './primitives.js';
import { DEFAULT_REPLAY_WINDOW, ReplayWindow } from './replay.js';
import type { SrtpContextOptions } from './rtp.js';

const MAX_INDEX = 0x7fffffff;

export class SrtcpContext {
  readonly profile: SrtpProfile;
  /** Auth/AEAD tag bytes in an SRTCP packet. */
  readonly tagLength: number;
  /** Bytes protect() appends: tag + 4-byte E|index word. */
  readonly overhead: number;
  private readonly aead: boolean;
  private readonly key: Buffer;
  private readonly salt: Buffer;
  private readonly iv: Buffer;
  private readonly ks: AesCmKeystream | null;
  private readonly hmac: HmacSha1 | null;
  /** GCM AAD scratch: header(8) | E|index(4). */
  private readonly aad = Buffer.alloc(12);
  private readonly replaySize: number;
  /** next SRTCP index to send, per sender SSRC. */
  private readonly tx = new Map<number, number>();
  private readonly rx = new Map<number, ReplayWindow>();

  /**
   * `keys`: master key + salt (session keys are derived once here, RFC 3711 §4.3), or already-derived session keys.
   */
  constructor(profile: SrtpProfile, keys: SrtpKeys | SrtpSessionKeys, options?: SrtpContextOptions) {
    const p = profileParams(profile);
    this.profile = profile;
    this.aead = p.aead;
    this.tagLength = p.rtcpTagLength;
    this.overhead = p.rtcpTagLength + 4;
    const session = 'masterKey' in keys ? deriveSessionKeys(profile, keys) : keys;
    if (session.rtcpKey.length !== p.keyLength || session.rtcpSalt.length !== p.saltLength) {
      throw new RangeError('session key/salt length does not match the profile');
    }
    if (!this.aead && session.rtcpAuthKey.length === 0) throw new RangeError('AES-CM profiles need an auth key');
    this.key = Buffer.from(session.rtcpKey);
    this.salt = Buffer.from(session.rtcpSalt);
    this.replaySize = options?.replayWindow ?? DEFAULT_REPLAY_WINDOW;
    new ReplayWindow(this.replaySize);
    this.ks = this.aead ? null : new AesCmKeystream(this.key);
    this.hmac = this.aead ? null : new HmacSha1(session.rtcpAuthKey);
    this.iv = this.ks ? this.ks.iv : Buffer.alloc(12);
    // Constant IV bytes. CM: salt[0..3], salt[8..9] (index is 31 bits in a 48-bit field), 14..15 = 0.
    // GCM: salt[0..1], salt[6..7] (RFC 7714 §9.1: 00 00 || SSRC || 00 00 || index).
    if (this.aead) {
      this.iv[0] = this.salt[0];
      this.iv[1] = this.salt[1];
      this.iv[6] = this.salt[6];
      this.iv[7] = this.salt[7];
    } else {
      for (let i = 0; i < 4; i++) this.iv[i] = this.salt[i];
      this.iv[8] = this.salt[8];
      this.iv[9] = this.salt[9];
    }
  }

  static fromSessionKeys(profile: SrtpProfile, keys: SrtpSessionKeys, options?: SrtpContextOptions): SrtcpContext {
    return new SrtcpContext(profile, keys, options);
  }

  protectedLength(length: number): number {
    return length + this.overhead;
  }

  /** Protect a (compound) RTCP packet into a new Buffer. Throws RangeError on a malformed packet. */
  protect(packet: Buffer): Buffer {
    const out = Buffer.allocUnsafe(packet.length + this.overhead);
    this.protectInto(packet, out);
    return out;
  }

  /** Protect into `out[0, n)`, returns n. The SRTCP index of the sender SSRC (bytes 4..7) advances by one. */
  protectInto(packet: Buffer, out: Buffer): number {
    const len = packet.length;
    if (len < 8 || packet[0] >> 6 !== 2) throw new RangeError('malformed RTCP packet');
    const total = len + this.overhead;
    if (out.length < total) throw new RangeError(`output buffer too small: ${out.length} < ${total}`);
    const ssrc = ((packet[4] << 24) | (packet[5] << 16) | (packet[6] << 8) | packet[7]) >>> 0;
    const index = this.tx.get(ssrc) ?? 0;
    this.tx.set(ssrc, index === MAX_INDEX ? 0 : index + 1);
    this.ivFor(packet, index);

    if (this.aead) {
      const eOff = len + 16;
      const aad = this.aad;
      for (let i = 0; i < 8; i++) aad[i] = packet[i];
      aad[8] = 0x80 | (index >>> 24);
      aad[9] = (index >>> 16) & 0xff;
      aad[10] = (index >>> 8) & 0xff;
      aad[11] = index & 0xff;
      const c = createCipheriv('aes-128-gcm', this.key, this.iv);
      c.setAAD(aad);
      const enc = c.update(packet.subarray(8, len));
      c.final();
      const tag = c.getAuthTag();
      if (out !== packet) packet.copy(out, 0, 0, 8);
      out.set(enc, 8);
      out.set(tag, len);
      out[eOff] = aad[8];
      out[eOff + 1] = aad[9];
      out[eOff + 2] = aad[10];
      out[eOff + 3] = aad[11];
      return total;
    }

    if (out !== packet) packet.copy(out, 0, 0, 8);
    this.ks!.xor(packet, 8, out, 8, len - 8);
    out[len] = 0x80 | (index >>> 24);
    out[len + 1] = (index >>> 16) & 0xff;
    out[len + 2] = (index >>> 8) & 0xff;
    out[len + 3] = index & 0xff;
    this.hmac!.sign(out, len + 4, -1, out, len + 4, this.tagLength);
    return total;
  }

  /** Verify (+ decrypt) an SRTCP packet into a new Buffer; null on malformed / auth failure / replay. Never throws. */
  unprotect(packet: Buffer): Buffer | null {
    return this.unprotectTo(packet, false);
  }

  /** Like unprotect() but decrypts over `packet` and returns a view; `packet` is untouched on null. */
  unprotectInPlace(packet: Buffer): Buffer | null {
    return this.unprotectTo(packet, true);
  }

  /** SRTCP index the next protect() of `ssrc` will use. */
  nextIndex(ssrc: number): number {
    return this.tx.get(ssrc >>> 0) ?? 0;
  }

  /** Highest authenticated SRTCP index received from `ssrc`, or undefined. */
  highestReceivedIndex(ssrc: number): number | undefined {
    return this.rx.get(ssrc >>> 0)?.highest;
  }

  removeSsrc(ssrc: number): void {
    this.tx.delete(ssrc >>> 0);
    this.rx.delete(ssrc >>> 0);
  }

  private unprotectTo(packet: Buffer, inPlace: boolean): Buffer | null {
    try {
      const len = packet.length;
      const tagLen = this.tagLength;
      if (len < 8 + 4 + tagLen || packet[0] >> 6 !== 2) return null;
      const eOff = this.aead ? len - 4 : len - 4 - tagLen;
      const tagOff = this.aead ? len - 4 - tagLen : len - tagLen;
      const bodyEnd = this.aead ? tagOff : eOff; // end of header+payload
      const encrypted = packet[eOff] >> 7 === 1;
      const index = (((packet[eOff] & 0x7f) << 24) | (packet[eOff + 1] << 16) | (packet[eOff + 2] << 8) | packet[eOff + 3]) >>> 0;
      const ssrc = ((packet[4] << 24) | (packet[5] << 16) | (packet[6] << 8) | packet[7]) >>> 0;
      const replay = this.rx.get(ssrc);
      if (replay !== undefined && !replay.check(index)) return null;

      let out: Buffer;
      if (this.aead) {
        this.ivFor(packet, index);
        const d = createDecipheriv('aes-128-gcm', this.key, this.iv, { authTagLength: 16 });
        if (encrypted) {
          const aad = this.aad;
          for (let i = 0; i < 8; i++) aad[i] = packet[i];
          for (let i = 0; i < 4; i++) aad[8 + i] = packet[eOff + i];
          d.setAAD(aad);
        } else {
          d.setAAD(Buffer.concat([packet.subarray(0, bodyEnd), packet.subarray(eOff, len)]));
        }
        d.setAuthTag(packet.subarray(tagOff, tagOff + tagLen));
        const plain = encrypted ? d.update(packet.subarray(8, bodyEnd)) : null;
        d.final(); // throws on tag mismatch
        out = inPlace ? packet.subarray(0, bodyEnd) : Buffer.from(packet.subarray(0, bodyEnd));
        if (plain !== null) out.set(plain, 8);
      } else {
        if (!this.hmac!.verify(packet, tagOff, -1, tagOff, tagLen)) return null;
        if (inPlace) out = packet.subarray(0, bodyEnd);
        else {
          out = Buffer.allocUnsafe(bodyEnd);
          packet.copy(out, 0, 0, encrypted ? 8 : bodyEnd);
        }
        if (encrypted) {
          this.ivFor(packet, index);
          this.ks!.xor(packet, 8, out, 8, bodyEnd - 8);
        }
      }

      if (replay === undefined) {
        const w = new ReplayWindow(this.replaySize);
        w.accept(index);
        this.rx.set(ssrc, w);
      } else replay.accept(index);
      return out;
    } catch {
      return null;
    }
  }

  /** Fill this.iv for (SSRC of `packet`, index). */
  private ivFor(packet: Buffer, index: number): void {
    const iv = this.iv;
    const s = this.salt;
    if (this.aead) {
      iv[2] = s[2] ^ packet[4];
      iv[3] = s[3] ^ packet[5];
      iv[4] = s[4] ^ packet[6];
      iv[5] = s[5] ^ packet[7];
      iv[8] = s[8] ^ (index >>> 24);
      iv[9] = s[9] ^ ((index >>> 16) & 0xff);
      iv[10] = s[10] ^ ((index >>> 8) & 0xff);
      iv[11] = s[11] ^ (index & 0xff);
    } else {
      iv[4] = s[4] ^ packet[4];
      iv[5] = s[5] ^ packet[5];
      iv[6] = s[6] ^ packet[6];
      iv[7] = s[7] ^ packet[7];
      iv[10] = s[10] ^ (index >>> 24);
      iv[11] = s[11] ^ ((index >>> 16) & 0xff);
      iv[12] = s[12] ^ ((index >>> 8) & 0xff);
      iv[13] = s[13] ^ (index & 0xff);
    }
  }
}
