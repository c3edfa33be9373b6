// Simulcast layer switching with real Chrome VP8: recorded q/h/f RTP (test/fixtures, see scripts/record-simulcast.mjs)
// is played in real time into a Receiver; a real DownTrack on a real SubscriberPeer forwards it over loopback (SRTP,
// RTCP) to a stock werift peer while the test changes the down track's layer every 300 ms for 30 s. The subscriber's
// stream must be one decodable stream: continuous sequence numbers, timestamps never going back, VP8 PictureID +1 per
// frame, TL0PICIDX as RFC 7741 says, and a keyframe at every switch. Negative controls break the down track in the
// test (not in src) and expect the checks to notice. Last, one layer with a frame-rate cap (temporal-layer
// filtering) while some packets arrive late: the renumbering that closes the drops must not reuse or skip numbers.
import { afterEach, describe, expect, it } from 'vitest';
import { useAbsSendTime, useDependencyDescriptor, useSdesMid, type RTCPeerConnection } from 'werift';
import { Receiver, SubscriberPeer, negotiatedCodecs, type DownTrack } from '@kite/sfu';
import { LOOPBACK_ICE, clientPc, waitFor } from '../core/helpers.js';
import { DD_URI, VIDEO_ORIENTATION_URI, loadFixture, parseRtp, parseVp8, type Fixture } from './fixture.js';
import { SimulcastFeed, type FedPacket } from './feed.js';
import { analyze, type Analysis, type Category, type ReceivedPacket, type SwitchRequest } from './analyze.js';

const SWITCH_EVERY_MS = 300;
/** 2 → 0 → 1 → 2 → 1 → 0 → 2 …: every ordered pair of different layers, each layer requested ≥ 600 ms apart. */
const PATTERN = [0, 1, 2, 1, 0, 2];

const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function setup(fixture: Fixture) {
  const meta = fixture.meta;
  const codecs = negotiatedCodecs([
    { mimeType: meta.codec.mime, payloadType: meta.codec.payloadType, clockRate: meta.codec.clockRate },
    ...(meta.codec.rtxPayloadType ? [{ mimeType: 'video/rtx', payloadType: meta.codec.rtxPayloadType, clockRate: 90000, parameters: `apt=${meta.codec.payloadType}` }] : []),
  ]);
  let feed: SimulcastFeed | undefined;
  // As PublisherPeer.attachReceiver builds it for the publisher's video m-line.
  const receiver = new Receiver({
    trackSid: 'TR_simulcast',
    kind: 'video',
    codecs,
    extensions: { audioLevel: 0, dependencyDescriptor: fixture.ddId, videoOrientation: meta.headerExtensions[VIDEO_ORIENTATION_URI] ?? 0 },
    simulcast: true,
    sendPli: (ssrc) => feed?.onPli(ssrc),
  });
  feed = new SimulcastFeed(fixture, receiver);

  const subClient: RTCPeerConnection = clientPc({ headerExtensions: { audio: [], video: [useSdesMid(), useAbsSendTime(), useDependencyDescriptor()] } });
  const received: ReceivedPacket[] = [];
  let ddId = 0;
  subClient.onTrack.subscribe((t) => {
    t.onReceiveRtp.subscribe((rtp) => {
      const h = rtp.header;
      const dd = ddId ? h.extensions.find((e) => e.id === ddId)?.payload : undefined;
      received.push({
        at: performance.now(),
        seq: h.sequenceNumber,
        ts: h.timestamp,
        ssrc: h.ssrc,
        marker: h.marker,
        payloadType: h.payloadType,
        payload: Buffer.from(rtp.payload),
        ddFrame: dd && dd.length >= 3 ? (dd[1]! << 8) | dd[2]! : -1,
      });
    });
  });
  let offer: { sdp: string; id: number } | undefined;
  const subscriber = new SubscriberPeer({ media: {}, ice: LOOPBACK_ICE, name: 'sub', sendOffer: (sdp, id) => (offer = { sdp, id }) });
  cleanup.push(() => subClient.close(), () => subscriber.close(), () => feed?.stop(), () => receiver.close());
  const dt: DownTrack = subscriber.subscribe(receiver, { streamId: 'PA_pub|camera', trackId: 'TR_simulcast' });
  await waitFor(() => offer !== undefined, 5000, 'offer');
  await subClient.setRemoteDescription({ type: 'offer', sdp: offer!.sdp });
  await subClient.setLocalDescription(await subClient.createAnswer());
  await subscriber.handleAnswer(subClient.localDescription!.sdp, offer!.id);
  ddId = subClient.getTransceivers()[0]?.headerExtensions.find((e) => e.uri === DD_URI)?.id ?? 0;
  await waitFor(() => subscriber.transport.isConnected && dt.isReady, 10_000, 'subscriber connected');
  return { receiver, feed, dt, received, ddNegotiated: ddId > 0 };
}

