/**
 * Allocation-free RTP header access (RFC 3550 §5.1) and RTP header extensions (RFC 8285) on a byte buffer.
 *
 * Everything works in place on a `Uint8Array` (a Node `Buffer` is one) with explicit offsets; nothing throws, nothing
 * allocates. Parsers return `false` / `-1` on malformed input.
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 * |                           timestamp                           |
 * |           synchronization source (SSRC) identifier            |
 * |            contributing source (CSRC) identifiers (CC × 32)   |
 * |   profile (0xBEDE / 0x100X)   |     length (32-bit words)     |  (if X)
 * |                  header extension elements                    |
 */

export const RTP_VERSION = 2;
export const RTP_HEADER_SIZE = 12;
/** RFC 8285 one-byte header profile. */
export const EXT_PROFILE_ONE_BYTE = 0xbede;
/** RFC 8285 two-byte header profile; the low 4 bits ("appbits") are free for the application: 0x1000–0x100F. */
export const EXT_PROFILE_TWO_BYTE = 0x1000;

/** True when `profile` is the RFC 8285 two-byte profile (0x100X). */
export function isTwoByteProfile(profile: number): boolean {
  return (profile & 0xfff0) === EXT_PROFILE_TWO_BYTE;
}

/**
 * A reusable, mutable view of one RTP packet's header. `parse` fills the numeric fields; nothing is retained but numbers,
 * so one instance can be reused for every packet. Offsets are absolute indices into the parsed buffer.
 */
export class RtpHeaderView {
  version = 0;
  padding = false;
  extension = false;
  csrcCount = 0;
  marker = false;
  payloadType = 0;
  sequenceNumber = 0;
  timestamp = 0;
  ssrc = 0;

  /** Start of the packet in the buffer. */
  offset = 0;
  /** Total packet length (header + payload + padding). */
  length = 0;
  /** Fixed header + CSRCs + extension block, in bytes. */
  headerLength = 0;
  /** Absolute offset of the payload. */
  payloadOffset = 0;
  /** Payload length excluding padding. */
  payloadLength = 0;
  /** Number of padding bytes at the end (including the count byte); 0 without the P bit. */
  paddingLength = 0;
  /** Extension profile (0 when there is no extension block). */
  extProfile = 0;
  /** Absolute offset of the extension elements (just after the 4-byte extension header); -1 when absent. */
  extOffset = -1;
  /** Length of the extension elements in bytes (a multiple of 4). */
  extLength = 0;

  /** Data length of the element found by the last `findExtension` call (valid when it returned ≥ 0). */
  elementLength = 0;

  /**
   * Parses and validates the header of the packet at buf[off, off+len). Returns false (fields undefined) when the packet
   * is malformed: shorter than 12 bytes, version ≠ 2, CSRCs / extension block beyond the packet, or a padding count
   * of 0 or larger than what remains after the header.
   */
  parse(buf: Uint8Array, off = 0, len = buf.length - off): boolean {
    if (off < 0 || len < RTP_HEADER_SIZE || off + len > buf.length) return false;
    const b0 = buf[off];
    if (b0 >> 6 !== RTP_VERSION) return false;
    const b1 = buf[off + 1];
    const cc = b0 & 0x0f;
    let hdr = RTP_HEADER_SIZE + cc * 4;
    if (hdr > len) return false;
    this.version = 2;
    this.padding = (b0 & 0x20) !== 0;
    this.extension = (b0 & 0x10) !== 0;
    this.csrcCount = cc;
    this.marker = (b1 & 0x80) !== 0;
    this.payloadType = b1 & 0x7f;
    this.sequenceNumber = (buf[off + 2] << 8) | buf[off + 3];
    this.timestamp = ((buf[off + 4] << 24) | (buf[off + 5] << 16) | (buf[off + 6] << 8) | buf[off + 7]) >>> 0;
    this.ssrc = ((buf[off + 8] << 24) | (buf[off + 9] << 16) | (buf[off + 10] << 8) | buf[off + 11]) >>> 0;
    if (this.extension) {
      if (hdr + 4 > len) return false;
      const p = off + hdr;
      const extLen = ((buf[p + 2] << 8) | buf[p + 3]) * 4;
      if (hdr + 4 + extLen > len) return false;
      this.extProfile = (buf[p] << 8) | buf[p + 1];
      this.extOffset = p + 4;
      this.extLength = extLen;
      hdr += 4 + extLen;
    } else {
      this.extProfile = 0;
      this.extOffset = -1;
      this.extLength = 0;
    }
    let pad = 0;
    if (this.padding) {
      pad = buf[off + len - 1];
      if (pad === 0 || hdr + pad > len) return false;
    }
    this.offset = off;
    this.length = len;
    this.headerLength = hdr;
    this.paddingLength = pad;
    this.payloadOffset = off + hdr;
    this.payloadLength = len - hdr - pad;
    return true;
  }

