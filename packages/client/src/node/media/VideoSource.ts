/**
 * A video source for Node: loops a real VP8 clip (an IVF file) and writes it as RTP at a steady frame rate, with
 * keyframes on demand. What a bot publishes when a browser must be able to decode it.
 */
import { RtpHeader, RtpPacket, randomUint16, randomUint32, type RtpSink } from './rtp.js';
import { parseIvf, readIvfFile, type IvfFile } from './ivf.js';
import { packetizeVp8, VP8_MAX_PAYLOAD } from './vp8.js';

/** The bundled clip: 3 s of ffmpeg's testsrc2 pattern, 640x360, 30 fps, VP8, a keyframe every second. */
export const DEFAULT_VP8_CLIP = new URL('../../../assets/vp8-640x360-30fps.ivf', import.meta.url);

let defaultClip: IvfFile | undefined;
export function defaultVp8Clip(): IvfFile {
  return (defaultClip ??= readIvfFile(DEFAULT_VP8_CLIP));
}

export interface VideoSourceOptions {
  /** A parsed IVF file, its bytes, or its path; the bundled clip by default. Must be VP8. */
  clip?: IvfFile | Uint8Array | string | URL;
  /** Frames per second sent (the clip's own rate by default; another rate just plays the clip faster or slower). */
  fps?: number;
  /** The SDK's sender rewrites it to the negotiated one. */
  payloadType?: number;
  ssrc?: number;
  /** Largest RTP payload, VP8 descriptor included. */
  maxPayloadSize?: number;
  /** Called when the sink throws while the source runs (the error is otherwise only counted). */
  onError?: (err: unknown) => void;
}

export interface VideoSourceStats {
  frames: number;
  keyframes: number;
  packets: number;
  /** RTP payload bytes. */
  bytes: number;
  /** Times the clip wrapped around. */
  loops: number;
  /** Errors thrown by the sink. */
  errors: number;
}

export class VideoSource {
  readonly clip: IvfFile;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  readonly payloadType: number;
  readonly ssrc: number;
  readonly stats: VideoSourceStats = { frames: 0, keyframes: 0, packets: 0, bytes: 0, loops: 0, errors: 0 };
  private readonly onError: ((err: unknown) => void) | undefined;
  private readonly maxPayload: number;
  private sink: RtpSink | null = null;
  /** Index of the next clip frame to send. */
  private pos: number;
  private keyframeRequested = false;
  private seq = randomUint16();
  private readonly tsBase = randomUint32();
  private pictureId = Math.floor(Math.random() * 0x8000);
  /** Frame slots elapsed since the first frame; the RTP timestamp is derived from it, so it follows the clock. */
  private tick = -1;
  private timer: NodeJS.Timeout | undefined;
  /** Wall time of tick 0, set by the first start(). */
  private t0: number | undefined;

  constructor(opts: VideoSourceOptions = {}) {
    const c = opts.clip;
    this.clip =
      c === undefined ? defaultVp8Clip() : c instanceof Uint8Array ? parseIvf(c) : typeof c === 'string' || c instanceof URL ? readIvfFile(c) : c;
    if (this.clip.codec !== 'VP80') throw new Error(`VideoSource plays VP8 clips, not ${this.clip.codec}`);
    if (this.clip.keyframes.length === 0) throw new Error('VP8 clip has no keyframe');
    this.width = this.clip.width;
    this.height = this.clip.height;
    this.fps = opts.fps ?? this.clip.fps;
    if (!(this.fps > 0 && this.fps <= 120)) throw new RangeError(`bad fps ${this.fps}`);
    this.payloadType = opts.payloadType ?? 96;
    this.ssrc = opts.ssrc ?? randomUint32();
    this.maxPayload = opts.maxPayloadSize ?? VP8_MAX_PAYLOAD;
    this.onError = opts.onError;
    this.pos = this.clip.keyframes[0];
  }

  /** Where `start()` writes (null: frames are still produced on schedule, and discarded). */
  setSink(sink: RtpSink | null): void {
    this.sink = sink;
  }

  get running(): boolean {
    return this.timer !== undefined;
  }

  /** Index in the clip of the next frame to send. */
  get position(): number {
    return this.pos;
  }

  /** Starts writing frames to the sink in real time. */
  start(sink?: RtpSink): void {
    if (sink) this.sink = sink;
    if (this.timer) return;
    const interval = 1000 / this.fps;
    // Keep the clock of an earlier run so timestamps count the time spent stopped; frames made by hand before the
    // first start() count as already sent.
    const t0 = (this.t0 ??= performance.now() - (this.tick + 1) * interval);
    const loop = () => {
      const due = Math.floor((performance.now() - t0) / interval);
      const packets = this.nextFrame(Math.max(1, due - this.tick));
      this.timer = setTimeout(loop, Math.max(0, t0 + (this.tick + 1) * interval - performance.now()));
      const sink = this.sink;
      try {
        if (sink) for (const p of packets) sink.writeRtp(p);
      } catch (err) {
        // A sink that throws (a closed track) must not stop the clock or crash the process from a timer.
        this.stats.errors++;
        this.onError?.(err);
      }
    };
    this.timer = setTimeout(loop, 0);
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  close(): void {
    this.stop();
    this.sink = null;
  }

  /** The next frame will be a keyframe: the next one in the clip, or the clip's first. */
  requestKeyframe(): void {
    this.keyframeRequested = true;
  }

  /**
   * Produces the next frame's packets without writing them (for tests and callers pacing themselves). `slots`
   * frame intervals have elapsed since the previous frame (more than one when the timer fell behind: the clip
   * does not skip frames, which would break decoding, but the timestamp keeps to the clock).
   */
  nextFrame(slots = 1): RtpPacket[] {
    const { frames, keyframes } = this.clip;
    if (this.keyframeRequested) {
      this.keyframeRequested = false;
      if (!frames[this.pos].keyframe) {
        const next = keyframes.find((k) => k > this.pos);
        this.pos = next ?? keyframes[0];
      }
    }
    const frame = frames[this.pos];
    this.tick = this.tick < 0 ? 0 : this.tick + slots;
    const timestamp = (this.tsBase + Math.round((this.tick * 90000) / this.fps)) >>> 0;
    const payloads = packetizeVp8(frame.data, this.pictureId, this.maxPayload);
    this.pictureId = (this.pictureId + 1) & 0x7fff;
    const packets: RtpPacket[] = new Array(payloads.length);
    for (let i = 0; i < payloads.length; i++) {
      const header = new RtpHeader({
        payloadType: this.payloadType,
        sequenceNumber: this.seq,
        timestamp,
        ssrc: this.ssrc,
        marker: i === payloads.length - 1,
      });
      this.seq = (this.seq + 1) & 0xffff;
      packets[i] = new RtpPacket(header, payloads[i]);
      this.stats.bytes += payloads[i].length;
    }
    this.stats.frames++;
    this.stats.packets += packets.length;
    if (frame.keyframe) this.stats.keyframes++;
    this.pos++;
    if (this.pos >= frames.length) {
      this.pos = keyframes[0];
      this.stats.loops++;
    }
    return packets;
  }
}
