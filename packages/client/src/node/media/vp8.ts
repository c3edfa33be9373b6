/**
 * VP8 over RTP (RFC 7741): a packetizer that writes the payload descriptor with a 15-bit PictureID, and a
 * depacketizer that strips descriptors and reassembles frames, flagging frames with a sequence gap as incomplete.
 *
 *       0 1 2 3 4 5 6 7
 *      +-+-+-+-+-+-+-+-+
 *      |X|R|N|S|R| PID | (REQUIRED)
 * X:   |I|L|T|K| RSV   |
 * I:   |M| PictureID   |  (M=1: 15-bit PictureID)
 *      |   PictureID   |
 * L:   |   TL0PICIDX   |
 * T/K: |TID|Y| KEYIDX  |
 */
import type { RtpPacket } from './rtp.js';
import { seqDiff } from './rtp.js';
import { rtp } from '@kite/sfu';

/** Default largest RTP payload (descriptor included): leaves room for RTP header, extensions and SRTP in 1280+ byte paths. */
export const VP8_MAX_PAYLOAD = 1200;
const DESCRIPTOR_SIZE = 4;

/** VP8 frame header facts (RFC 6386 §9.1): the frame tag's inverse key frame bit and a keyframe's dimensions. */
export interface Vp8FrameInfo {
  keyframe: boolean;
  /** Present on keyframes. */
  width?: number;
  height?: number;
}

/** Reads the frame tag (and, for keyframes, the start code and dimensions) at the start of a VP8 frame. */
export function vp8FrameInfo(frame: Uint8Array, off = 0, len = frame.length - off): Vp8FrameInfo {
  if (len < 1) return { keyframe: false };
  const keyframe = (frame[off] & 0x01) === 0;
  if (!keyframe || len < 10) return { keyframe };
  if (frame[off + 3] !== 0x9d || frame[off + 4] !== 0x01 || frame[off + 5] !== 0x2a) return { keyframe };
  return {
    keyframe,
    width: (frame[off + 6] | (frame[off + 7] << 8)) & 0x3fff,
    height: (frame[off + 8] | (frame[off + 9] << 8)) & 0x3fff,
  };
}

/**
 * Splits one VP8 frame into RTP payloads of at most `maxPayload` bytes, each starting with a descriptor (X=1, I=1,
 * M=1, S=1 on the first, partition index 0). Sizes are balanced (they differ by at most one byte), like libwebrtc,
 * so no tiny trailing packet. Returns new buffers (a sender may keep them for retransmission).
 */
export function packetizeVp8(frame: Uint8Array, pictureId: number, maxPayload = VP8_MAX_PAYLOAD, nonReference = false): Buffer[] {
  const room = maxPayload - DESCRIPTOR_SIZE;
  if (room < 1) throw new RangeError(`maxPayload ${maxPayload} leaves no room for VP8 data`);
  if (frame.length === 0) throw new RangeError('empty VP8 frame');
  const count = Math.ceil(frame.length / room);
  const base = Math.floor(frame.length / count);
  const bigger = frame.length % count; // the first `bigger` packets carry one extra byte
  const pid = pictureId & 0x7fff;
  const out: Buffer[] = new Array(count);
  let off = 0;
  for (let i = 0; i < count; i++) {
    const n = base + (i < bigger ? 1 : 0);
    const p = Buffer.allocUnsafe(DESCRIPTOR_SIZE + n);
    p[0] = 0x80 | (nonReference ? 0x20 : 0) | (i === 0 ? 0x10 : 0);
    p[1] = 0x80;
    p[2] = 0x80 | (pid >> 8);
    p[3] = pid & 0xff;
    p.set(frame.subarray(off, off + n), DESCRIPTOR_SIZE);
    off += n;
    out[i] = p;
  }
  return out;
}

/** The fields of a descriptor the depacketizer needs; -1 when the payload is malformed. */
export interface Vp8DescriptorInfo {
  /** Descriptor size in bytes (where the VP8 data starts), or -1 when malformed. */
  size: number;
  start: boolean;
  partition: number;
  /** -1 when absent. */
  pictureId: number;
}

const scratch = new rtp.Vp8Descriptor();

/**
 * Parses the descriptor at the start of `payload` into `out` (reused, so nothing is allocated per packet), with the
 * SFU's own parser.
 */
export function parseVp8Descriptor(payload: Uint8Array, out: Vp8DescriptorInfo): Vp8DescriptorInfo {
  const ok = scratch.parse(payload, 0, payload.length);
  out.size = ok ? scratch.headerSize : -1;
  out.start = scratch.start;
  out.partition = scratch.partitionId;
  out.pictureId = ok ? scratch.pictureId : -1;
  return out;
}