  /**
   * Finds the header extension element with local id `id` (1–14 one-byte, 1–255 two-byte). Returns the absolute offset
   * of its data and sets `elementLength`, or -1 if absent / malformed. Only valid after a successful `parse` of `buf`.
   */
  findExtension(buf: Uint8Array, id: number): number {
    if (this.extOffset < 0) return -1;
    const r = findExtensionElement(buf, this.extOffset, this.extLength, this.extProfile, id);
    this.elementLength = foundElementLength;
    return r;
  }
}

/** Side channel for `findExtensionElement` (a module-level number avoids allocating a result object). */
let foundElementLength = 0;

/** Data length of the element found by the last successful `findExtensionElement` call. */
export function lastFoundElementLength(): number {
  return foundElementLength;
}

/**
 * Finds extension element `id` in the elements at buf[extOff, extOff+extLen) of profile `profile`.
 * Returns the absolute offset of the element's data (its length via `lastFoundElementLength()`), or -1.
 * One-byte profile: 0x00 bytes are padding; id 15 stops parsing (RFC 8285 §4.2). Two-byte: a 0x00 id byte is padding.
 * Other profiles are opaque: -1.
 */
export function findExtensionElement(
  buf: Uint8Array,
  extOff: number,
  extLen: number,
  profile: number,
  id: number,
): number {
  const end = extOff + extLen;
  let p = extOff;
  if (profile === EXT_PROFILE_ONE_BYTE) {
    while (p < end) {
      const b = buf[p];
      if (b === 0) {
        p++;
        continue;
      }
      const eid = b >> 4;
      if (eid === 15 || eid === 0) return -1; // 15: stop; 0 with non-zero length: invalid, stop like libwebrtc
      const l = (b & 0x0f) + 1;
      if (p + 1 + l > end) return -1;
      if (eid === id) {
        foundElementLength = l;
        return p + 1;
      }
      p += 1 + l;
    }
    return -1;
  }
  if (isTwoByteProfile(profile)) {
    while (p < end) {
      const eid = buf[p];
      if (eid === 0) {
        p++;
        continue;
      }
      if (p + 2 > end) return -1;
      const l = buf[p + 1];
      if (p + 2 + l > end) return -1;
      if (eid === id) {
        foundElementLength = l;
        return p + 2;
      }
      p += 2 + l;
    }
  }
  return -1;
}

/**
 * Rewrites extension ids in place through `map` (index = incoming id, value = outgoing id). A mapped id of 0 drops the
 * element: bytes are never shifted; the whole element (header byte(s) and data) is overwritten with 0x00, which both
 * profiles define as padding (RFC 8285 §4.2/§4.3: "padding bytes have the value of 0"). libwebrtc skips 0x00 bytes
 * one at a time and werift does the same, so the block stays valid and its length is unchanged. An element whose id
 * is 0 with a non-zero length nibble is never produced (libwebrtc would stop parsing there).
 * One-byte profile: a mapped id above 14 cannot be represented and is dropped too; id 15 ends processing (RFC 8285).
 * Returns the number of elements kept, or -1 when the block is malformed (elements before the bad one may already be
 * rewritten; the caller should drop such a packet). Other profiles: returns 0 and leaves the block untouched.
 */
