// One incoming RTP stream (SSRC) of a published track: packet history for retransmissions, NACK generation,
// receive statistics for receiver reports, and the sender-report clock mapping used to rewrite SRs downstream.
import { PacketHistory, HISTORY_FLAG_KEYFRAME } from '../rtp/history.js';
import { NackGenerator } from '../rtp/nack.js';
import { ReceiveStats } from '../rtp/jitter.js';
import { ntpToMs } from '../rtp/rtcp.js';
import { DependencyDescriptorReader } from '../rtp/codecs/dd.js';
import { Vp9Descriptor } from '../rtp/codecs/vp9.js';

const vp9 = new Vp9Descriptor();

export interface StreamBufferOptions {
  ssrc: number;
  /** Spatial layer index (0 for non-simulcast tracks). */
  layer: number;
  clockRate: number;
  video: boolean;
  /** Packets kept for retransmission. */
  historySize?: number;
}

/**
 * History sizing: a 2.5 Mbit/s keyframe is up to ~105 packets of 1200 B and one second of video at that rate is
 * ~260 packets, so 1024 slots (1.5 MB, allocated on first packet) keep a keyframe plus ~3 s of history.
 */
const VIDEO_HISTORY = 1024;
/** Audio is not NACKed by browsers (no rtcp-fb nack for Opus); a little history serves retransmit-capable peers. */
const AUDIO_HISTORY = 64;

export class StreamBuffer {
  readonly ssrc: number;
  readonly layer: number;
  readonly clockRate: number;
  readonly video: boolean;
  readonly history: PacketHistory;
  readonly nack: NackGenerator | undefined;
  readonly stats: ReceiveStats;
  /** SSRC of this stream's RTX (repair) stream, once seen. */
  rtxSsrc = 0;
  /** Last arrival (ms) and bytes over the current rate window, for layer bitrates. */
  lastPacketAt = 0;
  private windowStart = 0;
  private windowBytes = 0;
  /** Bits per second over the last completed window (~500 ms). */
  bitrate = 0;
  private windowFrames = 0;
  /** Frames per second over the last completed window (from marker bits). */
  frameRate = 0;
  /** RTP timestamp of the previous packet (audio: its duration comes from the timestamp step). */
  lastTimestamp = -1;
  lastKeyframeAt = 0;
  /** Local arrival time of the last sender report and the RTP timestamp it carried. */
  private srArrivalMs = 0;
  private srRtpTs = 0;
  private srNtpMs = 0;
  hasSenderReport = false;
  packets = 0;
  /** Highest sequence number received (by 16-bit serial order). */
  highestSeq = -1;

  // Scalable video (VP9/AV1 SVC): the layer of the packet being processed (set by readLayerInfo), −1 = unknown.
  spatialId = -1;
  temporalId = -1;
  /** The packet starts / ends its layer frame. */
  frameStart = false;
  frameEnd = false;
  /** Highest spatial layer the stream carries (from its dependency structure or VP9 scalability structure). */
  maxSpatialId = 0;
  private dd: DependencyDescriptorReader | undefined;

  constructor(opts: StreamBufferOptions) {
    this.ssrc = opts.ssrc;
    this.layer = opts.layer;
    this.clockRate = opts.clockRate;
    this.video = opts.video;
    this.history = new PacketHistory({ capacity: opts.historySize ?? (opts.video ? VIDEO_HISTORY : AUDIO_HISTORY) });
    // Kite cannot measure the RTT to a publisher from RTCP alone (it only receives); until it is told otherwise it
    // assumes 20 ms, so a NACK whose retransmission was lost is repeated soon, before subscribers give up on the packet.
    this.nack = opts.video ? new NackGenerator({ reorderWaitMs: 5, minRetryIntervalMs: 5, initialRttMs: 20 }) : undefined;
    this.stats = new ReceiveStats(opts.clockRate);
  }

  /**
   * Records one packet (plain RTP at buf[0, len)). Returns false for a duplicate that must not be forwarded again.
   * `retransmission`: it arrived through RTX.
   */
  onPacket(buf: Buffer, len: number, seq: number, ts: number, now: number, keyframe: boolean, retransmission: boolean, marker = false): boolean {
    if (this.nack) {
      const status = this.nack.onPacket(seq, now);
      if (status === 2 /* Duplicate */) return false;
    } else if (this.history.has(seq)) {
      return false;
    }
    this.history.insert(seq, buf, 0, len, now, keyframe ? HISTORY_FLAG_KEYFRAME : 0);
    if (this.highestSeq < 0 || ((seq - this.highestSeq) & 0xffff) < 0x8000) this.highestSeq = seq;
    this.stats.onPacket(seq, ts, now, len, retransmission);
    this.packets++;
    this.lastPacketAt = now;
    if (keyframe) this.lastKeyframeAt = now;
    this.windowBytes += len;
    if (marker) this.windowFrames++;
    if (now - this.windowStart >= 500) {
      const span = now - this.windowStart;
      this.bitrate = this.windowStart === 0 ? 0 : (this.windowBytes * 8000) / span;
      this.frameRate = this.windowStart === 0 ? 0 : (this.windowFrames * 1000) / span;
      this.windowStart = now;
      this.windowBytes = 0;
      this.windowFrames = 0;
    }
    return true;
  }

  /**
   * Reads the layer ids of an SVC packet: from the dependency descriptor element at buf[ddOff, ddOff+ddLen) when the
   * publisher sends one (ddOff ≥ 0), else from the VP9 payload descriptor at buf[payloadOff, +payloadLen).
   */
  readLayerInfo(buf: Uint8Array, ddOff: number, ddLen: number, vp9PayloadOff: number, payloadLen: number): void {
    this.spatialId = -1;
    this.temporalId = -1;
    if (ddOff >= 0) {
      const dd = (this.dd ??= new DependencyDescriptorReader());
      if (dd.parse(buf, ddOff, ddLen) && dd.frameInfoValid) {
        this.spatialId = dd.spatialId;
        this.temporalId = dd.temporalId;
        this.frameStart = dd.startOfFrame;
        this.frameEnd = dd.endOfFrame;
        this.maxSpatialId = dd.structure!.maxSpatialId;
      }
      return;
    }
    if (vp9PayloadOff >= 0 && vp9.parse(buf, vp9PayloadOff, payloadLen) && vp9.sid >= 0) {
      this.spatialId = vp9.sid;
      this.temporalId = Math.max(0, vp9.tid);
      this.frameStart = vp9.beginningOfFrame;
      this.frameEnd = vp9.endOfFrame;
      if (vp9.ssSpatialLayers > 0) this.maxSpatialId = vp9.ssSpatialLayers - 1;
      else if (vp9.sid > this.maxSpatialId) this.maxSpatialId = vp9.sid;
    }
  }

  onSenderReport(ntpSec: number, ntpFrac: number, rtpTs: number, now: number): void {
    this.stats.onSenderReport(ntpSec, ntpFrac, rtpTs, now);
    this.srArrivalMs = now;
    this.srRtpTs = rtpTs;
    this.srNtpMs = ntpToMs(ntpSec, ntpFrac);
    this.hasSenderReport = true;
  }

  /** The publisher's RTP timestamp corresponding to local time `now`, extrapolated from its last sender report. */
  rtpTimestampAt(now: number): number {
    return (this.srRtpTs + Math.round(((now - this.srArrivalMs) * this.clockRate) / 1000)) >>> 0;
  }

  /** The publisher's NTP wall-clock time of its last sender report, in ms (for A/V sync diagnostics). */
  get senderReportNtpMs(): number {
    return this.srNtpMs;
  }
}