export interface Vp8Frame {
  /** The VP8 frame (descriptors stripped); for an incomplete frame, what arrived, in order. */
  data: Uint8Array;
  keyframe: boolean;
  /** From the keyframe header. */
  width?: number;
  height?: number;
  /** RTP timestamp (90 kHz). */
  timestamp: number;
  /** PictureID of the frame's first packet, -1 when absent. */
  pictureId: number;
  /** Every packet from the frame's start to its marker arrived, in sequence. */
  complete: boolean;
  /** Packets the frame arrived in. */
  packets: number;
}

export interface Vp8AssemblerStats {
  packets: number;
  bytes: number;
  frames: number;
  keyframes: number;
  incompleteFrames: number;
  /** Sequence numbers skipped (a reordered packet counts as lost: there is no jitter buffer here). */
  lostPackets: number;
  /** Duplicates, packets older than the last one, and malformed payloads. */
  discardedPackets: number;
}

/**
 * Reassembles VP8 frames from RTP packets in arrival order. A frame ends at its marker bit (or when a packet of a
 * newer timestamp arrives first); it is complete only if it began with S=1/PID=0 and no sequence number inside it was
 * skipped. Packets are only referenced until their frame is emitted, and one buffer is allocated per frame.
 */
export class Vp8FrameAssembler {
  readonly stats: Vp8AssemblerStats = {
    packets: 0,
    bytes: 0,
    frames: 0,
    keyframes: 0,
    incompleteFrames: 0,
    lostPackets: 0,
    discardedPackets: 0,
  };
  private readonly desc: Vp8DescriptorInfo = { size: -1, start: false, partition: 0, pictureId: -1 };
  // Current frame: its packets' payloads and where their VP8 data starts.
  private readonly parts: Uint8Array[] = [];
  private readonly offsets: number[] = [];
  private partBytes = 0;
  private inFrame = false;
  private frameTs = 0;
  private framePictureId = -1;
  private frameStarted = false;
  private frameGap = false;
  private lastSeq = -1;

  constructor(private readonly onFrame: (frame: Vp8Frame) => void) {}

  push(packet: RtpPacket): void {
    const { header, payload } = packet;
    const s = this.stats;
    s.packets++;
    s.bytes += payload.length;
    const seq = header.sequenceNumber;
    let gap = false;
    if (this.lastSeq >= 0) {
      const d = seqDiff(seq, this.lastSeq);
      if (d <= 0) {
        s.discardedPackets++;
        return;
      }
      if (d > 1) {
        s.lostPackets += d - 1;
        gap = true;
      }
    }
    this.lastSeq = seq;
    const desc = parseVp8Descriptor(payload, this.desc);
    if (desc.size < 0) {
      s.discardedPackets++;
      if (this.inFrame) this.frameGap = true;
      return;
    }
    if (this.inFrame && header.timestamp !== this.frameTs) this.emit(false); // the previous frame lost its marker
    if (!this.inFrame) {
      this.inFrame = true;
      this.frameTs = header.timestamp;
      this.framePictureId = desc.pictureId;
      this.frameStarted = desc.start && desc.partition === 0;
      this.frameGap = false;
    } else if (gap) {
      this.frameGap = true;
    }
    this.parts.push(payload);
    this.offsets.push(desc.size);
    this.partBytes += payload.length - desc.size;
    if (header.marker) this.emit(true);
  }

  /** Emits a frame still waiting for its marker (e.g. when the stream ends), as incomplete. */
  flush(): void {
    if (this.inFrame) this.emit(false);
  }

  private emit(sawMarker: boolean): void {
    const data = new Uint8Array(this.partBytes);
    let off = 0;
    for (let i = 0; i < this.parts.length; i++) {
      const p = this.parts[i];
      const o = this.offsets[i];
      data.set(p.subarray(o), off);
      off += p.length - o;
    }
    const packets = this.parts.length;
    this.parts.length = 0;
    this.offsets.length = 0;
    this.partBytes = 0;
    this.inFrame = false;
    const complete = sawMarker && this.frameStarted && !this.frameGap;
    // Only a frame whose start arrived has a trustworthy frame header.
    const info = this.frameStarted ? vp8FrameInfo(data) : { keyframe: false };
    const s = this.stats;
    s.frames++;
    if (info.keyframe) s.keyframes++;
    if (!complete) s.incompleteFrames++;
    const frame: Vp8Frame = {
      data,
      keyframe: info.keyframe,
      timestamp: this.frameTs,
      pictureId: this.framePictureId,
      complete,
      packets,
    };
    if (info.width !== undefined) {
      frame.width = info.width;
      frame.height = info.height;
    }
    this.onFrame(frame);
  }
}