export function remapExtensionIds(
  buf: Uint8Array,
  extOff: number,
  extLen: number,
  profile: number,
  map: Uint8Array,
): number {
  const end = extOff + extLen;
  let p = extOff;
  let kept = 0;
  if (profile === EXT_PROFILE_ONE_BYTE) {
    while (p < end) {
      const b = buf[p];
      if (b === 0) {
        p++;
        continue;
      }
      const eid = b >> 4;
      if (eid === 15) return kept;
      if (eid === 0) return -1;
      const l = (b & 0x0f) + 1;
      if (p + 1 + l > end) return -1;
      const nid = map[eid];
      if (nid === 0 || nid > 14) {
        buf.fill(0, p, p + 1 + l);
      } else {
        buf[p] = (nid << 4) | (b & 0x0f);
        kept++;
      }
      p += 1 + l;
    }
    return kept;
  }
  if (isTwoByteProfile(profile)) {
    while (p < end) {
      const eid = buf[p];
      if (eid === 0) {
        p++;
        continue;
      }
      if (p + 2 > end) return -1;
      const l = buf[p + 1];
      if (p + 2 + l > end) return -1;
      const nid = map[eid];
      if (nid === 0) {
        buf.fill(0, p, p + 2 + l);
      } else {
        buf[p] = nid;
        kept++;
      }
      p += 2 + l;
    }
    return kept;
  }
  return 0;
}

/** `remapExtensionIds` on a parsed packet; returns 0 when it has no extension block. */
export function remapPacketExtensionIds(buf: Uint8Array, view: RtpHeaderView, map: Uint8Array): number {
  if (view.extOffset < 0) return 0;
  return remapExtensionIds(buf, view.extOffset, view.extLength, view.extProfile, map);
}

// ---------------------------------------------------------------------------------------------------------------------
// Direct field access at a packet offset (no validation: call on packets already parsed, or at least ≥ 12 bytes).

export function getSequenceNumber(buf: Uint8Array, off: number): number {
  return (buf[off + 2] << 8) | buf[off + 3];
}

export function getTimestamp(buf: Uint8Array, off: number): number {
  return ((buf[off + 4] << 24) | (buf[off + 5] << 16) | (buf[off + 6] << 8) | buf[off + 7]) >>> 0;
}

export function getSsrc(buf: Uint8Array, off: number): number {
  return ((buf[off + 8] << 24) | (buf[off + 9] << 16) | (buf[off + 10] << 8) | buf[off + 11]) >>> 0;
}

export function getPayloadType(buf: Uint8Array, off: number): number {
  return buf[off + 1] & 0x7f;
}

export function getMarker(buf: Uint8Array, off: number): boolean {
  return (buf[off + 1] & 0x80) !== 0;
}

export function setSequenceNumber(buf: Uint8Array, off: number, seq: number): void {
  buf[off + 2] = (seq >> 8) & 0xff;
  buf[off + 3] = seq & 0xff;
}

export function setTimestamp(buf: Uint8Array, off: number, ts: number): void {
  buf[off + 4] = (ts >>> 24) & 0xff;
  buf[off + 5] = (ts >>> 16) & 0xff;
  buf[off + 6] = (ts >>> 8) & 0xff;
  buf[off + 7] = ts & 0xff;
}

export function setSsrc(buf: Uint8Array, off: number, ssrc: number): void {
  buf[off + 8] = (ssrc >>> 24) & 0xff;
  buf[off + 9] = (ssrc >>> 16) & 0xff;
  buf[off + 10] = (ssrc >>> 8) & 0xff;
  buf[off + 11] = ssrc & 0xff;
}

export function setPayloadType(buf: Uint8Array, off: number, pt: number): void {
  buf[off + 1] = (buf[off + 1] & 0x80) | (pt & 0x7f);
}

export function setMarker(buf: Uint8Array, off: number, marker: boolean): void {
  buf[off + 1] = marker ? buf[off + 1] | 0x80 : buf[off + 1] & 0x7f;
}

// ---------------------------------------------------------------------------------------------------------------------
// Writing.

/**
 * Writes a 12-byte RTP header (V=2, P=0, X=0, CC=0) at buf[off]. Returns 12, or -1 if it does not fit.
 * Use `RtpExtensionWriter` afterwards to append an extension block (it sets the X bit).
 */
