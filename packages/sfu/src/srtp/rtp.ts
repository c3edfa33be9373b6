// SRTP for RTP packets: RFC 3711 (AES-CM + HMAC-SHA1) and RFC 7714 (AEAD_AES_128_GCM).
//
// Hot path notes (see shared/notes/performance-anchors.md §4b): the per-packet cost in Node is object creation and
// JS<->C++ crossings. GCM needs one createCipheriv per packet (Node cannot re-IV a cipher). AES-CM uses a long-lived
// ECB cipher over JS-built counter blocks plus a one-shot-hash HMAC (primitives.ts), so it creates no cipher or HMAC
// objects per packet. IVs live in one Buffer per context and are written byte-wise straight from the packet's
// SSRC/sequence bytes; protectInto() writes header+ciphertext+tag into a caller-owned buffer; unprotectInPlace()
// decrypts over the received datagram.
import { createCipheriv, createDecipheriv } from 'node:crypto';
import type { SrtpSessionKeys } from './kdf.js';
import { deriveSessionKeys } from './kdf.js';
import type { SrtpKeys, SrtpProfile } from './profiles.js';
import { profileParams } from './profiles.js';
import type { KeystreamCache } from './primitives.js';
import { AesCmKeystream, DEFAULT_KEYSTREAM_CACHE_BYTES, HmacSha1, newKeystreamCache } from './primitives.js';
import { DEFAULT_REPLAY_WINDOW, ReplayWindow } from './replay.js';

export interface SrtpContextOptions {
  /** Replay window in packets (power of two). Default 64. */
  replayWindow?: number;
  /**
   * AES-CM profiles: bytes of keystream precomputed per SSRC and direction for upcoming packet indices (one ECB call
   * serves several packets). Default 16384; 0 disables. Ignored for GCM and SRTCP.
   */
  keystreamCacheBytes?: number;
}

/**
 * Length of the RTP header (fixed 12 bytes + CSRCs + header extension) of `packet[0, end)`, or -1 if it is not a
 * well-formed RTP version-2 header that fits.
 */
export function rtpHeaderLength(packet: Uint8Array, end: number = packet.length): number {
  if (end < 12) return -1;
  const b0 = packet[0];
  if (b0 >> 6 !== 2) return -1;
  let h = 12 + ((b0 & 0x0f) << 2);
  if (b0 & 0x10) {
    if (h + 4 > end) return -1;
    h += 4 + (((packet[h + 2] << 8) | packet[h + 3]) << 2);
  }
  return h <= end ? h : -1;
}

interface TxState {
  roc: number;
  /** highest sequence number sent (s_l). */
  sl: number;
  cache: KeystreamCache | null;
}

interface RxState {
  roc: number;
  /** highest authenticated sequence number (s_l). */
  sl: number;
  replay: ReplayWindow;
  cache: KeystreamCache | null;
}

/**
 * RFC 3711 §3.3.1 / Appendix A index estimate: the ROC value v to use for `seq` given the stream's (roc, s_l).
 * May return roc - 1 (a late packet from before a wrap) or roc + 1 (the first packets after a wrap).
 */
function estimateRoc(roc: number, sl: number, seq: number): number {
  if (sl < 32768) return seq - sl > 32768 ? roc - 1 : roc;
  return sl - 32768 > seq ? roc + 1 : roc;
}

const MALFORMED = 'malformed RTP packet';

export class SrtpContext {
  readonly profile: SrtpProfile;
  /** Bytes protect() appends (auth tag / AEAD tag). */
  readonly tagLength: number;
  private readonly aead: boolean;
  private readonly key: Buffer;
  private readonly salt: Buffer;
  /** Reused IV: 16 bytes (AES-CM counter block, owned by the keystream) or 12 bytes (GCM nonce). */
  private readonly iv: Buffer;
  private readonly ks: AesCmKeystream | null;
  private readonly hmac: HmacSha1 | null;
  private readonly replaySize: number;
  private readonly tx = new Map<number, TxState>();
  private readonly rx = new Map<number, RxState>();
  private lastTxSsrc = -1;
  private lastTx: TxState | undefined;
  private lastRxSsrc = -1;
  private lastRx: RxState | undefined;

