/**
 * `NackGenerator`: receiver-side loss tracking for one incoming SSRC, deciding which sequence numbers to NACK
 * (RFC 4585 Generic NACK) and when.
 *
 * - Every received sequence number goes through `onPacket`. A forward gap adds the skipped sequence numbers to a
 *   bounded, sorted "missing" list (≤ `maxOutstanding`, oldest evicted first). A late packet (reordered or
 *   retransmitted) removes its entry.
 * - `getNacks(now, out)` fills `out` with the sequence numbers to NACK now:
 *     first request only once the packet is probably lost rather than reordered: `reorderWaitMs` elapsed since the gap
 *     was seen, or `reorderWaitPackets` newer sequence numbers arrived;
 *     repeats no sooner than max(RTT, `minRetryIntervalMs`) after the previous request; at most `maxRetries` requests.
 * - Entries are dropped (counted in `lostForGood`, and `keyframeNeeded` is raised) when they exceed `maxRetries`,
 *   fall more than `maxSeqAge` sequence numbers behind the newest, are older than `maxAgeMs`, or are evicted.
 * - A forward jump larger than `maxJump` resets the state instead of NACKing thousands of packets (sender restart /
 *   SSRC reuse / long outage); it also raises `keyframeNeeded`. Sequence numbers are unwrapped, so 65535 → 0 is an
 *   ordinary step.
 *
 * No allocation after construction; all state is in typed arrays.
 */

import { seqDiff } from './seq.js';

export interface NackGeneratorOptions {
  /** Outstanding missing packets tracked. Default 512. */
  maxOutstanding?: number;
  /** NACKs sent per packet before giving up. Default 10. */
  maxRetries?: number;
  /** Wait this long after a gap appears before the first NACK (reordering tolerance). Default 10 ms. */
  reorderWaitMs?: number;
  /** ...or until this many newer sequence numbers arrived. Default 5. 0 disables the packet criterion. */
  reorderWaitPackets?: number;
  /** A forward jump larger than this resets instead of NACKing. Default 1000. */
  maxJump?: number;
  /** Give up on packets this many sequence numbers behind the newest (≈ sender history size). Default 1000. */
  maxSeqAge?: number;
  /** Give up on packets missing for longer than this. Default 1000 ms. */
  maxAgeMs?: number;
  /** Minimum spacing of repeated NACKs for the same packet, whatever the RTT. Default 10 ms. */
  minRetryIntervalMs?: number;
  /** RTT assumed until `setRtt` is called. Default 100 ms. */
  initialRttMs?: number;
}

/** `NackGenerator.onPacket` results. */
export const NackPacketStatus = {
  /** First packet or a newer one (possibly after a gap). */
  New: 0,
  /** A packet that was missing arrived (reordered or retransmitted). */
  Recovered: 1,
  /** Already received, or too old to be tracked. */
  Duplicate: 2,
  /** A jump larger than `maxJump`: the state was reset. */
  Reset: 3,
} as const;
export type NackPacketStatus = (typeof NackPacketStatus)[keyof typeof NackPacketStatus];

const DEAD = 255;

export class NackGenerator {
  readonly maxOutstanding: number;
  readonly maxRetries: number;
  readonly reorderWaitMs: number;
  readonly reorderWaitPackets: number;
  readonly maxJump: number;
  readonly maxSeqAge: number;
  readonly maxAgeMs: number;
  readonly minRetryIntervalMs: number;

  private rttMs: number;
  private started = false;
  private highest = 0;

  // Sorted (ascending extended seq) list of missing packets in [0, len). Entries with retries === DEAD were recovered.
  private readonly seqs: Float64Array;
  private readonly detectedAt: Float64Array;
  private readonly lastSentAt: Float64Array;
  private readonly retries: Uint8Array;
  private len = 0;
  private alive = 0;

  /** Packets given up on (max retries, too old, evicted) since construction. */
  lostForGood = 0;
  /** Packets that arrived after being counted missing. */
  recovered = 0;
  /** Resets caused by huge jumps. */
  resets = 0;
  /** Set when a packet was given up on or the state was reset: the decoder will probably need a keyframe. */
  keyframeNeeded = false;

