import { describe, expect, it } from 'vitest';
import { RtpPacket } from 'werift';
import {
  EXT_PROFILE_ONE_BYTE,
  EXT_PROFILE_TWO_BYTE,
  RtpExtensionWriter,
  RtpHeaderView,
  absSendTime24,
  findExtensionElement,
  getSequenceNumber,
  getSsrc,
  getTimestamp,
  readAbsSendTime,
  readAudioLevel,
  readTransportSeq,
  readVoiceActivity,
  remapExtensionIds,
  remapPacketExtensionIds,
  setMarker,
  setPayloadType,
  setSequenceNumber,
  setSsrc,
  setTimestamp,
  writeAbsSendTime,
  writeAudioLevel,
  writeRtpHeader,
  writeTransportSeq,
} from '../../src/rtp/index.js';
import { randInt, randomBytes, rng, rtp, u8 } from './helpers.js';

// One-byte block (12 bytes): audio level (id 1), abs-send-time (id 2), a padding byte, transport-cc (id 3), 2 pad bytes.
const ONE_BYTE_EXT = [0x10, 0xff, 0x22, 0x01, 0x02, 0x03, 0x00, 0x31, 0xab, 0xcd, 0x00, 0x00];
// Two-byte block (8 bytes): id 1 with 0 data bytes, id 200 with 3 bytes, a padding byte.
const TWO_BYTE_EXT = [0x01, 0x00, 0xc8, 0x03, 0x0a, 0x0b, 0x0c, 0x00];

