// Plays a recorded simulcast fixture into a Kite Receiver the way PublisherIngest does, in real time, looping the
// recording as one continuous publisher: per layer, every loop (and every jump, below) continues the sequence numbers,
// RTP timestamps, VP8 PictureID/TL0PICIDX and the dependency descriptor's frame number where the previous packet of
// that layer left off. Keyframe requests (the Receiver's sendPli) are answered like an encoder would: the layer's next
// frame is a keyframe — the feed jumps to the next recorded keyframe of that layer at the next frame boundary.
// Optionally (deliverLate) a share of the packets reaches the Receiver late, after a few newer packets of its layer.
import { isKeyframe, rtp, type CodecKind, type Receiver, type StreamBuffer } from '@kite/sfu';
import type { Fixture, RecLayer, RecPacket } from './fixture.js';

/** One packet handed to the Receiver. */
export interface FedPacket {
  at: number;
  layer: number;
  /** Recorded packet index within its layer. */
  index: number;
  seq: number;
  keyframe: boolean;
  /** First packet of a segment (start, loop, or jump to a keyframe): the source values were re-based here. */
  segmentStart: boolean;
  /** Handed to the Receiver after a newer packet of its layer (see deliverLate). */
  late: boolean;
  /** Handed to the Receiver as a retransmission (recovered through RTX), not as a plain reordered packet. */
  retransmission: boolean;
}

/**
 * Late delivery (deliverLate): one packet in every 1/`fraction` of a layer, at a pseudo-random place (deterministic
 * from `seed`), is held back and handed to the Receiver right after the next `after[0]`–`after[1]` packets of its
 * layer, as PublisherIngest hands over a reordered packet (`retransmission` false) or one recovered through RTX (true).
 */
export interface LateDelivery {
  fraction: number;
  seed: number;
  after: [number, number];
  /** How held packets are marked: all reordered, all retransmissions, or alternately. */
  as: 'reordered' | 'retransmission' | 'both';
}

interface HeldPacket {
  buf: Buffer;
  fed: FedPacket;
  /** Extended sequence number. */
  seq: number;
  /** Packets of the layer still to come before this one is handed over. */
  remaining: number;
  retransmission: boolean;
}

interface LayerState {
  rec: RecLayer;
  pos: number;
  /** performance.now() of recording time 0 for the current segment. */
  base: number;
  started: boolean;
  seqOff: number;
  tsOff: number;
  pidOff: number;
  tl0Off: number;
  ddOff: number;
  lastSeq: number;
  lastTs: number;
  lastPid: number;
  lastTl0: number;
  /** Scheduled time of the last frame start emitted. */
  lastFrameAt: number;
  keyframeRequested: boolean;
  pendingSegment: boolean;
  sb: StreamBuffer | undefined;
  /** Late delivery: packets held back, the highest extended sequence number handed to the Receiver, and where the
   * current block of 1/fraction packets is and which of its packets is held. */
  held: HeldPacket[];
  maxDelivered: number;
  blockPos: number;
  heldPos: number;
  plis: number;
  jumps: number;
  loops: number;
}

export class SimulcastFeed {
  readonly fed: FedPacket[][] = [[], [], []];
  private readonly layers: LayerState[];
  private readonly view = new rtp.RtpHeaderView();
  private timer: NodeJS.Timeout | undefined;
  private ddMax = -Infinity;
  private readonly fixtureDd0: number;
  packets = 0;
  /** Keyframe requests per layer, with their times. */
  readonly pliLog: { at: number; layer: number }[] = [];
  /** false: keyframe requests are counted but not answered (only the recording's own keyframes come). */
  answerPli = true;
  /**
   * Start every counter a little before it wraps (sequence numbers, timestamps, PictureID, TL0PICIDX, DD frame
   * number), so the down track's rewriting — and the subscriber — see each wrap within the first seconds.
   */
  nearWrap = true;
  private late: LateDelivery | undefined;
  private rngState = 0;
  private heldCount = 0;
  /** Packets handed over late, per layer. */
  readonly lateCount = [0, 0, 0];

  constructor(
    fixture: Fixture,
    private readonly receiver: Receiver,
  ) {
    this.fixtureDd0 = fixture.layers[0]!.packets[0]!.ddExt;
    this.layers = fixture.layers.map((rec) => ({
      rec,
      pos: 0,
      base: 0,
      started: false,
      seqOff: 0,
      tsOff: 0,
      pidOff: 0,
      tl0Off: 0,
      ddOff: 0,
      lastSeq: 0,
      lastTs: 0,
      lastPid: 0,
      lastTl0: 0,
      lastFrameAt: 0,
      keyframeRequested: false,
      pendingSegment: true,
      sb: undefined,
      held: [],
      maxDelivered: -Infinity,
      blockPos: 0,
      heldPos: 0,
      plis: 0,
      jumps: 0,
      loops: 0,
    }));
  }

