/**
 * VP9 RTP payload descriptor (RFC 9628, formerly draft-ietf-payload-vp9) parsing and keyframe detection.
 *
 *       0 1 2 3 4 5 6 7
 *      +-+-+-+-+-+-+-+-+
 *      |I|P|L|F|B|E|V|Z| (REQUIRED)
 * I:   |M| PICTURE ID  |  (M=1: 15-bit picture id, one more byte)
 * M:   | EXTENDED PID  |
 * L:   |  TID  |U| SID |D|   (3-bit TID, U, 3-bit SID, D)
 *      |   TL0PICIDX   |  (only in non-flexible mode, F=0)
 * P,F: | P_DIFF      |N|  (flexible mode with P=1: up to 3, N=1 means another follows)
 * V:   | SS ...        |  scalability structure
 */

/** Parse result of one VP9 payload descriptor; reusable. -1 for absent fields. */
export class Vp9Descriptor {
  /** I: picture id present. */
  hasPictureId = false;
  /** P: inter-picture predicted. */
  interPicturePredicted = false;
  /** L: layer indices present. */
  hasLayerIndices = false;
  /** F: flexible mode. */
  flexible = false;
  /** B: start of a frame (layer frame). */
  beginningOfFrame = false;
  /** E: end of a frame. */
  endOfFrame = false;
  /** V: scalability structure present. */
  hasScalabilityStructure = false;
  /** Z: not used for inter-layer prediction by upper layers. */
  notUpswitch = false;
  pictureId = -1;
  pictureIdBits = 0;
  pictureIdOffset = -1;
  /** Temporal layer id 0–7, or -1 without L. */
  tid = -1;
  /** U: switching up point. */
  switchingUp = false;
  /** Spatial layer id 0–7, or -1 without L. */
  sid = -1;
  /** D: inter-layer dependency. */
  interLayerDependency = false;
  tl0PicIdx = -1;
  tl0PicIdxOffset = -1;
  /** Number of P_DIFF entries (flexible mode). */
  pDiffCount = 0;
  /** SS: N_S + 1 spatial layers (0 when no SS). */
  ssSpatialLayers = 0;
  /** SS: resolution of spatial layer 0 when the Y bit was set (else 0). */
  ssWidth0 = 0;
  ssHeight0 = 0;
  /** SS: number of pictures in the picture group (N_G), 0 when G=0. */
  ssPictureGroupSize = 0;
  headerSize = 0;
  payloadOffset = 0;
  payloadLength = 0;
  /** P=0, B=1 and spatial layer 0 (or no layer indices). */
  isKeyframe = false;

  /** Parses the descriptor at buf[off, off+len) (the RTP payload). False when truncated. */
  parse(buf: Uint8Array, off: number, len: number): boolean {
    if (off < 0 || len < 1 || off + len > buf.length) return false;
    const end = off + len;
    const b0 = buf[off];
    this.hasPictureId = (b0 & 0x80) !== 0;
    this.interPicturePredicted = (b0 & 0x40) !== 0;
    this.hasLayerIndices = (b0 & 0x20) !== 0;
    this.flexible = (b0 & 0x10) !== 0;
    this.beginningOfFrame = (b0 & 0x08) !== 0;
    this.endOfFrame = (b0 & 0x04) !== 0;
    this.hasScalabilityStructure = (b0 & 0x02) !== 0;
    this.notUpswitch = (b0 & 0x01) !== 0;
    this.pictureId = -1;
    this.pictureIdBits = 0;
    this.pictureIdOffset = -1;
    this.tid = -1;
    this.sid = -1;
    this.switchingUp = false;
    this.interLayerDependency = false;
    this.tl0PicIdx = -1;
    this.tl0PicIdxOffset = -1;
    this.pDiffCount = 0;
    this.ssSpatialLayers = 0;
    this.ssWidth0 = 0;
    this.ssHeight0 = 0;
    this.ssPictureGroupSize = 0;
    let p = off + 1;
    if (this.hasPictureId) {
      if (p >= end) return false;
      this.pictureIdOffset = p;
      if ((buf[p] & 0x80) !== 0) {
        if (p + 2 > end) return false;
        this.pictureId = ((buf[p] & 0x7f) << 8) | buf[p + 1];
        this.pictureIdBits = 15;
        p += 2;
      } else {
        this.pictureId = buf[p];
        this.pictureIdBits = 7;
        p++;
      }
    }
    if (this.hasLayerIndices) {
      if (p >= end) return false;
      const b = buf[p++];
      this.tid = b >> 5;
      this.switchingUp = (b & 0x10) !== 0;
      this.sid = (b >> 1) & 0x07;
      this.interLayerDependency = (b & 0x01) !== 0;
      if (!this.flexible) {
        if (p >= end) return false;
        this.tl0PicIdx = buf[p];
        this.tl0PicIdxOffset = p;
        p++;
      }
    }
    if (this.flexible && this.interPicturePredicted) {
      let more = true;
      while (more) {
        if (p >= end || this.pDiffCount >= 3) return false;
        more = (buf[p++] & 0x01) !== 0;
        this.pDiffCount++;
      }
    }
    if (this.hasScalabilityStructure) {
      if (p >= end) return false;
      const ss = buf[p++];
      const ns = (ss >> 5) + 1;
      this.ssSpatialLayers = ns;
      if ((ss & 0x10) !== 0) {
        if (p + 4 * ns > end) return false;
        this.ssWidth0 = (buf[p] << 8) | buf[p + 1];
        this.ssHeight0 = (buf[p + 2] << 8) | buf[p + 3];
        p += 4 * ns;
      }
      if ((ss & 0x08) !== 0) {
        if (p >= end) return false;
        const ng = buf[p++];
        this.ssPictureGroupSize = ng;
        for (let i = 0; i < ng; i++) {
          if (p >= end) return false;
          const r = (buf[p++] >> 2) & 0x03;
          p += r;
          if (p > end) return false;
        }
      }
    }
    if (p > end) return false;
    this.headerSize = p - off;
    this.payloadOffset = p;
    this.payloadLength = end - p;
    this.isKeyframe = !this.interPicturePredicted && this.beginningOfFrame && this.sid <= 0;
    return true;
  }
}

const scratch = new Vp9Descriptor();

/** Keyframe test on an RTP payload: P=0, B=1, spatial layer 0 (or no layer indices). */
export function vp9IsKeyframe(buf: Uint8Array, off: number, len: number): boolean {
  return scratch.parse(buf, off, len) && scratch.isKeyframe;
}