describe('RtpHeaderView.parse', () => {
  const v = new RtpHeaderView();

  it('parses a minimal packet', () => {
    const p = u8(0x80, 0xe0, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04, 0xaa, 0xbb, 0xcc);
    expect(v.parse(p)).toBe(true);
    expect(v).toMatchObject({
      version: 2,
      padding: false,
      extension: false,
      csrcCount: 0,
      marker: true,
      payloadType: 96,
      sequenceNumber: 0x1234,
      timestamp: 0xdeadbeef,
      ssrc: 0x01020304,
      headerLength: 12,
      payloadOffset: 12,
      payloadLength: 3,
      paddingLength: 0,
      extOffset: -1,
    });
  });

  it('parses CSRCs, a one-byte extension block and padding', () => {
    const p = rtp({
      pt: 111,
      seq: 0xffff,
      ts: 1,
      ssrc: 0xffffffff,
      csrcs: [0x11111111, 0x22222222],
      ext: { profile: EXT_PROFILE_ONE_BYTE, data: ONE_BYTE_EXT },
      payload: [1, 2, 3, 4, 5],
      padding: 3,
    });
    expect(p[0]).toBe(0xb2);
    expect(v.parse(p)).toBe(true);
    expect(v.csrcCount).toBe(2);
    expect(v.padding).toBe(true);
    expect(v.extProfile).toBe(0xbede);
    expect(v.extOffset).toBe(12 + 8 + 4);
    expect(v.extLength).toBe(12);
    expect(v.headerLength).toBe(12 + 8 + 4 + 12);
    expect(v.payloadOffset).toBe(36);
    expect(v.payloadLength).toBe(5);
    expect(v.paddingLength).toBe(3);
    expect(Array.from(p.subarray(v.payloadOffset, v.payloadOffset + v.payloadLength))).toEqual([1, 2, 3, 4, 5]);
    expect(v.sequenceNumber).toBe(65535);
    expect(v.ssrc).toBe(0xffffffff);

    const al = v.findExtension(p, 1);
    expect(al).toBe(25); // element header at 24, data at 25
    expect(v.elementLength).toBe(1);
    expect(readAudioLevel(p, al)).toBe(127);
    expect(readVoiceActivity(p, al)).toBe(true);
    const ast = v.findExtension(p, 2);
    expect(v.elementLength).toBe(3);
    expect(readAbsSendTime(p, ast)).toBe(0x010203);
    const tw = v.findExtension(p, 3);
    expect(v.elementLength).toBe(2);
    expect(readTransportSeq(p, tw)).toBe(0xabcd);
    expect(v.findExtension(p, 4)).toBe(-1);
  });

  it('parses a two-byte extension block (incl. a zero-length element)', () => {
    const p = rtp({ ext: { profile: EXT_PROFILE_TWO_BYTE | 0x3, data: TWO_BYTE_EXT }, payload: [9] });
    expect(v.parse(p)).toBe(true);
    expect(v.extProfile).toBe(0x1003);
    const e1 = v.findExtension(p, 1);
    expect(e1).toBe(12 + 4 + 2);
    expect(v.elementLength).toBe(0);
    const e200 = v.findExtension(p, 200);
    expect(e200).toBe(12 + 4 + 4);
    expect(v.elementLength).toBe(3);
    expect(Array.from(p.subarray(e200, e200 + 3))).toEqual([0x0a, 0x0b, 0x0c]);
    expect(v.findExtension(p, 2)).toBe(-1);
    expect(v.payloadLength).toBe(1);
  });

  it('stops one-byte parsing at id 15', () => {
    const p = rtp({ ext: { profile: EXT_PROFILE_ONE_BYTE, data: [0xf0, 0x10, 0x55, 0x00] } });
    expect(v.parse(p)).toBe(true);
    expect(v.findExtension(p, 1)).toBe(-1);
  });

  it('parses at an offset inside a larger buffer', () => {
    const p = rtp({ seq: 7, payload: [1, 2, 3] });
    const big = new Uint8Array(100);
    big.set(p, 40);
    expect(v.parse(big, 40, p.length)).toBe(true);
    expect(v.sequenceNumber).toBe(7);
    expect(v.payloadOffset).toBe(52);
    expect(v.payloadLength).toBe(3);
  });

  it('rejects malformed packets', () => {
    const good = rtp({ ext: { profile: EXT_PROFILE_ONE_BYTE, data: ONE_BYTE_EXT }, payload: [1, 2], padding: 2 });
    expect(v.parse(good)).toBe(true);
    expect(v.parse(good.subarray(0, 11))).toBe(false); // < 12 bytes
    const v1 = good.slice();
    v1[0] = (v1[0] & 0x3f) | 0x40; // version 1
    expect(v.parse(v1)).toBe(false);
    const cc = rtp({ payload: [1, 2, 3, 4] });
    cc[0] |= 0x02; // claims 2 CSRCs = 8 bytes, only 4 present
    expect(v.parse(cc)).toBe(false);
    const extTrunc = rtp({ payload: [0xbe, 0xde] });
    extTrunc[0] |= 0x10; // X set, but the extension header is cut
    expect(v.parse(extTrunc)).toBe(false);
    const extOver = good.slice();
    extOver[15] = 200; // extension length words far beyond the buffer
    expect(v.parse(extOver)).toBe(false);
    const pad0 = good.slice();
    pad0[pad0.length - 1] = 0; // padding count 0
    expect(v.parse(pad0)).toBe(false);
    const padOver = good.slice();
    padOver[padOver.length - 1] = 5; // 5 > payload 2 + padding 2
    expect(v.parse(padOver)).toBe(false);
    const padAll = good.slice();
    padAll[padAll.length - 1] = 4; // padding eats the whole payload: allowed (padding-only probe)
    expect(v.parse(padAll)).toBe(true);
    expect(v.payloadLength).toBe(0);
    expect(v.parse(good, 0, good.length + 1)).toBe(false); // length beyond the buffer
    expect(v.parse(good, -1, 12)).toBe(false);
  });
});

describe('in-place setters and getters', () => {
  it('rewrite seq/ts/ssrc/pt/marker without touching anything else', () => {
    const p = rtp({ pt: 96, seq: 1, ts: 2, ssrc: 3, ext: { profile: EXT_PROFILE_ONE_BYTE, data: ONE_BYTE_EXT }, payload: [7, 8] });
    const before = p.slice();
    setSequenceNumber(p, 0, 0xfffe);
    setTimestamp(p, 0, 0xfedcba98);
    setSsrc(p, 0, 0x89abcdef);
    setPayloadType(p, 0, 111);
    setMarker(p, 0, true);
    expect(getSequenceNumber(p, 0)).toBe(0xfffe);
    expect(getTimestamp(p, 0)).toBe(0xfedcba98);
    expect(getSsrc(p, 0)).toBe(0x89abcdef);
    const v = new RtpHeaderView();
    expect(v.parse(p)).toBe(true);
    expect(v.payloadType).toBe(111);
    expect(v.marker).toBe(true);
    setMarker(p, 0, false);
    expect(v.parse(p) && v.marker).toBe(false);
    expect(v.payloadType).toBe(111);
    expect(p[0]).toBe(before[0]);
    expect(Array.from(p.subarray(12))).toEqual(Array.from(before.subarray(12)));
  });
});

