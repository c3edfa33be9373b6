// Data for a participant whose channel of that kind does not exist yet. In single-PC mode (v1) Kite sends on the
// client's own `_reliable` / `_lossy`, which Kite learns of only when their DCEP OPEN arrives over SCTP — after the
// participant is already active (DTLS up) and others may be sending to it. Packets wait here, bounded, and go out in
// order when the channel appears. (In v0 Kite's own channels exist from the start and queue by themselves.)

export class EarlyData {
  private readonly queues = new Map<string, Uint8Array[]>();
  private bytes = 0;

  /** `limit`: bytes held at most over all labels; beyond it packets are refused. */
  constructor(private readonly limit: number) {}

  /** Holds a packet for `label`; false when over the limit (the caller counts it as dropped). */
  hold(label: string, bytes: Uint8Array): boolean {
    if (this.bytes + bytes.byteLength > this.limit) return false;
    let q = this.queues.get(label);
    if (!q) this.queues.set(label, (q = []));
    q.push(bytes);
    this.bytes += bytes.byteLength;
    return true;
  }

  /** The packets held for `label`, oldest first (and forgets them). */
  take(label: string): Uint8Array[] {
    const q = this.queues.get(label) ?? [];
    this.queues.delete(label);
    for (const b of q) this.bytes -= b.byteLength;
    return q;
  }

  clear(): void {
    this.queues.clear();
    this.bytes = 0;
  }
}
