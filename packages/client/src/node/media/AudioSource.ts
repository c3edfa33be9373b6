/**
 * An audio source for Node, shaped like @livekit/rtc-node's: `captureFrame(AudioFrame)` takes PCM in any frame size,
 * encodes it into 20 ms Opus packets and writes them as RTP in real time.
 *
 * Sample rates: 8, 12, 16, 24 or 48 kHz, which libopus encodes natively (RTP timestamps are 48 kHz whatever the
 * input rate); others (e.g. 44.1 kHz) are refused, not resampled. Mono or stereo; a frame with the other channel
 * count is remixed.
 *
 * Pacing: with a queue (`queueSizeMs` > 0, 1000 by default) encoded packets are written one every 20 ms on a
 * drift-free clock and `captureFrame` resolves once the queue is back under its size, so a caller can push a file as
 * fast as it awaits. With `queueSizeMs` 0, each packet is written as soon as it is encoded: the caller paces.
 */
import type { AudioFrame } from './AudioFrame.js';
import { OpusEncoder, type OpusEncoderOptions } from './opus.js';
import { RtpHeader, RtpPacket, randomUint16, randomUint32, type RtpSink } from './rtp.js';

const FRAME_MS = 20;
const TS_PER_FRAME = 960; // 20 ms at 48 kHz
/** Behind the clock by more than this many frames (an event loop stall, or idle), the source jumps to the clock. */
const MAX_CATCH_UP = 5;

export interface AudioSourceOptions extends OpusEncoderOptions {
  /** Audio queued ahead of real time before `captureFrame` waits; 0 writes at once and leaves pacing to the caller. */
  queueSizeMs?: number;
  /** The SDK's sender rewrites it to the negotiated one. */
  payloadType?: number;
  ssrc?: number;
  /** Called when the sink throws (the error is otherwise only counted). */
  onError?: (err: unknown) => void;
}

export interface AudioSourceStats {
  /** Opus packets written (or discarded for want of a sink). */
  packets: number;
  bytes: number;
  errors: number;
}

export class AudioSource {
  readonly queueSizeMs: number;
  readonly payloadType: number;
  readonly ssrc: number;
  readonly stats: AudioSourceStats = { packets: 0, bytes: 0, errors: 0 };
  private readonly encoder: OpusEncoder;
  private readonly onError: ((err: unknown) => void) | undefined;
  private sink: RtpSink | null = null;
  /** PCM of the 20 ms frame being filled. */
  private readonly pending: Int16Array;
  private pendingLen = 0;
  private readonly queue: Buffer[] = [];
  private timer: NodeJS.Timeout | undefined;
  private t0: number | undefined;
  /** 20 ms slot of the last packet written; the RTP timestamp is derived from it. */
  private lastSlot = -1;
  private seq = randomUint16();
  private readonly tsBase = randomUint32();
  private spaceWaiters: (() => void)[] = [];
  private playoutWaiters: (() => void)[] = [];
  private closed = false;

  constructor(
    readonly sampleRate: number,
    readonly numChannels: 1 | 2 = 1,
    queueSizeMsOrOptions: number | AudioSourceOptions = {},
  ) {
    const opts = typeof queueSizeMsOrOptions === 'number' ? { queueSizeMs: queueSizeMsOrOptions } : queueSizeMsOrOptions;
    if (numChannels !== 1 && numChannels !== 2) throw new RangeError('AudioSource takes 1 or 2 channels');
    this.encoder = new OpusEncoder(sampleRate, numChannels, opts);
    this.queueSizeMs = opts.queueSizeMs ?? 1000;
    this.payloadType = opts.payloadType ?? 111;
    this.ssrc = opts.ssrc ?? randomUint32();
    this.onError = opts.onError;
    this.pending = new Int16Array((sampleRate / 1000) * FRAME_MS * numChannels);
  }

  /** Where packets go (null: they are paced and discarded, like a track nobody sends). */
  setSink(sink: RtpSink | null): void {
    this.sink = sink;
  }

  /** Audio accepted but not yet written, in ms. */
  get queuedDuration(): number {
    return this.queue.length * FRAME_MS + (this.pendingLen / this.pending.length) * FRAME_MS;
  }

  /** Bitrate of the Opus encoder, in bit/s. */
  setBitrate(bitrate: number): void {
    this.encoder.setBitrate(bitrate);
  }

