import { describe, expect, it } from 'vitest';
import {
  GenericNack,
  ReceiverEstimatedMaxBitrate,
  RtcpPacketConverter,
  RtcpPayloadSpecificFeedback,
  RtcpRrPacket,
  RtcpSrPacket,
  RtcpTransportLayerFeedback,
} from 'werift';
import {
  NackIterator,
  NtpTime,
  RtcpKind,
  RtcpReader,
  RtcpReportBlock,
  compactNtpToMs,
  expandNack,
  msToCompactNtp,
  msToNtp,
  ntpMiddle32,
  ntpToMs,
  rttFromReport,
  writeBye,
  writeFir,
  writeNack,
  writePli,
  writeReceiverReport,
  writeRemb,
  writeSdesCname,
  writeSenderReport,
} from '../../src/rtp/index.js';
import { be16, be32, randInt, randomBytes, rng, u8 } from './helpers.js';

const BLOCK = [
  ...be32(0x11223344), // ssrc
  0x40, // fraction lost 64/256
  0xff, 0xff, 0xfe, // cumulative lost −2 (24-bit signed)
  ...be32(0x0001fffe), // extended highest seq
  ...be32(1234), // jitter
  ...be32(0xaabbccdd), // LSR
  ...be32(0x00010000), // DLSR (1 s)
];

function collect(buf: Uint8Array): number[] {
  const r = new RtcpReader().reset(buf);
  const kinds: number[] = [];
  for (let k = r.next(); k !== RtcpKind.End; k = r.next()) kinds.push(k);
  return kinds;
}

