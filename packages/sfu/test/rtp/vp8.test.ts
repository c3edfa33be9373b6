import { describe, expect, it } from 'vitest';
import {
  Vp8Descriptor,
  Vp8Munger,
  vp8IsKeyframe,
  vp8WriteKeyIdx,
  vp8WritePictureId,
  vp8WriteTl0PicIdx,
} from '../../src/rtp/index.js';
import { randInt, randomBytes, rng, u8 } from './helpers.js';

describe('VP8 payload descriptor', () => {
  const d = new Vp8Descriptor();

  it('parses the minimal descriptor of a keyframe start', () => {
    const p = u8(0x10, 0x00, 0x9d, 0x01, 0x2a); // S=1 PID=0; payload header P bit = 0 → keyframe
    expect(d.parse(p, 0, p.length)).toBe(true);
    expect(d.start).toBe(true);
    expect(d.partitionId).toBe(0);
    expect(d.pictureId).toBe(-1);
    expect(d.headerSize).toBe(1);
    expect(d.payloadOffset).toBe(1);
    expect(d.isKeyframe).toBe(true);
    expect(vp8IsKeyframe(p, 0, p.length)).toBe(true);
  });

  it('parses a 7-bit PictureID on an inter frame', () => {
    const p = u8(0x90, 0x80, 0x55, 0x01); // X S; I; M=0 pid 0x55; payload P=1
    expect(d.parse(p, 0, p.length)).toBe(true);
    expect(d.pictureId).toBe(0x55);
    expect(d.pictureIdBits).toBe(7);
    expect(d.pictureIdOffset).toBe(2);
    expect(d.tl0PicIdx).toBe(-1);
    expect(d.isKeyframe).toBe(false);
    expect(d.headerSize).toBe(3);
  });

  it('parses 15-bit PictureID, TL0PICIDX, TID/Y/KEYIDX, N and PartID', () => {
    // X N S PID=0 | I L T K | M pid 0x1234 | tl0 7 | tid 2 Y 1 keyidx 5 | payload
    const p = u8(0xb0, 0xf0, 0x92, 0x34, 0x07, (2 << 6) | 0x20 | 5, 0x00, 0xff);
    expect(d.parse(p, 0, p.length)).toBe(true);
    expect(d.nonReference).toBe(true);
    expect(d.pictureId).toBe(0x1234);
    expect(d.pictureIdBits).toBe(15);
    expect(d.tl0PicIdx).toBe(7);
    expect(d.tid).toBe(2);
    expect(d.layerSync).toBe(true);
    expect(d.keyIdx).toBe(5);
    expect(d.headerSize).toBe(6);
    expect(d.payloadLength).toBe(2);
    expect(d.isKeyframe).toBe(true);
    // PartID 1 is never a keyframe start
    const p2 = u8(0x11, 0x00);
    expect(d.parse(p2, 0, 2) && d.isKeyframe).toBe(false);
    expect(d.partitionId).toBe(1);
    // S=0 continuation of a keyframe partition
    expect(vp8IsKeyframe(u8(0x00, 0x00), 0, 2)).toBe(false);
  });

  it('T without K and K without T', () => {
    let p = u8(0x80, 0x20, 0xc0, 0x01); // T only: tid 3
    expect(d.parse(p, 0, p.length)).toBe(true);
    expect(d.tid).toBe(3);
    expect(d.keyIdx).toBe(-1);
    p = u8(0x80, 0x10, 0xdf, 0x01); // K only: keyidx 31, TID bits ignored
    expect(d.parse(p, 0, p.length)).toBe(true);
    expect(d.tid).toBe(-1);
    expect(d.keyIdx).toBe(31);
  });

  it('rejects truncated descriptors', () => {
    const full = u8(0x90, 0xf0, 0x92, 0x34, 0x07, 0x85, 0x00);
    for (let n = 0; n < full.length; n++) expect(d.parse(full, 0, n)).toBe(false);
    expect(d.parse(full, 0, full.length)).toBe(true);
    expect(d.parse(full, 2, full.length)).toBe(false);
  });

  it('rewrites fields in place, preserving widths', () => {
    const p = u8(0x90, 0xf0, 0x92, 0x34, 0x07, (1 << 6) | 0x20 | 5, 0x00);
    d.parse(p, 0, p.length);
    vp8WritePictureId(p, d, 0x7ffe + 3); // mod 2^15 = 1
    vp8WriteTl0PicIdx(p, d, 300); // mod 256 = 44
    vp8WriteKeyIdx(p, d, 33); // mod 32 = 1
    const d2 = new Vp8Descriptor();
    expect(d2.parse(p, 0, p.length)).toBe(true);
    expect(d2.pictureId).toBe(1);
    expect(d2.pictureIdBits).toBe(15);
    expect(d2.tl0PicIdx).toBe(44);
    expect(d2.keyIdx).toBe(1);
    expect(d2.tid).toBe(1);
    expect(d2.layerSync).toBe(true);
    const q = u8(0x90, 0x80, 0x05, 0x01);
    d.parse(q, 0, q.length);
    vp8WritePictureId(q, d, 0x1234); // 7-bit: 0x34
    expect(d2.parse(q, 0, q.length) && d2.pictureId).toBe(0x34);
    expect(d2.pictureIdBits).toBe(7);
    expect(vp8WriteTl0PicIdx(q, d, 1)).toBe(false);
  });

  it('never throws on random input', () => {
    const r = rng(5);
    let ok = 0;
    for (let i = 0; i < 20000; i++) {
      const p = randomBytes(r, randInt(r, 0, 12));
      if (d.parse(p, 0, p.length)) {
        ok++;
        expect(d.payloadOffset + d.payloadLength).toBe(p.length);
        expect(d.payloadLength).toBeGreaterThan(0);
      }
    }
    expect(ok).toBeGreaterThan(1000);
  });
});

