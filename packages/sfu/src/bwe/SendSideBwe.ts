// Send-side bandwidth estimation for one subscriber, in the spirit of Google Congestion Control (the estimator Chrome
// runs on its own uplink): TWCC feedback tells when each of Kite's packets arrived; growing queueing delay (a rising
// trend of one-way delay variation) means the path is full and the estimate drops to 85 % of what got through;
// otherwise it grows (8 %/s far from the last congestion point, additively near it); heavy loss lowers it too. Probe
// clusters (padding sent in a burst at a known rate) can raise it at once to the rate that got through.
//
// Deliberately simpler than libwebrtc's: no ALR detection, no network state estimation beyond the above. Numbers
// (window 20, gain 4, thresholds 6…600 ms, 0.85 backoff, 8 %/s) are GCC's.

export type BandwidthUsage = 'normal' | 'overusing' | 'underusing';

export interface BweOptions {
  /** Estimate before any feedback (bits/s). */
  initialBps?: number;
  minBps?: number;
  maxBps?: number;
}

/** One feedback's packets in sequence order, in preallocated columns (no object per packet). */
export class FeedbackBatch {
  count = 0;
  readonly sendUs: Float64Array;
  /** Arrival on the receiver's clock (µs); −1 when lost. */
  readonly arrivalUs: Float64Array;
  readonly size: Int32Array;
  /** Probe cluster id, or −1 for media. */
  readonly cluster: Int32Array;

  constructor(capacity = 4096) {
    this.sendUs = new Float64Array(capacity);
    this.arrivalUs = new Float64Array(capacity);
    this.size = new Int32Array(capacity);
    this.cluster = new Int32Array(capacity);
  }

  push(sendUs: number, arrivalUs: number, size: number, cluster: number): void {
    if (this.count >= this.sendUs.length) return;
    const i = this.count++;
    this.sendUs[i] = sendUs;
    this.arrivalUs[i] = arrivalUs;
    this.size[i] = size;
    this.cluster[i] = cluster;
  }
}

const GROUP_SPAN_US = 5_000;
const WINDOW = 20;
const SMOOTHING = 0.9;
const TREND_GAIN = 4;
const OVERUSE_TIME_MS = 10;
const BETA = 0.85;
const ACKED_WINDOW_US = 500_000;

export class SendSideBwe {
  /** The estimate (bits/s): what this subscriber's path carries now. */
  estimate: number;
  usage: BandwidthUsage = 'normal';
  /** Bits/s the receiver got over the last half second (from feedback). */
  ackedBps = 0;
  /** Fraction of packets lost, smoothed over recent feedback. */
  lossRate = 0;
  private readonly minBps: number;
  private readonly maxBps: number;

  // Packet groups (5 ms of sending).
  private groupFirstSend = -1;
  private groupLastSend = 0;
  private groupLastArrival = 0;
  private prevGroupSend = -1;
  private prevGroupArrival = 0;
  private firstArrivalMs = -1;

  // Trendline.
  private accumulated = 0;
  private smoothed = 0;
  private readonly xs = new Float64Array(WINDOW);
  private readonly ys = new Float64Array(WINDOW);
  private points = 0;
  private numDeltas = 0;
  private prevTrend = 0;
  private threshold = 12.5;
  private lastThresholdUpdateMs = -1;
  private overuseMs = 0;
  private overuseCount = 0;

  // Rate control.
  private state: 'hold' | 'increase' | 'decrease' = 'increase';
  private lastChangeMs = -1;
  /** Acked rate at the last overuse (bits/s), smoothed: where the link's capacity was last seen. */
  private linkCapacity = -1;
  private linkCapacityVar = 0.4;

  // Acked rate: received packets in the last ACKED_WINDOW_US of arrival time.
  private readonly ackArrival = new Float64Array(4096);
  private readonly ackSize = new Float64Array(4096);
  private ackHead = 0;
  private ackLen = 0;
  private ackBytes = 0;

  // Loss over recent feedback.
  private lossPackets = 0;
  private lossLost = 0;
  private lossBasedBps: number;
  private lastLossDecreaseMs = -1;