export function writeRtpHeader(
  buf: Uint8Array,
  off: number,
  payloadType: number,
  seq: number,
  timestamp: number,
  ssrc: number,
  marker: boolean,
): number {
  if (off < 0 || off + RTP_HEADER_SIZE > buf.length) return -1;
  buf[off] = 0x80;
  buf[off + 1] = (marker ? 0x80 : 0) | (payloadType & 0x7f);
  setSequenceNumber(buf, off, seq);
  setTimestamp(buf, off, timestamp);
  setSsrc(buf, off, ssrc);
  return RTP_HEADER_SIZE;
}

/**
 * Appends an RFC 8285 extension block to a header written at `headerOff` (after its CSRCs). Reusable: call `begin`,
 * any number of `add*`, then `end`. No allocation.
 *
 *   w.begin(buf, 0, false); const p = w.add(1, 3); writeAbsSendTime(buf, p, now); const hdrLen = w.end();
 */
export class RtpExtensionWriter {
  private buf: Uint8Array = new Uint8Array(0);
  private headerOff = 0;
  private blockOff = 0;
  private pos = 0;
  private twoByte = false;
  private ok = false;

  /**
   * Starts a block for the header at buf[headerOff] (its CC field must already be set). `twoByte` selects 0x1000.
   * Returns false if not even the 4-byte extension header fits.
   */
  begin(buf: Uint8Array, headerOff: number, twoByte: boolean): boolean {
    this.buf = buf;
    this.headerOff = headerOff;
    this.twoByte = twoByte;
    const cc = buf[headerOff] & 0x0f;
    this.blockOff = headerOff + RTP_HEADER_SIZE + cc * 4;
    this.pos = this.blockOff + 4;
    this.ok = this.pos <= buf.length;
    return this.ok;
  }

  /**
   * Reserves an element with id `id` and `len` data bytes; returns the offset to write the data at, or -1 if the id or
   * length is not representable (one-byte: id 1–14, len 1–16; two-byte: id 1–255, len 0–255) or it does not fit.
   */
  add(id: number, len: number): number {
    if (!this.ok) return -1;
    const buf = this.buf;
    let p = this.pos;
    if (this.twoByte) {
      if (id < 1 || id > 255 || len < 0 || len > 255 || p + 2 + len > buf.length) return -1;
      buf[p] = id;
      buf[p + 1] = len;
      p += 2;
    } else {
      if (id < 1 || id > 14 || len < 1 || len > 16 || p + 1 + len > buf.length) return -1;
      buf[p] = (id << 4) | (len - 1);
      p += 1;
    }
    this.pos = p + len;
    return p;
  }

  /** Adds an element copying `len` bytes from src[srcOff]. */
  addBytes(id: number, src: Uint8Array, srcOff: number, len: number): boolean {
    const p = this.add(id, len);
    if (p < 0) return false;
    for (let i = 0; i < len; i++) this.buf[p + i] = src[srcOff + i];
    return true;
  }

  /** Adds a 1-byte element. */
  addUint8(id: number, v: number): boolean {
    const p = this.add(id, 1);
    if (p < 0) return false;
    this.buf[p] = v & 0xff;
    return true;
  }

  /** Adds a 2-byte big-endian element (e.g. transport-wide sequence number). */
  addUint16(id: number, v: number): boolean {
    const p = this.add(id, 2);
    if (p < 0) return false;
    this.buf[p] = (v >> 8) & 0xff;
    this.buf[p + 1] = v & 0xff;
    return true;
  }

  /** Adds a 3-byte big-endian element (e.g. abs-send-time). */
  addUint24(id: number, v: number): boolean {
    const p = this.add(id, 3);
    if (p < 0) return false;
    this.buf[p] = (v >> 16) & 0xff;
    this.buf[p + 1] = (v >> 8) & 0xff;
    this.buf[p + 2] = v & 0xff;
    return true;
  }