  constructor(opts: NackGeneratorOptions = {}) {
    this.maxOutstanding = Math.max(1, opts.maxOutstanding ?? 512);
    this.maxRetries = Math.min(254, Math.max(1, opts.maxRetries ?? 10));
    this.reorderWaitMs = opts.reorderWaitMs ?? 10;
    this.reorderWaitPackets = opts.reorderWaitPackets ?? 5;
    this.maxJump = opts.maxJump ?? 1000;
    this.maxSeqAge = opts.maxSeqAge ?? 1000;
    this.maxAgeMs = opts.maxAgeMs ?? 1000;
    this.minRetryIntervalMs = opts.minRetryIntervalMs ?? 10;
    this.rttMs = opts.initialRttMs ?? 100;
    const n = this.maxOutstanding;
    this.seqs = new Float64Array(n);
    this.detectedAt = new Float64Array(n);
    this.lastSentAt = new Float64Array(n);
    this.retries = new Uint8Array(n);
  }

  /** Updates the RTT estimate (ms) used to space repeated NACKs. */
  setRtt(rttMs: number): void {
    if (rttMs > 0) this.rttMs = rttMs;
  }

  get rtt(): number {
    return this.rttMs;
  }

  /** Missing packets currently tracked. */
  get outstanding(): number {
    return this.alive;
  }

  /** Highest 16-bit sequence number received (-1 before the first). */
  get highestSeq(): number {
    return this.started ? this.highest & 0xffff : -1;
  }

  /** Returns and clears `keyframeNeeded`. */
  takeKeyframeNeeded(): boolean {
    const k = this.keyframeNeeded;
    this.keyframeNeeded = false;
    return k;
  }

  reset(): void {
    this.started = false;
    this.len = 0;
    this.alive = 0;
  }

  /** Feeds one received (or recovered via RTX) sequence number. */
  onPacket(seq: number, nowMs: number): NackPacketStatus {
    if (!this.started) {
      this.started = true;
      this.highest = seq & 0xffff;
      return NackPacketStatus.New;
    }
    const ext = this.highest + seqDiff(seq, this.highest & 0xffff);
    const d = ext - this.highest;
    if (d > 0) {
      if (d > this.maxJump) {
        this.resets++;
        if (this.alive > 0) this.lostForGood += this.alive;
        this.keyframeNeeded = true;
        this.len = 0;
        this.alive = 0;
        this.highest = ext;
        return NackPacketStatus.Reset;
      }
      if (d > 1) this.addMissing(this.highest + 1, ext, nowMs);
      this.highest = ext;
      this.expireBySeq();
      return NackPacketStatus.New;
    }
    if (d === 0) return NackPacketStatus.Duplicate;
    const i = this.find(ext);
    if (i < 0 || this.retries[i] === DEAD) return NackPacketStatus.Duplicate;
    this.retries[i] = DEAD;
    this.alive--;
    this.recovered++;
    return NackPacketStatus.Recovered;
  }

  /**
   * Writes the sequence numbers to NACK now into `out` (capacity = `out.length`; pre-size a plain array) and marks
   * them as requested. Returns how many were written. Also expires entries that are too old or out of retries.
   */
  getNacks(nowMs: number, out: Uint16Array | number[]): number {
    const cap = out.length;
    const interval = this.rttMs > this.minRetryIntervalMs ? this.rttMs : this.minRetryIntervalMs;
    const seqs = this.seqs;
    const det = this.detectedAt;
    const sent = this.lastSentAt;
    const tries = this.retries;
    const oldest = this.highest - this.maxSeqAge;
    let n = 0;
    let w = 0;
    for (let i = 0; i < this.len; i++) {
      const r = tries[i];
      if (r === DEAD) continue;
      const s = seqs[i];
      if (s < oldest || nowMs - det[i] > this.maxAgeMs || (r >= this.maxRetries && nowMs - sent[i] >= interval)) {
        this.giveUp(1);
        continue;
      }
      if (n < cap && r < this.maxRetries) {
        const due =
          r === 0
            ? nowMs - det[i] >= this.reorderWaitMs ||
              (this.reorderWaitPackets > 0 && this.highest - s >= this.reorderWaitPackets)
            : nowMs - sent[i] >= interval;
        if (due) {
          out[n++] = s & 0xffff;
          tries[i] = r + 1;
          sent[i] = nowMs;
        }
      }
      if (w !== i) {
        seqs[w] = s;
        det[w] = det[i];
        sent[w] = sent[i];
        tries[w] = tries[i];
      }
      w++;
    }
    this.len = w;
    return n;
  }

