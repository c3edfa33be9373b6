import { describe, expect, it } from 'vitest';
import {
  Av1AggregationHeader,
  DTI_DISCARDABLE,
  DTI_NOT_PRESENT,
  DTI_SWITCH,
  DependencyDescriptorReader,
  Vp9Descriptor,
  av1FirstObuType,
  av1IsKeyframe,
  av1StartsObu,
  h264IsKeyframe,
  h264IsStartOfFrame,
  vp9IsKeyframe,
} from '../../src/rtp/index.js';
import { BitWriter, be16, randInt, randomBytes, rng, u8 } from './helpers.js';

const kf = (p: Uint8Array) => h264IsKeyframe(p, 0, p.length);
const sof = (p: Uint8Array) => h264IsStartOfFrame(p, 0, p.length);

describe('H.264 (RFC 6184)', () => {
  it('single NAL units', () => {
    expect(kf(u8(0x65, 0x88, 0x84))).toBe(true); // IDR, first_mb_in_slice = 0
    expect(sof(u8(0x65, 0x88, 0x84))).toBe(true);
    expect(kf(u8(0x67, 0x42, 0xc0, 0x1f))).toBe(true); // SPS
    expect(sof(u8(0x67, 0x42))).toBe(true);
    expect(kf(u8(0x68, 0xce, 0x3c, 0x80))).toBe(false); // PPS
    expect(sof(u8(0x68, 0xce))).toBe(true);
    expect(kf(u8(0x41, 0x9a, 0x02))).toBe(false); // non-IDR slice, first_mb 0
    expect(sof(u8(0x41, 0x9a, 0x02))).toBe(true);
    expect(sof(u8(0x41, 0x1a, 0x02))).toBe(false); // first_mb_in_slice ≠ 0 (second slice)
    expect(sof(u8(0x09, 0xf0))).toBe(true); // AUD
    expect(sof(u8(0x06, 0x05))).toBe(true); // SEI
    expect(kf(new Uint8Array(0))).toBe(false);
  });

  it('STAP-A', () => {
    const sps = [0x67, 0x42, 0xc0, 0x1f];
    const pps = [0x68, 0xce, 0x3c, 0x80];
    const idr = [0x65, 0x88, 0x84];
    const stap = u8(0x78, ...be16(sps.length), ...sps, ...be16(pps.length), ...pps, ...be16(idr.length), ...idr);
    expect(kf(stap)).toBe(true);
    expect(sof(stap)).toBe(true);
    const onlyIdrLast = u8(0x78, ...be16(2), 0x09, 0xf0, ...be16(idr.length), ...idr);
    expect(kf(onlyIdrLast)).toBe(true);
    const nonKey = u8(0x78, ...be16(2), 0x09, 0xf0, ...be16(3), 0x41, 0x9a, 0x02);
    expect(kf(nonKey)).toBe(false);
    expect(sof(nonKey)).toBe(true);
    // size field pointing beyond the packet: not a keyframe, no throw
    expect(kf(u8(0x78, ...be16(50), 0x67, 0x42))).toBe(false);
    expect(kf(u8(0x78, 0x00))).toBe(false);
    // STAP-B carries a 16-bit DON first
    expect(kf(u8(0x79, 0x00, 0x01, ...be16(sps.length), ...sps))).toBe(true);
  });

  it('FU-A', () => {
    expect(kf(u8(0x7c, 0x85, 0x88, 0x84))).toBe(true); // S=1, type 5
    expect(sof(u8(0x7c, 0x85, 0x88, 0x84))).toBe(true);
    expect(kf(u8(0x7c, 0x05, 0x11))).toBe(false); // middle fragment of an IDR
    expect(kf(u8(0x7c, 0x45, 0x11))).toBe(false); // end fragment
    expect(sof(u8(0x7c, 0x05, 0x11))).toBe(false);
    expect(kf(u8(0x5c, 0x81, 0x9a))).toBe(false); // start of a non-IDR slice
    expect(sof(u8(0x5c, 0x81, 0x9a))).toBe(true);
    expect(sof(u8(0x5c, 0x81, 0x1a))).toBe(false);
    expect(kf(u8(0x7c))).toBe(false);
  });
});