describe('RtcpReader on hand-built packets', () => {
  it('parses a compound SR + RR + SDES + BYE', () => {
    const sr = u8(0x81, 200, ...be16(12), ...be32(0xdeadbeef), ...be32(0xe5f1a2b3), ...be32(0x80000000), ...be32(90000), ...be32(100), ...be32(120000), BLOCK);
    const rr = u8(0x81, 201, ...be16(7), ...be32(0x01020304), BLOCK);
    const sdes = u8(0x81, 202, ...be16(3), ...be32(0xdeadbeef), 1, 3, 0x61, 0x62, 0x63, 0, 0, 0);
    const bye = u8(0x82, 203, ...be16(3), ...be32(1), ...be32(2), 3, 0x62, 0x79, 0x65);
    const buf = u8(sr, rr, sdes, bye);
    const r = new RtcpReader().reset(buf);
    expect(r.next()).toBe(RtcpKind.SenderReport);
    expect(r.sr).toMatchObject({ ssrc: 0xdeadbeef, ntpSec: 0xe5f1a2b3, ntpFrac: 0x80000000, rtpTimestamp: 90000, packetCount: 100, octetCount: 120000, reportCount: 1 });
    expect({ ...r.sr.reports[0] }).toEqual({
      ssrc: 0x11223344,
      fractionLost: 64,
      cumulativeLost: -2,
      highestSeq: 0x1fffe,
      jitter: 1234,
      lastSr: 0xaabbccdd,
      delaySinceLastSr: 0x10000,
    });
    expect(r.next()).toBe(RtcpKind.ReceiverReport);
    expect(r.rr.ssrc).toBe(0x01020304);
    expect(r.rr.reportCount).toBe(1);
    expect(r.rr.reports[0].cumulativeLost).toBe(-2);
    expect(r.next()).toBe(RtcpKind.Sdes);
    expect(r.sdes.firstSsrc).toBe(0xdeadbeef);
    expect(r.next()).toBe(RtcpKind.Bye);
    expect(r.bye.ssrcCount).toBe(2);
    expect(Array.from(r.bye.ssrcs.subarray(0, 2))).toEqual([1, 2]);
    expect(r.bye.reasonLength).toBe(3);
    expect(r.next()).toBe(RtcpKind.End);
    expect(r.malformed).toBe(false);
  });

  it('parses Generic NACK and expands PID/BLP', () => {
    // PID 100 BLP 0b101 → 100, 101, 103; PID 65535 BLP 0x8001 → 65535, 0, 15
    const nack = u8(0x81, 205, ...be16(4), ...be32(1), ...be32(2), ...be16(100), ...be16(0b101), ...be16(65535), ...be16(0x8001));
    const r = new RtcpReader().reset(nack);
    expect(r.next()).toBe(RtcpKind.Nack);
    expect(r.nack.senderSsrc).toBe(1);
    expect(r.nack.mediaSsrc).toBe(2);
    expect(r.nack.pairCount).toBe(2);
    const it = new NackIterator().reset(r.buf, r.nack.fciOffset, r.nack.fciLength);
    const got: number[] = [];
    for (let s = it.next(); s >= 0; s = it.next()) got.push(s);
    expect(got).toEqual([100, 101, 103, 65535, 0, 15]);
    const out = new Uint16Array(64);
    const n = expandNack(r.buf, r.nack.fciOffset, r.nack.fciLength, out);
    expect(Array.from(out.subarray(0, n))).toEqual(got);
    expect(expandNack(r.buf, r.nack.fciOffset, r.nack.fciLength, new Uint16Array(2))).toBe(2);
  });

  it('parses transport-cc (raw FCI), PLI, FIR, REMB and skips unknown types', () => {
    const twcc = u8(0x8f, 205, ...be16(4), ...be32(1), ...be32(2), 0, 1, 0, 2, 0, 0, 0, 0);
    const pli = u8(0x81, 206, ...be16(2), ...be32(3), ...be32(4));
    const fir = u8(0x84, 206, ...be16(6), ...be32(5), ...be32(0), ...be32(0xabcdef01), 7, 0, 0, 0, ...be32(0x12345678), 8, 0, 0, 0);
    // REMB: 2 SSRCs, exp 3, mantissa 0x12345 → 0x12345 × 8 bits/s
    const remb = u8(0x8f, 206, ...be16(6), ...be32(9), ...be32(0), 0x52, 0x45, 0x4d, 0x42, 2, (3 << 2) | 0x01, 0x23, 0x45, ...be32(10), ...be32(11));
    const xr = u8(0x80, 207, ...be16(1), ...be32(12));
    const r = new RtcpReader().reset(u8(twcc, pli, fir, remb, xr));
    expect(r.next()).toBe(RtcpKind.TransportCc);
    expect(r.transportCc.fciOffset).toBe(12);
    expect(r.transportCc.fciLength).toBe(8);
    expect(r.transportCc.mediaSsrc).toBe(2);
    expect(r.next()).toBe(RtcpKind.Pli);
    expect(r.pli.senderSsrc).toBe(3);
    expect(r.pli.mediaSsrc).toBe(4);
    expect(r.next()).toBe(RtcpKind.Fir);
    expect(r.fir.entryCount).toBe(2);
    expect(r.fir.ssrcs[0]).toBe(0xabcdef01);
    expect(r.fir.seqNrs[0]).toBe(7);
    expect(r.fir.ssrcs[1]).toBe(0x12345678);
    expect(r.fir.seqNrs[1]).toBe(8);
    expect(r.next()).toBe(RtcpKind.Remb);
    expect(r.remb.bitrate).toBe(0x12345 * 8);
    expect(r.remb.ssrcCount).toBe(2);
    expect(Array.from(r.remb.ssrcs.subarray(0, 2))).toEqual([10, 11]);
    expect(r.next()).toBe(RtcpKind.Other);
    expect(r.packetType).toBe(207);
    expect(r.next()).toBe(RtcpKind.End);
  });

  it('handles padding, inconsistent bodies and broken framing', () => {
    // RR with P bit: 4 bytes of padding at the end of an 8+4 byte packet
    const padded = u8(0xa0, 201, ...be16(2), ...be32(77), 0, 0, 0, 4);
    let r = new RtcpReader().reset(padded);
    expect(r.next()).toBe(RtcpKind.ReceiverReport);
    expect(r.rr.ssrc).toBe(77);
    expect(r.packetLength).toBe(8);
    // SR claiming 2 report blocks but sized for 0: skipped, iteration continues
    const badSr = u8(0x82, 200, ...be16(6), ...new Array(24).fill(0));
    const pli = u8(0x81, 206, ...be16(2), ...be32(3), ...be32(4));
    r = new RtcpReader().reset(u8(badSr, pli));
    expect(r.next()).toBe(RtcpKind.Pli);
    expect(r.skipped).toBe(1);
    // length beyond the buffer: stop, malformed
    const long = u8(0x81, 206, ...be16(20), ...be32(3), ...be32(4));
    r = new RtcpReader().reset(u8(pli, long));
    expect(r.next()).toBe(RtcpKind.Pli);
    expect(r.next()).toBe(RtcpKind.End);
    expect(r.malformed).toBe(true);
    // wrong version
    expect(collect(u8(0x41, 206, ...be16(2), ...be32(3), ...be32(4)))).toEqual([]);
    // truncated header
    expect(collect(u8(0x81, 206))).toEqual([]);
    expect(collect(new Uint8Array(0))).toEqual([]);
    // 'REMB' identifier missing → Other
    expect(collect(u8(0x8f, 206, ...be16(4), ...be32(1), ...be32(0), 0x41, 0x42, 0x43, 0x44, 0, 0, 0, 0))).toEqual([RtcpKind.Other]);
  });
});

