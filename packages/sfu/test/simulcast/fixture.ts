// The recorded VP8 simulcast fixtures (packages/sfu/test/fixtures/*.rtp.gz, made by scripts/record-simulcast.mjs) and
// independent parsers for what the test checks (RTP header, header extensions, VP8 payload descriptor, the dependency
// descriptor's frame number). Deliberately not Kite's own parsers: the checks must not share Kite's bugs.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';

export const DD_URI = 'https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension';
export const VIDEO_ORIENTATION_URI = 'urn:3gpp:video-orientation';

export interface FixtureMeta {
  file: string;
  durationMs: number;
  codec: { mime: string; payloadType: number; clockRate: number; rtxPayloadType?: number };
  headerExtensions: Record<string, number>;
  options: Record<string, unknown>;
  layers: { layer: number; rid: string; ssrc: number; packets: number; frames: number; keyframes: number; resolution: string }[];
}

/** VP8 payload descriptor (RFC 7741 §4.2) plus the keyframe header's size. Offsets are absolute. */
export interface Vp8Info {
  start: boolean;
  partitionId: number;
  /** S=1, PID=0 and P=0 in the VP8 payload header. */
  keyframe: boolean;
  pictureId: number;
  pictureIdBits: number;
  pictureIdOffset: number;
  tl0PicIdx: number;
  tl0Offset: number;
  tid: number;
  /** Offset of the VP8 payload (after the descriptor). */
  payloadOffset: number;
  width: number;
  height: number;
}

export interface RtpInfo {
  marker: boolean;
  payloadType: number;
  seq: number;
  ts: number;
  ssrc: number;
  payloadOffset: number;
  payloadEnd: number;
  /** Extension id → [offset, length] of the element data. */
  ext: Map<number, [number, number]>;
}

export function parseRtp(b: Uint8Array): RtpInfo {
  const view = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const cc = b[0]! & 0x0f;
  let off = 12 + cc * 4;
  const ext = new Map<number, [number, number]>();
  if (b[0]! & 0x10) {
    const profile = view.readUInt16BE(off);
    const words = view.readUInt16BE(off + 2);
    const end = off + 4 + words * 4;
    let p = off + 4;
    while (p < end) {
      if (profile === 0xbede) {
        if (b[p] === 0) {
          p++;
          continue;
        }
        const id = b[p]! >> 4;
        const len = (b[p]! & 0x0f) + 1;
        if (id === 15) break;
        ext.set(id, [p + 1, len]);
        p += 1 + len;
      } else if ((profile & 0xfff0) === 0x1000) {
        if (b[p] === 0) {
          p++;
          continue;
        }
        const id = b[p]!;
        const len = b[p + 1]!;
        ext.set(id, [p + 2, len]);
        p += 2 + len;
      } else break;
    }
    off = end;
  }
  let payloadEnd = b.length;
  if (b[0]! & 0x20) payloadEnd -= b[b.length - 1]!;
  return { marker: (b[1]! & 0x80) !== 0, payloadType: b[1]! & 0x7f, seq: view.readUInt16BE(2), ts: view.readUInt32BE(4), ssrc: view.readUInt32BE(8), payloadOffset: off, payloadEnd, ext };
}

export function parseVp8(b: Uint8Array, off: number): Vp8Info {
  let p = off;
  const b0 = b[p++]!;
  const v: Vp8Info = {
    start: (b0 & 0x10) !== 0,
    partitionId: b0 & 0x07,
    keyframe: false,
    pictureId: -1,
    pictureIdBits: 0,
    pictureIdOffset: -1,
    tl0PicIdx: -1,
    tl0Offset: -1,
    tid: -1,
    payloadOffset: 0,
    width: 0,
    height: 0,
  };
  if (b0 & 0x80) {
    const x = b[p++]!;
    if (x & 0x80) {
      v.pictureIdOffset = p;
      if (b[p]! & 0x80) {
        v.pictureId = ((b[p]! & 0x7f) << 8) | b[p + 1]!;
        v.pictureIdBits = 15;
        p += 2;
      } else {
        v.pictureId = b[p]! & 0x7f;
        v.pictureIdBits = 7;
        p += 1;
      }
    }
    if (x & 0x40) {
      v.tl0Offset = p;
      v.tl0PicIdx = b[p++]!;
    }
    if (x & 0x30) {
      if (x & 0x20) v.tid = b[p]! >> 6;
      p++;
    }
  }
  v.payloadOffset = p;
  v.keyframe = v.start && v.partitionId === 0 && (b[p]! & 0x01) === 0;
  if (v.keyframe && b[p + 3] === 0x9d && b[p + 4] === 0x01 && b[p + 5] === 0x2a) {
    v.width = (b[p + 6]! | (b[p + 7]! << 8)) & 0x3fff;
    v.height = (b[p + 8]! | (b[p + 9]! << 8)) & 0x3fff;
  }
  return v;
}

/** Frame number of a dependency descriptor element (mandatory fields: SOF, EOF, template id, frame_number). */
export function ddFrameNumber(b: Uint8Array, off: number): number {
  return (b[off + 1]! << 8) | b[off + 2]!;
}

/** Identity of a packet's VP8 payload (everything after the descriptor, which Kite leaves untouched). */
export function payloadKey(b: Uint8Array, payloadOffset: number, payloadEnd: number): string {
  return createHash('sha1').update(b.subarray(payloadOffset, payloadEnd)).digest('base64');
}

