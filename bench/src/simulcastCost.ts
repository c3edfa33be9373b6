// What one subscriber costs on a simulcast track compared with a plain one. Kite's Receiver is fed in-process with
// VP8-like packets — one layer (plain) or three (q/h/f, the subscriber forwards f) — and Kite's CPU is measured with
// 0 and N subscribers: (CPU with N − CPU with 0) / N is the cost of a subscriber, the feed itself cancels out.
import { CodecKind, Receiver, rtp } from '@kite/sfu';
import { cpuSeconds } from './common.js';
import { connectSubscribers } from './subscribers.js';

interface LayerFeed {
  layer: number;
  ssrc: number;
  pps: number;
  packetsPerFrame: number;
  seq: number;
  ts: number;
  pictureId: number;
  frame: number;
  inFrame: number;
  credit: number;
  buf: Buffer;
}

const PAYLOAD = 1100;
const FPS = 30;
const GOP = 60;

function layerFeed(layer: number, pps: number): LayerFeed {
  return { layer, ssrc: 0x1000 + layer, pps, packetsPerFrame: Math.max(1, Math.round(pps / FPS)), seq: 100, ts: 1000, pictureId: 1, frame: 0, inFrame: 0, credit: 0, buf: Buffer.alloc(12 + PAYLOAD) };
}

/** Feeds the receiver every 5 ms the way PublisherIngest does (history, stats, then the sinks). */
function startFeed(receiver: Receiver, layers: LayerFeed[]): () => void {
  const view = new rtp.RtpHeaderView();
  const timer = setInterval(() => {
    const now = Date.now();
    for (const f of layers) {
      f.credit += (f.pps * 5) / 1000;
      while (f.credit >= 1) {
        f.credit--;
        const first = f.inFrame === 0;
        const last = f.inFrame === f.packetsPerFrame - 1;
        const key = f.frame % GOP === 0;
        const b = f.buf;
        b[0] = 0x80;
        b[1] = (last ? 0x80 : 0) | 96;
        b.writeUInt16BE(f.seq, 2);
        b.writeUInt32BE(f.ts, 4);
        b.writeUInt32BE(f.ssrc, 8);
        b[12] = first ? 0x90 : 0x80; // X, S on the first packet of a frame
        b[13] = 0x80; // I: PictureID
        b[14] = 0x80 | ((f.pictureId >> 8) & 0x7f);
        b[15] = f.pictureId & 0xff;
        b[16] = key && first ? 0x00 : 0x01;
        view.parse(b, 0, b.length);
        const sb = receiver.layerBuffer(f.layer, f.ssrc, 90000);
        if (sb.onPacket(b, b.length, f.seq, f.ts, now, key && first, false, last)) receiver.onPacket(sb, b, b.length, view, key && first, now);
        f.seq = (f.seq + 1) & 0xffff;
        f.inFrame++;
        if (last) {
          f.inFrame = 0;
          f.frame++;
          f.pictureId = (f.pictureId + 1) & 0x7fff;
          f.ts = (f.ts + 90000 / FPS) >>> 0;
        }
      }
    }
  }, 5);
  return () => clearInterval(timer);
}

async function measure(simulcast: boolean, subscribers: number, seconds: number): Promise<{ cpu: number; forwarded: number }> {
  const receiver = new Receiver({
    trackSid: 'TR_bench',
    kind: 'video',
    codecs: [{ mime: 'video/VP8', kind: CodecKind.VP8, payloadType: 96, clockRate: 90000, fmtp: '', rtxPayloadType: 97 }],
    extensions: { audioLevel: 0, dependencyDescriptor: 0, videoOrientation: 0 },
    simulcast,
    sendPli: () => undefined,
  });
  // f ≈ 5.3 Mbit/s, h ≈ 1.8, q ≈ 0.8 (the ratios Chrome's 720p simulcast uses, scaled up so the cost shows).
  const layers = simulcast ? [layerFeed(0, 90), layerFeed(1, 210), layerFeed(2, 600)] : [layerFeed(0, 600)];
  const stop = startFeed(receiver, layers);
  const subs = await connectSubscribers(receiver, subscribers);
  await new Promise((r) => setTimeout(r, 2500)); // a keyframe (every 2 s), JIT
  const s0 = subs.sent();
  const c0 = cpuSeconds();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const c1 = cpuSeconds();
  const s1 = subs.sent();
  stop();
  await subs.close();
  receiver.close();
  return { cpu: (c1 - c0) / seconds, forwarded: (s1 - s0) / seconds };
}

export interface SimulcastCostResult {
  subscribers: number;
  /** CPU (core-µs per second) one subscriber adds, plain and simulcast. */
  plainUsPerSecond: number;
  simulcastUsPerSecond: number;
  /** The same per packet it forwards. */
  plainUsPerForwarded: number;
  simulcastUsPerForwarded: number;
}

export async function runSimulcastCost(subscribers: number, seconds: number): Promise<SimulcastCostResult> {
  const plain0 = await measure(false, 0, seconds);
  const plainN = await measure(false, subscribers, seconds);
  const sim0 = await measure(true, 0, seconds);
  const simN = await measure(true, subscribers, seconds);
  const per = (n: { cpu: number }, z: { cpu: number }) => ((n.cpu - z.cpu) * 1e6) / subscribers;
  const plainUs = per(plainN, plain0);
  const simUs = per(simN, sim0);
  return {
    subscribers,
    plainUsPerSecond: plainUs,
    simulcastUsPerSecond: simUs,
    plainUsPerForwarded: plainUs / (plainN.forwarded / subscribers),
    simulcastUsPerForwarded: simUs / (simN.forwarded / subscribers),
  };
}