describe('VP9 payload descriptor', () => {
  const d = new Vp9Descriptor();

  it('non-flexible keyframe with layer indices and a scalability structure', () => {
    const p = u8(
      0xae, // I L B E V
      0x81, 0x23, // M=1 picture id 0x123
      0x00, // TID 0 U 0 SID 0 D 0
      0x05, // TL0PICIDX
      (2 << 5) | 0x10 | 0x08, // N_S=2 (3 layers), Y, G
      ...be16(320), ...be16(180), ...be16(640), ...be16(360), ...be16(1280), ...be16(720),
      1, // N_G
      (0 << 5) | (1 << 2), 0x01, // TID 0, U 0, R=1, one P_DIFF
      0x82, 0x49, 0x83, // VP9 frame bytes
    );
    expect(d.parse(p, 0, p.length)).toBe(true);
    expect(d.pictureId).toBe(0x123);
    expect(d.pictureIdBits).toBe(15);
    expect(d.tid).toBe(0);
    expect(d.sid).toBe(0);
    expect(d.tl0PicIdx).toBe(5);
    expect(d.ssSpatialLayers).toBe(3);
    expect(d.ssWidth0).toBe(320);
    expect(d.ssHeight0).toBe(180);
    expect(d.ssPictureGroupSize).toBe(1);
    expect(d.payloadOffset).toBe(p.length - 3);
    expect(d.isKeyframe).toBe(true);
    expect(vp9IsKeyframe(p, 0, p.length)).toBe(true);
  });

  it('inter frame and upper spatial layer are not keyframes', () => {
    const inter = u8(0xe8, 0x12, (2 << 5) | 0x10 | (1 << 1) | 1, 0x06, 0xaa);
    expect(d.parse(inter, 0, inter.length)).toBe(true);
    expect(d.pictureId).toBe(0x12);
    expect(d.pictureIdBits).toBe(7);
    expect(d.tid).toBe(2);
    expect(d.switchingUp).toBe(true);
    expect(d.sid).toBe(1);
    expect(d.interLayerDependency).toBe(true);
    expect(d.isKeyframe).toBe(false);
    // spatial layer 1 of a keyframe picture: P=0, B=1, SID=1
    const upper = u8(0xac, 0x12, 0x03, 0x06, 0xaa);
    expect(d.parse(upper, 0, upper.length)).toBe(true);
    expect(d.sid).toBe(1);
    expect(d.isKeyframe).toBe(false);
    // B=0: continuation packet of a keyframe
    expect(vp9IsKeyframe(u8(0xa4, 0x12, 0x00, 0x06, 0xaa), 0, 5)).toBe(false);
    // no L bit: P=0, B=1 is a keyframe
    expect(vp9IsKeyframe(u8(0x88, 0x12, 0xaa), 0, 3)).toBe(true);
  });

  it('flexible mode with P_DIFFs', () => {
    const p = u8(0xf8, 0x12, 0x20, 0x03, 0x04, 0xaa, 0xbb); // I P L F B; TID 1; two P_DIFFs (N=1, N=0)
    expect(d.parse(p, 0, p.length)).toBe(true);
    expect(d.flexible).toBe(true);
    expect(d.tid).toBe(1);
    expect(d.tl0PicIdx).toBe(-1);
    expect(d.pDiffCount).toBe(2);
    expect(d.payloadOffset).toBe(5);
    // four P_DIFFs is invalid (max 3)
    expect(d.parse(u8(0xd8, 0x12, 0x03, 0x03, 0x03, 0x03, 0x00), 0, 7)).toBe(false);
  });

  it('rejects truncation and never throws on garbage', () => {
    const p = u8(0xae, 0x81, 0x23, 0x00, 0x05, 0x10, ...be16(320), ...be16(180));
    for (let n = 0; n < p.length; n++) expect(d.parse(p, 0, n)).toBe(false);
    expect(d.parse(p, 0, p.length)).toBe(true);
    const r = rng(11);
    for (let i = 0; i < 20000; i++) {
      const q = randomBytes(r, randInt(r, 0, 40));
      if (d.parse(q, 0, q.length)) expect(d.payloadOffset + d.payloadLength).toBe(q.length);
    }
  });
});

describe('H.264 / AV1 robustness', () => {
  it('never throws on 20,000 random payloads', () => {
    const r = rng(17);
    let keys = 0;
    for (let i = 0; i < 20000; i++) {
      const q = randomBytes(r, randInt(r, 0, 24));
      if (i % 2 === 0 && q.length) q[0] = (q[0] & 0xe0) | [5, 7, 24, 25, 28, 29][i % 6];
      if (h264IsKeyframe(q, 0, q.length)) keys++;
      h264IsStartOfFrame(q, 0, q.length);
      av1IsKeyframe(q, 0, q.length);
      av1FirstObuType(q, 0, q.length);
    }
    expect(keys).toBeGreaterThan(100);
    expect(h264IsKeyframe(u8(0x65), 0, 5)).toBe(false); // length beyond the buffer
  });
});

