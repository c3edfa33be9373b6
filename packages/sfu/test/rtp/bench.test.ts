/**
 * Micro-benchmarks of the per-packet paths. Prints ns/op and the number of young-generation GCs (scavenges) observed
 * during each loop (0 means the loop allocated too little to trigger one). Timings are printed, not asserted.
 */
import { PerformanceObserver, constants, performance } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import {
  NackGenerator,
  PacketHistory,
  RtcpKind,
  RtcpReader,
  RtcpReportBlock,
  RtpExtensionWriter,
  RtpHeaderView,
  Vp8Descriptor,
  Vp8Munger,
  h264IsKeyframe,
  remapExtensionIds,
  setSequenceNumber,
  setSsrc,
  setTimestamp,
  vp8WriteKeyIdx,
  vp8WritePictureId,
  vp8WriteTl0PicIdx,
  writeNack,
  writePli,
  writeReceiverReport,
  writeRtpHeader,
  writeSenderReport,
} from '../../src/rtp/index.js';

// Vitest's module transform turns every call of an imported binding into a getter call on the module namespace
// (≈ tens of ns each); bind the hot functions locally so the figures reflect the code, not the test harness.
// (Calls between the modules under test still pay it here; a plain `node` run of the compiled output is faster.)
const fSetSeq = setSequenceNumber;
const fSetTs = setTimestamp;
const fSetSsrc = setSsrc;
const fRemap = remapExtensionIds;
const fWritePid = vp8WritePictureId;
const fWriteTl0 = vp8WriteTl0PicIdx;
const fWriteKeyIdx = vp8WriteKeyIdx;
const fH264Key = h264IsKeyframe;

/** Start times (performance.now() timeline) of observed young-generation GCs. */
const scavengeTimes: number[] = [];
const obs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
    if (kind === constants.NODE_PERFORMANCE_GC_MINOR) scavengeTimes.push(e.startTime);
  }
});

const WARMUP = 200_000;
type Result = { ns: number; gcs: number };

/** `run(from, to)` holds its own loop, so the harness adds no per-op call overhead. */
async function bench(name: string, n: number, run: (from: number, to: number) => void): Promise<Result> {
  run(0, WARMUP); // JIT warm-up
  await new Promise((r) => setTimeout(r, 20));
  const p0 = performance.now();
  const t0 = process.hrtime.bigint();
  run(WARMUP, WARMUP + n);
  const ns = Number(process.hrtime.bigint() - t0) / n;
  const p1 = performance.now();
  await new Promise((r) => setTimeout(r, 50)); // let GC entries arrive
  // only GCs that started while the loop ran (the harness may allocate while we wait)
  const gcs = scavengeTimes.filter((t) => t >= p0 && t <= p1).length;
  console.log(`[rtp bench] ${name.padEnd(56)} ${ns.toFixed(1).padStart(7)} ns/op   scavenges: ${gcs} / ${n} ops`);
  return { ns, gcs };
}

/** A 1200-byte VP8 packet with a one-byte extension block (abs-send-time, transport-cc, one more element). */
function buildVideoPacket(): Uint8Array {
  const buf = new Uint8Array(1200);
  writeRtpHeader(buf, 0, 96, 1000, 90000, 0x11223344, false);
  const w = new RtpExtensionWriter();
  w.begin(buf, 0, false);
  w.addUint24(2, 0x123456);
  w.addUint16(3, 1);
  w.addUint8(4, 0x55);
  const hdr = w.end();
  buf.set([0x90, 0xe0, 0x80, 0x10, 0x05, 0x40, 0x01], hdr); // X S | I L T | M pid 0x10 | tl0 5 | tid 1 | P=1
  return buf;
}