describe('extension id remapping', () => {
  it('one-byte: remaps ids and turns dropped elements into padding that werift parses', () => {
    const p = rtp({ seq: 5, ext: { profile: EXT_PROFILE_ONE_BYTE, data: ONE_BYTE_EXT }, payload: [1, 2, 3] });
    const v = new RtpHeaderView();
    expect(v.parse(p)).toBe(true);
    const map = new Uint8Array(256);
    map[1] = 5; // audio level → 5
    map[2] = 0; // abs-send-time dropped
    map[3] = 3; // transport-cc unchanged
    const len = p.length;
    expect(remapPacketExtensionIds(p, v, map)).toBe(2);
    expect(p.length).toBe(len);
    // The abs-send-time element (4 bytes) is now all zero; nothing shifted.
    expect(Array.from(p.subarray(16, 28))).toEqual([0x50, 0xff, 0, 0, 0, 0, 0x00, 0x31, 0xab, 0xcd, 0, 0]);
    expect(v.parse(p)).toBe(true);
    expect(v.findExtension(p, 2)).toBe(-1);
    expect(readAudioLevel(p, v.findExtension(p, 5))).toBe(127);
    expect(readTransportSeq(p, v.findExtension(p, 3))).toBe(0xabcd);
    const w = RtpPacket.deSerialize(Buffer.from(p));
    expect(w.header.extensions.map((e) => e.id)).toEqual([5, 3]);
    expect(Array.from(w.payload)).toEqual([1, 2, 3]);
  });

  it('one-byte: an id mapped above 14 cannot be represented and is dropped', () => {
    const p = rtp({ ext: { profile: EXT_PROFILE_ONE_BYTE, data: ONE_BYTE_EXT } });
    const v = new RtpHeaderView();
    v.parse(p);
    const map = new Uint8Array(256);
    map[1] = 20;
    map[2] = 2;
    map[3] = 3;
    expect(remapPacketExtensionIds(p, v, map)).toBe(2);
    expect(v.findExtension(p, 1)).toBe(-1);
    expect(p[16]).toBe(0);
    expect(p[17]).toBe(0);
  });

  it('two-byte: remaps ids and zeroes dropped elements', () => {
    const p = rtp({ ext: { profile: EXT_PROFILE_TWO_BYTE, data: TWO_BYTE_EXT }, payload: [4, 5] });
    const v = new RtpHeaderView();
    v.parse(p);
    const map = new Uint8Array(256);
    map[1] = 0;
    map[200] = 17;
    expect(remapPacketExtensionIds(p, v, map)).toBe(1);
    expect(Array.from(p.subarray(16, 24))).toEqual([0, 0, 17, 3, 0x0a, 0x0b, 0x0c, 0]);
    v.parse(p);
    expect(v.findExtension(p, 17)).toBe(20);
    const w = RtpPacket.deSerialize(Buffer.from(p));
    expect(w.header.extensions.map((e) => [e.id, Array.from(e.payload)])).toEqual([[17, [0x0a, 0x0b, 0x0c]]]);
    expect(Array.from(w.payload)).toEqual([4, 5]);
  });

  it('reports malformed blocks', () => {
    // element claims 4 data bytes but only 3 remain in the block
    const d = [0x13, 1, 2, 3];
    const map = new Uint8Array(256).fill(1);
    expect(remapExtensionIds(Uint8Array.from(d), 0, 4, EXT_PROFILE_ONE_BYTE, map)).toBe(-1);
    expect(findExtensionElement(Uint8Array.from(d), 0, 4, EXT_PROFILE_ONE_BYTE, 1)).toBe(-1);
    // id 0 with a non-zero length nibble is invalid (libwebrtc stops there)
    expect(remapExtensionIds(Uint8Array.from([0x01, 0, 0, 0]), 0, 4, EXT_PROFILE_ONE_BYTE, map)).toBe(-1);
    // unknown profile: untouched
    const raw = Uint8Array.from([1, 2, 3, 4]);
    expect(remapExtensionIds(raw, 0, 4, 0x1234, map)).toBe(0);
    expect(Array.from(raw)).toEqual([1, 2, 3, 4]);
  });
});

