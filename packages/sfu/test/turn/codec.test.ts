import { describe, it, expect } from 'vitest';
import { randomBytes } from 'node:crypto';
import {
  StreamFramer,
  StunAttr,
  StunClass,
  StunMethod,
  StunMessageBuilder,
  stunClassOf,
  crc32,
  decodeXorAddress,
  encodeChannelData,
  encodeXorAddress,
  formatIPv6,
  getErrorCode,
  getStringAttribute,
  getUint32Attribute,
  getXorAddress,
  longTermKey,
  stunMessageType,
  stunMethodOf,
  newTransactionId,
  parseChannelData,
  parseStunMessage,
  streamFrameLength,
  unknownComprehensionRequired,
  verifyMessageIntegrity,
  verifyMessageIntegritySha256,
  writeIPv6,
} from '../../src/turn/index.js';
import type { StunMessage } from '../../src/turn/index.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// RFC 5769 test vectors.
const SAMPLE_REQUEST = hex(`
  00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
  00 24 00 04 6e 00 01 ff 80 29 00 08 93 2f f9 b1 51 26 3b 36
  00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
  00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
  80 28 00 04 e5 7a 3b cf`);
const SAMPLE_IPV4_RESPONSE = hex(`
  01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
  00 20 00 08 00 01 a1 47 e1 12 a6 43
  00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
  80 28 00 04 c0 7d 4c 96`);
const SAMPLE_IPV6_RESPONSE = hex(`
  01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
  80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
  00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
  00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
  80 28 00 04 c8 fb 0b 4c`);
const SAMPLE_LONG_TERM = hex(`
  00 01 00 60 21 12 a4 42 78 ad 34 33 c6 ad 72 c0 29 da 41 2e
  00 06 00 12 e3 83 9e e3 83 88 e3 83 aa e3 83 83 e3 82 af e3 82 b9 00 00
  00 15 00 1c 66 2f 2f 34 39 39 6b 39 35 34 64 36 4f 4c 33 34 6f 4c 39 46 53 54 76 79 36 34 73 41
  00 14 00 0b 65 78 61 6d 70 6c 65 2e 6f 72 67 00
  00 08 00 14 f6 70 24 65 6d d6 4a 3e 02 b8 e0 71 2e 85 c9 a2 8c a8 96 66`);
const SHORT_TERM_PASSWORD = Buffer.from('VOkJxbRl1RmTxUk/WvJxBt');

function parseOk(buf: Buffer): StunMessage {
  const r = parseStunMessage(buf);
  if (!r.ok) throw new Error(`${r.error}: ${r.detail}`);
  return r.message;
}