interface RunResult {
  analysis: Analysis;
  requests: SwitchRequest[];
  feed: SimulcastFeed;
  dt: DownTrack;
}

/** Plays the fixture, switches every 300 ms for `seconds`, and analyses what the subscriber got. */
async function run(fixture: Fixture, seconds: number, opts: { sabotage?: (dt: DownTrack) => void; answerPli?: boolean } = {}): Promise<RunResult> {
  const s = await setup(fixture);
  opts.sabotage?.(s.dt);
  s.feed.answerPli = opts.answerPli ?? true;
  const serverSwitches: { at: number; layer: number }[] = [];
  s.dt.onLayerChange = (layer) => serverSwitches.push({ at: performance.now(), layer });
  s.feed.start();
  // The down track starts on whatever layer shows up first and settles on the top one (maxLayer is 2 by default).
  // Then wait out the Receiver's per-layer PLI throttle (500 ms) of those start-up keyframe requests: a request it
  // swallows is only repeated by the down track's once-a-second tick, so the first switch would measure start-up.
  await waitFor(() => s.dt.layer === 2 && s.received.length > 0, 10_000, 'forwarding layer 2');
  await sleep(600);
  const requests: SwitchRequest[] = [];
  const t0 = performance.now();
  for (let k = 0; k < Math.round((seconds * 1000) / SWITCH_EVERY_MS); k++) {
    const wait = t0 + k * SWITCH_EVERY_MS - performance.now();
    if (wait > 0) await sleep(wait);
    const layer = PATTERN[k % PATTERN.length]!;
    requests.push({ at: performance.now(), layer });
    s.dt.setMaxLayer(layer);
  }
  await sleep(SWITCH_EVERY_MS);
  s.feed.stop();
  await sleep(300);
  const analysis = analyze(fixture, s.received, s.feed.fed, requests, serverSwitches, { initialLayer: 2, checkDd: fixture.ddId > 0 && s.ddNegotiated });
  return { analysis, requests, feed: s.feed, dt: s.dt };
}

function report(name: string, r: RunResult): void {
  const f = r.analysis.figures;
  const fs = r.feed.stats();
  console.log(
    `[simulcast ${name}] requested ${f.requested} switches: performed ${f.performed}, already there ${f.alreadyThere}, missed ${f.missed}; ` +
      `latency request → first packet of the new layer at the subscriber p50 ${f.latencyP50.toFixed(1)} ms, p95 ${f.latencyP95.toFixed(1)} ms, max ${f.latencyMax.toFixed(1)} ms`,
  );
  console.log(
    `[simulcast ${name}] output ${f.packets} packets (${f.layerPackets.join('/')} from q/h/f), ${f.frames} frames, ${f.keyframes} keyframes, ${f.outputSwitches} switches ` +
      `(down track: ${f.serverSwitches - 1}), ${f.duplicates} duplicates, ${r.dt.stats.retransmits} retransmissions; old layer's frame cut at a switch: ${f.truncatedAtSwitch}; ` +
      `max |timestamp step − arrival gap| at a switch ${f.tsJumpErrorMaxMs} ms`,
  );
  console.log(
    `[simulcast ${name}] feed: ${r.feed.packets} packets in, PLIs q/h/f ${fs.plis.join('/')}, keyframe jumps ${fs.jumps.join('/')}, loops ${fs.loops.join('/')}; ` +
      `frames with a dependency descriptor at the subscriber: ${f.ddFrames}${f.missedDetail.length ? `; missed: ${f.missedDetail.join(', ')}` : ''}`,
  );
  const bad = Object.entries(r.analysis.violations).filter(([, list]) => list.length);
  for (const [c, list] of bad) console.log(`[simulcast ${name}] ${c} violations:\n  ${list.slice(0, 8).join('\n  ')}`);
}

