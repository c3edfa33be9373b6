#!/usr/bin/env node
// Records real VP8 simulcast RTP from Debian's Chromium for packages/sfu/test/simulcast (the layer-switching test).
//
//   pnpm build   # the script runs the built server (apps/server/dist)
//   node packages/sfu/scripts/record-simulcast.mjs --strip-dd --scalability L1T3 --seconds 5 --max-bitrate 900000 --name vp8-simulcast
//   node packages/sfu/scripts/record-simulcast.mjs --seconds 4 --max-bitrate 600000 --name vp8-simulcast-dd
//
// How: an in-process Kite server and the official livekit-client in Chromium (playwright-core; the e2e driver page
// e2e/pages/lk.html) publishing its fake 1280x720 camera with LiveKit's default simulcast (rids q/h/f = layers 0/1/2:
// 320x180, 640x360, 1280x720; VP8, livekit-client's default codec). Kite answers with REMB 6 Mbit/s, so all three
// layers run. The recorder taps the publisher's plain (SRTP-decrypted) RTP inside Kite by wrapping
// `participant.publisher.transport.rtpSink` in front of PublisherIngest and, like an encoder answering subscribers'
// keyframe requests, sends a PLI to every layer's SSRC every --pli-ms (250) ms during warm-up and recording (Chrome
// answers about every other one: a keyframe per layer every ~0.45 s).
//
// Options:
//   --strip-dd          remove the dependency descriptor from Kite's answer (in the page, before Chrome applies it).
//                       Chrome 156 sends VP8 *without* PictureID when the DD is negotiated — which Kite does by default
//                       — so the PictureID/TL0PICIDX fixture needs this.
//   --scalability L1T3  sender.setParameters on every simulcast encoding: three temporal layers, so VP8 descriptors
//                       carry TID and TL0PICIDX (livekit-client leaves VP8 at Chrome's default, one temporal layer).
//   --max-bitrate N     the f layer's cap (publishDefaults.videoEncoding.maxBitrate), keeps the fixture small.
//   --seconds N, --warmup-ms N, --pli-ms N, --name NAME
//
// Output (packages/sfu/test/fixtures/):
//   NAME.rtp.gz   gzip of: "KSIM" u8 version=1 u8 layers=3 u16 0, then per packet, in arrival order:
//                 u8 layer (0=q,1=h,2=f) · u32 arrival offset (µs, from the first kept packet) · u16 length ·
//                 the plain RTP packet exactly as Chrome sent it (header extensions kept; IDs in the JSON).
//                 Only the media SSRCs; a packet lost on loopback would be filled from its RTX copy (none so far).
//   NAME.json     facts: options, duration, packets/frames/keyframes/resolution/bitrate per layer, SSRCs, payload
//                 types, the header extension IDs Chrome used (mid 9, rid 10, abs-send-time 2, DD 13 when present),
//                 Chromium and livekit-client versions, Chrome's outbound-rtp stats at the end.
// Each layer is trimmed to whole GOPs: it starts at a keyframe and ends with the frame before a later keyframe, so a
// player can loop it (rebasing seq/ts/PictureID) with a clean keyframe at the join.
import { createServer as createHttpServer } from 'node:http';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { PassThrough } from 'node:stream';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const imp = (p) => import(pathToFileURL(join(root, p)).href);
const { createServer } = await imp('apps/server/dist/index.js');
const { chromium } = await imp('e2e/node_modules/playwright-core/index.mjs');
const { AccessToken } = await imp('e2e/node_modules/livekit-server-sdk/dist/index.js');

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const SECONDS = opt('seconds', 5);
const MAX_BITRATE = opt('max-bitrate', 900_000);
const PLI_MS = opt('pli-ms', 250);
const WARMUP_MS = opt('warmup-ms', 6000);
const STRIP_DD = args.includes('--strip-dd');
const SCALABILITY = args.includes('--scalability') ? args[args.indexOf('--scalability') + 1] : '';
const NAME = args.includes('--name') ? args[args.indexOf('--name') + 1] : 'vp8-simulcast';
const OUT_DIR = join(root, 'packages/sfu/test/fixtures');
const CHROMIUM = process.env.KITE_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--autoplay-policy=no-user-gesture-required',
];
const KEY = 'reckey';
const SECRET = 'record-secret-0123456789-0123456789-abcdef';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (...a) => console.log('[record]', ...a);

