import { describe, expect, it } from 'vitest';
import {
  SeqUnwrapper,
  TimestampUnwrapper,
  isNewerOrEqualSeq,
  isNewerSeq,
  isNewerTs,
  seqAdd,
  seqDiff,
  tsAdd,
  tsDiff,
} from '../../src/rtp/index.js';
import { randInt, rng } from './helpers.js';

describe('16-bit sequence arithmetic', () => {
  it('compares across the wrap', () => {
    expect(isNewerSeq(1, 0)).toBe(true);
    expect(isNewerSeq(0, 65535)).toBe(true);
    expect(isNewerSeq(65535, 0)).toBe(false);
    expect(isNewerSeq(5, 5)).toBe(false);
    expect(isNewerOrEqualSeq(5, 5)).toBe(true);
    expect(isNewerSeq(0x7fff, 0)).toBe(true);
    // exactly half the range: neither is newer
    expect(isNewerSeq(0x8000, 0)).toBe(false);
    expect(isNewerSeq(0, 0x8000)).toBe(false);
  });
  it('diff and add', () => {
    expect(seqDiff(2, 65534)).toBe(4);
    expect(seqDiff(65534, 2)).toBe(-4);
    expect(seqAdd(65535, 1)).toBe(0);
    expect(seqAdd(0, -1)).toBe(65535);
    const r = rng(1);
    let bad = 0;
    for (let i = 0; i < 100000; i++) {
      const a = randInt(r, 0, 65536);
      const n = randInt(r, -32768, 32768);
      if (seqDiff(seqAdd(a, n), a) !== n) bad++;
    }
    expect(bad).toBe(0);
  });
});

describe('32-bit timestamp arithmetic', () => {
  it('diff/add/newer across the wrap', () => {
    expect(tsDiff(10, 0xfffffff6)).toBe(20);
    expect(tsDiff(0xfffffff6, 10)).toBe(-20);
    expect(isNewerTs(10, 0xfffffff6)).toBe(true);
    expect(tsAdd(0xffffffff, 1)).toBe(0);
    expect(tsAdd(0, -1)).toBe(0xffffffff);
    const r = rng(2);
    let bad = 0;
    for (let i = 0; i < 100000; i++) {
      const a = Math.floor(r() * 2 ** 32);
      const n = Math.floor((r() - 0.5) * 2 ** 31);
      if (tsDiff(tsAdd(a, n), a) !== n) bad++;
    }
    expect(bad).toBe(0);
  });
});

describe('unwrappers', () => {
  it('SeqUnwrapper extends through several wraps, tolerating reordering', () => {
    const u = new SeqUnwrapper();
    let ext = 65000;
    expect(u.unwrap(ext & 0xffff)).toBe(ext);
    const r = rng(3);
    let bad = 0;
    for (let i = 0; i < 300000; i++) {
      ext += randInt(r, 1, 100);
      if (u.unwrap(ext & 0xffff) !== ext) bad++;
      const back = ext - randInt(r, 0, 3000);
      if (u.unwrap(back & 0xffff) !== back) bad++;
    }
    expect(bad).toBe(0);
    expect(u.highest).toBe(ext);
    expect(u.peek((ext + 5) & 0xffff)).toBe(ext + 5);
    expect(u.highest).toBe(ext);
  });
  it('TimestampUnwrapper extends 32-bit timestamps', () => {
    const u = new TimestampUnwrapper();
    let ext = 0xffff0000;
    expect(u.unwrap(ext)).toBe(ext);
    for (let i = 0; i < 10000; i++) {
      ext += 90000 * 10; // 10 s steps at 90 kHz
      expect(u.unwrap(ext % 2 ** 32)).toBe(ext);
      expect(u.unwrap((ext - 3000) % 2 ** 32)).toBe(ext - 3000);
    }
  });
});
