/**
 * Async iterators over a received RTP packet source: raw packets, assembled VP8 frames, decoded Opus audio. Each
 * subscribes to the source when created and unsubscribes when it ends (`close()`, the source ending, or the
 * consumer's `break`), so a track nobody iterates costs nothing; each keeps a bounded queue that drops the oldest
 * item when its consumer is slow (`dropped` counts them).
 */
import { DropQueue } from './queue.js';
import type { RtpPacket, RtpPacketSource } from './rtp.js';
import { Vp8FrameAssembler, type Vp8Frame } from './vp8.js';
import { OpusRtpDecoder, type DecodedAudioFrame, type OpusRtpDecoderOptions } from './OpusRtpDecoder.js';

export interface StreamOptions {
  /** Items held for a slow consumer before the oldest are dropped. */
  maxQueue?: number;
}

/** A subscription to a packet source feeding a DropQueue through `handle`; subclasses `attach` last in their constructor. */
abstract class SourceStream<T> extends DropQueue<T> {
  private unsubscribe: (() => void) | undefined;

  protected attach(source: RtpPacketSource): void {
    this.onClose(() => this.detach());
    const unsubscribe = source.onPacket(
      (p) => this.handle(p),
      () => this.close(),
    );
    // The source may have ended while we subscribed.
    if (this.closed) unsubscribe();
    else this.unsubscribe = unsubscribe;
  }

  /** Stops receiving; what is queued is still delivered, then the iteration ends. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.end();
  }

  protected abstract handle(packet: RtpPacket): void;
  /** Emits what is held back, before the end. */
  protected flush(): void {}
  /** Frees what the stream owns, after the end. */
  protected release(): void {}

  private detach(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.release();
  }
}

/** Received RTP packets as they arrive. */
export class RtpStream extends SourceStream<RtpPacket> {
  constructor(source: RtpPacketSource, opts: StreamOptions = {}) {
    super(opts.maxQueue ?? 512);
    this.attach(source);
  }

  protected handle(packet: RtpPacket): void {
    this.push(packet);
  }
}

/** Assembled VP8 frames; `assembler.stats` counts packets, bytes, frames, keyframes, losses. */
export class Vp8FrameStream extends SourceStream<Vp8Frame> {
  readonly assembler: Vp8FrameAssembler;

  constructor(source: RtpPacketSource, opts: StreamOptions = {}) {
    super(opts.maxQueue ?? 60);
    this.assembler = new Vp8FrameAssembler((f) => this.push(f));
    this.attach(source);
  }

  protected handle(packet: RtpPacket): void {
    this.assembler.push(packet);
  }

  protected override flush(): void {
    this.assembler.flush();
  }
}

/** Decoded 48 kHz PCM, one frame per packet plus concealment and silence for gaps; `decoder.stats` counts. */
export class AudioFrameStream extends SourceStream<DecodedAudioFrame> {
  readonly decoder: OpusRtpDecoder;

  constructor(source: RtpPacketSource, opts: StreamOptions & OpusRtpDecoderOptions = {}) {
    super(opts.maxQueue ?? 100);
    this.decoder = new OpusRtpDecoder((f) => this.push(f), opts);
    this.attach(source);
  }

  protected handle(packet: RtpPacket): void {
    this.decoder.push(packet);
  }

  protected override release(): void {
    this.decoder.close();
  }
}

export function rtpStream(source: RtpPacketSource, opts?: StreamOptions): RtpStream {
  return new RtpStream(source, opts);
}

export function vp8Frames(source: RtpPacketSource, opts?: StreamOptions): Vp8FrameStream {
  return new Vp8FrameStream(source, opts);
}

export function audioFrames(source: RtpPacketSource, opts?: StreamOptions & OpusRtpDecoderOptions): AudioFrameStream {
  return new AudioFrameStream(source, opts);
}