  /**
   * `keys`: master key + salt (session keys are derived once here, RFC 3711 §4.3), or already-derived session keys.
   */
  constructor(profile: SrtpProfile, keys: SrtpKeys | SrtpSessionKeys, options?: SrtpContextOptions) {
    const params = profileParams(profile);
    this.profile = profile;
    this.aead = params.aead;
    this.tagLength = params.rtpTagLength;
    const session = 'masterKey' in keys ? deriveSessionKeys(profile, keys) : keys;
    if (session.rtpKey.length !== params.keyLength || session.rtpSalt.length !== params.saltLength) {
      throw new RangeError('session key/salt length does not match the profile');
    }
    if (!this.aead && session.rtpAuthKey.length === 0) throw new RangeError('AES-CM profiles need an auth key');
    this.key = Buffer.from(session.rtpKey);
    this.salt = Buffer.from(session.rtpSalt);
    this.replaySize = options?.replayWindow ?? DEFAULT_REPLAY_WINDOW;
    new ReplayWindow(this.replaySize); // validate early
    if (this.aead) {
      this.ks = null;
      this.hmac = null;
      this.iv = Buffer.alloc(12);
      this.iv[0] = this.salt[0];
      this.iv[1] = this.salt[1];
    } else {
      this.ks = new AesCmKeystream(this.key, this.salt, options?.keystreamCacheBytes ?? DEFAULT_KEYSTREAM_CACHE_BYTES);
      this.hmac = new HmacSha1(session.rtpAuthKey);
      this.iv = this.ks.iv;
      for (let i = 0; i < 4; i++) this.iv[i] = this.salt[i];
      // bytes 14..15: block counter, 0
    }
  }

  /** A context over already-derived session keys (for known-answer tests such as RFC 7714 §16). */
  static fromSessionKeys(profile: SrtpProfile, keys: SrtpSessionKeys, options?: SrtpContextOptions): SrtpContext {
    return new SrtpContext(profile, keys, options);
  }

  /** Protected length of an RTP packet of `length` bytes. */
  protectedLength(length: number): number {
    return length + this.tagLength;
  }

  /**
   * Protect an RTP packet into a new Buffer of exactly the final size.
   * Throws RangeError on a malformed packet (caller's own data; unprotect never throws).
   */
  protect(packet: Buffer, headerLen?: number): Buffer {
    const out = Buffer.allocUnsafe(packet.length + this.tagLength);
    this.protectInto(packet, out, headerLen);
    return out;
  }

