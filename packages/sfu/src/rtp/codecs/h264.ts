/**
 * H.264 RTP payload (RFC 6184) inspection: keyframe and start-of-frame detection on the RTP payload bytes, in place.
 *
 * NAL unit header: |F|NRI(2)|Type(5)|. Packetizations handled: single NAL unit (types 1–23), STAP-A (24), STAP-B (25,
 * with DON), FU-A (28) and FU-B (29, with DON). MTAP16/24 are not used by WebRTC and are reported as neither.
 */

export const H264_NAL_SLICE = 1;
export const H264_NAL_IDR = 5;
export const H264_NAL_SEI = 6;
export const H264_NAL_SPS = 7;
export const H264_NAL_PPS = 8;
export const H264_NAL_AUD = 9;
export const H264_NAL_STAP_A = 24;
export const H264_NAL_STAP_B = 25;
export const H264_NAL_FU_A = 28;
export const H264_NAL_FU_B = 29;

/** RTP packet NAL type (first payload byte & 0x1f), or -1 for an empty payload. */
export function h264PacketType(buf: Uint8Array, off: number, len: number): number {
  return len >= 1 ? buf[off] & 0x1f : -1;
}

function isKeyNal(t: number): boolean {
  return t === H264_NAL_IDR || t === H264_NAL_SPS;
}

/**
 * True when the packet carries (the start of) an IDR slice or an SPS: a single NAL of type 5/7, a STAP-A/B aggregating
 * one, or an FU-A/B with the S bit set whose original NAL type is 5/7.
 */
export function h264IsKeyframe(buf: Uint8Array, off: number, len: number): boolean {
  if (off < 0 || len < 1 || off + len > buf.length) return false;
  const t = buf[off] & 0x1f;
  if (t >= 1 && t <= 23) return isKeyNal(t);
  const end = off + len;
  if (t === H264_NAL_STAP_A || t === H264_NAL_STAP_B) {
    let p = off + (t === H264_NAL_STAP_A ? 1 : 3);
    while (p + 2 < end) {
      const size = (buf[p] << 8) | buf[p + 1];
      if (size === 0 || p + 2 + size > end) return false;
      if (isKeyNal(buf[p + 2] & 0x1f)) return true;
      p += 2 + size;
    }
    return false;
  }
  if (t === H264_NAL_FU_A || t === H264_NAL_FU_B) {
    if (len < 2) return false;
    const fu = buf[off + 1];
    return (fu & 0x80) !== 0 && isKeyNal(fu & 0x1f);
  }
  return false;
}

/**
 * True when a NAL unit starting at `p` (header byte) begins a new access unit (RFC 6184 / H.264 §7.4.1.2.3 order):
 * AUD, SPS, PPS or SEI, or a slice (type 1/5) whose first_mb_in_slice is 0 (its ue(v) code is the single bit '1',
 * so the first slice-header byte has its top bit set). `hasSliceByte` tells whether that byte is available.
 */
function nalStartsAccessUnit(t: number, buf: Uint8Array, sliceByte: number, hasSliceByte: boolean): boolean {
  if (t === H264_NAL_AUD || t === H264_NAL_SPS || t === H264_NAL_PPS || t === H264_NAL_SEI) return true;
  if (t === H264_NAL_SLICE || t === H264_NAL_IDR) return hasSliceByte && (buf[sliceByte] & 0x80) !== 0;
  return false;
}

/**
 * True when the packet starts a new frame (access unit): its first NAL unit is an AUD/SPS/PPS/SEI or the first slice
 * of a picture. FU-A/B fragments count only with the S bit. Cheap heuristic used to find frame boundaries when the
 * marker bit of the previous packet was lost.
 */
export function h264IsStartOfFrame(buf: Uint8Array, off: number, len: number): boolean {
  if (off < 0 || len < 1 || off + len > buf.length) return false;
  const end = off + len;
  const t = buf[off] & 0x1f;
  if (t >= 1 && t <= 23) return nalStartsAccessUnit(t, buf, off + 1, off + 1 < end);
  if (t === H264_NAL_STAP_A || t === H264_NAL_STAP_B) {
    const p = off + (t === H264_NAL_STAP_A ? 1 : 3);
    if (p + 3 > end) return false;
    const size = (buf[p] << 8) | buf[p + 1];
    if (size === 0 || p + 2 + size > end) return false;
    return nalStartsAccessUnit(buf[p + 2] & 0x1f, buf, p + 3, size > 1);
  }
  if (t === H264_NAL_FU_A || t === H264_NAL_FU_B) {
    if (len < 2) return false;
    const fu = buf[off + 1];
    if ((fu & 0x80) === 0) return false;
    const data = off + (t === H264_NAL_FU_A ? 2 : 4);
    return nalStartsAccessUnit(fu & 0x1f, buf, data, data < end);
  }
  return false;
}