describe('writing headers and extensions', () => {
  it('round-trips through our parser and werift (one-byte)', () => {
    const buf = new Uint8Array(1500);
    expect(writeRtpHeader(buf, 0, 100, 65535, 0xffffffff, 0xcafebabe, true)).toBe(12);
    const w = new RtpExtensionWriter();
    expect(w.begin(buf, 0, false)).toBe(true);
    const a = w.add(1, 1);
    writeAudioLevel(buf, a, 42, true);
    const t = w.add(2, 3);
    writeAbsSendTime(buf, t, 1234.5);
    expect(w.addUint16(3, 0x1234)).toBe(true);
    expect(w.add(15, 1)).toBe(-1); // id 15 is not allowed
    expect(w.add(4, 17)).toBe(-1); // too long for one-byte
    const hdr = w.end();
    expect(hdr).toBe(12 + 4 + 12); // 2 + 4 + 3 = 9 → padded to 12
    buf.set([9, 8, 7], hdr);
    const len = hdr + 3;
    const v = new RtpHeaderView();
    expect(v.parse(buf, 0, len)).toBe(true);
    expect(v.marker).toBe(true);
    expect(v.payloadType).toBe(100);
    expect(v.sequenceNumber).toBe(65535);
    expect(v.timestamp).toBe(0xffffffff);
    expect(v.ssrc).toBe(0xcafebabe);
    expect(v.payloadLength).toBe(3);
    expect(readAudioLevel(buf, v.findExtension(buf, 1))).toBe(42);
    expect(readVoiceActivity(buf, v.findExtension(buf, 1))).toBe(true);
    expect(readAbsSendTime(buf, v.findExtension(buf, 2))).toBe(absSendTime24(1234.5));
    expect(readTransportSeq(buf, v.findExtension(buf, 3))).toBe(0x1234);
    const wp = RtpPacket.deSerialize(Buffer.from(buf.subarray(0, len)));
    expect(wp.header.sequenceNumber).toBe(65535);
    expect(wp.header.extensions.map((e) => e.id)).toEqual([1, 2, 3]);
    expect(Array.from(wp.payload)).toEqual([9, 8, 7]);
  });

  it('round-trips a two-byte block', () => {
    const buf = new Uint8Array(100);
    writeRtpHeader(buf, 10, 96, 1, 2, 3, false);
    const w = new RtpExtensionWriter();
    w.begin(buf, 10, true);
    expect(w.add(1, 0)).toBeGreaterThan(0);
    const big = new Uint8Array(20).map((_, i) => i);
    expect(w.addBytes(250, big, 0, 20)).toBe(true);
    const hdr = w.end();
    expect(hdr).toBe(12 + 4 + 24);
    const v = new RtpHeaderView();
    expect(v.parse(buf, 10, hdr)).toBe(true);
    expect(v.extProfile).toBe(0x1000);
    const e = v.findExtension(buf, 250);
    expect(v.elementLength).toBe(20);
    expect(Array.from(buf.subarray(e, e + 20))).toEqual(Array.from(big));
    expect(v.findExtension(buf, 1)).toBeGreaterThan(0);
    expect(v.elementLength).toBe(0);
  });

  it('end() without elements writes no block', () => {
    const buf = new Uint8Array(40);
    writeRtpHeader(buf, 0, 96, 1, 2, 3, false);
    const w = new RtpExtensionWriter();
    w.begin(buf, 0, false);
    expect(w.end()).toBe(12);
    expect(buf[0] & 0x10).toBe(0);
  });

  it('refuses to overflow the buffer', () => {
    const small = new Uint8Array(11);
    expect(writeRtpHeader(small, 0, 96, 1, 2, 3, false)).toBe(-1);
    const buf = new Uint8Array(20);
    writeRtpHeader(buf, 0, 96, 1, 2, 3, false);
    const w = new RtpExtensionWriter();
    w.begin(buf, 0, false);
    expect(w.add(1, 5)).toBe(-1); // 16 + 1 + 5 > 20
    expect(w.add(1, 3)).toBe(17);
    expect(w.end()).toBe(20);
  });

  it('abs-send-time is 6.18 fixed point seconds mod 64', () => {
    expect(absSendTime24(0)).toBe(0);
    expect(absSendTime24(1000)).toBe(1 << 18);
    expect(absSendTime24(500)).toBe(1 << 17);
    expect(absSendTime24(64000)).toBe(0);
    expect(absSendTime24(64000 * 1e6 + 250)).toBe(1 << 16);
    const b = new Uint8Array(3);
    writeTransportSeq(b, 0, 0xbeef);
    expect(readTransportSeq(b, 0)).toBe(0xbeef);
  });
});

