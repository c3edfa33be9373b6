// Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1), receive side:
// one recorder per transport notes the arrival time of every RTP packet's transport-wide sequence number (media, RTX
// and padding probes alike) and, every 50 ms, writes RTPFB FMT=15 packets that tell the sender which packets arrived
// when. The sender's delay-based estimator (Chrome's GCC) ramps up on this. werift's own version is per receiver,
// skips lost packets in its run lengths and never wraps (werift-gaps.md); this one is per transport and wrap-aware.
//
// Feedback layout after the common RTPFB header (sender SSRC, media SSRC):
//   base sequence number (16) | packet status count (16) | reference time (24, ×64 ms) | feedback packet count (8)
//   packet chunks (16 bits each), then receive deltas (×250 µs: 1 byte for 0…63.75 ms, else 2 bytes signed),
//   padded to 32 bits.

import { w16, w32 } from './bytes.js';

const RING = 1 << 12; // sequence numbers remembered: 80k packets/s at the 50 ms cadence
const MASK = RING - 1;
const NOT_RECEIVED = -1;

/** Symbols of the status chunks. */
const S_NONE = 0;
const S_SMALL = 1;
const S_LARGE = 2;

/** Receive deltas per feedback packet at most this many bytes (with the chunks, it stays inside one MTU). */
const MAX_DELTA_BYTES = 800;
const RTCP_RTPFB = 205;
const FMT_TWCC = 15;

export class TwccRecorder {
  /** Arrival time (µs) per sequence number slot, NOT_RECEIVED when not (yet) arrived. */
  private readonly arrivals = new Float64Array(RING).fill(NOT_RECEIVED);
  /** Extended (unwrapped) sequence numbers. */
  private maxSeq = -1;
  /** First sequence number not yet reported. */
  private nextToReport = -1;
  private lastSeq16 = -1;
  private cycles = 0;
  private feedbackCount = 0;
  /** Scratch for one packet's symbols and deltas. */
  private readonly symbols = new Uint8Array(RING);
  private readonly deltas = new Int16Array(RING);
  /** The chunk nextChunk() chose: 0 run length, 1 one-bit vector, 2 two-bit vector; statuses it covers. */
  private chunkKind = 0;
  private chunkTake = 0;
  /** Packets recorded, feedback packets written, and statuses reported as not received (for stats and tests). */
  packets = 0;
  feedbacks = 0;
  reportedLost = 0;

  /** Notes that the packet with transport-wide sequence number `seq16` arrived at `arrivalUs`. */
  record(seq16: number, arrivalUs: number): void {
    let seq: number;
    if (this.lastSeq16 < 0) {
      seq = seq16;
      this.lastSeq16 = seq16;
    } else {
      const diff = (seq16 - this.lastSeq16) & 0xffff;
      if (diff < 0x8000) {
        if (seq16 < this.lastSeq16) this.cycles += 0x10000;
        this.lastSeq16 = seq16;
        seq = this.cycles + seq16;
      } else {
        // Older than the newest: it belongs to this cycle or the previous one.
        seq = (seq16 > this.lastSeq16 ? this.cycles - 0x10000 : this.cycles) + seq16;
      }
    }
    if (seq < 0) return;
    this.packets++;
    if (this.nextToReport < 0) this.nextToReport = seq;
    // Too old to report (its feedback went out already) or too far behind to remember: the sender treats it as lost.
    if (seq < this.nextToReport || seq <= this.maxSeq - RING) return;
    if (seq > this.maxSeq) {
      // Forget slots that the new range reuses.
      for (let s = Math.max(this.maxSeq + 1, seq - RING + 1); s < seq; s++) this.arrivals[s & MASK] = NOT_RECEIVED;
      this.maxSeq = seq;
      if (this.nextToReport <= seq - RING) this.nextToReport = seq - RING + 1;
    }
    this.arrivals[seq & MASK] = arrivalUs;
  }

  /** True when there is something to report. */
  get pending(): boolean {
    return this.nextToReport >= 0 && this.nextToReport <= this.maxSeq;
  }

  /**
   * Writes feedback for everything recorded since the last call as one or more compound-ready RTCP packets into
   * `buf` at `off`. Returns the bytes written (0 when nothing is pending or `buf` is full).
   */
  writeFeedback(buf: Uint8Array, off: number, senderSsrc: number, mediaSsrc: number): number {
    let written = 0;
    while (this.pending) {
      const n = this.writeOne(buf, off + written, senderSsrc, mediaSsrc);
      if (n <= 0) break;
      written += n;
    }
    return written;
  }

