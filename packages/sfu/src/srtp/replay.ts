// Sliding replay window (RFC 3711 §3.3.2) over a monotonically growing packet index (48-bit SRTP, 31-bit SRTCP).
//
// Implementation: a ring of the last `size` indices accepted, keyed by `index & (size - 1)`. An index inside the
// window [highest - size + 1, highest] was seen iff its ring slot holds exactly that index (any other index sharing
// the slot is older, because a newer one would be beyond `highest`). One allocation per stream, O(1) per packet.

export const DEFAULT_REPLAY_WINDOW = 64;

export class ReplayWindow {
  /** highest index accepted so far, -1 before the first. */
  highest = -1;
  private readonly ring: Float64Array;
  private readonly mask: number;
  readonly size: number;

  constructor(size = DEFAULT_REPLAY_WINDOW) {
    if (!Number.isInteger(size) || size < 1 || (size & (size - 1)) !== 0 || size > 32768) {
      throw new RangeError(`replay window size must be a power of two in [1, 32768], got ${size}`);
    }
    this.size = size;
    this.mask = size - 1;
    this.ring = new Float64Array(size).fill(-1);
  }

  /** true if `index` may be accepted (not seen, not older than the window). Does not record it. */
  check(index: number): boolean {
    const highest = this.highest;
    if (index > highest) return true;
    if (highest - index >= this.size) return false;
    return this.ring[index & this.mask] !== index;
  }

  /** Record an authenticated index. */
  accept(index: number): void {
    this.ring[index & this.mask] = index;
    if (index > this.highest) this.highest = index;
  }
}