// --- static pages: the e2e driver page and livekit-client's ESM build, on 127.0.0.1 (a secure context) ---
const ROOTS = [
  ['/lib/livekit-client/', join(root, 'e2e/node_modules/livekit-client/dist')],
  ['/', join(root, 'e2e/pages')],
];
const web = createHttpServer(async (req, res) => {
  const path = decodeURIComponent((req.url ?? '/').split('?')[0]);
  for (const [prefix, dir] of ROOTS) {
    if (!path.startsWith(prefix)) continue;
    const rel = normalize(path.slice(prefix.length) || 'index.html');
    if (rel.startsWith('..')) break;
    try {
      const body = await readFile(join(dir, rel));
      const type = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript' }[extname(rel)] ?? 'application/octet-stream';
      res.writeHead(200, { 'content-type': type }).end(body);
      return;
    } catch {
      break;
    }
  }
  res.writeHead(404).end();
});
await new Promise((r) => web.listen(0, '127.0.0.1', r));
const webUrl = `http://127.0.0.1:${web.address().port}`;

// --- Kite ---
const kite = await createServer(
  {
    port: 0,
    bind_addresses: ['127.0.0.1'],
    keys: { [KEY]: SECRET },
    logging: { level: 'warn', json: true },
    rtc: { udp_port: 0, tcp_port: 0, node_ip: '127.0.0.1', enable_loopback_candidate: true },
  },
  { logDestination: new PassThrough().resume() },
);
const at = new AccessToken(KEY, SECRET, { identity: 'rec' });
at.addGrant({ roomJoin: true, room: 'record', canPublish: true, canSubscribe: true });
const token = await at.toJwt();

const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
const context = await browser.newContext({ permissions: ['camera', 'microphone'] });
const page = await context.newPage();
page.on('pageerror', (e) => console.error('[page]', e.message));
if (STRIP_DD) {
  // Drop the dependency descriptor from Kite's answer: Chrome then describes VP8 frames the classic way (PictureID).
  await page.addInitScript(() => {
    const DD = /a=extmap:\d+ https:\/\/aomediacodec\.github\.io\/av1-rtp-spec\/#dependency-descriptor-rtp-header-extension\r\n/g;
    const orig = RTCPeerConnection.prototype.setRemoteDescription;
    RTCPeerConnection.prototype.setRemoteDescription = function (desc, ...rest) {
      if (desc?.type === 'answer' && desc.sdp) desc = { type: desc.type, sdp: desc.sdp.replace(DD, '') };
      return orig.call(this, desc, ...rest);
    };
  });
}
await page.goto(`${webUrl}/lk.html`);
await page.waitForFunction(() => window.ready === true);
await page.evaluate(
  ([url, t, ro]) => window.t.connect(url, t, ro),
  [kite.url.replace(/^http/, 'ws'), token, { dynacast: false /* no subscriber here: keep every layer on */, publishDefaults: { simulcast: true, videoCodec: 'vp8', videoEncoding: { maxBitrate: MAX_BITRATE, maxFramerate: 30 } } }],
);
const participant = kite.rooms.getRoom('record')?.getParticipant('rec');
if (!participant) throw new Error('participant not found in Kite');

// Tap: every plain RTP packet the publisher sends, before PublisherIngest sees it.
const captured = [];
let capturing = false;
const transport = participant.publisher.transport;
const ingestSink = transport.rtpSink;
transport.rtpSink = (buf, len) => {
  if (capturing) captured.push({ t: performance.now(), ssrc: buf.readUInt32BE(8), pkt: Buffer.from(buf.subarray(0, len)) });
  ingestSink(buf, len);
};