  /** One feedback packet starting at nextToReport. */
  private writeOne(buf: Uint8Array, off: number, senderSsrc: number, mediaSsrc: number): number {
    const base = this.nextToReport;
    const arrivals = this.arrivals;
    // Reference time: the first arrival in the range, in 64 ms units (24-bit).
    let firstArrival = NOT_RECEIVED;
    for (let s = base; s <= this.maxSeq && firstArrival === NOT_RECEIVED; s++) firstArrival = arrivals[s & MASK]!;
    const refUnits = Math.floor(firstArrival / 64_000);
    let prevTicks = refUnits * 256; // 64 ms = 256 × 250 µs
    // Statuses and deltas, ending early when a delta does not fit in 16 bits (the rest goes in the next packet).
    let count = 0;
    let deltaBytes = 0;
    // The range always ends with an arrival (maxSeq is the newest one), so the packet never ends in losses.
    for (let s = base; s <= this.maxSeq && deltaBytes < MAX_DELTA_BYTES && count < 0xffff; s++) {
      const at = arrivals[s & MASK]!;
      if (at === NOT_RECEIVED) {
        this.symbols[count++] = S_NONE;
        this.reportedLost++;
        continue;
      }
      const ticks = Math.round(at / 250);
      const delta = ticks - prevTicks;
      if (delta < -32768 || delta > 32767) break;
      prevTicks = ticks;
      const small = delta >= 0 && delta <= 255;
      this.symbols[count] = small ? S_SMALL : S_LARGE;
      this.deltas[count] = delta;
      deltaBytes += small ? 1 : 2;
      count++;
    }
    if (count === 0) return 0;

    const chunkBytes = this.chunkBytes(count);
    const unpadded = 20 + chunkBytes + deltaBytes;
    const size = (unpadded + 3) & ~3;
    if (off + size > buf.length) return 0;
    const padded = size !== unpadded;
    // RTCP header: V=2, P, FMT=15; PT=205; length in 32-bit words minus one.
    buf[off] = 0x80 | (padded ? 0x20 : 0) | FMT_TWCC;
    buf[off + 1] = RTCP_RTPFB;
    w16(buf, off + 2, size / 4 - 1);
    w32(buf, off + 4, senderSsrc);
    w32(buf, off + 8, mediaSsrc);
    w16(buf, off + 12, base & 0xffff);
    w16(buf, off + 14, count);
    const ref = refUnits & 0xffffff;
    buf[off + 16] = ref >>> 16;
    buf[off + 17] = (ref >>> 8) & 0xff;
    buf[off + 18] = ref & 0xff;
    buf[off + 19] = this.feedbackCount++ & 0xff;
    let p = this.writeChunks(buf, off + 20, count);
    for (let i = 0; i < count; i++) {
      const sym = this.symbols[i];
      if (sym === S_SMALL) buf[p++] = this.deltas[i]!;
      else if (sym === S_LARGE) {
        w16(buf, p, this.deltas[i]! & 0xffff);
        p += 2;
      }
    }
    // Padding: zeros, the last byte says how many (RFC 3550 §6.4.1 / 5.1).
    while (p < off + size - 1) buf[p++] = 0;
    if (padded) buf[off + size - 1] = size - unpadded;
    this.nextToReport = base + count;
    this.feedbacks++;
    return size;
  }

  /** Bytes the chunks for `count` statuses take (same walk as writeChunks). */
  private chunkBytes(count: number): number {
    let chunks = 0;
    for (let i = 0; i < count; i += this.chunkTake) {
      this.nextChunk(i, count);
      chunks++;
    }
    return chunks * 2;
  }

  private writeChunks(buf: Uint8Array, p: number, count: number): number {
    const sym = this.symbols;
    for (let i = 0; i < count; i += this.chunkTake) {
      this.nextChunk(i, count);
      const take = this.chunkTake;
      let chunk: number;
      if (this.chunkKind === 0) {
        // Run length: T=0, S (2 bits), run length (13 bits).
        chunk = (sym[i]! << 13) | take;
      } else if (this.chunkKind === 1) {
        // Status vector, 14 one-bit symbols: T=1, S=0.
        chunk = 0x8000;
        for (let k = 0; k < take; k++) if (sym[i + k] !== S_NONE) chunk |= 1 << (13 - k);
      } else {
        // Status vector, 7 two-bit symbols: T=1, S=1.
        chunk = 0xc000;
        for (let k = 0; k < take; k++) chunk |= sym[i + k]! << (12 - 2 * k);
      }
      w16(buf, p, chunk);
      p += 2;
    }
    return p;
  }

  /** The chunk that encodes statuses from `i`: a run when 14 or more repeat (or the rest is one run), else the widest vector that fits. */
  private nextChunk(i: number, count: number): void {
    const sym = this.symbols;
    let run = 1;
    while (i + run < count && sym[i + run] === sym[i] && run < 0x1fff) run++;
    if (run >= 14 || i + run === count) {
      this.chunkKind = 0;
      this.chunkTake = run;
      return;
    }
    const end14 = Math.min(count, i + 14);
    let large = false;
    for (let k = i; k < end14; k++) if (sym[k] === S_LARGE) large = true;
    this.chunkKind = large ? 2 : 1;
    this.chunkTake = large ? Math.min(7, count - i) : end14 - i;
  }
}