describe('STUN codec: RFC 5769 vectors', () => {
  it('CRC-32 check value', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });

  it('message type encoding', () => {
    expect(stunMessageType(StunMethod.Binding, StunClass.Request)).toBe(0x0001);
    expect(stunMessageType(StunMethod.Binding, StunClass.SuccessResponse)).toBe(0x0101);
    expect(stunMessageType(StunMethod.Allocate, StunClass.ErrorResponse)).toBe(0x0113);
    expect(stunMessageType(StunMethod.Data, StunClass.Indication)).toBe(0x0017);
    expect(stunMessageType(StunMethod.Send, StunClass.Indication)).toBe(0x0016);
    expect(stunMessageType(StunMethod.ChannelBind, StunClass.SuccessResponse)).toBe(0x0109);
    for (let m = 0; m < 0x1000; m += 37) for (let c = 0; c < 4; c++) {
      const t = stunMessageType(m, c);
      expect(stunMethodOf(t)).toBe(m);
      expect(stunClassOf(t)).toBe(c);
    }
  });

  it('2.1 sample request: fingerprint + short-term integrity, non-zero padding', () => {
    const m = parseOk(SAMPLE_REQUEST);
    expect(m.method).toBe(StunMethod.Binding);
    expect(m.cls).toBe(StunClass.Request);
    expect(m.hasFingerprint).toBe(true);
    expect(getStringAttribute(m, StunAttr.Username)).toBe('evtj:h6vY');
    expect(getStringAttribute(m, StunAttr.Software)).toBe('STUN test client');
    expect(verifyMessageIntegrity(m, SHORT_TERM_PASSWORD)).toBe(true);
    expect(verifyMessageIntegrity(m, Buffer.from('wrong'))).toBe(false);
  });

  it('2.2 IPv4 response: XOR-MAPPED-ADDRESS 192.0.2.1:32853', () => {
    const m = parseOk(SAMPLE_IPV4_RESPONSE);
    expect(m.cls).toBe(StunClass.SuccessResponse);
    expect(getXorAddress(m, StunAttr.XorMappedAddress)).toEqual({ family: 4, address: '192.0.2.1', port: 32853 });
    expect(verifyMessageIntegrity(m, SHORT_TERM_PASSWORD)).toBe(true);
  });

  it('2.3 IPv6 response: XOR-MAPPED-ADDRESS [2001:db8:1234:5678:11:2233:4455:6677]:32853', () => {
    const m = parseOk(SAMPLE_IPV6_RESPONSE);
    expect(getXorAddress(m, StunAttr.XorMappedAddress)).toEqual({ family: 6, address: '2001:db8:1234:5678:11:2233:4455:6677', port: 32853 });
    expect(verifyMessageIntegrity(m, SHORT_TERM_PASSWORD)).toBe(true);
    // and re-encoding gives the same bytes
    expect(encodeXorAddress('2001:db8:1234:5678:11:2233:4455:6677', 32853, m.transactionId).equals(
      SAMPLE_IPV6_RESPONSE.subarray(20 + 16 + 4, 20 + 16 + 4 + 20),
    )).toBe(true);
  });

  it('2.4 long-term credentials: key = MD5(username:realm:password)', () => {
    const m = parseOk(SAMPLE_LONG_TERM);
    const username = getStringAttribute(m, StunAttr.Username)!;
    expect(username).toBe('\u30DE\u30C8\u30EA\u30C3\u30AF\u30B9');
    expect(getStringAttribute(m, StunAttr.Realm)).toBe('example.org');
    expect(getStringAttribute(m, StunAttr.Nonce)).toBe('f//499k954d6OL34oL9FSTvy64sA');
    expect(verifyMessageIntegrity(m, longTermKey(username, 'example.org', 'TheMatrIX'))).toBe(true);
    expect(verifyMessageIntegrity(m, longTermKey(username, 'example.org', 'TheMatrix'))).toBe(false);
  });

  it('a flipped bit breaks the fingerprint', () => {
    const b = Buffer.from(SAMPLE_REQUEST);
    b[30] ^= 1;
    const r = parseStunMessage(b);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toBe('bad-fingerprint');
  });
});

