// Checks the stream a subscriber received through a switching DownTrack: is it one decodable, gap-free stream?
// Every packet is traced back to the recorded packet it carries (by its VP8 payload, which Kite does not touch), so
// the source layer of every output packet is known exactly.
//
// Packets the down track drops on purpose (temporal-layer filtering: opts.dropped) are skipped where the subscriber's
// stream is compared with what was fed. A dropped packet that reached the down track late (after a newer packet of
// its layer, FedPacket.late) leaves exactly one unused sequence number: the packets after it were sent already. Such
// holes are counted (figures.holes), not reported, when every gap's size equals the number of late dropped packets
// between its neighbours; likewise a dropped frame that came entirely late leaves one unused PictureID.
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
    /** Output frames per VP8 TID (0–2). */
    tidFrames: number[];
    /** Frames fed per VP8 TID between the first and the last packet of every run of the output. */
    fedTidFrames: number[];
    /** Within the runs of the output: fed packets delivered late, forwarded / dropped on purpose (opts.dropped). */
    lateForwarded: number;
    lateDropped: number;
    /** Missing sequence numbers explained by dropped packets that arrived late (see above). */
    holes: number;
    /** PictureID steps of 2+ explained by dropped frames that arrived entirely late. */
    pictureIdSkips: number;
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
  /** Position in fed[layer] of the packet this one carries (−1: not traced). */
  fedPos: number;
}

export function analyze(
  fixture: Fixture,
  received: ReceivedPacket[],
  fed: FedPacket[][],
  requests: SwitchRequest[],
  serverSwitches: { at: number; layer: number }[],
  opts: { initialLayer: number; checkDd: boolean; dropped?: (f: FedPacket) => boolean },
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
      fedPos: -1,
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
    first.fedPos = pos;
    for (let i = run.from + 1; i <= run.to; i++) {
      pos++;
      while (opts.dropped && pos < feedLayer.length && opts.dropped(feedLayer[pos]!)) pos++;
      const f = feedLayer[pos];
      if (!f || f.index !== pkts[i]!.index) {
        add('source', `layer ${run.layer} run: output seq ${pkts[i]!.seq} carries recorded packet ${pkts[i]!.index}, expected the next fed packet ${f?.index}`);
        break;
      }
      pkts[i]!.fedPos = pos;
    }
  }

  // --- what was fed, per layer: prefix counts of late dropped packets and of dropped frames that came entirely late ---
  const lateDroppedBefore: number[][] = [];
  const lateDroppedFramesBefore: number[][] = [];
  for (const [layer, list] of fed.entries()) {
    const rec = fixture.layers[layer];
    const pk = [0];
    const fr = [0];
    let frameStart = -1;
    let wholeLate = false;
    for (const [p, f] of list.entries()) {
      const dropped = opts.dropped?.(f) ?? false;
      pk.push(pk[p]! + (dropped && f.late ? 1 : 0));
      if (rec?.packets[f.index]?.frameStart) {
        frameStart = p;
        wholeLate = true;
      }
      wholeLate &&= dropped && f.late;
      const last = p + 1 >= list.length || !!rec?.packets[list[p + 1]!.index]?.frameStart;
      fr.push(fr[p]! + (last && frameStart >= 0 && wholeLate ? 1 : 0));
    }
    lateDroppedBefore.push(pk);
    lateDroppedFramesBefore.push(fr);
  }
  /** Count in (a, b) of fed positions of `layer`, from prefix counts (0 when either end is not traced). */
  const between = (prefix: number[][], layer: number, a: number, b: number) => (a < 0 || b < 0 || b <= a ? 0 : prefix[layer]![b]! - prefix[layer]![a + 1]!);

  // --- sequence numbers: no gap, except one unused number per dropped packet that arrived late in between ---
  let holes = 0;
  for (let i = 1; i < pkts.length; i++) {
    const a = pkts[i - 1]!;
    const b = pkts[i]!;
    const gap = b.ext - a.ext;
    const late = a.layer === b.layer ? between(lateDroppedBefore, b.layer, a.fedPos, b.fedPos) : 0;
    if (gap === 1 + late) holes += late;
    else add('seq', `gap: ${a.seq} → ${b.seq} (${gap - 1} missing) at output packet ${i}, layers ${a.layer}→${b.layer}${late ? ` (${late} dropped packets arrived late in between)` : ''}`);
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
  let pictureIdSkips = 0;
  const tidFrames = [0, 0, 0];
  for (const [k, f] of frames.entries()) {
    const a = pkts[f.from]!;
    const z = pkts[f.to]!;
    if (a.keyframe) keyframes++;
    if (a.tid >= 0 && a.tid < 3) tidFrames[a.tid]!++;
    const next = frames[k + 1] ? pkts[frames[k + 1]!.from]! : undefined;
    if (!a.start) add('frame', `frame at seq ${a.seq} (layer ${a.layer}) does not start with S=1/PID=0`);
    if (!z.marker && next) {
      if (next.layer !== z.layer) truncatedAtSwitch++;
      else add('frame', `frame at seq ${a.seq} (layer ${a.layer}) has no marker before the next frame of the same layer`);
    }
    for (let i = f.from + 1; i <= f.to; i++) {
      const p = pkts[i]!;
      const q = pkts[i - 1]!;
      if (p.ext !== q.ext + 1 || p.index !== q.index + 1) add('frame', `frame at seq ${a.seq} (layer ${a.layer}): not whole, seq ${q.seq} (recorded packet ${q.index}) → ${p.seq} (${p.index})`);
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
      const skipped = switched ? 0 : between(lateDroppedFramesBefore, a.layer, prev.fedPos, a.fedPos);
      if (a.pictureIdBits !== 15) add('pictureId', `frame at seq ${a.seq}: ${a.pictureIdBits}-bit PictureID`);
      else if (a.pictureId !== ((prev.pictureId + 1 + skipped) & 0x7fff))
        add('pictureId', `frame at seq ${a.seq}: PictureID ${a.pictureId} after ${prev.pictureId}${switched ? ` (switch ${prev.layer}→${a.layer})` : ''}${skipped ? ` (${skipped} dropped frames arrived late in between)` : ''}`);
      else pictureIdSkips += skipped;
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
  // What was fed over the runs: frames per TID, and the packets that arrived late.
  const fedTidFrames = [0, 0, 0];
  let lateForwarded = 0;
  let lateDropped = 0;
  for (const run of runs) {
    const a = pkts[run.from]!.fedPos;
    let z = -1;
    for (let i = run.to; i >= run.from && z < 0; i--) z = pkts[i]!.fedPos;
    const list = fed[run.layer];
    if (a < 0 || !list) continue;
    for (let p = a; p <= z; p++) {
      const f = list[p]!;
      const r = fixture.layers[run.layer]!.packets[f.index]!;
      if (r.frameStart && r.vp8.tid >= 0 && r.vp8.tid < 3) fedTidFrames[r.vp8.tid]!++;
      if (f.late) {
        if (opts.dropped?.(f)) lateDropped++;
        else lateForwarded++;
      }
    }
  }
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
      tidFrames,
      fedTidFrames,
      lateForwarded,
      lateDropped,
      holes,
      pictureIdSkips,
    },
  };
}
