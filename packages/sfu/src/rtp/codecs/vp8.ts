/**
 * VP8 RTP payload descriptor (RFC 7741 §4.2), keyframe detection, in-place field rewrites and a PictureID / TL0PICIDX /
 * KEYIDX munger for forwarding one outgoing stream assembled from several incoming (simulcast) sources.
 *
 *       0 1 2 3 4 5 6 7
 *      +-+-+-+-+-+-+-+-+
 *      |X|R|N|S|R| PID | (REQUIRED)
 * X:   |I|L|T|K| RSV   |
 * I:   |M| PictureID   |  (M=1: 15-bit PictureID, second byte follows)
 *      |   PictureID   |
 * L:   |   TL0PICIDX   |
 * T/K: |TID|Y| KEYIDX  |
 *
 * VP8 payload header (first byte of the payload when S=1 and PID=0): bit 0 is P, the *inverse* key frame flag
 * (RFC 7741 §4.3): P=0 means key frame.
 */

/** Parse result of one VP8 payload descriptor; reusable. Offsets are absolute; -1 when the field is absent. */
export class Vp8Descriptor {
  /** N: non-reference frame. */
  nonReference = false;
  /** S: start of a VP8 partition. */
  start = false;
  /** PID: partition index 0–7. */
  partitionId = 0;
  /** PictureID value (7 or 15 bits) or -1. */
  pictureId = -1;
  /** 7, 15, or 0 when absent. */
  pictureIdBits = 0;
  pictureIdOffset = -1;
  /** TL0PICIDX or -1. */
  tl0PicIdx = -1;
  tl0PicIdxOffset = -1;
  /** TID (0–3) or -1 when T=0. */
  tid = -1;
  /** Y: layer sync (only meaningful when T=1). */
  layerSync = false;
  /** KEYIDX (0–31) or -1 when K=0. */
  keyIdx = -1;
  /** Offset of the TID/Y/KEYIDX byte or -1. */
  tkOffset = -1;
  /** Descriptor size in bytes. */
  headerSize = 0;
  /** Absolute offset and length of the VP8 payload (after the descriptor). */
  payloadOffset = 0;
  payloadLength = 0;
  /** S=1, PID=0 and the payload header's inverse key frame bit is 0. */
  isKeyframe = false;

  /**
   * Parses the descriptor at the start of an RTP payload buf[off, off+len). Returns false when it is truncated or
   * leaves no VP8 payload byte.
   */
  parse(buf: Uint8Array, off: number, len: number): boolean {
    if (off < 0 || len < 2 || off + len > buf.length) return false;
    const end = off + len;
    const b0 = buf[off];
    this.nonReference = (b0 & 0x20) !== 0;
    this.start = (b0 & 0x10) !== 0;
    this.partitionId = b0 & 0x07;
    this.pictureId = -1;
    this.pictureIdBits = 0;
    this.pictureIdOffset = -1;
    this.tl0PicIdx = -1;
    this.tl0PicIdxOffset = -1;
    this.tid = -1;
    this.layerSync = false;
    this.keyIdx = -1;
    this.tkOffset = -1;
    let p = off + 1;
    if ((b0 & 0x80) !== 0) {
      const x = buf[p++];
      if ((x & 0x80) !== 0) {
        if (p >= end) return false;
        if ((buf[p] & 0x80) !== 0) {
          if (p + 2 > end) return false;
          this.pictureId = ((buf[p] & 0x7f) << 8) | buf[p + 1];
          this.pictureIdBits = 15;
          this.pictureIdOffset = p;
          p += 2;
        } else {
          this.pictureId = buf[p];
          this.pictureIdBits = 7;
          this.pictureIdOffset = p;
          p += 1;
        }
      }
      if ((x & 0x40) !== 0) {
        if (p >= end) return false;
        this.tl0PicIdx = buf[p];
        this.tl0PicIdxOffset = p;
        p++;
      }
      if ((x & 0x30) !== 0) {
        if (p >= end) return false;
        const b = buf[p];
        this.tkOffset = p;
        if ((x & 0x20) !== 0) {
          this.tid = b >> 6;
          this.layerSync = (b & 0x20) !== 0;
        }
        if ((x & 0x10) !== 0) this.keyIdx = b & 0x1f;
        p++;
      }
    }
    if (p >= end) return false;
    this.headerSize = p - off;
    this.payloadOffset = p;
    this.payloadLength = end - p;
    this.isKeyframe = this.start && this.partitionId === 0 && (buf[p] & 0x01) === 0;
    return true;
  }
}