await page.evaluate(() => window.t.room.localParticipant.setCameraEnabled(true));
if (SCALABILITY) {
  // Temporal layers in every simulcast encoding (e.g. L1T3): VP8 descriptors then carry TID/TL0PICIDX.
  await page.evaluate(async (mode) => {
    for (const pub of window.t.room.localParticipant.trackPublications.values()) {
      if (pub.kind !== 'video' || !pub.track) continue;
      const sender = pub.track.sender;
      const params = sender.getParameters();
      for (const e of params.encodings) e.scalabilityMode = mode;
      await sender.setParameters(params);
    }
  }, SCALABILITY);
}
const chromeVersion = browser.version();
const lkVersion = await page.evaluate(() => window.LK.version);

// The video receiver and its three layers.
let receiver;
for (let i = 0; i < 200 && !receiver?.layers.every(Boolean); i++) {
  await sleep(100);
  receiver = [...participant.tracks.values()].map((t) => t.receiver).find((r) => r?.kind === 'video');
}
if (!receiver?.layers.every(Boolean)) throw new Error(`not all three layers arrived: ${receiver?.layers.map((l) => !!l)}`);
const pli = setInterval(() => {
  for (const sb of receiver.layers) if (sb) participant.publisher.ingest.sendPli(sb.ssrc);
}, PLI_MS);

async function outbound() {
  return page.evaluate(async () => {
    const out = [];
    for (const pub of window.t.room.localParticipant.trackPublications.values()) {
      if (pub.kind !== 'video' || !pub.track) continue;
      const report = await pub.track.sender.getStats();
      report.forEach((s) => {
        if (s.type === 'outbound-rtp')
          out.push({ rid: s.rid, ssrc: s.ssrc, w: s.frameWidth, h: s.frameHeight, fps: s.framesPerSecond, keyFrames: s.keyFramesEncoded, limit: s.qualityLimitationReason, active: s.active, bytes: s.bytesSent, pli: s.pliCount, scalabilityMode: s.scalabilityMode, encoder: s.encoderImplementation });
      });
    }
    return out.sort((a, b) => (a.w ?? 0) - (b.w ?? 0));
  });
}

log(`warming up ${WARMUP_MS} ms (PLI every ${PLI_MS} ms)`);
await sleep(WARMUP_MS);
log('chrome outbound before', JSON.stringify(await outbound()));
capturing = true;
await sleep(SECONDS * 1000 + 1500);
capturing = false;
clearInterval(pli);
const statsAfter = await outbound();
log('chrome outbound after', JSON.stringify(statsAfter));

// Negotiated facts from Kite's side of the publisher connection.
const videoT = transport.pc.getTransceivers().find((t) => t.kind === 'video');
const DD_URI = 'https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension';
// The IDs Chrome uses in the recorded packets (Kite's answer echoes the offer's IDs); without the DD when stripped.
const extensions = Object.fromEntries(videoT.headerExtensions.filter((e) => !(STRIP_DD && e.uri === DD_URI)).map((e) => [e.uri, e.id]));
const codec = receiver.codec;
const layerSsrcs = receiver.layers.map((sb) => sb.ssrc);
const rtxSsrcs = receiver.layers.map((sb) => sb.rtxSsrc);

await context.close();
await browser.close();
await kite.close();
await new Promise((r) => web.close(r));

