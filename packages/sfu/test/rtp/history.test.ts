import { describe, expect, it } from 'vitest';
import { HISTORY_FLAG_KEYFRAME, HISTORY_FLAG_MARKER, PacketHistory, writeRtpHeader } from '../../src/rtp/index.js';

function packet(seq: number, len: number): Uint8Array {
  const p = new Uint8Array(len);
  writeRtpHeader(p, 0, 96, seq, seq * 3000, 0x1234, seq % 7 === 0);
  for (let i = 12; i < len; i++) p[i] = (seq * 31 + i) & 0xff;
  return p;
}

describe('PacketHistory', () => {
  it('allocates one slab lazily', () => {
    const h = new PacketHistory();
    expect(h.capacity).toBe(1024);
    expect(h.maxPacketSize).toBe(1500);
    expect(h.slabBytes).toBe(0);
    expect(h.get(1)).toBeNull();
    h.insert(1, packet(1, 100), 0, 100, 0);
    expect(h.slabBytes).toBe(1024 * 1500);
    const slab = h.buffer;
    for (let s = 2; s < 3000; s++) h.insert(s, packet(s, 200), 0, 200, s);
    expect(h.buffer).toBe(slab); // never re-allocated
    expect(new PacketHistory({ capacity: 1000 }).capacity).toBe(1024);
  });

  it('stores 5,000 packets across the wrap; the last N are exact, older ones are stale', () => {
    const N = 1024;
    const h = new PacketHistory({ capacity: N });
    const start = 63000;
    const total = 5000;
    const lens: number[] = [];
    for (let i = 0; i < total; i++) {
      const seq = (start + i) & 0xffff;
      const len = 20 + ((i * 37) % 1400);
      lens.push(len);
      const flags = (i % 10 === 0 ? HISTORY_FLAG_KEYFRAME : 0) | (i % 3 === 0 ? HISTORY_FLAG_MARKER : 0);
      expect(h.insert(seq, packet(seq, len), 0, len, 1000 + i, flags)).toBe(true);
    }
    expect(h.size).toBe(N);
    expect(h.highestSeq).toBe((start + total - 1) & 0xffff);
    const dst = new Uint8Array(1500);
    for (let i = total - N; i < total; i++) {
      const seq = (start + i) & 0xffff;
      const want = packet(seq, lens[i]);
      const got = h.get(seq)!;
      expect(got).not.toBeNull();
      expect(Buffer.from(got).equals(Buffer.from(want))).toBe(true);
      expect(h.copyTo(seq, dst, 0)).toBe(lens[i]);
      expect(Buffer.from(dst.subarray(0, lens[i])).equals(Buffer.from(want))).toBe(true);
      const slot = h.slotOf(seq);
      expect(h.lengthOf(slot)).toBe(lens[i]);
      expect(h.arrivalOf(slot)).toBe(1000 + i);
      expect(h.flagsOf(slot)).toBe((i % 10 === 0 ? HISTORY_FLAG_KEYFRAME : 0) | (i % 3 === 0 ? HISTORY_FLAG_MARKER : 0));
    }
    // Older packets share slots (and, 65536 back, even 16-bit seqs) with newer ones: all stale.
    for (let i = 0; i < total - N; i++) {
      const seq = (start + i) & 0xffff;
      expect(h.get(seq)).toBeNull();
      expect(h.copyTo(seq, dst)).toBe(-1);
    }
    // Not yet received
    expect(h.has((start + total) & 0xffff)).toBe(false);
    expect(h.has((start + total + 500) & 0xffff)).toBe(false);
  });

  it('detects stale slots after a forward jump', () => {
    const h = new PacketHistory({ capacity: 16 });
    for (let s = 0; s < 16; s++) h.insert(s, packet(s, 50), 0, 50, 0);
    expect(h.insert(20, packet(20, 50), 0, 50, 0)).toBe(true); // skips 16..19
    for (let s = 16; s < 20; s++) expect(h.has(s)).toBe(false); // slots 0..3 hold seqs 0..3: stale for 16..19
    expect(h.has(4)).toBe(false); // 20 − 4 = 16: outside the 16-packet window
    expect(h.has(5)).toBe(true);
    expect(h.insert(17, packet(17, 50), 0, 50, 0)).toBe(true); // late arrival fills its slot
    expect(Buffer.from(h.get(17)!).equals(Buffer.from(packet(17, 50)))).toBe(true);
    expect(h.has(1)).toBe(false);
    // a big forward jump (16-bit: at most 32767 ahead) makes everything stale
    expect(h.insert(30000, packet(30000, 50), 0, 50, 0)).toBe(true);
    expect(h.has(17)).toBe(false);
    expect(h.size).toBe(1);
  });

  it('rejects duplicates, too-old and too-large packets; copies from a sub-range', () => {
    const h = new PacketHistory({ capacity: 8, maxPacketSize: 100 });
    expect(h.insert(10, packet(10, 50), 0, 50, 0)).toBe(true);
    expect(h.insert(10, packet(10, 50), 0, 50, 0)).toBe(false);
    expect(h.insert(11, packet(11, 101), 0, 101, 0)).toBe(false);
    expect(h.insert(20, packet(20, 50), 0, 50, 0)).toBe(true);
    expect(h.insert(12, packet(12, 50), 0, 50, 0)).toBe(false); // 8 behind
    expect(h.insert(13, packet(13, 50), 0, 50, 0)).toBe(true);
    const big = new Uint8Array(300);
    big.set(packet(21, 90), 100);
    expect(h.insert(21, big, 100, 90, 0)).toBe(true);
    expect(Buffer.from(h.get(21)!).equals(Buffer.from(packet(21, 90)))).toBe(true);
    expect(h.insert(22, big, 250, 90, 0)).toBe(false); // beyond the source buffer
    expect(h.copyTo(21, new Uint8Array(89))).toBe(-1);
    h.clear(true);
    expect(h.slabBytes).toBe(0);
    expect(h.has(21)).toBe(false);
  });
});
