// The sending side of transport-wide congestion control on one subscriber transport: every packet Kite sends on it
// carries the next transport-wide sequence number (DownTrack writes it), its send time and size are remembered, and
// the subscriber's TWCC feedback turns them into arrival times for the estimator.
import { FeedbackBatch, SendSideBwe, type BweOptions } from './SendSideBwe.js';
import { TwccFeedbackReader } from './twccFeedback.js';

const RING = 1 << 13; // packets in flight remembered (8192: seconds of video)
const MASK = RING - 1;

export class TwccSender {
  readonly bwe: SendSideBwe;
  private seq = 0;
  private readonly sendUs = new Float64Array(RING);
  private readonly sizes = new Int32Array(RING);
  private readonly clusters = new Int32Array(RING);
  /** The 16-bit sequence number each slot holds (−1: empty), so a stale slot is never matched. */
  private readonly seqs = new Int32Array(RING).fill(-1);
  private readonly reader = new TwccFeedbackReader();
  private readonly batch = new FeedbackBatch();
  /** Packets stamped, feedback packets read, and statuses that matched nothing we remember. */
  readonly counters = { sent: 0, feedbacks: 0, unknown: 0 };

  constructor(opts: BweOptions = {}) {
    this.bwe = new SendSideBwe(opts);
  }

  /** The sequence number the next packet carries (it is used up by `onSent`). */
  get nextSeq(): number {
    return this.seq;
  }

  /** The packet stamped with `nextSeq` left: `size` bytes, part of probe cluster `cluster` (−1: media). */
  onSent(size: number, cluster = -1): void {
    const slot = this.seq & MASK;
    this.sendUs[slot] = performance.now() * 1000;
    this.sizes[slot] = size;
    this.clusters[slot] = cluster;
    this.seqs[slot] = this.seq;
    this.seq = (this.seq + 1) & 0xffff;
    this.counters.sent++;
  }

  /** TWCC feedback from the subscriber (the FCI of an RTPFB FMT=15 packet). */
  onFeedback(buf: Uint8Array, fciOffset: number, fciLength: number, nowMs: number): void {
    const r = this.reader;
    if (!r.parse(buf, fciOffset, fciLength)) return;
    this.counters.feedbacks++;
    const b = this.batch;
    b.count = 0;
    for (let i = 0; i < r.count; i++) {
      const seq = (r.base + i) & 0xffff;
      const slot = seq & MASK;
      if (this.seqs[slot] !== seq) {
        this.counters.unknown++;
        continue;
      }
      b.push(this.sendUs[slot]!, r.arrivalUs[i]!, this.sizes[slot]!, this.clusters[slot]!);
    }
    if (b.count > 0) this.bwe.onFeedback(b, nowMs);
  }
}
