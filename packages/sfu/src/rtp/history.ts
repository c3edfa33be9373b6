/**
 * `PacketHistory`: the last N RTP packets of one SSRC, for NACK retransmission (RFC 4585) / RTX (RFC 4588).
 *
 * Copies are stored in ONE preallocated slab (capacity × maxPacketSize bytes) allocated lazily on the first insert, so
 * an idle track costs only the small metadata arrays. Slot = extended seq mod capacity (capacity is a power of two);
 * per-slot metadata lives in typed arrays. Insert and lookup are O(1); a lookup checks the stored extended sequence
 * number, so an old packet that happened to use the same slot (or the same 16-bit seq one wrap earlier) is "stale"
 * and not returned.
 *
 * Default sizing (1024 slots × 1500 B = 1.5 MiB when active): a 2.5 Mbps stream at 30 fps averages ~10.4 kB per frame;
 * a keyframe is typically 5–10× that, ≈ 60–125 kB ≈ 50–105 packets of ~1200 B. One second at 2.5 Mbps is
 * 2.5e6 / 8 / 1200 ≈ 260 packets. Keyframe + 1 s ≈ 370 packets, so 1024 slots leave ~2.6× margin (≈ 3.5 s of
 * 2.5 Mbps video, more at lower rates) for RTT spikes and repeated NACKs; 512 would be the tight minimum.
 */

import { seqDiff } from './seq.js';
import { copyBytes } from './packet.js';

export const HISTORY_FLAG_MARKER = 1;
export const HISTORY_FLAG_KEYFRAME = 2;
/** Free for the caller (e.g. "already retransmitted"). */
export const HISTORY_FLAG_USER1 = 4;
export const HISTORY_FLAG_USER2 = 8;

export interface PacketHistoryOptions {
  /** Number of packets kept; rounded up to a power of two. Default 1024. */
  capacity?: number;
  /** Largest packet stored (longer ones are rejected). Default 1500. */
  maxPacketSize?: number;
}

export class PacketHistory {
  readonly capacity: number;
  readonly maxPacketSize: number;
  private readonly mask: number;
  /** The slab; empty until the first insert. */
  private slab: Uint8Array = new Uint8Array(0);
  /** Extended sequence number per slot; NaN when empty. */
  private readonly extSeqs: Float64Array;
  private readonly lengths: Uint16Array;
  private readonly arrivals: Float64Array;
  private readonly flagsArr: Uint8Array;
  private started = false;
  private highestExt = 0;

  constructor(opts: PacketHistoryOptions = {}) {
    let cap = opts.capacity ?? 1024;
    if (!(cap >= 1)) cap = 1;
    let p = 1;
    while (p < cap) p *= 2;
    this.capacity = p;
    this.mask = p - 1;
    this.maxPacketSize = Math.max(12, Math.min(opts.maxPacketSize ?? 1500, 0xffff));
    this.extSeqs = new Float64Array(p).fill(Number.NaN);
    this.lengths = new Uint16Array(p);
    this.arrivals = new Float64Array(p);
    this.flagsArr = new Uint8Array(p);
  }

  /** Bytes held by the slab (0 until the first insert). */
  get slabBytes(): number {
    return this.slab.length;
  }

  /** Packets currently retrievable (O(capacity) scan; for stats/tests, not the packet path). */
  get size(): number {
    if (!this.started) return 0;
    let n = 0;
    const lo = this.highestExt - this.capacity;
    for (let i = 0; i < this.capacity; i++) {
      const e = this.extSeqs[i];
      if (e > lo && e <= this.highestExt) n++;
    }
    return n;
  }

  /** Highest 16-bit sequence number stored, or -1 when empty. */
  get highestSeq(): number {
    return this.started ? this.highestExt & 0xffff : -1;
  }

  /** The underlying slab (for zero-copy access with `offsetOf`). */
  get buffer(): Uint8Array {
    return this.slab;
  }