// --- post-processing ---
function parseRtp(pkt) {
  const cc = pkt[0] & 0x0f;
  let off = 12 + cc * 4;
  if (pkt[0] & 0x10) off += 4 + pkt.readUInt16BE(off + 2) * 4;
  let end = pkt.length;
  if (pkt[0] & 0x20) end -= pkt[pkt.length - 1];
  return { marker: (pkt[1] & 0x80) !== 0, pt: pkt[1] & 0x7f, seq: pkt.readUInt16BE(2), ts: pkt.readUInt32BE(4), ssrc: pkt.readUInt32BE(8), payloadOffset: off, payloadEnd: end };
}
function vp8(pkt, h) {
  let p = h.payloadOffset;
  const b0 = pkt[p++];
  let pid = -1;
  let tl0 = -1;
  let tid = -1;
  let keyIdx = -1;
  let pidBits = 0;
  if (b0 & 0x80) {
    const x = pkt[p++];
    if (x & 0x80) {
      if (pkt[p] & 0x80) {
        pid = ((pkt[p] & 0x7f) << 8) | pkt[p + 1];
        pidBits = 15;
        p += 2;
      } else {
        pid = pkt[p++];
        pidBits = 7;
      }
    }
    if (x & 0x40) tl0 = pkt[p++];
    if (x & 0x30) {
      if (x & 0x20) tid = pkt[p] >> 6;
      if (x & 0x10) keyIdx = pkt[p] & 0x1f;
      p++;
    }
  }
  const start = (b0 & 0x10) !== 0 && (b0 & 0x07) === 0;
  const key = start && (pkt[p] & 0x01) === 0;
  const size = key ? { w: pkt.readUInt16LE(p + 6) & 0x3fff, h: pkt.readUInt16LE(p + 8) & 0x3fff } : undefined;
  return { pid, pidBits, tl0, tid, keyIdx, start, key, size };
}

const t0All = captured.length ? captured[0].t : 0;
const layers = [];
for (let l = 0; l < 3; l++) {
  // Primary packets by extended sequence number (duplicates dropped); holes filled from RTX (OSN in the payload).
  const bySeq = new Map();
  let ext = -1;
  for (const c of captured) {
    if (c.ssrc !== layerSsrcs[l]) continue;
    const h = parseRtp(c.pkt);
    const e = ext < 0 ? h.seq : ext + ((((h.seq - ext) & 0xffff) ^ 0x8000) - 0x8000);
    if (ext < 0 || e > ext) ext = e;
    if (!bySeq.has(e)) bySeq.set(e, { t: c.t, pkt: c.pkt });
  }
  const seqs = [...bySeq.keys()].sort((a, b) => a - b);
  let filled = 0;
  let holes = 0;
  for (let s = seqs[0]; s <= seqs[seqs.length - 1]; s++) {
    if (bySeq.has(s)) continue;
    const rtx = captured.find((c) => {
      if (c.ssrc !== rtxSsrcs[l]) return false;
      const h = parseRtp(c.pkt);
      return h.payloadEnd - h.payloadOffset > 2 && c.pkt.readUInt16BE(h.payloadOffset) === (s & 0xffff);
    });
    if (!rtx) {
      holes++;
      continue;
    }
    const h = parseRtp(rtx.pkt);
    const pkt = Buffer.concat([rtx.pkt.subarray(0, h.payloadOffset), rtx.pkt.subarray(h.payloadOffset + 2, h.payloadEnd)]);
    pkt[0] &= ~0x20;
    pkt[1] = (pkt[1] & 0x80) | codec.payloadType;
    pkt.writeUInt16BE(s & 0xffff, 2);
    pkt.writeUInt32BE(layerSsrcs[l], 8);
    bySeq.set(s, { t: rtx.t, pkt });
    filled++;
  }
  if (holes) throw new Error(`layer ${l}: ${holes} packets lost and not recovered; record again`);
  const all = [...bySeq.keys()].sort((a, b) => a - b).map((s) => bySeq.get(s));
  // Whole GOPs: from the first keyframe to the packet before the last keyframe.
  const keyIdx = all.map((p, i) => (vp8(p.pkt, parseRtp(p.pkt)).key ? i : -1)).filter((i) => i >= 0);
  if (keyIdx.length < 3) throw new Error(`layer ${l}: only ${keyIdx.length} keyframes`);
  layers.push({ packets: all.slice(keyIdx[0], keyIdx[keyIdx.length - 1]), filled });
}
// Common window: all layers end where the shortest one ends (in time), still at a GOP boundary.
const start = Math.min(...layers.map((L) => L.packets[0].t));
const endT = Math.min(...layers.map((L) => L.packets[L.packets.length - 1].t));
for (const L of layers) {
  let cut = L.packets.length;
  for (let i = L.packets.length - 1; i > 0; i--) {
    const h = parseRtp(L.packets[i].pkt);
    if (L.packets[i].t <= endT + 1e-6 && vp8(L.packets[i].pkt, h).key) {
      cut = i;
      break;
    }
  }
  if (L.packets[L.packets.length - 1].t > endT + 1e-6) L.packets = L.packets.slice(0, cut);
}