/** One recorded packet with its values unwrapped (extended) over the layer's recording. */
export interface RecPacket {
  layer: number;
  index: number;
  /** Arrival offset in the recording (ms). */
  t: number;
  buf: Buffer;
  rtp: RtpInfo;
  vp8: Vp8Info;
  /** First packet of a frame (S=1, PID=0). */
  frameStart: boolean;
  seqExt: number;
  tsExt: number;
  pidExt: number;
  tl0Ext: number;
  /** Offset of the dependency descriptor element's data, −1 when absent. */
  ddOffset: number;
  ddExt: number;
  key: string;
}

export interface RecLayer {
  layer: number;
  ssrc: number;
  packets: RecPacket[];
  /** Median distance between frame starts: ms and RTP ticks. */
  frameMs: number;
  frameTicks: number;
  keyframes: number;
  width: number;
  height: number;
}

export interface Fixture {
  name: string;
  meta: FixtureMeta;
  layers: RecLayer[];
  ddId: number;
  hasPictureId: boolean;
  hasTl0PicIdx: boolean;
  /** Payload key → recorded packet, for tagging packets at the subscriber with their source layer. */
  sourceOfPayload: Map<string, { layer: number; index: number }>;
}

const unwrapper = (bits: number) => {
  const mod = 2 ** bits;
  let last = -1;
  return (v: number): number => {
    if (last < 0) return (last = v);
    let d = (v - (last % mod)) % mod;
    if (d < 0) d += mod;
    if (d >= mod / 2) d -= mod;
    return (last = last + d);
  };
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

export function loadFixture(name: string): Fixture {
  const dir = fileURLToPath(new URL('../fixtures/', import.meta.url));
  const meta = JSON.parse(readFileSync(`${dir}${name}.json`, 'utf8')) as FixtureMeta;
  const raw = gunzipSync(readFileSync(`${dir}${meta.file}`));
  if (raw.toString('latin1', 0, 4) !== 'KSIM' || raw[4] !== 1) throw new Error(`${name}: not a KSIM v1 file`);
  const ddId = meta.headerExtensions[DD_URI] ?? 0;
  const perLayer: { t: number; buf: Buffer }[][] = [[], [], []];
  for (let o = 8; o < raw.length; ) {
    const layer = raw[o]!;
    const t = raw.readUInt32BE(o + 1) / 1000;
    const len = raw.readUInt16BE(o + 5);
    perLayer[layer]!.push({ t, buf: Buffer.from(raw.subarray(o + 7, o + 7 + len)) });
    o += 7 + len;
  }
  const sourceOfPayload = new Map<string, { layer: number; index: number }>();
  let hasPictureId = true;
  let hasTl0PicIdx = true;
  const layers = perLayer.map((list, layer): RecLayer => {
    const seqU = unwrapper(16);
    const tsU = unwrapper(32);
    const pidU = unwrapper(15);
    const tl0U = unwrapper(8);
    const ddU = unwrapper(16);
    const pkts = list
      .map((p) => ({ ...p, rtp: parseRtp(p.buf) }))
      .map((p) => ({ ...p, seqExt: seqU(p.rtp.seq) }))
      .sort((a, b) => a.seqExt - b.seqExt);
    const packets = pkts.map((p, index): RecPacket => {
      const vp8 = parseVp8(p.buf, p.rtp.payloadOffset);
      const dd = ddId ? p.rtp.ext.get(ddId) : undefined;
      if (vp8.pictureIdBits !== 15) hasPictureId = false;
      if (vp8.tl0PicIdx < 0) hasTl0PicIdx = false;
      const key = payloadKey(p.buf, vp8.payloadOffset, p.rtp.payloadEnd);
      if (sourceOfPayload.has(key)) throw new Error(`${name}: two recorded packets with the same payload`);
      sourceOfPayload.set(key, { layer, index });
      return {
        layer,
        index,
        t: p.t,
        buf: p.buf,
        rtp: p.rtp,
        vp8,
        frameStart: vp8.start && vp8.partitionId === 0,
        seqExt: p.seqExt,
        tsExt: tsU(p.rtp.ts),
        pidExt: vp8.pictureId >= 0 ? pidU(vp8.pictureId) : -1,
        tl0Ext: vp8.tl0PicIdx >= 0 ? tl0U(vp8.tl0PicIdx) : -1,
        ddOffset: dd ? dd[0] : -1,
        ddExt: dd ? ddU(ddFrameNumber(p.buf, dd[0])) : -1,
        key,
      };
    });
    for (let i = 1; i < packets.length; i++) {
      if (packets[i]!.seqExt !== packets[i - 1]!.seqExt + 1) throw new Error(`${name}: layer ${layer} has a gap at ${i}`);
    }
    if (!packets[0]?.vp8.keyframe) throw new Error(`${name}: layer ${layer} does not start with a keyframe`);
    const starts = packets.filter((p) => p.frameStart);
    const key = packets.find((p) => p.vp8.keyframe)!;
    return {
      layer,
      ssrc: packets[0]!.rtp.ssrc,
      packets,
      frameMs: median(starts.slice(1).map((p, i) => p.t - starts[i]!.t)),
      frameTicks: median(starts.slice(1).map((p, i) => p.tsExt - starts[i]!.tsExt)),
      keyframes: packets.filter((p) => p.vp8.keyframe).length,
      width: key.vp8.width,
      height: key.vp8.height,
    };
  });
  // Frame numbers are shared across the layers: unwrap them all against layer 0's first value.
  const dd0 = layers[0]!.packets[0]!.ddExt;
  for (const L of layers.slice(1)) {
    const first = L.packets[0]!.ddExt;
    if (dd0 < 0 || first < 0) continue;
    const shift = Math.round((dd0 - first) / 65536) * 65536;
    for (const p of L.packets) if (p.ddExt >= 0) p.ddExt += shift;
  }
  return { name, meta, layers, ddId, hasPictureId, hasTl0PicIdx, sourceOfPayload };
}