/** Keyframe test without a descriptor object. */
export function vp8IsKeyframe(buf: Uint8Array, off: number, len: number): boolean {
  return scratch.parse(buf, off, len) && scratch.isKeyframe;
}
const scratch = new Vp8Descriptor();

/** Rewrites the PictureID in place keeping its original width (value taken modulo 2^7 or 2^15). False if absent. */
export function vp8WritePictureId(buf: Uint8Array, d: Vp8Descriptor, pictureId: number): boolean {
  const o = d.pictureIdOffset;
  if (o < 0) return false;
  if (d.pictureIdBits === 15) {
    buf[o] = 0x80 | ((pictureId >> 8) & 0x7f);
    buf[o + 1] = pictureId & 0xff;
  } else {
    buf[o] = pictureId & 0x7f;
  }
  return true;
}

/** Rewrites TL0PICIDX in place (mod 256). False if absent. */
export function vp8WriteTl0PicIdx(buf: Uint8Array, d: Vp8Descriptor, tl0PicIdx: number): boolean {
  const o = d.tl0PicIdxOffset;
  if (o < 0) return false;
  buf[o] = tl0PicIdx & 0xff;
  return true;
}

/** Rewrites KEYIDX in place (mod 32), keeping TID/Y. False if K=0. */
export function vp8WriteKeyIdx(buf: Uint8Array, d: Vp8Descriptor, keyIdx: number): boolean {
  if (d.keyIdx < 0) return false;
  const o = d.tkOffset;
  buf[o] = (buf[o] & 0xe0) | (keyIdx & 0x1f);
  return true;
}

const RING = 256;
const RING_MASK = RING - 1;
const DROPPED = -1;

/**
 * Produces continuous VP8 PictureID / TL0PICIDX / KEYIDX for one outgoing stream fed from several incoming sources
 * (simulcast layers), after LiveKit's codec munger idea. Pure state, no I/O, no allocation per packet.
 *
 * Call `process(source, descriptor, dropFrame)` for every packet of the selected stream in arrival order; it returns
 * true when the packet should be forwarded and then `pictureId` / `tl0PicIdx` / `keyIdx` hold the values to write
 * (`vp8WritePictureId` etc.; -1 when the incoming packet lacks the field).
 *
 * - Switching: a packet from a different `source` is only accepted if it starts a keyframe; it re-bases all offsets so
 *   the output continues at last+1 (PictureID of the last forwarded frame + 1, TL0PICIDX + 1, KEYIDX + 1). Packets of
 *   other sources before such a keyframe, and late packets of the old source after it, are rejected.
 * - Output PictureID = extended incoming PictureID − offset. Frames dropped on purpose (`dropFrame`, e.g. temporal layer
 *   filtering; the decision must be the same for every packet of a frame) increment the offset when their first packet
 *   is seen, so later frames close the gap: the output advances by exactly 1 per forwarded frame.
 * - Reordering: a 256-entry ring remembers, per recent incoming PictureID, the output value assigned (or "dropped").
 *   Later packets of an already-seen frame reuse it, even if the offset moved since. Incoming PictureIDs skipped by a
 *   forward jump (lost or not yet arrived) get their output value reserved; if such a frame later arrives and is
 *   dropped, that one value stays unused (indistinguishable from a lost frame for the receiver). Packets older than
 *   the ring are rejected.
 * - TL0PICIDX and KEYIDX only change their offsets at a switch (frames with TID 0 are never dropped by temporal
 *   filtering), so they are mapped as (in − offset) mod 2^8 / 2^5.
 * - PictureIDs are tracked in an extended (unwrapped) domain per source width; the output is 15-bit (mod 2^15) and
 *   `vp8WritePictureId` reduces it further for 7-bit descriptors.
 */
export class Vp8Munger {
  /** Output values for the last forwarded packet (-1: field absent in that packet). */
  pictureId = -1;
  tl0PicIdx = -1;
  keyIdx = -1;

  private source = -1;
  private pidStarted = false;
  private highestInPid = 0;
  private pidOffset = 0;
  private lastOutPid = -1;
  private readonly ringIn = new Float64Array(RING).fill(Number.NaN);
  private readonly ringOut = new Float64Array(RING);

  private tl0Rebase = true;
  private tl0Offset = 0;
  private lastOutTl0 = -1;
  private keyRebase = true;
  private keyOffset = 0;
  private lastOutKey = -1;