// ---------------------------------------------------------------------------------------------------------------------
// Munger simulation: three simulcast sources with unrelated PictureID / TL0PICIDX / KEYIDX bases, L1T3 temporal
// pattern, keyframes at different periods, a target layer that changes every 50 frames (switch at the target's next
// keyframe), temporal-layer filtering that changes every 20 frames, and packet reordering across adjacent frames.

interface Pkt {
  source: number;
  frame: number;
  tid: number;
  key: boolean;
  bytes: Uint8Array;
}

const TIDS = [0, 2, 1, 2];

function makeSource(pidBase: number, tl0Base: number, keyBase: number, keyPeriod: number, keyPhase: number, bits: 7 | 15) {
  let tl0 = tl0Base - 1;
  let keyIdx = keyBase - 1;
  return (f: number, r: () => number): Pkt[] => {
    const tid = TIDS[f % 4];
    const key = f === 0 || f % keyPeriod === keyPhase;
    if (tid === 0) tl0++;
    if (key) keyIdx++;
    const pid = (pidBase + f) % (bits === 15 ? 0x8000 : 0x80);
    const n = randInt(r, 1, 4);
    const out: Pkt[] = [];
    for (let i = 0; i < n; i++) {
      const pidBytes = bits === 15 ? [0x80 | (pid >> 8), pid & 0xff] : [pid];
      const b0 = 0x80 | (i === 0 ? 0x10 : 0);
      const payload = i === 0 ? (key ? 0x00 : 0x01) : 0xaa;
      out.push({ source: -1, frame: f, tid, key: key && i === 0, bytes: u8(b0, 0xf0, ...pidBytes, tl0 & 0xff, (tid << 6) | (keyIdx & 0x1f), payload, 0x55) });
    }
    return out;
  };
}

function simulate(bits: 7 | 15, seed: number) {
  const r = rng(seed);
  const mod = bits === 15 ? 0x8000 : 0x80;
  const sources = [
    makeSource(bits === 15 ? 32700 : 120, 250, 30, 32, 0, bits), // wraps PictureID and TL0PICIDX early
    makeSource(bits === 15 ? 17 : 3, 17, 0, 48, 12, bits),
    makeSource(bits === 15 ? 20000 : 64, 100, 9, 64, 40, bits),
  ];
  const munger = new Vp8Munger();
  const d = new Vp8Descriptor();
  const out = new Vp8Descriptor();
  // per forwarded input frame (source:frame) → output values
  const frames = new Map<string, { pid: number; tl0: number; key: number; tid: number; isKey: boolean; frame: number }>();
  let target = 0;
  let dropped = 0;
  let switches = 0;
  let reordered = 0;
  let pending: Pkt[] = [];
  const FRAMES = 900;
  for (let f = 0; f < FRAMES; f++) {
    if (f % 50 === 0 && f > 0) target = (target + 1) % 3;
    const per = sources.map((s, i) => s(f, r).map((p) => ({ ...p, source: i })));
    const cur = munger.currentSource;
    let list: Pkt[];
    if (cur < 0) list = per[target];
    else if (target !== cur && per[target][0].key) {
      switches++;
      // no reordering across a switch: the held-back packet of the old source goes first
      list = [...pending, ...per[target]];
    } else {
      // the held-back last packet of the previous frame arrives after the first packet of this frame
      const c = per[cur];
      list = [c[0], ...pending, ...c.slice(1)];
    }
    pending = [];
    if (r() < 0.2 && list.length > 1 && f < FRAMES - 1) {
      pending = [list.pop()!];
      reordered++;
    }
    for (const p of list) {
      const buf = p.bytes.slice();
      expect(d.parse(buf, 0, buf.length)).toBe(true);
      const maxTid = [2, 1, 0, 2, 1][Math.floor(p.frame / 20) % 5]; // per frame: same decision for all its packets
      const drop = p.tid > maxTid && !d.isKeyframe;
      const fwd = munger.process(p.source, d, drop);
      const key = `${p.source}:${p.frame}`;
      if (!fwd) {
        if (drop) dropped++;
        expect(frames.has(key)).toBe(false); // a frame is forwarded either entirely or not at all
        continue;
      }
      vp8WritePictureId(buf, d, munger.pictureId);
      vp8WriteTl0PicIdx(buf, d, munger.tl0PicIdx);
      vp8WriteKeyIdx(buf, d, munger.keyIdx);
      expect(out.parse(buf, 0, buf.length)).toBe(true);
      const v = { pid: out.pictureId, tl0: out.tl0PicIdx, key: out.keyIdx, tid: out.tid, isKey: out.isKeyframe, frame: p.frame };
      const prev = frames.get(key);
      if (prev) {
        expect([v.pid, v.tl0, v.key]).toEqual([prev.pid, prev.tl0, prev.key]);
        if (v.isKey) prev.isKey = true;
      } else frames.set(key, v);
    }
  }
  const list = [...frames.values()].sort((a, b) => a.frame - b.frame);
  return { list, dropped, switches, reordered, mod };
}