  /**
   * Pads the block with zeros to a 32-bit boundary, writes the extension header and sets the X bit.
   * Returns the total header length from `headerOff` (12 + 4·CC + 4 + elements), or -1 on overflow.
   * With no elements added, no block is written and the X bit is cleared.
   */
  end(): number {
    if (!this.ok) return -1;
    const buf = this.buf;
    const start = this.blockOff + 4;
    let p = this.pos;
    if (p === start) {
      buf[this.headerOff] &= ~0x10;
      return this.blockOff - this.headerOff;
    }
    while (((p - start) & 3) !== 0) {
      if (p >= buf.length) return -1;
      buf[p++] = 0;
    }
    const words = (p - start) >> 2;
    if (words > 0xffff) return -1;
    const b = this.blockOff;
    const profile = this.twoByte ? EXT_PROFILE_TWO_BYTE : EXT_PROFILE_ONE_BYTE;
    buf[b] = profile >> 8;
    buf[b + 1] = profile & 0xff;
    buf[b + 2] = words >> 8;
    buf[b + 3] = words & 0xff;
    buf[this.headerOff] |= 0x10;
    return p - this.headerOff;
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Individual extensions. `off` is the element data offset (from `findExtension`).

/** RFC 6464 client-to-mixer audio level: the level in −dBov, 0 (loudest) … 127 (silence). */
export function readAudioLevel(buf: Uint8Array, off: number): number {
  return buf[off] & 0x7f;
}

/** RFC 6464 V flag (voice activity), when the extension was negotiated with vad=on. */
export function readVoiceActivity(buf: Uint8Array, off: number): boolean {
  return (buf[off] & 0x80) !== 0;
}

/** Writes the RFC 6464 audio level byte. */
export function writeAudioLevel(buf: Uint8Array, off: number, level: number, voice: boolean): void {
  buf[off] = (voice ? 0x80 : 0) | (level & 0x7f);
}

/**
 * abs-send-time (http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time): 24-bit 6.18 fixed-point seconds,
 * wrapping every 64 s. Converts a millisecond clock.
 */
export function absSendTime24(ms: number): number {
  const t = ms % 64000; // 64 s period of the 6-bit seconds field
  return Math.floor(((t < 0 ? t + 64000 : t) * 262144) / 1000) & 0xffffff;
}

/** Writes abs-send-time (3 bytes) for time `ms` at buf[off]. */
export function writeAbsSendTime(buf: Uint8Array, off: number, ms: number): void {
  const v = absSendTime24(ms);
  buf[off] = v >> 16;
  buf[off + 1] = (v >> 8) & 0xff;
  buf[off + 2] = v & 0xff;
}

/** Reads the raw 24-bit abs-send-time value. */
export function readAbsSendTime(buf: Uint8Array, off: number): number {
  return (buf[off] << 16) | (buf[off + 1] << 8) | buf[off + 2];
}

/** Transport-wide sequence number (draft-holmer-rmcat-transport-wide-cc-extensions-01): 16-bit big-endian. */
export function readTransportSeq(buf: Uint8Array, off: number): number {
  return (buf[off] << 8) | buf[off + 1];
}

export function writeTransportSeq(buf: Uint8Array, off: number, seq: number): void {
  buf[off] = (seq >> 8) & 0xff;
  buf[off + 1] = seq & 0xff;
}

// ---------------------------------------------------------------------------------------------------------------------

/**
 * Copies `len` bytes from src[srcOff] to dst[dstOff]. Uses the native `set`; when the source is not the whole of
 * `src` this creates one transient view object (≈0.1 µs, young-generation garbage) — a JS byte loop over a 1200-byte
 * packet costs ~3 µs, so the view is the cheaper option. Overlapping ranges in the same buffer use `copyWithin`.
 */
export function copyBytes(src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number, len: number): void {
  if (len <= 0) return;
  if (src === dst) {
    if (srcOff !== dstOff) dst.copyWithin(dstOff, srcOff, srcOff + len);
    return;
  }
  if (len < 32) {
    for (let i = 0; i < len; i++) dst[dstOff + i] = src[srcOff + i];
  } else if (srcOff === 0 && len === src.length) {
    dst.set(src, dstOff);
  } else {
    dst.set(src.subarray(srcOff, srcOff + len), dstOff);
  }
}
