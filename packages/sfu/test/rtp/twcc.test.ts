// TWCC feedback as a sender reads it: every packet's fate (received or not, and when) must come back exactly from
// the feedback packets, across losses, reordering, large gaps in time, 16-bit wraparound and long runs. The decoder
// below follows the draft (§3.1) independently of the writer; werift's parser reads the same packets as a cross-check.
import { describe, expect, it } from 'vitest';
import { RtcpHeader, TransportWideCC } from 'werift';
import { TwccRecorder } from '../../src/rtp/twcc.js';

interface Decoded {
  base: number;
  count: number;
  refTimeUs: number;
  fbCount: number;
  /** Per status: arrival time in µs (absolute, from the reference time) or undefined when not received. */
  arrivals: (number | undefined)[];
  senderSsrc: number;
  mediaSsrc: number;
  /** Bytes of the RTCP packet. */
  size: number;
}

/** An independent reading of one or more RTPFB FMT=15 packets. */
function decode(buf: Buffer): Decoded[] {
  const out: Decoded[] = [];
  let off = 0;
  while (off < buf.length) {
    const b0 = buf[off]!;
    expect(b0 >> 6).toBe(2);
    expect(b0 & 0x1f).toBe(15);
    expect(buf[off + 1]).toBe(205);
    const size = (buf.readUInt16BE(off + 2) + 1) * 4;
    const pkt = buf.subarray(off, off + size);
    const base = pkt.readUInt16BE(12);
    const count = pkt.readUInt16BE(14);
    const ref = pkt.readUIntBE(16, 3);
    const refSigned = ref & 0x800000 ? ref - 0x1000000 : ref;
    const symbols: number[] = [];
    let p = 20;
    while (symbols.length < count) {
      const c = pkt.readUInt16BE(p);
      p += 2;
      if ((c & 0x8000) === 0) {
        const sym = (c >> 13) & 3;
        const run = c & 0x1fff;
        for (let i = 0; i < run; i++) symbols.push(sym);
      } else if ((c & 0x4000) === 0) {
        for (let i = 0; i < 14; i++) symbols.push((c >> (13 - i)) & 1);
      } else {
        for (let i = 0; i < 7; i++) symbols.push((c >> (12 - 2 * i)) & 3);
      }
    }
    symbols.length = count;
    let t = refSigned * 64_000;
    const arrivals: (number | undefined)[] = [];
    for (const s of symbols) {
      if (s === 0) arrivals.push(undefined);
      else if (s === 1) {
        t += pkt[p++]! * 250;
        arrivals.push(t);
      } else if (s === 2) {
        t += pkt.readInt16BE(p) * 250;
        p += 2;
        arrivals.push(t);
      } else throw new Error('symbol 3 is reserved');
    }
    // Padding: what is left is less than 4 bytes, its last byte says how many (when the P bit is set).
    expect(size - p).toBeLessThan(4);
    if (b0 & 0x20) expect(pkt[size - 1]).toBe(size - p);
    out.push({ base, count, refTimeUs: refSigned * 64_000, fbCount: pkt[19]!, arrivals, senderSsrc: pkt.readUInt32BE(4), mediaSsrc: pkt.readUInt32BE(8), size });
    off += size;
  }
  return out;
}

/** Feeds (seq, time) pairs, then returns what the feedback says per (16-bit) sequence number. */
function roundTrip(rec: TwccRecorder, packets: [number, number][]): Map<number, number | undefined> {
  for (const [seq, at] of packets) rec.record(seq, at);
  const buf = Buffer.alloc(64 * 1024);
  const n = rec.writeFeedback(buf, 0, 0x11111111, 0x22222222);
  const fb = new Map<number, number | undefined>();
  for (const d of decode(buf.subarray(0, n))) {
    expect(d.senderSsrc).toBe(0x11111111);
    expect(d.mediaSsrc).toBe(0x22222222);
    d.arrivals.forEach((a, i) => fb.set((d.base + i) & 0xffff, a));
  }
  return fb;
}

/** The arrival as the feedback can carry it: 250 µs resolution. */
const q = (us: number) => Math.round(us / 250) * 250;

