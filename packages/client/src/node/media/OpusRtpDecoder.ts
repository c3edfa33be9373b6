/**
 * Opus RTP → PCM at 48 kHz, keeping the timeline: lost packets (a sequence gap) are concealed with libopus's PLC,
 * up to `maxConcealMs`, then zero-filled; a timestamp gap without lost packets (the sender was silent: DTX, mute)
 * is zero-filled. Gaps longer than `maxGapMs` are not filled (the stream restarted); frames carry their timestamp.
 */
import { AudioFrame } from './AudioFrame.js';
import { OpusDecoder, concealPacket, opusPacketSamples } from './opus.js';
import { seqDiff, tsDiff, type RtpPacket } from './rtp.js';

export interface OpusRtpDecoderOptions {
  /** Output channels (libopus up- or down-mixes). */
  channels?: 1 | 2;
  maxConcealMs?: number;
  maxGapMs?: number;
}

/** A decoded frame with its RTP timestamp (48 kHz) and how it was made. */
export class DecodedAudioFrame extends AudioFrame {
  constructor(
    data: Int16Array,
    channels: number,
    samplesPerChannel: number,
    readonly timestamp: number,
    /** 'decoded' from a packet, 'concealed' by PLC for a lost packet, 'silence' filled in. */
    readonly kind: 'decoded' | 'concealed' | 'silence',
  ) {
    super(data, 48000, channels, samplesPerChannel);
  }
}

export interface OpusRtpDecoderStats {
  packets: number;
  bytes: number;
  /** Sequence numbers skipped. */
  lostPackets: number;
  /** Duplicates and packets older than the last one. */
  discardedPackets: number;
  /** Packets libopus refused. */
  decodeErrors: number;
  decodedFrames: number;
  concealedFrames: number;
  silenceFrames: number;
}

const RATE_MS = 48; // samples per ms at 48 kHz

export class OpusRtpDecoder {
  readonly channels: 1 | 2;
  readonly stats: OpusRtpDecoderStats = {
    packets: 0,
    bytes: 0,
    lostPackets: 0,
    discardedPackets: 0,
    decodeErrors: 0,
    decodedFrames: 0,
    concealedFrames: 0,
    silenceFrames: 0,
  };
  private readonly decoder: OpusDecoder;
  private readonly maxConceal: number;
  private readonly maxGap: number;
  private lastSeq = -1;
  /** Timestamp where the next packet is expected. */
  private nextTs = 0;
  private lastPayload: Uint8Array | undefined;
  private lastSamples = 960;

  constructor(
    private readonly onFrame: (frame: DecodedAudioFrame) => void,
    opts: OpusRtpDecoderOptions = {},
  ) {
    this.channels = opts.channels ?? 1;
    this.decoder = new OpusDecoder(48000, this.channels);
    this.maxConceal = (opts.maxConcealMs ?? 100) * RATE_MS;
    this.maxGap = (opts.maxGapMs ?? 1000) * RATE_MS;
  }

  push(packet: RtpPacket): void {
    const { header, payload } = packet;
    const s = this.stats;
    s.packets++;
    s.bytes += payload.length;
    const seq = header.sequenceNumber;
    const ts = header.timestamp;
    let lost = 0;
    if (this.lastSeq >= 0) {
      const d = seqDiff(seq, this.lastSeq);
      if (d <= 0) {
        s.discardedPackets++;
        return;
      }
      lost = d - 1;
      s.lostPackets += lost;
      const gap = tsDiff(ts, this.nextTs);
      if (gap > 0 && gap <= this.maxGap) this.fill(this.nextTs, gap, lost > 0);
    }
    this.lastSeq = seq;
    if (payload.length === 0) return;
    let pcm: Int16Array;
    try {
      pcm = this.decoder.decode(payload);
    } catch {
      s.decodeErrors++;
      this.nextTs = (ts + (opusPacketSamples(payload) || this.lastSamples)) >>> 0;
      return;
    }
    const samples = pcm.length / this.channels;
    this.lastPayload = payload;
    this.lastSamples = samples;
    this.nextTs = (ts + samples) >>> 0;
    s.decodedFrames++;
    this.onFrame(new DecodedAudioFrame(pcm, this.channels, samples, ts, 'decoded'));
  }

  close(): void {
    this.decoder.close();
  }

  /** Fills `gap` samples from `ts`: PLC first (when packets were lost and we know the stream's mode), then zeros. */
  private fill(ts: number, gap: number, lost: boolean): void {
    const s = this.stats;
    let left = gap;
    if (lost && this.lastPayload) {
      const plc = concealPacket(this.lastPayload);
      const per = opusPacketSamples(plc);
      let concealed = 0;
      // Whole concealed frames only, never past the gap: the remainder is zeros.
      while (per > 0 && per <= left && concealed < this.maxConceal) {
        const pcm = this.decoder.decode(plc);
        const n = pcm.length / this.channels;
        if (n === 0) break;
        s.concealedFrames++;
        this.onFrame(new DecodedAudioFrame(pcm, this.channels, n, ts, 'concealed'));
        ts = (ts + n) >>> 0;
        left -= n;
        concealed += n;
      }
    }
    while (left > 0) {
      const n = Math.min(left, this.lastSamples);
      s.silenceFrames++;
      this.onFrame(new DecodedAudioFrame(new Int16Array(n * this.channels), this.channels, n, ts, 'silence'));
      ts = (ts + n) >>> 0;
      left -= n;
    }
  }
}