describe('AV1 aggregation header', () => {
  it('N bit marks a new coded video sequence', () => {
    const key = u8(0x18, 0x0a, 0x0b, 0x00); // W=1, N=1; OBU header: sequence header (type 1, has_size)
    expect(av1IsKeyframe(key, 0, key.length)).toBe(true);
    expect(av1FirstObuType(key, 0, key.length)).toBe(1);
    expect(av1StartsObu(key, 0, key.length)).toBe(true);
    const inter = u8(0x10, 0x32, 0x00); // W=1, N=0, OBU_FRAME (6)
    expect(av1IsKeyframe(inter, 0, inter.length)).toBe(false);
    expect(av1FirstObuType(inter, 0, inter.length)).toBe(6);
    const cont = u8(0xc0, 0x55, 0x66); // Z=1 Y=1 W=0
    expect(av1StartsObu(cont, 0, cont.length)).toBe(false);
    expect(av1FirstObuType(cont, 0, cont.length)).toBe(-1);
    const w0 = u8(0x08, 0x81, 0x01, 0x12, ...new Array(129).fill(0)); // W=0: leb128 length 129, then temporal delimiter
    expect(av1FirstObuType(w0, 0, w0.length)).toBe(2);
    const h = new Av1AggregationHeader();
    expect(h.parse(u8(0xe8), 0, 1)).toBe(true);
    expect(h).toMatchObject({ continuesFragment: true, fragmentContinues: true, obuCount: 2, newCodedVideoSequence: true });
    expect(av1IsKeyframe(u8(0x08), 0, 1)).toBe(false); // no OBU data
  });
});

// ---------------------------------------------------------------------------------------------------------------------
// Dependency descriptor: an L1T3 structure written with an independent bit writer following the spec syntax.

function writeL1T3Structure(w: BitWriter, templateIdOffset: number): void {
  w.write(templateIdOffset, 6);
  w.write(3 - 1, 5); // 3 decode targets
  // templates: T0 (key), T0, T1, T2 → next_layer_idc after each: 0, 1, 1, 3
  for (const idc of [0, 1, 1, 3]) w.write(idc, 2);
  // dtis per template (DT0..DT2): S S S | S S S | - D S | - - D
  const dtis = [
    [2, 2, 2],
    [2, 2, 2],
    [0, 1, 2],
    [0, 0, 1],
  ];
  for (const t of dtis) for (const x of t) w.write(x, 2);
  // fdiffs: [], [4], [2], [1]
  for (const f of [[], [4], [2], [1]]) {
    for (const x of f) {
      w.write(1, 1);
      w.write(x - 1, 4);
    }
    w.write(0, 1);
  }
  // chains: chain_cnt = 1 → ns(4); each DT protected by chain 0 → ns(1) (0 bits); template chain fdiffs f(4)
  w.ns(4, 1);
  for (let i = 0; i < 3; i++) w.ns(1, 0);
  for (const c of [0, 4, 2, 1]) w.write(c, 4);
  // resolutions
  w.write(1, 1);
  w.write(640 - 1, 16);
  w.write(360 - 1, 16);
}

