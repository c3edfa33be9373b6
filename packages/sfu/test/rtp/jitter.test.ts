import { describe, expect, it } from 'vitest';
import {
  JitterEstimator,
  NtpTime,
  ReceiveStats,
  RtcpKind,
  RtcpReader,
  RtcpReportBlock,
  msToNtp,
  rttFromReport,
  writeReceiverReport,
} from '../../src/rtp/index.js';

describe('JitterEstimator (RFC 3550 A.8)', () => {
  it('is 0 for perfectly paced packets, across the timestamp wrap', () => {
    const j = new JitterEstimator(48000);
    let ts = 0xffffffff - 960 * 10;
    for (let i = 0; i < 100; i++) {
      j.update(1000 + i * 20, ts >>> 0);
      ts += 960;
    }
    expect(j.jitter).toBe(0);
  });

  it('follows J += (|D| − J)/16', () => {
    const j = new JitterEstimator(90000);
    // RTP timestamps advance 3000 ticks (33.3 ms) per packet, arrivals 43.3 ms: |D| = 900 ticks at every step
    let expected = 0;
    for (let i = 0; i < 60; i++) {
      j.update((i * 130) / 3, (i * 3000) >>> 0);
      if (i > 0) expected += (900 - expected) / 16;
    }
    expect(j.jitter).toBeCloseTo(expected, 3);
    expect(j.value).toBe(Math.floor(expected));
    expect(j.ms).toBeCloseTo((expected * 1000) / 90000, 6);
  });
});

describe('ReceiveStats', () => {
  it('fills RR blocks: loss fraction per interval, cumulative loss, extended seq, LSR/DLSR', () => {
    const s = new ReceiveStats(90000);
    const b = new RtcpReportBlock();
    expect(s.fillReportBlock(b, 1, 0)).toBe(false);
    let t = 0;
    // 100 packets starting at 65500 (wraps), 10 lost
    for (let i = 0; i < 100; i++) {
      if (i % 10 === 5) continue;
      s.onPacket((65500 + i) & 0xffff, i * 3000, t + i * 10, 1200);
    }
    const ntp = msToNtp(1_700_000_000_000, new NtpTime());
    s.onSenderReport(ntp.sec, ntp.frac, 123, 1000);
    expect(s.fillReportBlock(b, 0xabc, 1500)).toBe(true);
    expect(b.ssrc).toBe(0xabc);
    expect(b.cumulativeLost).toBe(10);
    expect(b.fractionLost).toBe(Math.floor((10 * 256) / 100));
    expect(b.highestSeq).toBe(65536 + ((65500 + 99) & 0xffff));
    expect(b.lastSr).toBe((((ntp.sec & 0xffff) << 16) | (ntp.frac >>> 16)) >>> 0);
    expect(b.delaySinceLastSr).toBe(32768); // 500 ms in 1/65536 s
    // The sender stamped the SR at wall time t0; it arrived 20 ms later (local 1000), the RR left 500 ms after that
    // and took 20 ms back: at the sender now = t0 + 540 and RTT = 540 − 500 = 40 ms.
    expect(rttFromReport(1_700_000_000_000 + 540, b.lastSr, b.delaySinceLastSr)).toBeCloseTo(40, 0);
    expect(s.bytes).toBe(90 * 1200);
    // next interval: no loss
    t = 1000;
    for (let i = 100; i < 150; i++) s.onPacket((65500 + i) & 0xffff, i * 3000, t + i * 10);
    s.fillReportBlock(b, 0xabc, 2500);
    expect(b.fractionLost).toBe(0);
    expect(b.cumulativeLost).toBe(10);
    // the block survives an RR round trip
    const buf = new Uint8Array(64);
    const n = writeReceiverReport(buf, 0, 1, [b], 1);
    const r = new RtcpReader().reset(buf, 0, n);
    expect(r.next()).toBe(RtcpKind.ReceiverReport);
    expect({ ...r.rr.reports[0] }).toEqual({ ...b });
    expect(b.delaySinceLastSr).toBe(98304); // 1.5 s
  });

  it('counts duplicates (negative loss) and ignores reordering for jitter', () => {
    const s = new ReceiveStats(8000);
    const b = new RtcpReportBlock();
    for (let i = 0; i < 10; i++) s.onPacket(i, i * 160, i * 20);
    s.onPacket(5, 5 * 160, 500); // duplicate, very late: must not disturb jitter
    expect(s.jitter.jitter).toBe(0);
    s.fillReportBlock(b, 1, 0);
    expect(b.cumulativeLost).toBe(-1);
    expect(b.fractionLost).toBe(0);
  });

  it('re-syncs after a big jump only when two sequential packets confirm it', () => {
    const s = new ReceiveStats(90000);
    for (let i = 0; i < 10; i++) s.onPacket(1000 + i, 0, i);
    expect(s.onPacket(30000, 0, 20)).toBe(false);
    expect(s.extendedHighestSeq).toBe(1009);
    expect(s.onPacket(1010, 0, 21)).toBe(true);
    expect(s.onPacket(40000, 0, 22)).toBe(false);
    expect(s.onPacket(40001, 0, 23)).toBe(true); // confirmed: restart
    expect(s.extendedHighestSeq).toBe(40001);
    expect(s.expected).toBe(1);
    expect(s.cumulativeLost).toBe(0);
  });
});
