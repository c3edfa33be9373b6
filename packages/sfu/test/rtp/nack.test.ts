import { describe, expect, it } from 'vitest';
import {
  NackGenerator,
  NackPacketStatus,
  RtcpKind,
  RtcpReader,
  RtpHeaderView,
  expandNack,
  rtxOriginalSeq,
  rtxUnwrap,
  rtxWrap,
  writeNack,
  EXT_PROFILE_ONE_BYTE,
} from '../../src/rtp/index.js';
import { rtp } from './helpers.js';

function nacks(g: NackGenerator, now: number): number[] {
  const out = new Uint16Array(1024);
  const n = g.getNacks(now, out);
  return Array.from(out.subarray(0, n));
}

describe('NackGenerator', () => {
  it('NACKs a single loss after the reorder wait (time or packets)', () => {
    const g = new NackGenerator({ reorderWaitMs: 10, reorderWaitPackets: 5 });
    let t = 1000;
    for (const s of [1, 2, 4]) expect(g.onPacket(s, t++)).toBe(NackPacketStatus.New);
    expect(g.outstanding).toBe(1);
    expect(nacks(g, t)).toEqual([]); // 1 ms, 1 packet later: could be reordering
    expect(nacks(g, 1002 + 10)).toEqual([3]); // 10 ms after the gap appeared
    // packet criterion: 5 newer packets arrive within 1 ms
    const g2 = new NackGenerator({ reorderWaitMs: 10, reorderWaitPackets: 5 });
    for (const s of [1, 2, 4, 5, 6, 7]) g2.onPacket(s, 0);
    expect(nacks(g2, 0)).toEqual([]);
    g2.onPacket(8, 0);
    expect(nacks(g2, 0)).toEqual([3]);
  });

  it('does not NACK packets reordered within a few ms', () => {
    const g = new NackGenerator();
    let t = 0;
    let requested = 0;
    // every 10th packet arrives 2 ms late, after its successor
    for (let s = 0; s < 2000; s += 10) {
      for (let k = 0; k < 10; k++) {
        if (k === 3) continue;
        g.onPacket((s + k) & 0xffff, t);
        t += 0.5;
        if (k === 4) requested += nacks(g, t).length;
      }
      t += 2;
      expect(g.onPacket((s + 3) & 0xffff, t)).toBe(NackPacketStatus.Recovered);
      requested += nacks(g, t).length;
    }
    expect(requested).toBe(0);
    expect(g.outstanding).toBe(0);
    expect(g.recovered).toBe(200);
  });

  it('handles bursts and the 65535 → 0 wrap', () => {
    const g = new NackGenerator();
    g.onPacket(65530, 0);
    g.onPacket(65531, 0);
    g.onPacket(2, 1); // lost 65532..65535, 0, 1
    expect(g.outstanding).toBe(6);
    expect(nacks(g, 20)).toEqual([65532, 65533, 65534, 65535, 0, 1]);
    expect(g.onPacket(65535, 25)).toBe(NackPacketStatus.Recovered);
    expect(g.onPacket(65535, 26)).toBe(NackPacketStatus.Duplicate);
    expect(g.onPacket(2, 26)).toBe(NackPacketStatus.Duplicate);
    // a NACK packet built from the list carries exactly these seqs
    const buf = new Uint8Array(100);
    const list = nacks(g, 200); // after the 100 ms default RTT
    expect(list).toEqual([65532, 65533, 65534, 0, 1]);
    const n = writeNack(buf, 0, 1, 2, list);
    const r = new RtcpReader().reset(buf, 0, n);
    expect(r.next()).toBe(RtcpKind.Nack);
    const out = new Uint16Array(16);
    const m = expandNack(buf, r.nack.fciOffset, r.nack.fciLength, out);
    expect(Array.from(out.subarray(0, m))).toEqual(list);
  });

  it('spaces retries by RTT and stops after maxRetries', () => {
    const g = new NackGenerator({ maxRetries: 3, reorderWaitMs: 10, initialRttMs: 50 });
    g.onPacket(1, 0);
    g.onPacket(3, 0);
    const times: number[] = [];
    for (let t = 0; t <= 1000; t += 5) if (nacks(g, t).length) times.push(t);
    expect(times).toEqual([10, 60, 110]);
    expect(g.outstanding).toBe(0);
    expect(g.lostForGood).toBe(1);
    expect(g.takeKeyframeNeeded()).toBe(true);
    expect(g.takeKeyframeNeeded()).toBe(false);
    // RTT update changes the spacing; minRetryIntervalMs floors it
    const h = new NackGenerator({ maxRetries: 10, reorderWaitMs: 0, minRetryIntervalMs: 20 });
    h.setRtt(5);
    h.onPacket(1, 0);
    h.onPacket(3, 0);
    const t2: number[] = [];
    for (let t = 0; t <= 70; t += 1) if (nacks(h, t).length) t2.push(t);
    expect(t2).toEqual([0, 20, 40, 60]);
    expect(h.nextDueMs()).toBe(80);
  });

  it('resets on a huge jump instead of NACKing thousands', () => {
    const g = new NackGenerator();
    g.onPacket(100, 0);
    g.onPacket(102, 0);
    expect(g.onPacket(5000, 1)).toBe(NackPacketStatus.Reset);
    expect(g.outstanding).toBe(0);
    expect(nacks(g, 1000)).toEqual([]);
    expect(g.keyframeNeeded).toBe(true);
    expect(g.onPacket(5001, 2)).toBe(NackPacketStatus.New);
    expect(g.highestSeq).toBe(5001);
    // also across the wrap (65000 → 3000 is a forward jump of 4536)
    const h = new NackGenerator();
    h.onPacket(65000, 0);
    expect(h.onPacket(3000, 0)).toBe(NackPacketStatus.Reset);
  });

  it('bounds the outstanding list and ages entries out', () => {
    const g = new NackGenerator({ maxOutstanding: 512 });
    g.onPacket(0, 0);
    g.onPacket(700, 0); // 699 missing, only the newest 512 are kept
    expect(g.outstanding).toBe(512);
    const list = nacks(g, 100);
    expect(list.length).toBe(512);
    expect(list[0]).toBe(700 - 512);
    expect(list[511]).toBe(699);
    // sequence window: 1000 behind the newest are given up
    g.onPacket(1300, 200); // 599 more missing: total would be 1111 → capped at 512 again
    expect(g.outstanding).toBe(512);
    const lost = g.lostForGood;
    for (let s = 1301; s <= 2300; s++) g.onPacket(s, 300); // 1299 falls out when 2300 arrives
    expect(g.outstanding).toBe(0);
    expect(g.lostForGood).toBe(lost + 512);
    // time window
    const h = new NackGenerator({ maxAgeMs: 500, maxRetries: 100 });
    h.onPacket(1, 0);
    h.onPacket(3, 0);
    expect(nacks(h, 400)).toEqual([2]);
    expect(nacks(h, 501)).toEqual([]);
    expect(h.outstanding).toBe(0);
  });
});

