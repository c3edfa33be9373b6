// Checks the stream a subscriber received through a switching DownTrack: is it one decodable, gap-free stream?
// Every packet is traced back to the recorded packet it carries (by its VP8 payload, which Kite does not touch), so
// the source layer of every output packet is known exactly.
import type { FedPacket } from './feed.js';
import { parseVp8, payloadKey, type Fixture } from './fixture.js';

/** One RTP packet as the subscriber's stock werift peer delivered it. */
export interface ReceivedPacket {
  at: number;
  seq: number;
  ts: number;
  ssrc: number;
  marker: boolean;
  payloadType: number;
  /** RTP payload (VP8 descriptor + VP8 data). */
  payload: Buffer;
  /** Dependency descriptor frame number, −1 when absent. */
  ddFrame: number;
}

export interface SwitchRequest {
  at: number;
  layer: number;
}

export type Category = 'seq' | 'ssrc' | 'source' | 'keyframe' | 'frame' | 'timestamp' | 'pictureId' | 'tl0PicIdx' | 'dd' | 'switch';

export interface Analysis {
  violations: Record<Category, string[]>;
  figures: {
    packets: number;
    duplicates: number;
    frames: number;
    keyframes: number;
    requested: number;
    performed: number;
    alreadyThere: number;
    missed: number;
    outputSwitches: number;
    serverSwitches: number;
    latencyP50: number;
    latencyP95: number;
    latencyMax: number;
    truncatedAtSwitch: number;
    tsJumpErrorMaxMs: number;
    layerPackets: number[];
    /** Frames carrying a dependency descriptor. */
    ddFrames: number;
    /** Requests that did not happen before the next one: index, layers, and when the layer finally came. */
    missedDetail: string[];
  };
}

const percentile = (xs: number[], p: number) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

interface Tagged extends ReceivedPacket {
  ext: number;
  layer: number;
  index: number;
  start: boolean;
  keyframe: boolean;
  width: number;
  pictureId: number;
  pictureIdBits: number;
  tl0: number;
  tid: number;
}