  /**
   * Stores a copy of buf[off, off+len) under `seq`. Returns false when the packet is too large, too old (more than
   * `capacity` behind the newest), a duplicate, or older than what already occupies its slot.
   * Zero-alloc when buf[off, off+len) is the whole buffer; otherwise one transient view (see `copyBytes`).
   */
  insert(seq: number, buf: Uint8Array, off: number, len: number, arrivalMs: number, flags = 0): boolean {
    if (len <= 0 || len > this.maxPacketSize || off < 0 || off + len > buf.length) return false;
    let ext: number;
    if (!this.started) {
      this.started = true;
      ext = seq & 0xffff;
      this.highestExt = ext;
      if (this.slab.length === 0) this.slab = new Uint8Array(this.capacity * this.maxPacketSize);
    } else {
      ext = this.highestExt + seqDiff(seq, this.highestExt & 0xffff);
      if (ext > this.highestExt) {
        // Slots of sequence numbers skipped by a forward jump keep their older packets; they are now stale and are
        // detected on lookup by their extended seq. Large jumps just make everything stale.
        this.highestExt = ext;
      } else if (this.highestExt - ext >= this.capacity) {
        return false;
      }
    }
    const slot = ext & this.mask;
    const prev = this.extSeqs[slot];
    if (prev === ext) return false;
    if (prev > ext) return false;
    this.extSeqs[slot] = ext;
    this.lengths[slot] = len;
    this.arrivals[slot] = arrivalMs;
    this.flagsArr[slot] = flags;
    copyBytes(buf, off, this.slab, slot * this.maxPacketSize, len);
    return true;
  }

  /** Slot index holding `seq`, or -1 if not stored / stale. */
  slotOf(seq: number): number {
    if (!this.started) return -1;
    const ext = this.highestExt + seqDiff(seq, this.highestExt & 0xffff);
    if (this.highestExt - ext >= this.capacity || ext > this.highestExt) return -1;
    const slot = ext & this.mask;
    return this.extSeqs[slot] === ext ? slot : -1;
  }

  /** True when `seq` is stored. */
  has(seq: number): boolean {
    return this.slotOf(seq) >= 0;
  }

  /** Offset of a slot's packet in `buffer`. */
  offsetOf(slot: number): number {
    return slot * this.maxPacketSize;
  }

  lengthOf(slot: number): number {
    return this.lengths[slot];
  }

  arrivalOf(slot: number): number {
    return this.arrivals[slot];
  }

  flagsOf(slot: number): number {
    return this.flagsArr[slot];
  }

  /** Sets/clears caller flags on a stored slot (e.g. HISTORY_FLAG_USER1 after a retransmission). */
  setFlags(slot: number, flags: number): void {
    this.flagsArr[slot] = flags;
  }

  /** A view of the stored packet (allocates a view object; use `copyTo` or `slotOf`+`buffer` for zero-alloc). */
  get(seq: number): Uint8Array | null {
    const slot = this.slotOf(seq);
    if (slot < 0) return null;
    const o = slot * this.maxPacketSize;
    return this.slab.subarray(o, o + this.lengths[slot]);
  }

  /** Copies the stored packet into dst[dstOff]; returns its length, or -1 if absent/stale or it does not fit. */
  copyTo(seq: number, dst: Uint8Array, dstOff = 0): number {
    const slot = this.slotOf(seq);
    if (slot < 0) return -1;
    const len = this.lengths[slot];
    if (dstOff < 0 || dstOff + len > dst.length) return -1;
    copyBytes(this.slab, slot * this.maxPacketSize, dst, dstOff, len);
    return len;
  }

  /** Empties the history; `releaseSlab` also frees the slab (it is re-allocated on the next insert). */
  clear(releaseSlab = false): void {
    this.extSeqs.fill(Number.NaN);
    this.started = false;
    this.highestExt = 0;
    if (releaseSlab) this.slab = new Uint8Array(0);
  }
}