  /**
   * Protect `packet` (RTP header + payload, plaintext) writing header | ciphertext | tag into `out[0, n)` and return n.
   * `out` may be a larger reusable buffer; it may also alias `packet` (in-place) if it has room for the tag.
   * `headerLen` skips header parsing when the caller knows it (12 + 4·CC + extension).
   */
  protectInto(packet: Buffer, out: Buffer, headerLen?: number): number {
    const len = packet.length;
    const h = headerLen === undefined ? rtpHeaderLength(packet, len) : headerLen;
    if (h < 12 || h > len) throw new RangeError(MALFORMED);
    const total = len + this.tagLength;
    if (out.length < total) throw new RangeError(`output buffer too small: ${out.length} < ${total}`);

    // ---- ROC (sender side): same estimate as the receiver, so retransmissions across a wrap keep their ROC.
    const seq = (packet[2] << 8) | packet[3];
    const ssrc = ((packet[8] << 24) | (packet[9] << 16) | (packet[10] << 8) | packet[11]) >>> 0;
    let st = this.lastTxSsrc === ssrc ? this.lastTx : this.tx.get(ssrc);
    let roc: number;
    if (st === undefined) {
      st = { roc: 0, sl: seq, cache: this.aead ? null : newKeystreamCache() };
      this.tx.set(ssrc, st);
      roc = 0;
    } else {
      roc = estimateRoc(st.roc, st.sl, seq);
      if (roc < 0) roc = 0;
      if (roc > st.roc || (roc === st.roc && seq > st.sl)) {
        st.roc = roc;
        st.sl = seq;
      }
    }
    this.lastTxSsrc = ssrc;
    this.lastTx = st;

    const iv = this.iv;
    const s = this.salt;
    if (this.aead) {
      // RFC 7714 §8.1: IV = (00 00 || SSRC || ROC || SEQ) XOR salt
      iv[2] = s[2] ^ packet[8];
      iv[3] = s[3] ^ packet[9];
      iv[4] = s[4] ^ packet[10];
      iv[5] = s[5] ^ packet[11];
      iv[6] = s[6] ^ (roc >>> 24);
      iv[7] = s[7] ^ ((roc >>> 16) & 0xff);
      iv[8] = s[8] ^ ((roc >>> 8) & 0xff);
      iv[9] = s[9] ^ (roc & 0xff);
      iv[10] = s[10] ^ packet[2];
      iv[11] = s[11] ^ packet[3];
      const c = createCipheriv('aes-128-gcm', this.key, iv);
      c.setAAD(packet.subarray(0, h));
      const enc = c.update(packet.subarray(h, len));
      c.final();
      const tag = c.getAuthTag();
      if (out !== packet) packet.copy(out, 0, 0, h);
      out.set(enc, h);
      out.set(tag, len);
      return total;
    }

    // RFC 3711 §4.1.1: IV = (salt · 2^16) XOR (SSRC · 2^64) XOR (index · 2^16)
    iv[4] = s[4] ^ packet[8];
    iv[5] = s[5] ^ packet[9];
    iv[6] = s[6] ^ packet[10];
    iv[7] = s[7] ^ packet[11];
    iv[8] = s[8] ^ (roc >>> 24);
    iv[9] = s[9] ^ ((roc >>> 16) & 0xff);
    iv[10] = s[10] ^ ((roc >>> 8) & 0xff);
    iv[11] = s[11] ^ (roc & 0xff);
    iv[12] = s[12] ^ packet[2];
    iv[13] = s[13] ^ packet[3];
    if (out !== packet) packet.copy(out, 0, 0, h);
    this.ks!.xorSrtp(st.cache!, roc * 65536 + seq, packet, h, out, h, len - h);
    // Authenticated portion = header | ciphertext | ROC
    this.hmac!.sign(out, len, roc, out, len, this.tagLength);
    return total;
  }

  /**
   * Verify and decrypt an SRTP packet into a new Buffer (header | plaintext payload).
   * Returns null on malformed input, auth failure or replay; never throws.
   */
  unprotect(packet: Buffer): Buffer | null {
    return this.unprotectTo(packet, false);
  }

  /**
   * Like unprotect(), but writes the plaintext over the ciphertext in `packet` and returns a view of it
   * (packet[0, length - tag)). `packet` is untouched when null is returned.
   */
  unprotectInPlace(packet: Buffer): Buffer | null {
    return this.unprotectTo(packet, true);
  }