  /** The Receiver's `sendPli` callback. */
  onPli(ssrc: number): void {
    const l = this.layers.find((s) => s.rec.ssrc === ssrc);
    if (!l) return;
    l.plis++;
    if (this.answerPli) l.keyframeRequested = true;
    this.pliLog.push({ at: performance.now(), layer: l.rec.layer });
  }

  stats(): { plis: number[]; jumps: number[]; loops: number[] } {
    return { plis: this.layers.map((l) => l.plis), jumps: this.layers.map((l) => l.jumps), loops: this.layers.map((l) => l.loops) };
  }

  start(): void {
    const now = performance.now();
    for (const l of this.layers) l.base = now - l.rec.packets[0]!.t + 1;
    this.timer = setInterval(() => this.pump(), 2);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    // Whatever is still held back comes now, late, rather than never.
    for (const l of this.layers) for (const h of l.held.splice(0)) this.ingest(l, h.buf, h.fed, h.seq, h.retransmission);
  }

  /** From now on, deliver a share of the packets late (undefined: stop holding packets back). */
  deliverLate(late: LateDelivery | undefined): void {
    this.late = late;
    this.rngState = (late?.seed ?? 0) >>> 0;
    for (const l of this.layers) l.blockPos = 0;
  }

  /** mulberry32: a small deterministic PRNG in [0, 1). */
  private random(): number {
    let t = (this.rngState = (this.rngState + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  }

  private due(l: LayerState): number {
    return l.base + l.rec.packets[l.pos]!.t;
  }

  /** Sends every packet that is due, in time order across layers. */
  private pump(): void {
    const now = performance.now();
    for (;;) {
      let next: LayerState | undefined;
      for (const l of this.layers) if (!next || this.due(l) < this.due(next)) next = l;
      if (!next || this.due(next) > now) return;
      this.emit(next);
    }
  }

  private emit(l: LayerState): void {
    const pkts = l.rec.packets;
    let p = pkts[l.pos]!;
    // At a frame boundary: a requested keyframe replaces the next frame (the encoder's next frame is a keyframe).
    if (p.frameStart && l.keyframeRequested) {
      l.keyframeRequested = false;
      if (!p.vp8.keyframe) {
        const at = this.due(l);
        let k = l.pos + 1;
        while (k < pkts.length && !pkts[k]!.vp8.keyframe) k++;
        if (k >= pkts.length) k = 0;
        l.jumps++;
        l.pos = k;
        l.base = at - pkts[k]!.t;
        l.pendingSegment = true;
        p = pkts[k]!;
      }
    }
    const segmentStart = l.pendingSegment;
    if (segmentStart) {
      l.pendingSegment = false;
      this.beginSegment(l, p);
    }
    this.send(l, p, segmentStart);
    l.pos++;
    if (l.pos >= pkts.length) {
      // Loop: the recording starts with a keyframe; it comes one frame interval after the last frame.
      l.loops++;
      l.pos = 0;
      l.base = l.lastFrameAt + l.rec.frameMs - pkts[0]!.t;
      l.pendingSegment = true;
    }
  }

  /** Re-bases the layer so packet `p` (a keyframe's first packet) continues the layer's outgoing values. */
  private beginSegment(l: LayerState, p: RecPacket): void {
    if (!l.started) {
      l.started = true;
      if (this.nearWrap) {
        l.seqOff = 0x10000 - 150 - p.seqExt;
        l.tsOff = 2 ** 32 - 5 * 90_000 - p.tsExt;
        if (p.pidExt >= 0) l.pidOff = 0x8000 - 60 - p.pidExt;
        if (p.tl0Ext >= 0) l.tl0Off = 0x100 - 10 - p.tl0Ext;
        // Frame numbers are shared by the layers: one shift for all keeps their order.
        if (p.ddExt >= 0) l.ddOff = 0x10000 - 300 - this.fixtureDd0;
      }
      return;
    }
    l.seqOff = l.lastSeq + 1 - p.seqExt;
    l.tsOff = l.lastTs + l.rec.frameTicks - p.tsExt;
    if (p.pidExt >= 0) l.pidOff = l.lastPid + 1 - p.pidExt;
    if (p.tl0Ext >= 0) l.tl0Off = l.lastTl0 + 1 - p.tl0Ext;
  }

  private send(l: LayerState, p: RecPacket, segmentStart: boolean): void {
    const at = this.due(l);
    const buf = Buffer.from(p.buf);
    const seq = p.seqExt + l.seqOff;
    const ts = p.tsExt + l.tsOff;
    buf.writeUInt16BE(seq & 0xffff, 2);
    buf.writeUInt32BE(ts % 2 ** 32, 4);
    l.lastSeq = seq;
    l.lastTs = ts;
    if (p.frameStart) l.lastFrameAt = at;
    if (p.vp8.pictureIdOffset >= 0 && p.vp8.pictureIdBits === 15) {
      const pid = p.pidExt + l.pidOff;
      buf[p.vp8.pictureIdOffset] = 0x80 | ((pid >> 8) & 0x7f);
      buf[p.vp8.pictureIdOffset + 1] = pid & 0xff;
      l.lastPid = pid;
    }
    if (p.vp8.tl0Offset >= 0) {
      const tl0 = p.tl0Ext + l.tl0Off;
      buf[p.vp8.tl0Offset] = tl0 & 0xff;
      l.lastTl0 = tl0;
    }
    if (p.ddOffset >= 0) {
      // The publisher's frame numbers are shared by its simulcast streams (libwebrtc numbers frames across them), so a
      // keyframe never goes below anything sent before on any layer; frames after it keep their recorded distances.
      if (p.vp8.keyframe && p.ddExt + l.ddOff <= this.ddMax) l.ddOff = this.ddMax + 1 - p.ddExt;
      const fn = p.ddExt + l.ddOff;
      buf[p.ddOffset + 1] = (fn >> 8) & 0xff;
      buf[p.ddOffset + 2] = fn & 0xff;
      if (fn > this.ddMax) this.ddMax = fn;
    }
    const fed: FedPacket = { at, layer: l.rec.layer, index: p.index, seq: seq & 0xffff, keyframe: p.vp8.keyframe, segmentStart, late: false, retransmission: false };
    this.fed[l.rec.layer]!.push(fed);
    const late = this.late;
    if (late === undefined || !this.holdNext(l, late)) this.ingest(l, buf, fed, seq, false);
    else {
      const [min, max] = late.after;
      const retransmission = late.as === 'retransmission' || (late.as === 'both' && this.heldCount % 2 === 1);
      this.heldCount++;
      l.held.push({ buf, fed, seq, remaining: min + Math.floor(this.random() * (max - min + 1)), retransmission });
    }
    // Packets held before this one come after the next `remaining` packets of their layer (this one counts, held or not).
    for (let i = 0; i < l.held.length; ) {
      const h = l.held[i]!;
      if (h.fed === fed || --h.remaining > 0) i++;
      else {
        l.held.splice(i, 1);
        this.ingest(l, h.buf, h.fed, h.seq, h.retransmission);
      }
    }
  }

  /** Late delivery: whether the layer's next packet is the one held back in its current block of 1/fraction. */
  private holdNext(l: LayerState, late: LateDelivery): boolean {
    const block = Math.max(1, Math.round(1 / late.fraction));
    if (l.blockPos === 0) l.heldPos = Math.floor(this.random() * block);
    const hold = l.blockPos === l.heldPos;
    l.blockPos = (l.blockPos + 1) % block;
    return hold;
  }

  /** What PublisherIngest.process does with one RTP packet of a known route (`retransmission`: unwrapped from RTX). */
  private ingest(l: LayerState, buf: Buffer, fed: FedPacket, seq: number, retransmission: boolean): void {
    fed.late = seq < l.maxDelivered;
    fed.retransmission = retransmission;
    if (fed.late) this.lateCount[l.rec.layer]!++;
    if (seq > l.maxDelivered) l.maxDelivered = seq;
    const view = this.view;
    if (!view.parse(buf, 0, buf.length)) throw new Error('feed built an invalid RTP packet');
    const codec = this.receiver.codecByPt.get(view.payloadType);
    if (codec === undefined) return;
    l.sb ??= this.receiver.layerBuffer(l.rec.layer, view.ssrc, codec.clockRate);
    const now = Date.now();
    const keyframe = view.payloadLength > 0 && isKeyframe(codec.kind as CodecKind, buf, view.payloadOffset, view.payloadLength);
    if (!l.sb.onPacket(buf, buf.length, view.sequenceNumber, view.timestamp, now, keyframe, retransmission, view.marker)) return;
    this.packets++;
    this.receiver.onPacket(l.sb, buf, buf.length, view, keyframe, now);
  }
}