describe('RTCP builders', () => {
  const buf = new Uint8Array(1500);

  function block(i: number): RtcpReportBlock {
    const b = new RtcpReportBlock();
    b.ssrc = 1000 + i;
    b.fractionLost = i * 3;
    b.cumulativeLost = i % 2 ? -i * 100 : i * 1000;
    b.highestSeq = 0x10000 * i + 5;
    b.jitter = i * 7;
    b.lastSr = 0xabcd0000 + i;
    b.delaySinceLastSr = i * 65536;
    return b;
  }

  it('SR with report blocks round-trips (ours and werift)', () => {
    const blocks = [block(1), block(2), block(3)];
    const n = writeSenderReport(buf, 0, 0xcafe, 0xe0000001, 0x40000000, 123456, 10, 20000, blocks, 3);
    expect(n).toBe(28 + 72);
    const r = new RtcpReader().reset(buf, 0, n);
    expect(r.next()).toBe(RtcpKind.SenderReport);
    expect(r.sr).toMatchObject({ ssrc: 0xcafe, ntpSec: 0xe0000001, ntpFrac: 0x40000000, rtpTimestamp: 123456, packetCount: 10, octetCount: 20000, reportCount: 3 });
    for (let i = 0; i < 3; i++) expect({ ...r.sr.reports[i] }).toEqual({ ...blocks[i] });
    const w = RtcpPacketConverter.deSerialize(Buffer.from(buf.subarray(0, n)));
    expect(w[0]).toBeInstanceOf(RtcpSrPacket);
    const sr = w[0] as RtcpSrPacket;
    expect(sr.ssrc).toBe(0xcafe);
    expect(sr.senderInfo.ntpTimestamp).toBe((0xe0000001n << 32n) | 0x40000000n);
    expect(sr.reports[2].highestSequence).toBe(blocks[2].highestSeq);
    expect(sr.reports[1].jitter).toBe(14);
  });

  it('RR round-trips; cumulative lost is clamped to 24 bits', () => {
    const b = block(4);
    b.cumulativeLost = 1e9;
    const n = writeReceiverReport(buf, 4, 99, [b], 1);
    expect(n).toBe(32);
    const r = new RtcpReader().reset(buf, 4, n);
    expect(r.next()).toBe(RtcpKind.ReceiverReport);
    expect(r.rr.reports[0].cumulativeLost).toBe(0x7fffff);
    const w = RtcpPacketConverter.deSerialize(Buffer.from(buf.subarray(4, 4 + n)))[0] as RtcpRrPacket;
    expect(w.ssrc).toBe(99);
    expect(w.reports[0].ssrc).toBe(1004);
    expect(writeReceiverReport(buf, 0, 1)).toBe(8);
    expect(writeReceiverReport(new Uint8Array(7), 0, 1)).toBe(-1);
  });

  it('NACK packs PID/BLP as expected, across the wrap', () => {
    const pairs = (lost: number[]): number[][] => {
      const n = writeNack(buf, 0, 1, 2, lost);
      const out: number[][] = [];
      for (let q = 12; q < n; q += 4) out.push([(buf[q] << 8) | buf[q + 1], (buf[q + 2] << 8) | buf[q + 3]]);
      return out;
    };
    expect(pairs([5])).toEqual([[5, 0]]);
    expect(pairs([1, 17])).toEqual([[1, 0x8000]]);
    expect(pairs([1, 18])).toEqual([[1, 0], [18, 0]]);
    expect(pairs([100, 101, 103])).toEqual([[100, 0b101]]);
    expect(pairs([65530, 65531, 65532, 65533, 65534, 65535, 0, 1, 2, 20])).toEqual([
      [65530, 0xff],
      [20, 0],
    ]);
    expect(pairs([65535, 0, 15])).toEqual([[65535, 0x8001]]);
    expect(pairs([7, 7, 8])).toEqual([[7, 1]]);
    const n = writeNack(buf, 0, 0xaaaa, 0xbbbb, [65534, 65535, 0, 40]);
    const w = RtcpPacketConverter.deSerialize(Buffer.from(buf.subarray(0, n)))[0] as RtcpTransportLayerFeedback;
    const g = w.feedback as GenericNack;
    expect(g.senderSsrc).toBe(0xaaaa);
    expect(g.mediaSourceSsrc).toBe(0xbbbb);
    // werift's GenericNack.deSerialize does not reduce PID+i+1 mod 2^16 (it yields 65536 for 0), so mask here.
    expect(g.lost.map((x) => x & 0xffff)).toEqual([65534, 65535, 0, 40]);
    expect(writeNack(buf, 0, 1, 2, [])).toBe(-1);
    expect(writeNack(new Uint8Array(19), 0, 1, 2, [1, 100])).toBe(-1);
  });

  it('NACK property: random lost sets survive write → parse → expand', () => {
    const r = rng(7);
    const out = new Uint16Array(4096);
    const reader = new RtcpReader();
    for (let t = 0; t < 2000; t++) {
      const start = randInt(r, 0, 65536);
      const set: number[] = [];
      let s = start;
      for (let k = randInt(r, 1, 200); k > 0; k--) {
        s += r() < 0.7 ? 1 : randInt(r, 2, 40);
        set.push(s & 0xffff);
      }
      const n = writeNack(buf, 0, 1, 2, set);
      expect(n).toBeGreaterThan(0);
      reader.reset(buf, 0, n);
      expect(reader.next()).toBe(RtcpKind.Nack);
      const m = expandNack(buf, reader.nack.fciOffset, reader.nack.fciLength, out);
      expect(Array.from(out.subarray(0, m))).toEqual(set);
    }
  });

  it('PLI, FIR, REMB, SDES, BYE round-trip', () => {
    let n = writePli(buf, 0, 1, 2);
    let r = new RtcpReader().reset(buf, 0, n);
    expect(r.next()).toBe(RtcpKind.Pli);
    expect([r.pli.senderSsrc, r.pli.mediaSsrc]).toEqual([1, 2]);
    expect(RtcpPacketConverter.deSerialize(Buffer.from(buf.subarray(0, n)))[0]).toBeInstanceOf(RtcpPayloadSpecificFeedback);

    n = writeFir(buf, 0, 3, 0xfeedface, 300);
    r = new RtcpReader().reset(buf, 0, n);
    expect(r.next()).toBe(RtcpKind.Fir);
    expect(r.fir.senderSsrc).toBe(3);
    expect(r.fir.mediaSsrc).toBe(0);
    expect(r.fir.entryCount).toBe(1);
    expect(r.fir.ssrcs[0]).toBe(0xfeedface);
    expect(r.fir.seqNrs[0]).toBe(300 & 0xff);

    for (const bitrate of [0, 1, 0x3ffff, 0x40000, 2_500_000, 123_456_789, 5e12]) {
      n = writeRemb(buf, 0, 4, bitrate, [5, 6, 7]);
      r = new RtcpReader().reset(buf, 0, n);
      expect(r.next()).toBe(RtcpKind.Remb);
      expect(r.remb.ssrcCount).toBe(3);
      expect(r.remb.bitrate).toBeLessThanOrEqual(bitrate);
      expect(r.remb.bitrate).toBeGreaterThan(bitrate * 0.99999 - 1);
      const w = (RtcpPacketConverter.deSerialize(Buffer.from(buf.subarray(0, n)))[0] as RtcpPayloadSpecificFeedback)
        .feedback as ReceiverEstimatedMaxBitrate;
      expect(Number(w.bitrate)).toBe(r.remb.bitrate);
      expect(w.ssrcFeedbacks).toEqual([5, 6, 7]);
    }

    const cname = new TextEncoder().encode('kite-cname');
    n = writeSdesCname(buf, 0, 42, cname);
    expect(n % 4).toBe(0);
    n += writeBye(buf, n, [42, 43]);
    r = new RtcpReader().reset(buf, 0, n);
    expect(r.next()).toBe(RtcpKind.Sdes);
    expect(r.sdes.firstSsrc).toBe(42);
    expect(r.next()).toBe(RtcpKind.Bye);
    expect(Array.from(r.bye.ssrcs.subarray(0, r.bye.ssrcCount))).toEqual([42, 43]);
    expect(r.next()).toBe(RtcpKind.End);
    expect(r.malformed).toBe(false);
  });

  it('builders refuse to overflow', () => {
    expect(writePli(new Uint8Array(11), 0, 1, 2)).toBe(-1);
    expect(writeFir(new Uint8Array(19), 0, 1, 2, 3)).toBe(-1);
    expect(writeRemb(new Uint8Array(23), 0, 1, 1000, [1])).toBe(-1);
    expect(writeSenderReport(new Uint8Array(27), 0, 1, 0, 0, 0, 0, 0)).toBe(-1);
    expect(writeSenderReport(new Uint8Array(100), 0, 1, 0, 0, 0, 0, 0, [], 1)).toBe(-1);
  });
});