describe('TWCC feedback', () => {
  it('reports every packet with its arrival time at 250 µs resolution; losses as not received', () => {
    const rec = new TwccRecorder();
    const t0 = 5_000_000_123;
    const packets: [number, number][] = [];
    for (let i = 0; i < 100; i++) if (i % 10 !== 3) packets.push([1000 + i, t0 + i * 1_370]);
    const fb = roundTrip(rec, packets);
    expect(fb.size).toBe(100);
    for (let i = 0; i < 100; i++) {
      const got = fb.get(1000 + i);
      if (i % 10 === 3) expect(got).toBeUndefined();
      else expect(Math.abs(got! - q(t0 + i * 1_370))).toBeLessThanOrEqual(250);
    }
    // Nothing twice: the next feedback starts after what was reported.
    expect(rec.pending).toBe(false);
    const next = roundTrip(rec, [[1100, t0 + 200_000]]);
    expect([...next.keys()]).toEqual([1100]);
  });

  it('reordered packets, negative and large deltas (two-bit vectors), and a gap longer than a small delta', () => {
    const rec = new TwccRecorder();
    const t0 = 1_000_000;
    const packets: [number, number][] = [
      [10, t0],
      [12, t0 + 1_000],
      [11, t0 + 1_500], // arrives after 12: its delta from 12 is positive, but 12's from 10 was large enough
      [13, t0 + 900], // earlier than the previous arrival: negative delta
      [14, t0 + 200_000], // 199 ms later: large delta
      [15, t0 + 200_100],
    ];
    const fb = roundTrip(rec, packets);
    for (const [seq, at] of packets) expect(Math.abs(fb.get(seq)! - q(at))).toBeLessThanOrEqual(250);
  });

  it('wraps around 65535 → 0 and keeps one continuous sequence', () => {
    const rec = new TwccRecorder();
    const packets: [number, number][] = [];
    for (let i = 0; i < 50; i++) packets.push([(65_510 + i) & 0xffff, 10_000_000 + i * 2_000]);
    const fb = roundTrip(rec, packets);
    expect(fb.size).toBe(50);
    for (const [seq, at] of packets) expect(Math.abs(fb.get(seq)! - q(at))).toBeLessThanOrEqual(250);
  });

  it('long runs (received and lost) use run-length chunks and stay compact; big bursts split into several packets', () => {
    const rec = new TwccRecorder();
    const packets: [number, number][] = [];
    for (let i = 0; i < 300; i++) packets.push([i, 2_000_000 + i * 100]); // 300 received back to back
    for (let i = 800; i < 810; i++) packets.push([i, 2_100_000 + i]); // then 500 lost, 10 received
    for (const [s, t] of packets) rec.record(s, t);
    const buf = Buffer.alloc(64 * 1024);
    const n = rec.writeFeedback(buf, 0, 1, 2);
    const decoded = decode(buf.subarray(0, n));
    const statuses = decoded.reduce((a, d) => a + d.count, 0);
    expect(statuses).toBe(810);
    const lost = decoded.flatMap((d) => d.arrivals).filter((a) => a === undefined).length;
    expect(lost).toBe(500);
    // One byte per small delta plus a few chunks: the 500 losses cost one run-length chunk.
    expect(n).toBeLessThan(310 + 60);
    // A burst needing more than one packet's delta budget is split, in order, with increasing feedback counts.
    const burst = new TwccRecorder();
    for (let i = 0; i < 3000; i++) burst.record(i, 3_000_000 + i * 300);
    const m = burst.writeFeedback(buf, 0, 1, 2);
    const parts = decode(buf.subarray(0, m));
    expect(parts.length).toBeGreaterThan(2);
    expect(parts.map((d) => d.fbCount)).toEqual(parts.map((_, i) => i));
    expect(parts.reduce((a, d) => a + d.count, 0)).toBe(3000);
    for (let i = 1; i < parts.length; i++) expect(parts[i]!.base).toBe((parts[i - 1]!.base + parts[i - 1]!.count) & 0xffff);
    for (const d of parts) expect(d.size).toBeLessThanOrEqual(1200);
  });

  it('a packet that arrives after its feedback went out is not reported again; an old duplicate is ignored', () => {
    const rec = new TwccRecorder();
    roundTrip(rec, [
      [1, 1_000_000],
      [3, 1_002_000],
    ]);
    const fb = roundTrip(rec, [
      [2, 1_003_000],
      [4, 1_004_000],
    ]);
    expect([...fb.keys()]).toEqual([4]);
  });

  it('werift’s own parser reads the same chunks and deltas', () => {
    const rec = new TwccRecorder();
    for (let i = 0; i < 40; i++) if (i !== 7 && i !== 8) rec.record(500 + i, 9_000_000 + i * 5_000);
    const buf = Buffer.alloc(2048);
    const n = rec.writeFeedback(buf, 0, 7, 8);
    const parsed = TransportWideCC.deSerialize(buf.subarray(4, n), RtcpHeader.deSerialize(buf.subarray(0, 4)));
    expect(parsed.baseSequenceNumber).toBe(500);
    expect(parsed.packetStatusCount).toBe(40);
    // (werift's packetResults getter miscounts mixed chunks, so compare what it parsed.)
    expect(JSON.parse(JSON.stringify(parsed.packetChunks))).toEqual([
      { type: 1, symbolSize: 0, symbolList: [1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1] },
      { type: 0, packetStatus: 1, runLength: 26 },
    ]);
    expect(parsed.recvDeltas.map((d) => d.delta)).toEqual([40_000, ...Array(6).fill(5_000), 15_000, ...Array(30).fill(5_000)]);
  });
});
