/**
 * 16-bit RTP sequence-number and 32-bit RTP timestamp arithmetic (RFC 3550 §A.1 style serial-number comparison),
 * plus unwrappers that extend wrapping counters into monotonic JS numbers.
 *
 * All functions are allocation-free and work on plain numbers. "Newer" uses half-range comparison: `a` is newer than `b`
 * when the forward distance from `b` to `a` is in (0, 2^(n-1)). At exactly half the range neither value is newer.
 */

/** Signed distance a − b of two 16-bit sequence numbers, in [−32768, 32767]. */
export function seqDiff(a: number, b: number): number {
  return (((a - b) << 16) >> 16);
}

/** True when sequence number `a` comes after `b` (mod 2^16). */
export function isNewerSeq(a: number, b: number): boolean {
  return seqDiff(a, b) > 0;
}

/** True when `a` is `b` or comes after it (mod 2^16). */
export function isNewerOrEqualSeq(a: number, b: number): boolean {
  return seqDiff(a, b) >= 0;
}

/** (a + n) mod 2^16; `n` may be negative. */
export function seqAdd(a: number, n: number): number {
  return (a + n) & 0xffff;
}

/** Signed distance a − b of two 32-bit RTP timestamps, in [−2^31, 2^31 − 1]. */
export function tsDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/** True when timestamp `a` comes after `b` (mod 2^32). */
export function isNewerTs(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

/** (a + n) mod 2^32 as an unsigned number; `n` may be negative. */
export function tsAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/**
 * Extends 16-bit sequence numbers to a monotonic counter (cycles × 65536 + seq), relative to the highest value seen.
 * The first value is returned as-is (cycle 0); a packet older than the very first one can map to a negative number.
 * Precise up to 2^53 (centuries of packets).
 */
export class SeqUnwrapper {
  private highestExt = 0;
  private started = false;

  /** Extended value of `seq` without changing state. Returns `seq` if nothing was seen yet. */
  peek(seq: number): number {
    if (!this.started) return seq & 0xffff;
    return this.highestExt + seqDiff(seq, this.highestExt & 0xffff);
  }

  /** Extended value of `seq`; advances the highest value when `seq` is newer. */
  unwrap(seq: number): number {
    if (!this.started) {
      this.started = true;
      this.highestExt = seq & 0xffff;
      return this.highestExt;
    }
    const ext = this.highestExt + seqDiff(seq, this.highestExt & 0xffff);
    if (ext > this.highestExt) this.highestExt = ext;
    return ext;
  }

  /** Highest extended value seen (0 before the first call; check `hasStarted`). */
  get highest(): number {
    return this.highestExt;
  }

  get hasStarted(): boolean {
    return this.started;
  }

  /** Forget all state; the next value starts at cycle 0 again. */
  reset(): void {
    this.started = false;
    this.highestExt = 0;
  }

  /** Continue from a known extended value (e.g. after a resync). */
  resetTo(ext: number): void {
    this.started = true;
    this.highestExt = ext;
  }
}

const TS_MOD = 0x1_0000_0000;

/** Extends 32-bit RTP timestamps to a monotonic counter relative to the highest value seen (see `SeqUnwrapper`). */
export class TimestampUnwrapper {
  private highestExt = 0;
  private started = false;

  peek(ts: number): number {
    if (!this.started) return ts >>> 0;
    const low = this.highestExt % TS_MOD;
    return this.highestExt + ((ts - low) | 0);
  }

  unwrap(ts: number): number {
    if (!this.started) {
      this.started = true;
      this.highestExt = ts >>> 0;
      return this.highestExt;
    }
    const low = this.highestExt % TS_MOD;
    const ext = this.highestExt + ((ts - low) | 0);
    if (ext > this.highestExt) this.highestExt = ext;
    return ext;
  }

  get highest(): number {
    return this.highestExt;
  }

  get hasStarted(): boolean {
    return this.started;
  }

  reset(): void {
    this.started = false;
    this.highestExt = 0;
  }

  resetTo(ext: number): void {
    this.started = true;
    this.highestExt = ext;
  }
}