describe('NTP helpers', () => {
  it('converts between ms and NTP', () => {
    const t = new NtpTime();
    const ms = Date.UTC(2026, 10, 24, 12, 0, 0, 250);
    msToNtp(ms, t);
    expect(t.sec).toBe(ms / 1000 - 0.25 + 2208988800);
    expect(t.frac).toBe(0x40000000);
    expect(ntpToMs(t.sec, t.frac)).toBe(ms);
    expect(ntpMiddle32(0x12345678, 0x9abcdef0)).toBe(0x56789abc);
    expect(msToCompactNtp(ms)).toBe(ntpMiddle32(t.sec, t.frac));
    expect(compactNtpToMs(0x8000)).toBe(500);
  });

  it('computes RTT from LSR/DLSR', () => {
    const t0 = 1_700_000_000_000;
    const t = msToNtp(t0, new NtpTime());
    const lsr = ntpMiddle32(t.sec, t.frac);
    // receiver held the SR for 30 ms, the path adds 20 ms each way: now = t0 + 20 + 30 + 20
    const dlsr = Math.round((30 * 65536) / 1000);
    expect(rttFromReport(t0 + 70, lsr, dlsr)).toBeCloseTo(40, 0);
    expect(rttFromReport(t0 + 70, 0, dlsr)).toBe(-1);
  });
});

