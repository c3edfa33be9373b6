// Generated RTP for tests: VP8-like video and Opus-like audio whose payloads carry their own frame number and packet
// index, so a receiver can tell exactly which frames arrived complete after forwarding, loss and repair.
import { RtpHeader, RtpPacket } from 'werift';

/** Byte offsets of the markers inside every generated payload (after the codec's own headers). */
const MARK = { frame: 20, index: 24, count: 26 } as const;
/** Payloads are at least this long so the markers fit. */
const MIN_PAYLOAD = 28;

export interface GeneratedFrame {
  frame: number;
  keyframe: boolean;
  packets: RtpPacket[];
}

/** What a receiver can read back from a generated packet. */
export interface PacketMarker {
  frame: number;
  /** Packet index inside the frame. */
  index: number;
  /** Packets the frame was split into. */
  count: number;
}

export function readMarker(payload: Uint8Array): PacketMarker | undefined {
  if (payload.length < MIN_PAYLOAD) return undefined;
  const b = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  return { frame: b.readUInt32BE(MARK.frame), index: b.readUInt16BE(MARK.index), count: b.readUInt16BE(MARK.count) };
}

function writeMarker(payload: Buffer, frame: number, index: number, count: number): void {
  payload.writeUInt32BE(frame, MARK.frame);
  payload.writeUInt16BE(index, MARK.index);
  payload.writeUInt16BE(count, MARK.count);
}

const random16 = () => Math.floor(Math.random() * 0x10000);
const random32 = () => Math.floor(Math.random() * 0x100000000) >>> 0;

/**
 * VP8-like video at 90 kHz: every packet starts with an RFC 7741 payload descriptor (X=1, I=1, M=1: a 15-bit
 * PictureID), the first packet of a frame has S=1 and the VP8 payload header with the keyframe bit (and, for
 * keyframes, the start code and dimensions). A keyframe every `gop` frames, and on demand (`requestKeyframe`, e.g. on PLI).
 */
export class Vp8Source {
  private seq = random16();
  private ts = random32();
  private pictureId = Math.floor(Math.random() * 0x7fff);
  private keyframeRequested = true;
  frame = 0;
  keyframes = 0;

  constructor(
    readonly opts: { payloadType?: number; packetsPerFrame?: number; gop?: number; payloadSize?: number; fps?: number; width?: number; height?: number } = {},
  ) {}

  requestKeyframe(): void {
    this.keyframeRequested = true;
  }

  nextFrame(): GeneratedFrame {
    const { payloadType = 96, packetsPerFrame = 3, gop = 0, payloadSize = 1000, fps = 30, width = 640, height = 360 } = this.opts;
    const keyframe = this.keyframeRequested || (gop > 0 && this.frame % gop === 0);
    this.keyframeRequested = false;
    if (keyframe) this.keyframes++;
    const packets: RtpPacket[] = [];
    for (let i = 0; i < packetsPerFrame; i++) {
      const payload = Buffer.alloc(Math.max(payloadSize, MIN_PAYLOAD + 4));
      payload[0] = 0x80 | (i === 0 ? 0x10 : 0); // X, S on the first packet, partition 0
      payload[1] = 0x80; // I: PictureID present
      payload[2] = 0x80 | ((this.pictureId >> 8) & 0x7f); // M: 15-bit PictureID
      payload[3] = this.pictureId & 0xff;
      if (i === 0) {
        // VP8 payload header: P bit (bit 0) is 0 on keyframes; show_frame set.
        payload[4] = (keyframe ? 0x00 : 0x01) | 0x10;
        if (keyframe) {
          // Keyframe: start code 9d 01 2a after the 3-byte frame tag, then 14-bit width and height.
          payload[7] = 0x9d;
          payload[8] = 0x01;
          payload[9] = 0x2a;
          payload.writeUInt16LE(width & 0x3fff, 10);
          payload.writeUInt16LE(height & 0x3fff, 12);
        }
      }
      writeMarker(payload, this.frame, i, packetsPerFrame);
      const header = new RtpHeader({ payloadType, sequenceNumber: this.seq, timestamp: this.ts, marker: i === packetsPerFrame - 1 });
      this.seq = (this.seq + 1) & 0xffff;
      packets.push(new RtpPacket(header, payload));
    }
    const out = { frame: this.frame, keyframe, packets };
    this.frame++;
    this.pictureId = (this.pictureId + 1) & 0x7fff;
    this.ts = (this.ts + Math.round(90000 / fps)) >>> 0;
    return out;
  }
}

