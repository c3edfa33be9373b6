/**
 * AV1 RTP payload (AOM "RTP Payload Format for AV1" v1.0, §4.4) aggregation header inspection.
 *
 *  0 1 2 3 4 5 6 7
 * |Z|Y| W |N|-|-|-|
 *
 * Z: the first OBU element continues an OBU fragment from the previous packet. Y: the last OBU element continues in the
 * next packet. W: number of OBU elements (0 = each element has a leb128 length prefix). N: first packet of a coded
 * video sequence (MUST be 0 otherwise) — i.e. a keyframe that starts a new sequence (the sequence header follows).
 */

export const AV1_OBU_SEQUENCE_HEADER = 1;
export const AV1_OBU_TEMPORAL_DELIMITER = 2;
export const AV1_OBU_FRAME_HEADER = 3;
export const AV1_OBU_FRAME = 6;

/** Parse result of an AV1 aggregation header; reusable. */
export class Av1AggregationHeader {
  /** Z */
  continuesFragment = false;
  /** Y */
  fragmentContinues = false;
  /** W (0–3) */
  obuCount = 0;
  /** N */
  newCodedVideoSequence = false;

  parse(buf: Uint8Array, off: number, len: number): boolean {
    if (off < 0 || len < 1 || off + len > buf.length) return false;
    const b = buf[off];
    this.continuesFragment = (b & 0x80) !== 0;
    this.fragmentContinues = (b & 0x40) !== 0;
    this.obuCount = (b >> 4) & 0x03;
    this.newCodedVideoSequence = (b & 0x08) !== 0;
    return true;
  }
}

/** Keyframe (start of a new coded video sequence): the N bit of the aggregation header. */
export function av1IsKeyframe(buf: Uint8Array, off: number, len: number): boolean {
  return off >= 0 && len >= 2 && off + len <= buf.length && (buf[off] & 0x08) !== 0;
}

/** True when the first OBU element of the packet starts a new OBU (Z=0). */
export function av1StartsObu(buf: Uint8Array, off: number, len: number): boolean {
  return off >= 0 && len >= 2 && off + len <= buf.length && (buf[off] & 0x80) === 0;
}

/**
 * Type of the first OBU that starts in this packet (Z=0), or -1 (continuation, truncated or malformed).
 * The first OBU element is length-prefixed (leb128) unless W=1.
 */
export function av1FirstObuType(buf: Uint8Array, off: number, len: number): number {
  if (off < 0 || len < 2 || off + len > buf.length) return -1;
  const agg = buf[off];
  if ((agg & 0x80) !== 0) return -1;
  const end = off + len;
  let p = off + 1;
  if (((agg >> 4) & 0x03) !== 1) {
    // leb128 element length (at most 8 bytes)
    let n = 0;
    for (;;) {
      if (p >= end || n === 8) return -1;
      const b = buf[p++];
      n++;
      if ((b & 0x80) === 0) break;
    }
  }
  if (p >= end) return -1;
  const h = buf[p];
  if ((h & 0x80) !== 0) return -1; // forbidden bit
  return (h >> 3) & 0x0f;
}