describe('STUN codec: build / parse', () => {
  it('round-trips with MESSAGE-INTEGRITY, MESSAGE-INTEGRITY-SHA256 and FINGERPRINT', () => {
    const key = longTermKey('u', 'r', 'p');
    const tx = newTransactionId();
    const buf = new StunMessageBuilder(StunMethod.Allocate, StunClass.ErrorResponse, tx)
      .addErrorCode(438)
      .addString(StunAttr.Realm, 'r')
      .addUint32(StunAttr.Lifetime, 1234)
      .addXorAddress(StunAttr.XorRelayedAddress, '10.1.2.3', 50000)
      .addXorAddress(StunAttr.XorPeerAddress, 'fe80::1:2', 9)
      .build({ integrityKey: key, integritySha256Key: key, fingerprint: true });
    expect(buf.length % 4).toBe(0);
    const m = parseOk(buf);
    expect(m.transactionId.equals(tx)).toBe(true);
    expect(getErrorCode(m)).toEqual({ code: 438, reason: 'Stale Nonce' });
    expect(getUint32Attribute(m, StunAttr.Lifetime)).toBe(1234);
    expect(getXorAddress(m, StunAttr.XorRelayedAddress)).toEqual({ family: 4, address: '10.1.2.3', port: 50000 });
    expect(getXorAddress(m, StunAttr.XorPeerAddress)).toEqual({ family: 6, address: 'fe80::1:2', port: 9 });
    expect(verifyMessageIntegrity(m, key)).toBe(true);
    expect(verifyMessageIntegritySha256(m, key)).toBe(true);
    expect(verifyMessageIntegritySha256(m, longTermKey('u', 'r', 'x'))).toBe(false);
  });

  it('ignores attributes after MESSAGE-INTEGRITY (except FINGERPRINT)', () => {
    const key = Buffer.from('k');
    const tx = newTransactionId();
    const base = new StunMessageBuilder(StunMethod.Binding, StunClass.Request, tx).addString(StunAttr.Username, 'a').build({ integrityKey: key });
    // append a SOFTWARE attribute after MI and fix the length
    const extra = Buffer.from([0x80, 0x22, 0x00, 0x04, 0x61, 0x62, 0x63, 0x64]);
    const buf = Buffer.concat([base, extra]);
    buf.writeUInt16BE(buf.length - 20, 2);
    const m = parseOk(buf);
    expect(getStringAttribute(m, StunAttr.Software)).toBeUndefined();
    expect(verifyMessageIntegrity(m, key)).toBe(true);
  });

  it('reports unknown comprehension-required attributes', () => {
    const buf = new StunMessageBuilder(StunMethod.Binding, StunClass.Request, newTransactionId())
      .add(0x7777, Buffer.from('x'))
      .add(0x8888, Buffer.from('y'))
      .build();
    expect(unknownComprehensionRequired(parseOk(buf))).toEqual([0x7777]);
  });

  it('IPv6 text formatting matches inet_ntop conventions', () => {
    const cases: Array<[string, string]> = [
      ['::1', '::1'],
      ['::', '::'],
      ['2001:0db8:0000:0000:0000:0000:0002:0001', '2001:db8::2:1'],
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
      ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
      ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
      ['fe80::', 'fe80::'],
    ];
    for (const [input, out] of cases) {
      const b = new Uint8Array(16);
      expect(writeIPv6(input, b, 0)).toBe(true);
      expect(formatIPv6(b, 0)).toBe(out);
    }
  });

  it('never throws on garbage, truncations and mutations', () => {
    const valid = [SAMPLE_REQUEST, SAMPLE_IPV4_RESPONSE, SAMPLE_IPV6_RESPONSE, SAMPLE_LONG_TERM];
    let n = 0;
    for (const v of valid) {
      for (let len = 0; len <= v.length; len++) {
        const r = parseStunMessage(v.subarray(0, len));
        if (len < v.length) expect(r.ok).toBe(false);
        n++;
      }
    }
    for (let i = 0; i < 20000; i++) {
      const v = Buffer.from(valid[i % valid.length]);
      const flips = 1 + (i % 4);
      for (let f = 0; f < flips; f++) v[Math.floor(Math.random() * v.length)] = Math.floor(Math.random() * 256);
      const r = parseStunMessage(v, { allowTrailing: i % 2 === 0 });
      if (r.ok) {
        // accessors must not throw on whatever parsed
        for (const a of r.message.attributes) decodeXorAddress(a.value, r.message.transactionId);
        getErrorCode(r.message);
        verifyMessageIntegrity(r.message, SHORT_TERM_PASSWORD);
        verifyMessageIntegritySha256(r.message, SHORT_TERM_PASSWORD);
      }
      n++;
    }
    for (let i = 0; i < 20000; i++) {
      const g = randomBytes(Math.floor(Math.random() * 120));
      if (g.length >= 8 && i % 2 === 0) g.writeUInt32BE(0x2112a442, 4);
      if (g.length >= 4 && i % 3 === 0) g[0] &= 0x3f;
      parseStunMessage(g);
      parseChannelData(g);
      n++;
    }
    expect(n).toBeGreaterThan(40000);
  });
});