export function analyze(
  fixture: Fixture,
  received: ReceivedPacket[],
  fed: FedPacket[][],
  requests: SwitchRequest[],
  serverSwitches: { at: number; layer: number }[],
  opts: { initialLayer: number; checkDd: boolean },
): Analysis {
  const v: Analysis['violations'] = { seq: [], ssrc: [], source: [], keyframe: [], frame: [], timestamp: [], pictureId: [], tl0PicIdx: [], dd: [], switch: [] };
  const add = (c: Category, msg: string) => {
    if (v[c].length < 20) v[c].push(msg);
    else if (v[c].length === 20) v[c].push('…');
  };

  // --- sequence numbers: unwrap in arrival order, sort, deduplicate ---
  let last = -1;
  const byExt = new Map<number, Tagged>();
  let duplicates = 0;
  for (const r of received) {
    let ext: number;
    if (last < 0) ext = r.seq;
    else {
      let d = (r.seq - (last & 0xffff)) & 0xffff;
      if (d >= 0x8000) d -= 0x10000;
      ext = last + d;
    }
    if (last < 0 || ext > last) last = ext;
    const vp8 = parseVp8(r.payload, 0);
    const src = fixture.sourceOfPayload.get(payloadKey(r.payload, vp8.payloadOffset, r.payload.length));
    const t: Tagged = {
      ...r,
      ext,
      layer: src?.layer ?? -1,
      index: src?.index ?? -1,
      start: vp8.start && vp8.partitionId === 0,
      keyframe: vp8.keyframe,
      width: vp8.width,
      pictureId: vp8.pictureId,
      pictureIdBits: vp8.pictureIdBits,
      tl0: vp8.tl0PicIdx,
      tid: vp8.tid,
    };
    const prev = byExt.get(ext);
    if (prev) {
      duplicates++;
      if (!prev.payload.equals(r.payload) || prev.ts !== r.ts) add('seq', `seq ${r.seq} received twice with different content`);
      continue;
    }
    byExt.set(ext, t);
  }
  const pkts = [...byExt.values()].sort((a, b) => a.ext - b.ext);
  if (pkts.length === 0) add('seq', 'nothing received');
  for (let i = 1; i < pkts.length; i++) {
    const gap = pkts[i]!.ext - pkts[i - 1]!.ext;
    if (gap !== 1) add('seq', `gap: ${pkts[i - 1]!.seq} → ${pkts[i]!.seq} (${gap - 1} missing) at output packet ${i}, layers ${pkts[i - 1]!.layer}→${pkts[i]!.layer}`);
  }
  const ssrcs = new Set(pkts.map((p) => p.ssrc));
  if (ssrcs.size !== 1) add('ssrc', `${ssrcs.size} SSRCs: ${[...ssrcs].join(',')}`);

  // --- source of every packet, runs of one layer, keyframe at every switch ---
  for (const p of pkts) if (p.layer < 0) add('source', `seq ${p.seq}: payload matches no recorded packet`);
  const runs: { layer: number; from: number; to: number }[] = [];
  for (let i = 0; i < pkts.length; i++) {
    const p = pkts[i]!;
    if (runs.length && runs[runs.length - 1]!.layer === p.layer) runs[runs.length - 1]!.to = i;
    else runs.push({ layer: p.layer, from: i, to: i });
  }
  for (const [k, run] of runs.entries()) {
    const first = pkts[run.from]!;
    const what = k === 0 ? 'first packet' : `switch ${runs[k - 1]!.layer}→${run.layer}`;
    if (!first.keyframe) add('keyframe', `${what} at seq ${first.seq} is not a VP8 keyframe start (S=${first.start ? 1 : 0}, keyframe=${first.keyframe})`);
    const rec = fixture.layers[run.layer];
    if (first.keyframe && rec && first.width !== rec.width) add('source', `${what}: keyframe ${first.width} wide, layer ${run.layer} is ${rec.width}`);
    // Within a run, the packets are exactly the packets fed on that layer, in order, none skipped.
    const feedLayer = fed[run.layer];
    if (!feedLayer) continue;
    let pos = -1;
    for (let j = feedLayer.length - 1; j >= 0; j--) {
      if (feedLayer[j]!.index === first.index && feedLayer[j]!.at <= first.at + 1) {
        pos = j;
        break;
      }
    }
    if (pos < 0) {
      add('source', `${what}: seq ${first.seq} was never fed`);
      continue;
    }
    for (let i = run.from + 1; i <= run.to; i++) {
      pos++;
      const f = feedLayer[pos];
      if (!f || f.index !== pkts[i]!.index) {
        add('source', `layer ${run.layer} run: output seq ${pkts[i]!.seq} carries recorded packet ${pkts[i]!.index}, expected the next fed packet ${f?.index}`);
        break;
      }
    }
  }

  // --- frames: timestamps, PictureID, TL0PICIDX, dependency descriptor frame numbers ---
  const frames: { from: number; to: number }[] = [];
  for (let i = 0; i < pkts.length; i++) {
    if (i > 0 && pkts[i]!.ts === pkts[i - 1]!.ts && pkts[i]!.layer === pkts[i - 1]!.layer) frames[frames.length - 1]!.to = i;
    else frames.push({ from: i, to: i });
  }
  let truncatedAtSwitch = 0;
  let keyframes = 0;
  let tsJumpErrorMaxMs = 0;
  let lastTl0 = -1;
  for (const [k, f] of frames.entries()) {
    const a = pkts[f.from]!;
    const z = pkts[f.to]!;
    if (a.keyframe) keyframes++;
    const next = frames[k + 1] ? pkts[frames[k + 1]!.from]! : undefined;
    if (!a.start) add('frame', `frame at seq ${a.seq} (layer ${a.layer}) does not start with S=1/PID=0`);
    if (!z.marker && next) {
      if (next.layer !== z.layer) truncatedAtSwitch++;
      else add('frame', `frame at seq ${a.seq} (layer ${a.layer}) has no marker before the next frame of the same layer`);
    }
    for (let i = f.from + 1; i <= f.to; i++) {
      const p = pkts[i]!;
      if (p.pictureId !== a.pictureId) add('pictureId', `frame at seq ${a.seq}: packet ${p.seq} has PictureID ${p.pictureId}, frame ${a.pictureId}`);
      if (p.ddFrame !== a.ddFrame) add('dd', `frame at seq ${a.seq}: packet ${p.seq} has DD frame ${p.ddFrame}, frame ${a.ddFrame}`);
    }
    if (k === 0) {
      lastTl0 = a.tl0;
      continue;
    }
    const prev = pkts[frames[k - 1]!.from]!;
    const switched = prev.layer !== a.layer;
    const dts = (a.ts - prev.ts) >>> 0;
    if (dts === 0 || dts >= 0x80000000) add('timestamp', `frame at seq ${a.seq}: timestamp ${a.ts} not after previous frame's ${prev.ts}${switched ? ` (switch ${prev.layer}→${a.layer})` : ''}`);
    else if (dts > 90_000) add('timestamp', `frame at seq ${a.seq}: timestamp jumps ${Math.round(dts / 90)} ms${switched ? ` (switch ${prev.layer}→${a.layer})` : ''}`);
    if (switched) tsJumpErrorMaxMs = Math.max(tsJumpErrorMaxMs, Math.abs(dts / 90 - (a.at - prev.at)));
    if (fixture.hasPictureId) {
      if (a.pictureIdBits !== 15) add('pictureId', `frame at seq ${a.seq}: ${a.pictureIdBits}-bit PictureID`);
      else if (a.pictureId !== ((prev.pictureId + 1) & 0x7fff))
        add('pictureId', `frame at seq ${a.seq}: PictureID ${a.pictureId} after ${prev.pictureId}${switched ? ` (switch ${prev.layer}→${a.layer})` : ''}`);
    }
    if (fixture.hasTl0PicIdx) {
      // RFC 7741: TL0PICIDX increments by one on every TID 0 frame; higher temporal layers carry the current value.
      const want = a.tid === 0 ? (lastTl0 + 1) & 0xff : lastTl0;
      if (a.tl0 !== want) add('tl0PicIdx', `frame at seq ${a.seq} (TID ${a.tid}): TL0PICIDX ${a.tl0}, expected ${want}${switched ? ` (switch ${prev.layer}→${a.layer})` : ''}`);
      lastTl0 = a.tl0;
    }
    if (opts.checkDd) {
      if (a.ddFrame < 0) add('dd', `frame at seq ${a.seq}: no dependency descriptor`);
      else {
        const d = (a.ddFrame - prev.ddFrame) & 0xffff;
        if (d === 0 || d >= 0x8000) add('dd', `frame at seq ${a.seq}: DD frame number ${a.ddFrame} not after ${prev.ddFrame}${switched ? ` (switch ${prev.layer}→${a.layer})` : ''}`);
      }
    }
  }

  // --- switches: requested vs performed, latency request → first packet of the new layer at the subscriber ---
  const changes = runs.slice(1).map((r) => ({ at: pkts[r.from]!.at, layer: r.layer }));
  const latencies: number[] = [];
  let performed = 0;
  let alreadyThere = 0;
  let missed = 0;
  const missedDetail: string[] = [];
  for (const [i, req] of requests.entries()) {
    const until = requests[i + 1]?.at ?? Infinity;
    // The layer the subscriber was receiving when the request was made.
    let current = opts.initialLayer;
    for (const p of pkts) {
      if (p.at > req.at) break;
      current = p.layer;
    }
    if (current === req.layer) {
      alreadyThere++;
      continue;
    }
    const c = changes.find((x) => x.at >= req.at && x.at < until && x.layer === req.layer);
    if (c) {
      performed++;
      latencies.push(c.at - req.at);
    } else {
      missed++;
      const late = changes.find((x) => x.at >= req.at && x.layer === req.layer);
      missedDetail.push(`#${i} ${current}→${req.layer}: ${late ? `came after ${Math.round(late.at - req.at)} ms` : 'never came'}`);
    }
  }
  // Every switch the down track made went to the layer requested at that moment.
  for (const s of serverSwitches) {
    if (requests.length === 0 || s.at < requests[0]!.at) continue; // starting up: the down track takes what is there
    let want = opts.initialLayer;
    for (const r of requests) if (r.at <= s.at) want = r.layer;
    if (s.layer !== want) add('switch', `down track switched to layer ${s.layer} while layer ${want} was requested`);
  }
  if (serverSwitches.length !== changes.length + 1) add('switch', `down track reported ${serverSwitches.length} layer changes (first included), subscriber saw ${changes.length} switches + start`);

  const layerPackets = [0, 0, 0];
  for (const p of pkts) if (p.layer >= 0) layerPackets[p.layer]!++;
  return {
    violations: v,
    figures: {
      packets: pkts.length,
      duplicates,
      frames: frames.length,
      keyframes,
      requested: requests.length,
      performed,
      alreadyThere,
      missed,
      outputSwitches: changes.length,
      serverSwitches: serverSwitches.length,
      latencyP50: percentile(latencies, 50),
      latencyP95: percentile(latencies, 95),
      latencyMax: latencies.length ? Math.max(...latencies) : NaN,
      truncatedAtSwitch,
      tsJumpErrorMaxMs: Math.round(tsJumpErrorMaxMs * 10) / 10,
      layerPackets,
      ddFrames: frames.filter((f) => pkts[f.from]!.ddFrame >= 0).length,
      missedDetail,
    },
  };
}
