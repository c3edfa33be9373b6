// Reading transport-wide CC feedback (RTPFB FMT=15) that a subscriber sends about Kite's packets: which transport-wide
// sequence numbers arrived, and when (the receiver's clock, µs). Preallocated: one reader per transport, reused.

/** Statuses one reader holds; feedback describing more packets is truncated (Chrome sends far fewer per packet). */
const MAX_STATUSES = 4096;

export class TwccFeedbackReader {
  base = 0;
  count = 0;
  /** Feedback packet count (8-bit), to spot duplicates and gaps. */
  fbCount = 0;
  /** Arrival time (µs, receiver clock) per status, −1 when not received. */
  readonly arrivalUs = new Float64Array(MAX_STATUSES);
  private readonly symbols = new Uint8Array(MAX_STATUSES);

  /** Parses the FCI at `off` (`len` bytes). False when malformed. */
  parse(buf: Uint8Array, off: number, len: number): boolean {
    if (len < 8) return false;
    const end = off + len;
    this.base = (buf[off]! << 8) | buf[off + 1]!;
    const total = (buf[off + 2]! << 8) | buf[off + 3]!;
    let ref = (buf[off + 4]! << 16) | (buf[off + 5]! << 8) | buf[off + 6]!;
    if (ref & 0x800000) ref -= 0x1000000;
    this.fbCount = buf[off + 7]!;
    const count = Math.min(total, MAX_STATUSES);
    let p = off + 8;
    let n = 0;
    while (n < total) {
      if (p + 2 > end) return false;
      const c = (buf[p]! << 8) | buf[p + 1]!;
      p += 2;
      if ((c & 0x8000) === 0) {
        const sym = (c >> 13) & 3;
        const run = c & 0x1fff;
        for (let i = 0; i < run && n < total; i++, n++) if (n < count) this.symbols[n] = sym;
      } else if ((c & 0x4000) === 0) {
        for (let i = 0; i < 14 && n < total; i++, n++) if (n < count) this.symbols[n] = (c >> (13 - i)) & 1;
      } else {
        for (let i = 0; i < 7 && n < total; i++, n++) if (n < count) this.symbols[n] = (c >> (12 - 2 * i)) & 3;
      }
    }
    let t = ref * 64_000;
    for (let i = 0; i < count; i++) {
      const s = this.symbols[i];
      if (s === 0) {
        this.arrivalUs[i] = -1;
      } else if (s === 1) {
        if (p + 1 > end) return false;
        t += buf[p++]! * 250;
        this.arrivalUs[i] = t;
      } else if (s === 2) {
        if (p + 2 > end) return false;
        const d = (buf[p]! << 8) | buf[p + 1]!;
        t += (d & 0x8000 ? d - 0x10000 : d) * 250;
        p += 2;
        this.arrivalUs[i] = t;
      } else {
        return false; // symbol 3 is reserved
      }
    }
    this.count = count;
    return true;
  }
}