describe('RTX (RFC 4588)', () => {
  const original = rtp({
    pt: 96,
    marker: true,
    seq: 0xfffe,
    ts: 123456789,
    ssrc: 0x11111111,
    csrcs: [7],
    ext: { profile: EXT_PROFILE_ONE_BYTE, data: [0x31, 0xab, 0xcd, 0x00] },
    payload: [1, 2, 3, 4, 5, 6],
  });

  it('wraps and unwraps', () => {
    const rtx = new Uint8Array(1500);
    const n = rtxWrap(original, 0, original.length, rtx, 0, 97, 0x22222222, 500);
    expect(n).toBe(original.length + 2);
    const v = new RtpHeaderView();
    expect(v.parse(rtx, 0, n)).toBe(true);
    expect(v).toMatchObject({ payloadType: 97, ssrc: 0x22222222, sequenceNumber: 500, timestamp: 123456789, marker: true, csrcCount: 1 });
    expect(rtxOriginalSeq(rtx, v)).toBe(0xfffe);
    expect(v.findExtension(rtx, 3)).toBeGreaterThan(0);
    const back = new Uint8Array(1500);
    const m = rtxUnwrap(rtx, 0, n, back, 10, 96, 0x11111111);
    expect(m).toBe(original.length);
    expect(Buffer.from(back.subarray(10, 10 + m)).equals(Buffer.from(original))).toBe(true);
  });

  it('works in place and drops padding', () => {
    const buf = new Uint8Array(1500);
    const padded = rtp({ pt: 96, seq: 9, ts: 1, ssrc: 2, payload: [9, 8, 7], padding: 4 });
    buf.set(padded);
    const n = rtxWrap(buf, 0, padded.length, buf, 0, 97, 3, 4);
    expect(n).toBe(12 + 2 + 3);
    expect(Array.from(buf.subarray(12, n))).toEqual([0, 9, 9, 8, 7]);
    expect(buf[0] & 0x20).toBe(0);
    const m = rtxUnwrap(buf, 0, n, buf, 0, 96, 2);
    expect(m).toBe(15);
    const v = new RtpHeaderView();
    expect(v.parse(buf, 0, m)).toBe(true);
    expect(v).toMatchObject({ sequenceNumber: 9, payloadType: 96, ssrc: 2, payloadLength: 3 });
    expect(Array.from(buf.subarray(12, 15))).toEqual([9, 8, 7]);
  });

  it('rejects padding-only RTX probes, garbage and small buffers', () => {
    const probe = rtp({ pt: 97, seq: 1, payload: [], padding: 200 });
    expect(rtxUnwrap(probe, 0, probe.length, new Uint8Array(1500), 0, 96, 1)).toBe(-1);
    expect(rtxUnwrap(new Uint8Array(5), 0, 5, new Uint8Array(1500), 0, 96, 1)).toBe(-1);
    expect(rtxWrap(original, 0, original.length, new Uint8Array(original.length + 1), 0, 97, 1, 1)).toBe(-1);
  });
});
