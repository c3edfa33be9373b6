/**
 * Receive statistics for one incoming SSRC: RFC 3550 §A.1 sequence tracking (cycles, re-sync after a large jump),
 * §A.3 loss (cumulative and fraction since the last report), §A.8 interarrival jitter, and LSR/DLSR from the last
 * Sender Report, enough to fill an RR report block (§6.4.1). Allocation-free.
 */

import type { RtcpReportBlock } from './rtcp.js';
import { msToCompactNtpDuration, ntpMiddle32 } from './rtcp.js';
import { tsDiff } from './seq.js';

/**
 * Interarrival jitter J (RFC 3550 §6.4.1 / §A.8) in RTP timestamp units:
 * D(i−1,i) = (R_i − R_{i−1}) − (S_i − S_{i−1}); J += (|D| − J) / 16.
 * Works on differences, so RTP timestamp wrap-around and the absolute clock value do not matter.
 */
export class JitterEstimator {
  /** Current estimate in timestamp units (fractional). */
  jitter = 0;
  private prevArrivalMs = 0;
  private prevTs = 0;
  private started = false;

  constructor(readonly clockRate: number) {}

  /** Feeds one packet (arrival time in ms, RTP timestamp); returns the updated estimate. */
  update(arrivalMs: number, rtpTs: number): number {
    if (this.started) {
      const d = ((arrivalMs - this.prevArrivalMs) * this.clockRate) / 1000 - tsDiff(rtpTs, this.prevTs);
      this.jitter += ((d < 0 ? -d : d) - this.jitter) / 16;
    } else {
      this.started = true;
    }
    this.prevArrivalMs = arrivalMs;
    this.prevTs = rtpTs >>> 0;
    return this.jitter;
  }

  /** The integer value reported in RR blocks. */
  get value(): number {
    return Math.floor(this.jitter) >>> 0;
  }

  /** The estimate in milliseconds. */
  get ms(): number {
    return (this.jitter * 1000) / this.clockRate;
  }

  reset(): void {
    this.jitter = 0;
    this.started = false;
  }
}

const MAX_DROPOUT = 3000;
const MAX_MISORDER = 100;
const SEQ_MOD = 65536;

/**
 * Per-SSRC reception statistics. Feed every received media packet with `onPacket` (pass `retransmission = true` for
 * packets recovered through RTX so they count as received but do not disturb jitter), every Sender Report with
 * `onSenderReport`, and call `fillReportBlock` when building an RR/SR.
 */
export class ReceiveStats {
  readonly jitter: JitterEstimator;
  private started = false;
  private baseSeq = 0;
  private maxSeq = 0;
  private cycles = 0;
  private badSeq = SEQ_MOD + 1;
  /** Packets received (including duplicates, as RFC 3550 counts them). */
  received = 0;
  private expectedPrior = 0;
  private receivedPrior = 0;
  /** Of `received`, packets that arrived as retransmissions (each was lost once on the way). */
  retransmitted = 0;
  /** Bytes received (payload + header as passed in). */
  bytes = 0;

  private srMiddle = 0;
  private srArrivalMs = 0;
  private hasSr = false;
  /** Timing of the last SR (for A/V sync / RTT users): NTP seconds, fraction and RTP timestamp. */
  lastSrNtpSec = 0;
  lastSrNtpFrac = 0;
  lastSrRtpTs = 0;

  constructor(readonly clockRate: number) {
    this.jitter = new JitterEstimator(clockRate);
  }

  /** Extended highest sequence number received (cycles × 65536 + max seq). */
  get extendedHighestSeq(): number {
    return this.cycles + this.maxSeq;
  }

  /** Packets expected so far (extended highest − base + 1). */
  get expected(): number {
    return this.started ? this.cycles + this.maxSeq - this.baseSeq + 1 : 0;
  }

  /** Cumulative packets lost (expected − received; negative with duplicates). */
  get cumulativeLost(): number {
    return this.expected - this.received;
  }