describe('AV1 dependency descriptor', () => {
  it('reads the mandatory fields without a structure', () => {
    const dd = new DependencyDescriptorReader();
    const p = u8(0x80 | 0x40 | 5, 0x12, 0x34);
    expect(dd.parse(p, 0, 3)).toBe(true);
    expect(dd).toMatchObject({ startOfFrame: true, endOfFrame: true, templateId: 5, frameNumber: 0x1234, extended: false, frameInfoValid: false });
    expect(dd.parse(u8(0x00, 0xff, 0xff), 0, 3)).toBe(true);
    expect(dd).toMatchObject({ startOfFrame: false, endOfFrame: false, templateId: 0, frameNumber: 0xffff });
    expect(dd.parse(u8(0x80, 0x00), 0, 2)).toBe(false);
  });

  it('parses a template structure and resolves later frames against it', () => {
    const dd = new DependencyDescriptorReader();
    const w = new BitWriter().write(1, 1).write(0, 1).write(0, 6).write(1, 16); // SOF, template 0, frame 1
    w.write(1, 1).write(0, 1).write(0, 1).write(0, 1).write(0, 1); // structure present, no custom fields
    writeL1T3Structure(w, 0);
    const p = w.bytes();
    expect(dd.parse(p, 0, p.length)).toBe(true);
    expect(dd.structurePresent).toBe(true);
    expect(dd.frameInfoValid).toBe(true);
    const s = dd.structure!;
    expect(s.decodeTargetCount).toBe(3);
    expect(s.templateCount).toBe(4);
    expect(s.maxTemporalId).toBe(2);
    expect(s.maxSpatialId).toBe(0);
    expect(s.chainCount).toBe(1);
    expect(Array.from(s.decodeTargetTemporalId.subarray(0, 3))).toEqual([0, 1, 2]);
    expect(Array.from(s.templateTemporalId.subarray(0, 4))).toEqual([0, 0, 1, 2]);
    expect(dd.activeDecodeTargets).toBe(0b111);
    expect([dd.spatialId, dd.temporalId]).toEqual([0, 0]);
    expect(Array.from(dd.frameDtis.subarray(0, 3))).toEqual([DTI_SWITCH, DTI_SWITCH, DTI_SWITCH]);
    expect(dd.frameFdiffCount).toBe(0);
    expect(dd.frameChainFdiffs[0]).toBe(0);
    expect([dd.width, dd.height]).toEqual([640, 360]);

    // mandatory-only packet of a T2 frame (template 3)
    expect(dd.parse(u8(0xc3, 0x00, 0x04), 0, 3)).toBe(true);
    expect(dd.frameInfoValid).toBe(true);
    expect(dd.frameNumber).toBe(4);
    expect(dd.temporalId).toBe(2);
    expect(Array.from(dd.frameDtis.subarray(0, 3))).toEqual([DTI_NOT_PRESENT, DTI_NOT_PRESENT, DTI_DISCARDABLE]);
    expect(dd.frameFdiffCount).toBe(1);
    expect(dd.frameFdiffs[0]).toBe(1);
    expect(dd.frameChainFdiffs[0]).toBe(1);

    // extended packet: active decode targets + custom fdiffs + custom chains on template 2
    const w2 = new BitWriter().write(1, 1).write(1, 1).write(2, 6).write(6, 16);
    w2.write(0, 1).write(1, 1).write(0, 1).write(1, 1).write(1, 1);
    w2.write(0b011, 3); // active decode targets: DT0, DT1
    w2.write(1, 2).write(2, 4); // fdiff 3 (4-bit)
    w2.write(2, 2).write(16, 8); // fdiff 17 (8-bit)
    w2.write(0, 2);
    w2.write(9, 8); // chain fdiff
    const p2 = w2.bytes();
    expect(dd.parse(p2, 0, p2.length)).toBe(true);
    expect(dd.frameInfoValid).toBe(true);
    expect(dd.activeDecodeTargets).toBe(0b011);
    expect(dd.temporalId).toBe(1);
    expect(Array.from(dd.frameFdiffs.subarray(0, dd.frameFdiffCount))).toEqual([3, 17]);
    expect(dd.frameChainFdiffs[0]).toBe(9);
    // the active mask persists to the next packet
    expect(dd.parse(u8(0x80, 0x00, 0x07), 0, 3)).toBe(true);
    expect(dd.activeDecodeTargets).toBe(0b011);
  });

  it('applies template_id_offset and rejects unknown templates', () => {
    const dd = new DependencyDescriptorReader();
    const w = new BitWriter().write(1, 1).write(1, 1).write(62, 6).write(100, 16);
    w.write(1, 1).write(0, 4);
    writeL1T3Structure(w, 62); // templates use ids 62, 63, 0, 1
    const p = w.bytes();
    expect(dd.parse(p, 0, p.length)).toBe(true);
    expect(dd.temporalId).toBe(0);
    expect(dd.parse(u8(0x81, 0, 0), 0, 3)).toBe(true); // id 1 → index 3
    expect(dd.temporalId).toBe(2);
    expect(dd.parse(u8(0x80, 0, 0), 0, 3)).toBe(true); // id 0 → index 2
    expect(dd.temporalId).toBe(1);
    expect(dd.parse(u8(0x85, 0, 0), 0, 3)).toBe(false); // id 5 → index 7 ≥ 4 templates
    expect(dd.frameInfoValid).toBe(false);
    expect(dd.frameNumber).toBe(0); // mandatory fields were still read
  });

  it('keeps the old structure when a new one is malformed; never throws on garbage', () => {
    const dd = new DependencyDescriptorReader();
    const w = new BitWriter().write(2, 8).write(1, 16).write(1, 1).write(0, 4);
    writeL1T3Structure(w, 0);
    const good = w.bytes();
    expect(dd.parse(good, 0, good.length)).toBe(true);
    const s = dd.structure;
    expect(dd.parse(good, 0, 8)).toBe(false); // truncated structure
    expect(dd.structure).toBe(s);
    expect(dd.parse(u8(0x83, 0, 1), 0, 3)).toBe(true);
    expect(dd.temporalId).toBe(2);
    const r = rng(13);
    let ok = 0;
    for (let i = 0; i < 20000; i++) {
      const q = i % 2 ? randomBytes(r, randInt(r, 0, 30)) : good.slice();
      if (i % 2 === 0) for (let k = randInt(r, 1, 4); k > 0; k--) q[randInt(r, 0, q.length)] = randInt(r, 0, 256);
      if (dd.parse(q, 0, q.length)) ok++;
    }
    expect(ok).toBeGreaterThan(1000);
  });
});