  /**
   * Takes a frame of interleaved PCM at the source's sample rate. Resolves when the queue has room again (at once
   * when it has, or without a queue).
   */
  captureFrame(frame: AudioFrame): Promise<void> {
    if (this.closed) return Promise.reject(new Error('AudioSource is closed'));
    if (frame.sampleRate !== this.sampleRate) {
      return Promise.reject(new RangeError(`frame is ${frame.sampleRate} Hz, the source ${this.sampleRate} Hz`));
    }
    this.append(frame);
    if (this.queueSizeMs <= 0 || this.queuedDuration <= this.queueSizeMs) return Promise.resolve();
    return new Promise((resolve) => this.spaceWaiters.push(resolve));
  }

  /** Drops queued audio (and the partial frame). */
  clearQueue(): void {
    this.queue.length = 0;
    this.pendingLen = 0;
    this.settle();
  }

  /** Resolves when everything queued has been written. */
  waitForPlayout(): Promise<void> {
    if (this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.playoutWaiters.push(resolve));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.clearQueue();
    this.sink = null;
    this.encoder.close();
  }

  private append(frame: AudioFrame): void {
    const { data, channels: inCh, samplesPerChannel } = frame;
    const outCh = this.numChannels;
    const buf = this.pending;
    for (let i = 0; i < samplesPerChannel; i++) {
      const base = i * inCh;
      if (inCh === outCh) {
        for (let c = 0; c < outCh; c++) buf[this.pendingLen++] = data[base + c];
      } else if (outCh === 1) {
        let sum = 0;
        for (let c = 0; c < inCh; c++) sum += data[base + c];
        buf[this.pendingLen++] = Math.round(sum / inCh);
      } else {
        // Into stereo: mono is duplicated, more than two channels keep the first two.
        buf[this.pendingLen++] = data[base];
        buf[this.pendingLen++] = data[base + (inCh > 1 ? 1 : 0)];
      }
      if (this.pendingLen === buf.length) {
        this.pendingLen = 0;
        this.enqueue(this.encoder.encode(buf));
      }
    }
  }

  private enqueue(payload: Buffer): void {
    if (this.queueSizeMs <= 0) {
      this.write(payload, this.lastSlot + 1);
      return;
    }
    this.queue.push(payload);
    if (!this.timer) this.timer = setTimeout(this.pump, 0);
  }

  private readonly pump = (): void => {
    this.timer = undefined;
    if (this.closed) return;
    const now = performance.now();
    const t0 = (this.t0 ??= now);
    const due = Math.floor((now - t0) / FRAME_MS);
    let slot = this.lastSlot + 1;
    // Far behind the clock (idle, or a stall): resume at the clock; receivers see a timestamp gap, as with DTX.
    if (due - slot > MAX_CATCH_UP) slot = due;
    while (this.queue.length > 0 && slot <= due) this.write(this.queue.shift()!, slot++);
    if (this.queue.length > 0) {
      this.timer = setTimeout(this.pump, Math.max(0, t0 + (this.lastSlot + 1) * FRAME_MS - performance.now()));
    }
    this.settle();
  };

  private write(payload: Buffer, slot: number): void {
    this.lastSlot = slot;
    const header = new RtpHeader({
      payloadType: this.payloadType,
      sequenceNumber: this.seq,
      timestamp: (this.tsBase + slot * TS_PER_FRAME) >>> 0,
      ssrc: this.ssrc,
      marker: false,
    });
    this.seq = (this.seq + 1) & 0xffff;
    this.stats.packets++;
    this.stats.bytes += payload.length;
    const sink = this.sink;
    if (!sink) return;
    try {
      sink.writeRtp(new RtpPacket(header, payload));
    } catch (err) {
      this.stats.errors++;
      this.onError?.(err);
    }
  }

  private settle(): void {
    if (this.spaceWaiters.length > 0 && (this.closed || this.queuedDuration <= this.queueSizeMs)) {
      const w = this.spaceWaiters;
      this.spaceWaiters = [];
      for (const r of w) r();
    }
    if (this.playoutWaiters.length > 0 && this.queue.length === 0) {
      const w = this.playoutWaiters;
      this.playoutWaiters = [];
      for (const r of w) r();
    }
  }
}