function expectClean(r: RunResult, seconds: number): void {
  const f = r.analysis.figures;
  for (const c of Object.keys(r.analysis.violations) as Category[]) expect(r.analysis.violations[c], `${c} violations`).toEqual([]);
  expect(f.duplicates).toBe(0);
  // Even the q layer alone carries > 20 packets/s; the whole run must have reached the subscriber.
  expect(f.packets).toBeGreaterThan(seconds * 20);
  // ≥ 80 % of the requested switches happen before the next request (300 ms).
  expect(f.performed / (f.requested - f.alreadyThere)).toBeGreaterThanOrEqual(0.8);
  expect(f.outputSwitches).toBeGreaterThanOrEqual(f.performed);
}

describe('simulcast layer switching with recorded Chrome VP8 (PictureID, TL0PICIDX, 3 temporal layers)', () => {
  const fixture = loadFixture('vp8-simulcast');

  it('the fixture is what it claims: three layers 320x180 / 640x360 / 1280x720, 15-bit PictureID, TL0PICIDX', () => {
    expect(fixture.layers.map((l) => `${l.width}x${l.height}`)).toEqual(['320x180', '640x360', '1280x720']);
    expect(fixture.hasPictureId).toBe(true);
    expect(fixture.hasTl0PicIdx).toBe(true);
    for (const l of fixture.layers) {
      expect(l.keyframes).toBeGreaterThanOrEqual(5);
      expect(parseRtp(l.packets[0]!.buf).ssrc).toBe(fixture.meta.layers[l.layer]!.ssrc);
    }
  });

  it('switching every 300 ms for 30 s: one continuous, decodable stream at the subscriber', async () => {
    const r = await run(fixture, 30);
    report('pid', r);
    expectClean(r, 30);
  }, 60_000);

  // Negative controls: the same run, short, with the down track broken on purpose. The checks must catch each.
  type Munger = { process: (source: number, d: { pictureId: number; tl0PicIdx: number; keyIdx: number; isKeyframe: boolean }, drop: boolean) => boolean; pictureId: number; tl0PicIdx: number; keyIdx: number };
  const internals = (dt: DownTrack) => dt as unknown as Record<string, unknown> & { munger: Munger; seqOffset: number; tsOffset: number; switchTo: (...a: unknown[]) => void; write: DownTrack['write'] };
  const passThroughMunger = (dt: DownTrack) => {
    const m = internals(dt).munger;
    m.process = (_source, d) => {
      m.pictureId = d.pictureId;
      m.tl0PicIdx = d.tl0PicIdx;
      m.keyIdx = d.keyIdx;
      return true;
    };
  };
  const noKeyframeGate = (dt: DownTrack) => {
    const x = internals(dt);
    const write = x.write.bind(dt);
    x.write = (sb, buf, len, view, _keyframe, now) => write(sb, buf, len, view, true, now);
  };
  // [name, sabotage, categories that must report, answer keyframe requests]. Without answered PLIs the target layer's
  // next packet is rarely a keyframe, so a missing gate shows at once.
  const controls: [string, (dt: DownTrack) => void, Category[], boolean][] = [
    ['PictureID/TL0PICIDX not munged', passThroughMunger, ['pictureId', 'tl0PicIdx'], true],
    [
      'switching on any packet (neither the down track nor Vp8Munger waits for a keyframe)',
      (dt) => {
        passThroughMunger(dt);
        noKeyframeGate(dt);
      },
      ['keyframe'],
      false,
    ],
    ['the down track switching on any packet (Vp8Munger still waits: its drops leave holes)', noKeyframeGate, ['seq'], false],
    [
      'sequence numbers not re-based at a switch',
      (dt) => {
        const x = internals(dt);
        const switchTo = x.switchTo.bind(dt);
        x.switchTo = (...a) => {
          const keep = x.seqOffset;
          switchTo(...a);
          x.seqOffset = keep;
        };
      },
      ['seq'],
      true,
    ],
    [
      'timestamps not re-based at a switch',
      (dt) => {
        const x = internals(dt);
        const switchTo = x.switchTo.bind(dt);
        x.switchTo = (...a) => {
          const keep = x.tsOffset;
          switchTo(...a);
          x.tsOffset = keep;
        };
      },
      ['timestamp'],
      true,
    ],
  ];
  for (const [name, sabotage, expected, answerPli] of controls) {
    it(`negative control: ${name} is detected`, async () => {
      const r = await run(fixture, 3, { sabotage, answerPli });
      const found = (Object.keys(r.analysis.violations) as Category[]).filter((c) => r.analysis.violations[c].length);
      console.log(`[simulcast control] ${name}: violations in ${found.join(', ') || 'nothing'}; e.g. ${expected.map((c) => r.analysis.violations[c][0]).join(' | ')}`);
      for (const c of expected) expect(r.analysis.violations[c].length, `${c} violations`).toBeGreaterThan(0);
    }, 30_000);
  }
});