describe('fuzz', () => {
  it('never throws on 30,000 random / mutated compound packets', () => {
    const r = rng(99);
    const reader = new RtcpReader();
    const it = new NackIterator();
    const out = new Uint16Array(512);
    const base = new Uint8Array(400);
    let n = writeSenderReport(base, 0, 1, 2, 3, 4, 5, 6, [new RtcpReportBlock()], 1);
    n += writeNack(base, n, 1, 2, [1, 2, 5, 40]);
    n += writePli(base, n, 1, 2);
    n += writeFir(base, n, 1, 2, 3);
    n += writeRemb(base, n, 1, 1e6, [1, 2]);
    const valid = base.slice(0, n);
    let kinds = 0;
    for (let i = 0; i < 30000; i++) {
      let p: Uint8Array;
      if (i % 3 === 0) p = randomBytes(r, randInt(r, 0, 120));
      else if (i % 3 === 1) {
        p = randomBytes(r, randInt(r, 4, 120));
        p[0] = (p[0] & 0x3f) | 0x80;
        p[1] = 200 + randInt(r, 0, 8);
      } else {
        p = valid.slice(0, randInt(r, 0, valid.length + 1));
        for (let k = randInt(r, 0, 4); k > 0; k--) if (p.length) p[randInt(r, 0, p.length)] = randInt(r, 0, 256);
      }
      reader.reset(p);
      // reference framing check (RFC 3550 §6.1): V=2 and each length within the remaining bytes
      let framingOk = true;
      for (let q = 0; q < p.length; ) {
        if (p.length - q < 4 || p[q] >> 6 !== 2 || (((p[q + 2] << 8) | p[q + 3]) + 1) * 4 > p.length - q) {
          framingOk = false;
          break;
        }
        q += (((p[q + 2] << 8) | p[q + 3]) + 1) * 4;
      }
      for (let k = reader.next(); k !== RtcpKind.End; k = reader.next()) {
        kinds++;
        expect(reader.packetOffset + reader.packetLength).toBeLessThanOrEqual(p.length);
        if (k === RtcpKind.Nack) {
          it.reset(p, reader.nack.fciOffset, reader.nack.fciLength);
          while (it.next() >= 0);
          expandNack(p, reader.nack.fciOffset, reader.nack.fciLength, out);
        }
      }
      expect(reader.malformed).toBe(!framingOk);
    }
    expect(kinds).toBeGreaterThan(1000);
  });
});