  /** The source currently forwarded (-1 before the first keyframe). */
  get currentSource(): number {
    return this.source;
  }

  /** Forget everything, including the output history (next output restarts from the incoming values). */
  reset(): void {
    this.source = -1;
    this.pidStarted = false;
    this.pidOffset = 0;
    this.lastOutPid = -1;
    this.ringIn.fill(Number.NaN);
    this.tl0Rebase = true;
    this.tl0Offset = 0;
    this.lastOutTl0 = -1;
    this.keyRebase = true;
    this.keyOffset = 0;
    this.lastOutKey = -1;
    this.pictureId = this.tl0PicIdx = this.keyIdx = -1;
  }

  /**
   * Maps one packet. `source` identifies the incoming stream (e.g. simulcast layer index or SSRC); `dropFrame` asks to
   * drop the frame this packet belongs to. Returns true to forward (write `pictureId`/`tl0PicIdx`/`keyIdx`), false to
   * drop the packet.
   */
  process(source: number, d: Vp8Descriptor, dropFrame: boolean): boolean {
    if (source !== this.source) {
      if (!d.isKeyframe) return false;
      this.source = source;
      this.pidStarted = false;
      this.tl0Rebase = true;
      this.keyRebase = true;
    }

    // PictureID
    let outPid = -1;
    if (d.pictureId >= 0) {
      const mod = d.pictureIdBits === 15 ? 0x8000 : 0x80;
      let inExt: number;
      let newFrame: boolean;
      if (!this.pidStarted) {
        this.pidStarted = true;
        this.ringIn.fill(Number.NaN);
        inExt = d.pictureId;
        this.pidOffset = this.lastOutPid < 0 ? 0 : inExt - (this.lastOutPid + 1);
        this.highestInPid = inExt;
        newFrame = true;
      } else {
        const low = this.highestInPid & (mod - 1);
        let diff = (d.pictureId - low) & (mod - 1);
        if (diff >= mod >> 1) diff -= mod;
        inExt = this.highestInPid + diff;
        newFrame = inExt > this.highestInPid;
        if (newFrame) {
          // Reserve output values for skipped (lost / late) incoming PictureIDs.
          let x = this.highestInPid + 1;
          if (inExt - x > RING) x = inExt - RING;
          for (; x < inExt; x++) {
            const s = x & RING_MASK;
            this.ringIn[s] = x;
            this.ringOut[s] = x - this.pidOffset;
          }
          this.highestInPid = inExt;
        }
      }
      const slot = inExt & RING_MASK;
      if (newFrame) {
        this.ringIn[slot] = inExt;
        if (dropFrame) {
          this.pidOffset++;
          this.ringOut[slot] = DROPPED;
          return false;
        }
        outPid = inExt - this.pidOffset;
        this.ringOut[slot] = outPid;
      } else {
        if (this.ringIn[slot] !== inExt) return false; // older than the ring
        outPid = this.ringOut[slot];
        if (outPid === DROPPED || dropFrame) return false;
      }
      if (outPid > this.lastOutPid) this.lastOutPid = outPid;
    } else if (dropFrame) {
      return false;
    }

    // TL0PICIDX
    let outTl0 = -1;
    if (d.tl0PicIdx >= 0) {
      if (this.tl0Rebase) {
        this.tl0Rebase = false;
        this.tl0Offset = this.lastOutTl0 < 0 ? 0 : (d.tl0PicIdx - (this.lastOutTl0 + 1)) & 0xff;
      }
      outTl0 = (d.tl0PicIdx - this.tl0Offset) & 0xff;
      if (this.lastOutTl0 < 0 || ((outTl0 - this.lastOutTl0) & 0xff) < 0x80) this.lastOutTl0 = outTl0;
    }

    // KEYIDX
    let outKey = -1;
    if (d.keyIdx >= 0) {
      if (this.keyRebase) {
        this.keyRebase = false;
        this.keyOffset = this.lastOutKey < 0 ? 0 : (d.keyIdx - (this.lastOutKey + 1)) & 0x1f;
      }
      outKey = (d.keyIdx - this.keyOffset) & 0x1f;
      if (this.lastOutKey < 0 || ((outKey - this.lastOutKey) & 0x1f) < 0x10) this.lastOutKey = outKey;
    }

    this.pictureId = outPid < 0 ? -1 : outPid % 0x8000;
    this.tl0PicIdx = outTl0;
    this.keyIdx = outKey;
    return true;
  }
}