describe('Vp8Munger', () => {
  for (const bits of [15, 7] as const) {
    it(`keeps PictureID / TL0PICIDX / KEYIDX continuous across switches and drops (${bits}-bit)`, () => {
      const { list, dropped, switches, reordered, mod } = simulate(bits, bits);
      expect(reordered).toBeGreaterThan(50);
      expect(switches).toBeGreaterThanOrEqual(8);
      expect(dropped).toBeGreaterThan(100);
      expect(list.length).toBeGreaterThan(400);
      let wrapsPid = 0;
      for (let i = 1; i < list.length; i++) {
        const a = list[i - 1];
        const b = list[i];
        expect(b.pid, `frame ${b.frame}`).toBe((a.pid + 1) % mod);
        if (b.pid < a.pid) wrapsPid++;
        if (b.tid === 0) expect(b.tl0, `tl0 at frame ${b.frame}`).toBe((a.tl0 + 1) & 0xff);
        else expect(b.tl0).toBe(a.tl0);
        if (b.isKey) expect(b.key, `keyidx at frame ${b.frame}`).toBe((a.key + 1) & 0x1f);
        else expect(b.key).toBe(a.key);
      }
      expect(wrapsPid).toBeGreaterThanOrEqual(1);
    });
  }

  it('rejects packets of another source until its keyframe, and packets older than the ring', () => {
    const m = new Vp8Munger();
    const d = new Vp8Descriptor();
    const pkt = (pid: number, key: boolean) => u8(0x90, 0x80, 0x80 | (pid >> 8), pid & 0xff, key ? 0x00 : 0x01);
    let p = pkt(100, false);
    d.parse(p, 0, p.length);
    expect(m.process(0, d, false)).toBe(false); // no keyframe yet
    p = pkt(100, true);
    d.parse(p, 0, p.length);
    expect(m.process(0, d, false)).toBe(true);
    expect(m.pictureId).toBe(100);
    for (let i = 101; i < 500; i++) {
      p = pkt(i, false);
      d.parse(p, 0, p.length);
      expect(m.process(0, d, false)).toBe(true);
    }
    p = pkt(150, false); // 349 frames old: outside the 256-entry ring
    d.parse(p, 0, p.length);
    expect(m.process(0, d, false)).toBe(false);
    p = pkt(480, false); // recent: same output as before
    d.parse(p, 0, p.length);
    expect(m.process(0, d, false)).toBe(true);
    expect(m.pictureId).toBe(480);
    p = pkt(7000, false); // other source, not a keyframe
    d.parse(p, 0, p.length);
    expect(m.process(1, d, false)).toBe(false);
    p = pkt(7000, true);
    d.parse(p, 0, p.length);
    expect(m.process(1, d, false)).toBe(true);
    expect(m.pictureId).toBe(500);
    p = pkt(499, false); // late packet of the old source
    d.parse(p, 0, p.length);
    expect(m.process(0, d, false)).toBe(false);
  });

  it('a late packet of a frame skipped by a forward jump keeps its reserved value', () => {
    const m = new Vp8Munger();
    const d = new Vp8Descriptor();
    const pkt = (pid: number, key: boolean) => u8(0x90, 0x80, 0x80 | (pid >> 8), pid & 0xff, key ? 0x00 : 0x01);
    const feed = (pid: number, key = false, drop = false) => {
      const p = pkt(pid, key);
      d.parse(p, 0, p.length);
      return m.process(0, d, drop) ? m.pictureId : -1;
    };
    expect(feed(10, true)).toBe(10);
    expect(feed(11, false, true)).toBe(-1); // dropped on purpose: closes the gap
    expect(feed(13)).toBe(12); // 12 not seen yet: reserved as 11
    expect(feed(12)).toBe(11);
    expect(feed(14, false, true)).toBe(-1);
    expect(feed(15)).toBe(13);
    expect(feed(11)).toBe(-1); // late packet of the dropped frame stays dropped
  });
});
