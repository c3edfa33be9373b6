// What a down track sent, by outgoing sequence number: enough to rebuild any recent packet from the receiver's
// history when the subscriber NACKs it (source layer and sequence, outgoing timestamp, munged VP8 fields).
const SIZE = 2048; // power of two; ~10 s of audio, ~4 s of 500 pkt/s video
const MASK = SIZE - 1;

export class Sequencer {
  private readonly outSeq = new Int32Array(SIZE).fill(-1);
  readonly srcSeq = new Uint16Array(SIZE);
  readonly layer = new Uint8Array(SIZE);
  readonly outTs = new Uint32Array(SIZE);
  readonly marker = new Uint8Array(SIZE);
  readonly pictureId = new Int32Array(SIZE);
  readonly tl0PicIdx = new Int16Array(SIZE);
  readonly keyIdx = new Int8Array(SIZE);
  private readonly nackCount = new Uint8Array(SIZE);
  private readonly lastNackAt = new Float64Array(SIZE);

  push(outSeq: number, srcSeq: number, layer: number, outTs: number, marker: boolean, pictureId: number, tl0: number, keyIdx: number): void {
    const i = outSeq & MASK;
    this.outSeq[i] = outSeq;
    this.srcSeq[i] = srcSeq;
    this.layer[i] = layer;
    this.outTs[i] = outTs;
    this.marker[i] = marker ? 1 : 0;
    this.pictureId[i] = pictureId;
    this.tl0PicIdx[i] = tl0;
    this.keyIdx[i] = keyIdx;
    this.nackCount[i] = 0;
    this.lastNackAt[i] = 0;
  }

  /**
   * The slot of a NACKed outgoing sequence number, or -1 when unknown or when it was retransmitted too recently
   * (within `minIntervalMs`) or too often: a subscriber repeating NACKs must not multiply our egress.
   */
  forNack(outSeq: number, now: number, minIntervalMs: number, maxRetransmits = 6): number {
    const i = outSeq & MASK;
    if (this.outSeq[i] !== outSeq) return -1;
    if (this.nackCount[i]! >= maxRetransmits || now - this.lastNackAt[i]! < minIntervalMs) return -1;
    this.nackCount[i]!++;
    this.lastNackAt[i] = now;
    return i;
  }
}