describe('rtp micro-benchmarks', () => {
  it('prints ns/op for the per-packet paths', async () => {
    obs.observe({ entryTypes: ['gc'] });
    const res: Record<string, Result> = {};

    // 1. Header parse + seq/ts/ssrc rewrite + extension id remap on a 1200-byte packet
    {
      const pkt = buildVideoPacket();
      const v = new RtpHeaderView();
      const map = new Uint8Array(256);
      map[2] = 5;
      map[5] = 2; // ids 2 and 5 swap back and forth
      map[3] = 3;
      map[4] = 4;
      let kept = 0;
      res.rewrite = await bench('parse + rewrite seq/ts/ssrc + remap ext ids (1200 B)', 5_000_000, (from, to) => {
        for (let i = from; i < to; i++) {
          if (!v.parse(pkt, 0, 1200)) throw new Error('parse');
          fSetSeq(pkt, 0, (v.sequenceNumber + 1) & 0xffff);
          fSetTs(pkt, 0, (v.timestamp + 3000) >>> 0);
          fSetSsrc(pkt, 0, 0xaabbccdd ^ (i & 1));
          kept += fRemap(pkt, v.extOffset, v.extLength, v.extProfile, map);
        }
      });
      expect(kept).toBe(3 * (WARMUP + 5_000_000));
    }

    // 2. PacketHistory
    {
      const h = new PacketHistory();
      const pkt = buildVideoPacket();
      res.historyWhole = await bench('PacketHistory.insert 1200 B (whole-buffer source)', 2_000_000, (from, to) => {
        for (let i = from; i < to; i++) h.insert(i & 0xffff, pkt, 0, 1200, i);
      });
      const big = new Uint8Array(2000);
      big.set(pkt, 100);
      res.historySub = await bench('PacketHistory.insert 1200 B (sub-range source: 1 view)', 2_000_000, (from, to) => {
        for (let i = from; i < to; i++) h.insert(i & 0xffff, big, 100, 1200, i);
      });
      const dst = new Uint8Array(1500);
      const hi = h.highestSeq;
      let found = 0;
      res.historyGet = await bench('PacketHistory.copyTo 1200 B (NACK path: 1 view)', 2_000_000, (from, to) => {
        for (let i = from; i < to; i++) if (h.copyTo((hi - (i & 511)) & 0xffff, dst, 0) === 1200) found++;
      });
      expect(found).toBe(WARMUP + 2_000_000);
    }

    // 3. VP8 descriptor parse + munge + rewrite (every 4th frame dropped as a temporal layer)
    {
      const pkt = buildVideoPacket();
      const v = new RtpHeaderView();
      v.parse(pkt, 0, 1200);
      const off = v.payloadOffset;
      const d = new Vp8Descriptor();
      const m = new Vp8Munger();
      pkt[off + 6] = 0x00; // first packet: keyframe
      d.parse(pkt, off, 1200 - off);
      m.process(0, d, false);
      pkt[off + 6] = 0x01;
      let pid = 0x10;
      let fwd = 0;
      res.vp8 = await bench('VP8 descriptor parse + munge + rewrite (2 pkts/frame)', 5_000_000, (from, to) => {
        for (let i = from; i < to; i++) {
          if ((i & 1) === 0) pid = (pid + 1) & 0x7fff;
          pkt[off + 2] = 0x80 | (pid >> 8); // the incoming PictureID
          pkt[off + 3] = pid & 0xff;
          d.parse(pkt, off, 1200 - off);
          if (m.process(0, d, (pid & 3) === 3)) {
            fWritePid(pkt, d, m.pictureId);
            fWriteTl0(pkt, d, m.tl0PicIdx);
            fWriteKeyIdx(pkt, d, m.keyIdx);
            fwd++;
          }
        }
      });
      expect(fwd).toBeGreaterThan(0);
    }

    // 4. Extras: NACK generator, H.264 keyframe check, RTCP compound parse
    {
      const g = new NackGenerator();
      const out = new Uint16Array(64);
      res.nack = await bench('NackGenerator.onPacket (1% loss), getNacks every 100', 5_000_000, (from, to) => {
        for (let i = from; i < to; i++) {
          if (i % 100 !== 37) g.onPacket(i & 0xffff, i * 0.1);
          if (i % 100 === 0) g.getNacks(i * 0.1, out);
        }
      });
      const h264 = Uint8Array.from([0x78, 0x00, 0x02, 0x09, 0xf0, 0x00, 0x03, 0x41, 0x9a, 0x02]);
      let keys = 0;
      res.h264 = await bench('h264IsKeyframe (STAP-A, 2 NALs)', 5_000_000, (from, to) => {
        for (let i = from; i < to; i++) if (fH264Key(h264, 0, h264.length)) keys++;
      });
      expect(keys).toBe(0);
      const buf = new Uint8Array(300);
      const blocks = [new RtcpReportBlock(), new RtcpReportBlock()];
      let n = writeSenderReport(buf, 0, 1, 2, 3, 4, 5, 6, blocks, 2);
      n += writeReceiverReport(buf, n, 1, blocks, 1);
      n += writeNack(buf, n, 1, 2, [1, 2, 5, 40]);
      n += writePli(buf, n, 1, 2);
      const r = new RtcpReader();
      let k = 0;
      res.rtcp = await bench('RtcpReader: SR(2 blocks)+RR(1)+NACK+PLI compound', 2_000_000, (from, to) => {
        for (let i = from; i < to; i++) {
          r.reset(buf, 0, n);
          while (r.next() !== RtcpKind.End) k++;
        }
      });
      expect(k).toBe(4 * (WARMUP + 2_000_000));
    }
    obs.disconnect();

    // The zero-alloc paths must not trigger young-generation GCs over millions of iterations.
    for (const key of ['rewrite', 'historyWhole', 'vp8', 'nack', 'h264', 'rtcp']) {
      expect(res[key].gcs, key).toBeLessThanOrEqual(1);
    }
  }, 120_000);
});