  // Probe clusters: bytes and first/last times, by cluster id (small ring).
  private readonly probes = new Map<number, { sendFirst: number; sendLast: number; arrFirst: number; arrLast: number; bytes: number; lastSize: number; received: number }>();

  constructor(opts: BweOptions = {}) {
    this.minBps = opts.minBps ?? 50_000;
    this.maxBps = opts.maxBps ?? 20_000_000;
    this.estimate = opts.initialBps ?? 1_000_000;
    this.lossBasedBps = this.maxBps;
  }

  /** One feedback's packets, in sequence order. `nowMs`: local time. */
  onFeedback(b: FeedbackBatch, nowMs: number): void {
    let lost = 0;
    for (let i = 0; i < b.count; i++) {
      const arrival = b.arrivalUs[i]!;
      if (arrival < 0) {
        lost++;
        continue;
      }
      const send = b.sendUs[i]!;
      const size = b.size[i]!;
      this.addAcked(arrival, size);
      if (b.cluster[i]! >= 0) this.addProbe(b.cluster[i]!, send, arrival, size);
      this.addPacket(send, arrival, nowMs);
    }
    this.updateLoss(b.count, lost, nowMs);
    this.updateRate(nowMs);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Delay: packet groups → delay variation → trend → usage

  private addPacket(sendUs: number, arrivalUs: number, nowMs: number): void {
    if (this.groupFirstSend < 0) {
      this.groupFirstSend = sendUs;
      this.groupLastSend = sendUs;
      this.groupLastArrival = arrivalUs;
      return;
    }
    if (sendUs - this.groupFirstSend <= GROUP_SPAN_US && sendUs >= this.groupFirstSend) {
      this.groupLastSend = Math.max(this.groupLastSend, sendUs);
      this.groupLastArrival = Math.max(this.groupLastArrival, arrivalUs);
      return;
    }
    if (sendUs < this.groupFirstSend) return; // reordered into an earlier group: ignore
    // The current group is complete: compare it with the previous one.
    if (this.prevGroupSend >= 0) {
      const sendDelta = this.groupLastSend - this.prevGroupSend;
      const arrDelta = this.groupLastArrival - this.prevGroupArrival;
      this.onDelta((arrDelta - sendDelta) / 1000, this.groupLastArrival / 1000, arrDelta / 1000, nowMs);
    }
    this.prevGroupSend = this.groupLastSend;
    this.prevGroupArrival = this.groupLastArrival;
    this.groupFirstSend = sendUs;
    this.groupLastSend = sendUs;
    this.groupLastArrival = arrivalUs;
  }

  private onDelta(delayMs: number, arrivalMs: number, arrDeltaMs: number, nowMs: number): void {
    this.numDeltas = Math.min(this.numDeltas + 1, 1000);
    if (this.firstArrivalMs < 0) this.firstArrivalMs = arrivalMs;
    this.accumulated += delayMs;
    this.smoothed = SMOOTHING * this.smoothed + (1 - SMOOTHING) * this.accumulated;
    const i = this.points % WINDOW;
    this.xs[i] = arrivalMs - this.firstArrivalMs;
    this.ys[i] = this.smoothed;
    this.points++;
    let trend = this.prevTrend;
    if (this.points >= WINDOW) trend = slope(this.xs, this.ys, WINDOW);
    this.detect(trend, arrDeltaMs, nowMs);
  }

  private detect(trend: number, tsDeltaMs: number, nowMs: number): void {
    const modified = Math.min(this.numDeltas, 60) * trend * TREND_GAIN;
    if (modified > this.threshold) {
      this.overuseMs += tsDeltaMs;
      this.overuseCount++;
      if (this.overuseMs > OVERUSE_TIME_MS && this.overuseCount > 1 && trend >= this.prevTrend) {
        this.overuseMs = 0;
        this.overuseCount = 0;
        this.usage = 'overusing';
      }
    } else if (modified < -this.threshold) {
      this.overuseMs = 0;
      this.overuseCount = 0;
      this.usage = 'underusing';
    } else {
      this.overuseMs = 0;
      this.overuseCount = 0;
      this.usage = 'normal';
    }
    this.prevTrend = trend;
    this.updateThreshold(modified, nowMs);
  }

  /** The threshold follows the trend's magnitude slowly (up fast-ish, down slowly), so jitter alone does not trip it. */
  private updateThreshold(modified: number, nowMs: number): void {
    if (this.lastThresholdUpdateMs < 0) this.lastThresholdUpdateMs = nowMs;
    const abs = Math.abs(modified);
    if (abs > this.threshold + 15) {
      this.lastThresholdUpdateMs = nowMs;
      return;
    }
    const k = abs < this.threshold ? 0.039 : 0.0087;
    const dt = Math.min(nowMs - this.lastThresholdUpdateMs, 100);
    this.threshold = Math.min(600, Math.max(6, this.threshold + k * (abs - this.threshold) * dt));
    this.lastThresholdUpdateMs = nowMs;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // What got through

  private addAcked(arrivalUs: number, size: number): void {
    const cap = this.ackArrival.length;
    if (this.ackLen === cap) this.dropOldestAck();
    const i = (this.ackHead + this.ackLen) % cap;
    this.ackArrival[i] = arrivalUs;
    this.ackSize[i] = size;
    this.ackLen++;
    this.ackBytes += size;
    while (this.ackLen > 1 && arrivalUs - this.ackArrival[this.ackHead]! > ACKED_WINDOW_US) this.dropOldestAck();
    const span = arrivalUs - this.ackArrival[this.ackHead]!;
    // At least 100 ms of arrivals before the rate means anything.
    if (span >= 100_000) this.ackedBps = ((this.ackBytes - this.ackSize[this.ackHead]!) * 8 * 1e6) / span;
  }

  private dropOldestAck(): void {
    this.ackBytes -= this.ackSize[this.ackHead]!;
    this.ackHead = (this.ackHead + 1) % this.ackArrival.length;
    this.ackLen--;
  }

  private addProbe(cluster: number, sendUs: number, arrivalUs: number, size: number): void {
    let p = this.probes.get(cluster);
    if (!p) {
      if (this.probes.size > 8) this.probes.delete(this.probes.keys().next().value!);
      p = { sendFirst: sendUs, sendLast: sendUs, arrFirst: arrivalUs, arrLast: arrivalUs, bytes: 0, lastSize: 0, received: 0 };
      this.probes.set(cluster, p);
    }
    p.sendFirst = Math.min(p.sendFirst, sendUs);
    p.sendLast = Math.max(p.sendLast, sendUs);
    p.arrFirst = Math.min(p.arrFirst, arrivalUs);
    if (arrivalUs >= p.arrLast) {
      p.arrLast = arrivalUs;
      p.lastSize = size;
    }
    p.bytes += size;
    p.received++;
  }

  /**
   * A probe cluster's result once enough of it came back: the rate that got through (bits/s), or 0 when the cluster
   * says nothing (too few packets, or it went out too slowly to test anything).
   */
  probeResult(cluster: number, minPackets = 5): number {
    const p = this.probes.get(cluster);
    if (!p || p.received < minPackets) return 0;
    const sendSpan = p.sendLast - p.sendFirst;
    const arrSpan = p.arrLast - p.arrFirst;
    if (sendSpan <= 0 || arrSpan <= 0) return 0;
    // As libwebrtc: the last packet's bytes do not count for the send rate, the first's not for the receive rate.
    const sendBps = ((p.bytes - p.lastSize) * 8 * 1e6) / sendSpan;
    const recvBps = ((p.bytes - p.lastSize) * 8 * 1e6) / arrSpan;
    // Received much slower than sent: the path is the limit, and the receive rate is its measure.
    return Math.min(sendBps, recvBps);
  }

  /** Raises the estimate to what a probe showed the path carries (never lowers it: congestion does that). */
  applyProbe(bps: number, nowMs: number): void {
    if (bps <= this.estimate) return;
    this.estimate = Math.min(this.maxBps, bps);
    this.lastChangeMs = nowMs;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Rate control

  /**
   * Loss-based bound (GCC's): above 10 % loss it drops by half the loss rate, at most every 300 ms, but never below
   * 85 % of what gets through (loss from sending too much says nothing about a lower rate); under 2 % it grows back
   * 5 % per feedback window.
   */
  private updateLoss(packets: number, lost: number, nowMs: number): void {
    this.lossPackets += packets;
    this.lossLost += lost;
    if (this.lossPackets < 20) return;
    const rate = this.lossLost / this.lossPackets;
    this.lossRate = 0.8 * this.lossRate + 0.2 * rate;
    this.lossPackets = 0;
    this.lossLost = 0;
    if (rate > 0.1) {
      if (this.lastLossDecreaseMs >= 0 && nowMs - this.lastLossDecreaseMs < 300) return;
      this.lastLossDecreaseMs = nowMs;
      this.lossBasedBps = Math.max(this.minBps, BETA * this.ackedBps, this.estimate * (1 - 0.5 * rate));
    } else if (rate < 0.02) {
      this.lossBasedBps = Math.min(this.maxBps, Math.max(this.lossBasedBps, this.estimate) * 1.05);
    }
  }

  private updateRate(nowMs: number): void {
    if (this.lastChangeMs < 0) this.lastChangeMs = nowMs;
    const dtMs = Math.min(nowMs - this.lastChangeMs, 1000);
    let target = this.estimate;
    switch (this.usage) {
      case 'overusing':
        if (this.state !== 'decrease' && this.ackedBps > 0) {
          target = Math.min(target, BETA * this.ackedBps);
          this.observeCapacity(this.ackedBps);
          this.state = 'decrease';
        }
        break;
      case 'underusing':
        this.state = 'hold';
        break;
      default:
        if (this.state === 'decrease' || this.state === 'hold') this.state = 'increase';
        if (this.state === 'increase' && dtMs > 0) {
          // The band around the capacity last seen, as libwebrtc: 3 standard deviations, the variance kept in kbps.
          const band = this.linkCapacity > 0 ? 3 * Math.sqrt(this.linkCapacityVar * (this.linkCapacity / 1000)) * 1000 : 0;
          if (this.linkCapacity > 0 && target > this.linkCapacity + band) this.linkCapacity = -1; // it moved: forget it
          const nearCapacity = this.linkCapacity > 0 && target > this.linkCapacity - band;
          // Near the capacity seen last: about one 1200-byte packet per 200 ms response time; far from it: 8 %/s.
          target += nearCapacity ? Math.max(4_000, (1200 * 8 * dtMs) / 200) : target * (Math.pow(1.08, dtMs / 1000) - 1);
        }
    }
    // Never far above what actually got through: an estimate must be earned (probes raise it deliberately).
    if (this.ackedBps > 0) target = Math.min(target, Math.max(1.5 * this.ackedBps + 10_000, this.estimate));
    target = Math.min(target, this.lossBasedBps);
    this.estimate = Math.max(this.minBps, Math.min(this.maxBps, target));
    this.lastChangeMs = nowMs;
    if (this.usage === 'overusing') this.usage = 'normal';
  }

  /** Running mean and variance (kbps, normalised by the mean as libwebrtc does) of the acked rate at overuse. */
  private observeCapacity(bps: number): void {
    const kbps = bps / 1000;
    if (this.linkCapacity < 0) {
      this.linkCapacity = bps;
      return;
    }
    const alpha = 0.05;
    const mean = this.linkCapacity / 1000;
    const err = mean - kbps;
    const next = (1 - alpha) * mean + alpha * kbps;
    this.linkCapacity = next * 1000;
    this.linkCapacityVar = Math.min(2.5, Math.max(0.4, (1 - alpha) * this.linkCapacityVar + (alpha * err * err) / Math.max(next, 1)));
  }
}

/** Least-squares slope of the last `n` (x, y) points of two rings. */
function slope(xs: Float64Array, ys: Float64Array, n: number): number {
  let sx = 0;
  let sy = 0;
  for (let i = 0; i < n; i++) {
    sx += xs[i]!;
    sy += ys[i]!;
  }
  const mx = sx / n;
  const my = sy / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    const dx = xs[i]! - mx;
    num += dx * (ys[i]! - my);
    den += dx * dx;
  }
  return den === 0 ? 0 : num / den;
}