const chunks = [];
const head = Buffer.alloc(8);
head.write('KSIM', 0, 'latin1');
head[4] = 1;
head[5] = 3;
chunks.push(head);
const merged = layers.flatMap((L, l) => L.packets.map((p) => ({ ...p, layer: l }))).sort((a, b) => a.t - b.t || a.layer - b.layer);
let lastT = 0;
for (const p of merged) {
  const rec = Buffer.alloc(7);
  const us = Math.max(lastT, Math.round((p.t - start) * 1000));
  lastT = us;
  rec[0] = p.layer;
  rec.writeUInt32BE(us, 1);
  rec.writeUInt16BE(p.pkt.length, 5);
  chunks.push(rec, p.pkt);
}
const raw = Buffer.concat(chunks);
const gz = gzipSync(raw, { level: 9 });

const facts = {
  description: 'Real VP8 simulcast RTP from Chromium (livekit-client, fake camera 1280x720, rids q/h/f), tapped as plain RTP inside Kite. Made by packages/sfu/scripts/record-simulcast.mjs.',
  recordedAt: new Date().toISOString(),
  chromium: chromeVersion,
  livekitClient: lkVersion,
  options: { seconds: SECONDS, maxBitrateF: MAX_BITRATE, pliEveryMs: PLI_MS, warmupMs: WARMUP_MS, stripDependencyDescriptor: STRIP_DD, scalabilityMode: SCALABILITY || 'default' },
  format: 'gzip: "KSIM" u8 version u8 layers u16 0; then per packet: u8 layer, u32 arrival offset µs, u16 length, plain RTP bytes',
  file: `${NAME}.rtp.gz`,
  bytes: { raw: raw.length, gzip: gz.length },
  codec: { mime: codec.mime, payloadType: codec.payloadType, clockRate: codec.clockRate, rtxPayloadType: codec.rtxPayloadType },
  headerExtensions: extensions,
  durationMs: Math.round((merged[merged.length - 1].t - start) * 10) / 10,
  layers: layers.map((L, l) => {
    let frames = 0;
    let keyframes = 0;
    let bytes = 0;
    const sizes = new Set();
    const tids = new Set();
    let lastTs = -1;
    for (const p of L.packets) {
      const h = parseRtp(p.pkt);
      const v = vp8(p.pkt, h);
      bytes += p.pkt.length;
      if (h.ts !== lastTs) frames++;
      lastTs = h.ts;
      if (v.key) {
        keyframes++;
        sizes.add(`${v.size.w}x${v.size.h}`);
      }
      tids.add(v.tid);
    }
    const first = parseRtp(L.packets[0].pkt);
    const v0 = vp8(L.packets[0].pkt, first);
    return {
      layer: l,
      rid: ['q', 'h', 'f'][l],
      ssrc: layerSsrcs[l],
      packets: L.packets.length,
      frames,
      keyframes,
      resolution: [...sizes].join(','),
      kbps: Math.round((bytes * 8) / (L.packets[L.packets.length - 1].t - L.packets[0].t)),
      temporalLayers: [...tids].sort(),
      pictureIdBits: v0.pidBits,
      tl0PicIdx: v0.tl0 >= 0,
      keyIdx: v0.keyIdx >= 0,
      firstSeq: first.seq,
      recoveredFromRtx: L.filled,
    };
  }),
  chromeOutbound: statsAfter,
};
await mkdir(OUT_DIR, { recursive: true });
await writeFile(join(OUT_DIR, `${NAME}.rtp.gz`), gz);
await writeFile(join(OUT_DIR, `${NAME}.json`), JSON.stringify(facts, null, 2) + '\n');
log(`wrote ${gz.length} bytes (raw ${raw.length}); ${JSON.stringify(facts.layers)}`);
process.exit(0);