/** Independent reference validity check, straight from RFC 3550 §5.1 / RFC 8285. */
function refValid(p: Uint8Array): boolean {
  if (p.length < 12 || p[0] >> 6 !== 2) return false;
  let h = 12 + 4 * (p[0] & 15);
  if (p.length < h) return false;
  if (p[0] & 0x10) {
    if (p.length < h + 4) return false;
    h += 4 + 4 * ((p[h + 2] << 8) | p[h + 3]);
    if (p.length < h) return false;
  }
  if (p[0] & 0x20) {
    const pad = p[p.length - 1];
    if (pad === 0 || h + pad > p.length) return false;
  }
  return true;
}

describe('fuzz', () => {
  it('never throws on 40,000 random / mutated packets, and agrees with a reference validator', () => {
    const r = rng(42);
    const v = new RtpHeaderView();
    const map = new Uint8Array(256);
    for (let i = 0; i < 256; i++) map[i] = randInt(r, 0, 256);
    const template = rtp({ csrcs: [1], ext: { profile: EXT_PROFILE_ONE_BYTE, data: ONE_BYTE_EXT }, payload: [1, 2, 3, 4], padding: 2 });
    const template2 = rtp({ ext: { profile: EXT_PROFILE_TWO_BYTE, data: TWO_BYTE_EXT }, payload: [1] });
    let accepted = 0;
    for (let i = 0; i < 40000; i++) {
      let p: Uint8Array;
      const mode = i % 4;
      if (mode === 0) {
        p = randomBytes(r, randInt(r, 0, 80));
      } else if (mode === 1) {
        p = randomBytes(r, randInt(r, 12, 60));
        p[0] = (p[0] & 0x3f) | 0x80; // force version 2 to get deeper
      } else {
        p = (mode === 2 ? template : template2).slice(0, randInt(r, 0, template.length + 1));
        for (let k = randInt(r, 0, 4); k > 0; k--) if (p.length) p[randInt(r, 0, p.length)] = randInt(r, 0, 256);
      }
      const ok = v.parse(p);
      expect(ok).toBe(refValid(p));
      if (!ok) continue;
      accepted++;
      expect(v.headerLength + v.payloadLength + v.paddingLength).toBe(p.length);
      expect(v.payloadLength).toBeGreaterThanOrEqual(0);
      for (let id = 0; id < 16; id++) {
        const e = v.findExtension(p, id);
        if (e >= 0) expect(e + v.elementLength).toBeLessThanOrEqual(v.extOffset + v.extLength);
      }
      if (v.extOffset >= 0) {
        const copy = p.slice();
        remapPacketExtensionIds(copy, v, map);
        // bytes outside the extension elements are never touched
        expect(Array.from(copy.subarray(0, v.extOffset))).toEqual(Array.from(p.subarray(0, v.extOffset)));
        expect(Array.from(copy.subarray(v.extOffset + v.extLength))).toEqual(Array.from(p.subarray(v.extOffset + v.extLength)));
      }
    }
    expect(accepted).toBeGreaterThan(1000);
  });
});