  private unprotectTo(packet: Buffer, inPlace: boolean): Buffer | null {
    try {
      const len = packet.length;
      const tagLen = this.tagLength;
      const end = len - tagLen;
      if (end < 12) return null;
      const h = rtpHeaderLength(packet, end);
      if (h < 0) return null;

      const seq = (packet[2] << 8) | packet[3];
      const ssrc = ((packet[8] << 24) | (packet[9] << 16) | (packet[10] << 8) | packet[11]) >>> 0;
      const st = this.lastRxSsrc === ssrc ? this.lastRx : this.rx.get(ssrc);
      let roc: number;
      let index: number;
      if (st === undefined) {
        // First packet of a stream: ROC 0 (RFC 3711 §3.3.1). State is only created once it authenticates.
        roc = 0;
        index = seq;
      } else {
        roc = estimateRoc(st.roc, st.sl, seq);
        if (roc < 0 || roc > 0xffffffff) return null;
        index = roc * 65536 + seq;
        if (!st.replay.check(index)) return null;
      }

      const iv = this.iv;
      const s = this.salt;
      let out: Buffer;
      if (this.aead) {
        iv[2] = s[2] ^ packet[8];
        iv[3] = s[3] ^ packet[9];
        iv[4] = s[4] ^ packet[10];
        iv[5] = s[5] ^ packet[11];
        iv[6] = s[6] ^ (roc >>> 24);
        iv[7] = s[7] ^ ((roc >>> 16) & 0xff);
        iv[8] = s[8] ^ ((roc >>> 8) & 0xff);
        iv[9] = s[9] ^ (roc & 0xff);
        iv[10] = s[10] ^ packet[2];
        iv[11] = s[11] ^ packet[3];
        const d = createDecipheriv('aes-128-gcm', this.key, iv, { authTagLength: 16 });
        d.setAAD(packet.subarray(0, h));
        d.setAuthTag(packet.subarray(end, len));
        const plain = d.update(packet.subarray(h, end));
        d.final(); // throws on tag mismatch -> null below
        if (inPlace) {
          packet.set(plain, h);
          out = packet.subarray(0, end);
        } else {
          out = Buffer.allocUnsafe(end);
          packet.copy(out, 0, 0, h);
          out.set(plain, h);
        }
      } else {
        if (!this.hmac!.verify(packet, end, roc, end, tagLen)) return null;
        iv[4] = s[4] ^ packet[8];
        iv[5] = s[5] ^ packet[9];
        iv[6] = s[6] ^ packet[10];
        iv[7] = s[7] ^ packet[11];
        iv[8] = s[8] ^ (roc >>> 24);
        iv[9] = s[9] ^ ((roc >>> 16) & 0xff);
        iv[10] = s[10] ^ ((roc >>> 8) & 0xff);
        iv[11] = s[11] ^ (roc & 0xff);
        iv[12] = s[12] ^ packet[2];
        iv[13] = s[13] ^ packet[3];
        const dst = inPlace ? packet : Buffer.allocUnsafe(end);
        if (!inPlace) packet.copy(dst, 0, 0, h);
        if (st === undefined) this.ks!.xor(packet, h, dst, h, end - h);
        else this.ks!.xorSrtp(st.cache!, index, packet, h, dst, h, end - h);
        out = inPlace ? packet.subarray(0, end) : dst;
      }

      // Authenticated: commit ROC / s_l / replay state.
      if (st === undefined) {
        const replay = new ReplayWindow(this.replaySize);
        replay.accept(index);
        const created: RxState = { roc, sl: seq, replay, cache: this.aead ? null : newKeystreamCache() };
        this.rx.set(ssrc, created);
        this.lastRx = created;
      } else {
        if (index > st.replay.highest) {
          st.roc = roc;
          st.sl = seq;
        }
        st.replay.accept(index);
        this.lastRx = st;
      }
      this.lastRxSsrc = ssrc;
      return out;
    } catch {
      return null;
    }
  }

  /** Current ROC of an SSRC: the sender's (`'tx'`) or receiver's (`'rx'`) view; undefined if unseen. */
  getRoc(ssrc: number, direction: 'tx' | 'rx'): number | undefined {
    return (direction === 'tx' ? this.tx : this.rx).get(ssrc >>> 0)?.roc;
  }

  /**
   * Seed the sender state of an SSRC (e.g. a stream that continues under new keys): the next packets are estimated
   * against (roc, seq).
   */
  setTxState(ssrc: number, roc: number, seq: number): void {
    ssrc >>>= 0;
    const st = this.tx.get(ssrc);
    if (st) {
      st.roc = roc;
      st.sl = seq;
    } else this.tx.set(ssrc, { roc, sl: seq, cache: this.aead ? null : newKeystreamCache() });
  }

  /** Forget an SSRC (both directions), e.g. when a track ends. */
  removeSsrc(ssrc: number): void {
    ssrc >>>= 0;
    this.tx.delete(ssrc);
    this.rx.delete(ssrc);
    if (this.lastTxSsrc === ssrc) {
      this.lastTxSsrc = -1;
      this.lastTx = undefined;
    }
    if (this.lastRxSsrc === ssrc) {
      this.lastRxSsrc = -1;
      this.lastRx = undefined;
    }
  }
}