  /**
   * Records a received packet. Returns false when the packet was ignored as a likely stream discontinuity (the first
   * packet after a jump ≥ 3000; a second consecutive one re-syncs the counters, RFC 3550 §A.1).
   */
  onPacket(seq: number, rtpTs: number, arrivalMs: number, sizeBytes = 0, retransmission = false): boolean {
    seq &= 0xffff;
    if (!this.started) {
      this.started = true;
      this.initSeq(seq);
      this.received = 1;
      this.bytes += sizeBytes;
      if (!retransmission) this.jitter.update(arrivalMs, rtpTs);
      return true;
    }
    const udelta = (seq - this.maxSeq) & 0xffff;
    let inOrder = false;
    if (udelta < MAX_DROPOUT) {
      if (udelta !== 0) {
        if (seq < this.maxSeq) this.cycles += SEQ_MOD;
        this.maxSeq = seq;
        inOrder = true;
      }
    } else if (udelta <= SEQ_MOD - MAX_MISORDER) {
      if (seq === this.badSeq) {
        // Two sequential packets after a big jump: the source restarted; re-sync.
        this.initSeq(seq);
        this.jitter.reset();
        inOrder = true;
      } else {
        this.badSeq = (seq + 1) & 0xffff;
        return false;
      }
    }
    // else: duplicate or reordered packet
    this.received++;
    if (retransmission) this.retransmitted++;
    this.bytes += sizeBytes;
    if (inOrder && !retransmission) this.jitter.update(arrivalMs, rtpTs);
    return true;
  }

  /** Records a Sender Report from this source (its NTP time and our arrival time). */
  onSenderReport(ntpSec: number, ntpFrac: number, rtpTs: number, arrivalMs: number): void {
    this.srMiddle = ntpMiddle32(ntpSec, ntpFrac);
    this.srArrivalMs = arrivalMs;
    this.hasSr = true;
    this.lastSrNtpSec = ntpSec >>> 0;
    this.lastSrNtpFrac = ntpFrac >>> 0;
    this.lastSrRtpTs = rtpTs >>> 0;
  }

  /**
   * Fills an RR report block for `ssrc` at time `nowMs` and starts a new reporting interval (fraction lost is since the
   * previous call). Returns false (block untouched) if no packet was received yet.
   */
  fillReportBlock(block: RtcpReportBlock, ssrc: number, nowMs: number): boolean {
    if (!this.started) return false;
    const expected = this.expected;
    let lost = expected - this.received;
    if (lost > 0x7fffff) lost = 0x7fffff;
    else if (lost < -0x800000) lost = -0x800000;
    const expectedInterval = expected - this.expectedPrior;
    const receivedInterval = this.received - this.receivedPrior;
    this.expectedPrior = expected;
    this.receivedPrior = this.received;
    const lostInterval = expectedInterval - receivedInterval;
    let fraction = 0;
    if (expectedInterval > 0 && lostInterval > 0) {
      fraction = Math.floor((lostInterval * 256) / expectedInterval);
      if (fraction > 255) fraction = 255;
    }
    block.ssrc = ssrc >>> 0;
    block.fractionLost = fraction;
    block.cumulativeLost = lost;
    block.highestSeq = (this.cycles + this.maxSeq) % 0x1_0000_0000;
    block.jitter = this.jitter.value;
    if (this.hasSr) {
      block.lastSr = this.srMiddle;
      const dlsr = nowMs - this.srArrivalMs;
      block.delaySinceLastSr = dlsr > 0 ? msToCompactNtpDuration(dlsr) : 0;
    } else {
      block.lastSr = 0;
      block.delaySinceLastSr = 0;
    }
    return true;
  }

  reset(): void {
    this.started = false;
    this.received = 0;
    this.bytes = 0;
    this.expectedPrior = 0;
    this.receivedPrior = 0;
    this.hasSr = false;
    this.jitter.reset();
  }

  private initSeq(seq: number): void {
    this.baseSeq = seq;
    this.maxSeq = seq;
    this.badSeq = SEQ_MOD + 1;
    this.cycles = 0;
    this.received = 0;
    this.receivedPrior = 0;
    this.expectedPrior = 0;
  }
}