  /** Earliest time (ms) at which `getNacks` could return something, or -1 when nothing is outstanding. */
  nextDueMs(): number {
    const interval = this.rttMs > this.minRetryIntervalMs ? this.rttMs : this.minRetryIntervalMs;
    let best = -1;
    for (let i = 0; i < this.len; i++) {
      const r = this.retries[i];
      if (r === DEAD || r >= this.maxRetries) continue;
      const t = r === 0 ? this.detectedAt[i] + this.reorderWaitMs : this.lastSentAt[i] + interval;
      if (best < 0 || t < best) best = t;
    }
    return best;
  }

  private giveUp(k: number): void {
    this.alive -= k;
    this.lostForGood += k;
    this.keyframeNeeded = true;
  }

  /** Adds [from, to) as missing, evicting the oldest entries if the list would overflow. */
  private addMissing(from: number, to: number, nowMs: number): void {
    const cap = this.maxOutstanding;
    let k = to - from;
    if (k > cap) {
      this.giveUp(0);
      this.lostForGood += k - cap;
      from = to - cap;
      k = cap;
    }
    if (this.len + k > cap) this.compact();
    if (this.len + k > cap) {
      const drop = this.len + k - cap;
      let lostAlive = 0;
      for (let i = 0; i < drop; i++) if (this.retries[i] !== DEAD) lostAlive++;
      if (lostAlive > 0) this.giveUp(lostAlive);
      this.seqs.copyWithin(0, drop, this.len);
      this.detectedAt.copyWithin(0, drop, this.len);
      this.lastSentAt.copyWithin(0, drop, this.len);
      this.retries.copyWithin(0, drop, this.len);
      this.len -= drop;
    }
    let j = this.len;
    for (let s = from; s < to; s++, j++) {
      this.seqs[j] = s;
      this.detectedAt[j] = nowMs;
      this.lastSentAt[j] = 0;
      this.retries[j] = 0;
    }
    this.len = j;
    this.alive += k;
  }

  /** Drops entries (from the front: the list is sorted) that fell behind the sequence window. */
  private expireBySeq(): void {
    const oldest = this.highest - this.maxSeqAge;
    let i = 0;
    let lost = 0;
    while (i < this.len && this.seqs[i] < oldest) {
      if (this.retries[i] !== DEAD) lost++;
      i++;
    }
    if (i === 0) return;
    if (lost > 0) this.giveUp(lost);
    this.seqs.copyWithin(0, i, this.len);
    this.detectedAt.copyWithin(0, i, this.len);
    this.lastSentAt.copyWithin(0, i, this.len);
    this.retries.copyWithin(0, i, this.len);
    this.len -= i;
  }

  private compact(): void {
    let w = 0;
    for (let i = 0; i < this.len; i++) {
      if (this.retries[i] === DEAD) continue;
      if (w !== i) {
        this.seqs[w] = this.seqs[i];
        this.detectedAt[w] = this.detectedAt[i];
        this.lastSentAt[w] = this.lastSentAt[i];
        this.retries[w] = this.retries[i];
      }
      w++;
    }
    this.len = w;
  }

  /** Index of extended seq `ext` in the sorted list, or -1. */
  private find(ext: number): number {
    let lo = 0;
    let hi = this.len - 1;
    const seqs = this.seqs;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = seqs[mid];
      if (v === ext) return mid;
      if (v < ext) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }
}