/** Opus-like audio at 48 kHz: one packet per 20 ms frame (a TOC byte for a 20 ms CELT frame, then filler and markers). */
export class OpusSource {
  private seq = random16();
  private ts = random32();
  frame = 0;

  constructor(readonly opts: { payloadType?: number; payloadSize?: number } = {}) {}

  nextFrame(): GeneratedFrame {
    const { payloadType = 111, payloadSize = 80 } = this.opts;
    const payload = Buffer.alloc(Math.max(payloadSize, MIN_PAYLOAD));
    payload[0] = 0xfc; // TOC: config 31 (CELT FB 20 ms), stereo, 1 frame
    writeMarker(payload, this.frame, 0, 1);
    const header = new RtpHeader({ payloadType, sequenceNumber: this.seq, timestamp: this.ts, marker: this.frame === 0 });
    this.seq = (this.seq + 1) & 0xffff;
    this.ts = (this.ts + 960) >>> 0;
    return { frame: this.frame++, keyframe: false, packets: [new RtpPacket(header, payload)] };
  }
}

export interface FrameSource {
  nextFrame(): GeneratedFrame;
}

export interface Pump {
  /** Frames written so far. */
  readonly frames: number;
  /** Resolves when `count` frames were written (or at once when the pump is stopped). */
  until(count: number): Promise<void>;
  stop(): void;
}

/**
 * Writes `source`'s frames into `write` every `intervalMs` (drift-free schedule) until stopped or `maxFrames` were
 * written.
 */
export function pump(source: FrameSource, write: (p: RtpPacket) => void, intervalMs: number, maxFrames = Infinity): Pump {
  let frames = 0;
  let stopped = false;
  const start = Date.now();
  const waiters: { count: number; resolve: () => void }[] = [];
  let timer: NodeJS.Timeout | undefined;
  const settle = () => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (stopped || frames >= waiters[i]!.count) {
        waiters[i]!.resolve();
        waiters.splice(i, 1);
      }
    }
  };
  const tick = () => {
    if (stopped) return;
    for (const p of source.nextFrame().packets) write(p);
    frames++;
    settle();
    if (frames >= maxFrames) {
      stopped = true;
      settle();
      return;
    }
    timer = setTimeout(tick, Math.max(0, start + frames * intervalMs - Date.now()));
  };
  tick();
  return {
    get frames() {
      return frames;
    },
    until(count: number) {
      return new Promise<void>((resolve) => {
        waiters.push({ count, resolve });
        settle();
      });
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      settle();
    },
  };
}

/** Completeness of the frames a receiver got, from the generated markers (retransmissions and duplicates count once). */
export function frameReport(payloads: Iterable<Uint8Array>, range?: { from?: number; to?: number }) {
  const got = new Map<number, { count: number; indices: Set<number> }>();
  for (const p of payloads) {
    const m = readMarker(p);
    if (!m) continue;
    let f = got.get(m.frame);
    if (!f) got.set(m.frame, (f = { count: m.count, indices: new Set() }));
    f.indices.add(m.index);
  }
  const frames = [...got.keys()].sort((a, b) => a - b);
  const from = range?.from ?? frames[0] ?? 0;
  const to = range?.to ?? frames[frames.length - 1] ?? -1;
  const incomplete: number[] = [];
  const missing: number[] = [];
  for (let f = from; f <= to; f++) {
    const e = got.get(f);
    if (!e) missing.push(f);
    else if (e.indices.size < e.count) incomplete.push(f);
  }
  return { first: frames[0], last: frames[frames.length - 1], from, to, received: got.size, missing, incomplete, lost: missing.length + incomplete.length };
}