describe('ChannelData and stream framing', () => {
  it('encodes / parses ChannelData, padding only when asked', () => {
    const d = Buffer.from('hello');
    const udp = encodeChannelData(0x4001, d);
    expect(udp.length).toBe(9);
    const tcp = encodeChannelData(0x4001, d, true);
    expect(tcp.length).toBe(12);
    for (const b of [udp, tcp]) {
      const r = parseChannelData(b);
      expect(r.ok && r.channel === 0x4001 && r.data.equals(d)).toBe(true);
    }
    expect(parseChannelData(Buffer.from([0x40, 0x00, 0x00, 0x05, 1])).ok).toBe(false);
    expect(parseChannelData(Buffer.from([0x80, 0x00, 0x00, 0x00])).ok).toBe(false);
  });

  it('frame length: STUN, ChannelData (padded), garbage', () => {
    expect(streamFrameLength(SAMPLE_REQUEST, 0, SAMPLE_REQUEST.length)).toBe(SAMPLE_REQUEST.length);
    expect(streamFrameLength(Buffer.from([0x40, 0x00, 0x00, 0x05]), 0, 4)).toBe(12);
    expect(streamFrameLength(Buffer.from([0x40, 0x00]), 0, 2)).toBe(0);
    expect(streamFrameLength(Buffer.from([0xc0]), 0, 1)).toBe(-1);
    expect(streamFrameLength(Buffer.from([0, 1, 0, 4, 1, 2, 3, 4]), 0, 8)).toBe(-1); // bad cookie
  });

  it('reassembles frames split at every position and many frames per chunk', () => {
    const frames = [SAMPLE_REQUEST, encodeChannelData(0x4000, Buffer.from('abcde'), true), SAMPLE_IPV6_RESPONSE, encodeChannelData(0x4fff, Buffer.alloc(0), true)];
    const stream = Buffer.concat(frames);
    for (let cut1 = 0; cut1 <= stream.length; cut1 += 3) {
      for (let cut2 = cut1; cut2 <= stream.length; cut2 += 7) {
        const got: Buffer[] = [];
        const f = new StreamFramer({ onFrame: (fr) => got.push(Buffer.from(fr)), onFrameError: () => got.push(Buffer.from('ERR')) });
        f.push(stream.subarray(0, cut1));
        f.push(stream.subarray(cut1, cut2));
        f.push(stream.subarray(cut2));
        expect(got.map((b) => b.toString('hex'))).toEqual(frames.map((b) => b.toString('hex')));
        expect(f.buffered).toBe(0);
      }
    }
    // byte by byte
    const got: Buffer[] = [];
    const f = new StreamFramer({ onFrame: (fr) => got.push(Buffer.from(fr)), onFrameError: () => {} });
    for (let i = 0; i < stream.length; i++) f.push(stream.subarray(i, i + 1));
    expect(got.length).toBe(frames.length);
  });

  it('rejects garbage and oversize frames once', () => {
    const errors: string[] = [];
    const f = new StreamFramer({ onFrame: () => {}, onFrameError: (r) => errors.push(r) }, 1000);
    f.push(Buffer.from([0x00, 0x01, 0xff, 0xfc, 0x21, 0x12, 0xa4, 0x42]));
    f.push(Buffer.alloc(100));
    expect(errors).toEqual(['too-large']);
    const g = new StreamFramer({ onFrame: () => {}, onFrameError: (r) => errors.push(r) });
    g.push(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc])); // a TLS ClientHello: bad cookie
    const h = new StreamFramer({ onFrame: () => {}, onFrameError: (r) => errors.push(r) });
    h.push(Buffer.from([0xff]));
    h.push(Buffer.from([0xff]));
    expect(errors).toEqual(['too-large', 'garbage', 'garbage']);
  });
});