describe('simulcast layer switching with recorded Chrome VP8 as Kite negotiates it by default (dependency descriptor, no PictureID)', () => {
  const fixture = loadFixture('vp8-simulcast-dd');

  it('the fixture carries the dependency descriptor and no VP8 PictureID', () => {
    expect(fixture.ddId).toBeGreaterThan(0);
    expect(fixture.hasPictureId).toBe(false);
    expect(fixture.layers.map((l) => `${l.width}x${l.height}`)).toEqual(['320x180', '640x360', '1280x720']);
    for (const l of fixture.layers) expect(l.packets.every((p) => p.ddOffset >= 0)).toBe(true);
  });

  it('switching every 300 ms for 15 s: continuous stream, DD frame numbers never go back', async () => {
    const r = await run(fixture, 15);
    report('dd', r);
    expect(r.analysis.figures.ddFrames).toBe(r.analysis.figures.frames);
    expectClean(r, 15);
  }, 45_000);
});

describe('temporal-layer filtering (setMaxFps) on one layer with packets arriving late (recorded Chrome VP8, TID 0–2)', () => {
  const fixture = loadFixture('vp8-simulcast');
  /**
   * The layer runs at ~20 fps in the pattern TID 0,2,1,2 (TID 2 = half the frames). DownTrack.temporalForFps keeps
   * the lowest TID whose share of the layer's measured rate (TID 0 ¼, TID ≤ 1 ½, all) is ≥ 0.9 × the cap: with 8 fps
   * that is TID ≤ 1 for any measured rate in [14.4, 28.8) fps — wide enough for a busy machine's rate estimates.
   */
  const FPS_CAP = 8;
  const LATE_MS = 10_000;

  /** The subscriber's packets from the first keyframe that starts at or after `t` on (in sequence order: late ones included). */
  function fromKeyframeAfter(received: ReceivedPacket[], t: number): ReceivedPacket[] {
    let last = -1;
    const ext = received.map((r) => {
      let d = (r.seq - (last < 0 ? r.seq : last & 0xffff)) & 0xffff;
      if (d >= 0x8000) d -= 0x10000;
      const e = last < 0 ? r.seq : last + d;
      if (e > last) last = e;
      return e;
    });
    const k = received.findIndex((r) => r.at >= t && parseVp8(r.payload, 0).keyframe);
    return k < 0 ? [] : received.filter((_, i) => ext[i]! >= ext[k]!);
  }

  it(`fps cap ${FPS_CAP} (TID 2 dropped), 2 % of packets late for ${LATE_MS / 1000} s: no number reused, no hole but one per late dropped packet, whole frames, PictureID +1`, async () => {
    const s = await setup(fixture);
    const serverSwitches: { at: number; layer: number }[] = [];
    s.dt.onLayerChange = (layer) => serverSwitches.push({ at: performance.now(), layer });
    s.dt.setMaxLayer(2);
    s.dt.setMaxFps(FPS_CAP);
    s.feed.start();
    await waitFor(() => s.dt.layer === 2 && s.received.length > 0, 10_000, 'forwarding layer 2');
    // Until the layer's frame rate is measured the cap assumes 30 fps (TID 0 only); the once-a-second tick corrects it.
    const cap = () => (s.dt as unknown as { maxTemporal: number }).maxTemporal;
    await waitFor(() => cap() === 1, 5_000, 'the temporal cap at TID 1');
    const t0 = performance.now();
    // Late: one packet in 50 of every layer is held back until 2–5 newer packets of its layer were handed over (some of
    // them dropped already), alternately as reordered plain RTP and as a retransmission recovered through RTX.
    // Layer 2 gets ~16 in 10 s, ~43 % of them TID 2.
    s.feed.deliverLate({ fraction: 0.02, seed: 20_261_125, after: [2, 5], as: 'both' });
    const caps = new Set<number>();
    const poll = setInterval(() => caps.add(cap()), 10);
    await sleep(LATE_MS);
    clearInterval(poll);
    caps.add(cap());
    s.feed.stop();
    await sleep(300);

    // The stream from the first keyframe after late delivery began (before it, the cap was still settling).
    const dropped = (f: FedPacket) => fixture.layers[f.layer]!.packets[f.index]!.vp8.tid > 1;
    const received = fromKeyframeAfter(s.received, t0);
    const a = analyze(fixture, received, s.feed.fed, [], [{ at: t0, layer: 2 }], { initialLayer: 2, checkDd: false, dropped });
    const f = a.figures;
    const lateFed = s.feed.fed[2]!.filter((x) => x.late && x.at >= t0);
    const fedFrames = f.fedTidFrames.reduce((x, y) => x + y, 0);
    console.log(
      `[simulcast fps cap] output ${f.packets} packets, ${f.frames} frames (TID 0/1/2: ${f.tidFrames.join('/')}) of ${fedFrames} fed (${f.fedTidFrames.join('/')}), ` +
        `${f.duplicates} duplicates, ${s.dt.stats.retransmits} retransmissions; late: ${f.lateForwarded} forwarded + ${f.lateDropped} dropped on purpose ` +
        `(layer 2 since the start of late delivery: ${lateFed.length}, ${lateFed.filter((x) => x.retransmission).length} as RTX); ` +
        `holes ${f.holes}, PictureID skips ${f.pictureIdSkips}; temporal cap seen ${[...caps].join(',')}; feed late q/h/f ${s.feed.lateCount.join('/')}`,
    );
    for (const [c, list] of Object.entries(a.violations).filter(([, l]) => l.length)) console.log(`[simulcast fps cap] ${c} violations:\n  ${list.slice(0, 8).join('\n  ')}`);

    expect([...caps], 'temporal cap during the run (the layer\'s measured frame rate left [14.4, 28.8) fps: machine overloaded?)').toEqual([1]);
    expect(serverSwitches.filter((x) => x.at >= t0), 'layer changes during the run').toEqual([]);
    // Same-content duplicates (retransmissions the subscriber asked for) are fine; anything else is a violation:
    // 'seq' — a number received twice with different content, or a gap other than one per dropped packet that arrived
    // late in between; 'source' — a fed TID 0/1 packet missing or out of order; 'frame' — a frame not whole;
    // 'pictureId' — not +1 per frame (+2 only across a dropped frame that arrived entirely late); 'tl0PicIdx', 'timestamp'.
    for (const c of Object.keys(a.violations) as Category[]) expect(a.violations[c], `${c} violations`).toEqual([]);
    // Late delivery really happened, both ways, to forwarded and to dropped packets.
    expect(f.lateForwarded).toBeGreaterThanOrEqual(2);
    expect(f.lateDropped).toBeGreaterThanOrEqual(1);
    expect(lateFed.some((x) => x.retransmission) && lateFed.some((x) => !x.retransmission)).toBe(true);
    // A dropped packet that arrives late leaves one unused number (the packets after it went out already): exactly one
    // hole per such packet, and no other.
    expect(f.holes).toBe(f.lateDropped);
    // TID 2 is gone, TID 0 and 1 are all there: every fed TID 0/1 frame of the span, about half of the frames.
    expect(f.tidFrames[2]).toBe(0);
    expect(f.tidFrames[0]).toBeGreaterThan(0);
    expect(f.tidFrames[1]).toBeGreaterThan(0);
    expect(f.tidFrames.slice(0, 2)).toEqual(f.fedTidFrames.slice(0, 2));
    expect(f.frames / fedFrames).toBeGreaterThan(0.4);
    expect(f.frames / fedFrames).toBeLessThan(0.6);
    expect(f.frames).toBeGreaterThan((LATE_MS / 1000) * 7);
  }, 40_000);
});
