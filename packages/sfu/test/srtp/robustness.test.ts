// Tampering, replay, garbage input, ROC estimation edge cases, and the DTLS-SRTP keying-material split.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  SRTP_AEAD_AES_128_GCM,
  SRTP_AES128_CM_HMAC_SHA1_32,
  SRTP_AES128_CM_HMAC_SHA1_80,
  ReplayWindow,
  SrtcpContext,
  createSrtpTransportContexts,
  SrtpContext,
  fromDtlsKeyingMaterial,
  rtpHeaderLength,
  srtpKeyingMaterialLength,
} from '../../src/srtp/index.js';
import type { SrtpKeys, SrtpProfile } from '../../src/srtp/index.js';
import { makeRtcp, makeRtp } from './helpers.js';

const PROFILES: [string, SrtpProfile][] = [
  ['AES128_CM_HMAC_SHA1_80', SRTP_AES128_CM_HMAC_SHA1_80],
  ['AES128_CM_HMAC_SHA1_32', SRTP_AES128_CM_HMAC_SHA1_32],
  ['AEAD_AES_128_GCM', SRTP_AEAD_AES_128_GCM],
];

function keysFor(profile: SrtpProfile): SrtpKeys {
  return fromDtlsKeyingMaterial(profile, randomBytes(srtpKeyingMaterialLength(profile)), 'client').local;
}

const sample = (seq: number, ssrc = 0x55667788) =>
  makeRtp({
    seq,
    ssrc,
    csrcs: [1, 2],
    extensions: [
      { id: 1, data: Buffer.from([9]) },
      { id: 7, data: Buffer.from([1, 2, 3]) },
    ],
    payload: randomBytes(120),
  });

describe.each(PROFILES)('%s', (_name, profile) => {
  it('a flipped bit in header, extension, CSRC, payload or tag is rejected', () => {
    const keys = keysFor(profile);
    const tx = new SrtpContext(profile, keys);
    const plain = sample(100);
    const prot = tx.protect(plain);
    const h = rtpHeaderLength(plain);
    expect(h).toBe(12 + 8 + 4 + 8);
    const positions = [1, 2, 5, 9, 12, 17, 21, 26, 29, h, h + 50, plain.length - 1, plain.length, prot.length - 1];
    for (const pos of positions) {
      for (const bit of [0x01, 0x80]) {
        const bad = Buffer.from(prot);
        bad[pos] ^= bit;
        const rx = new SrtpContext(profile, keys);
        expect(rx.unprotect(bad), `byte ${pos} bit ${bit}`).toBeNull();
        // a failed packet leaves no state behind: the genuine one still passes
        expect(rx.unprotect(prot)?.equals(plain)).toBe(true);
      }
    }
  });

  it('replay of an RTP packet is rejected; reordering inside the window is not', () => {
    const keys = keysFor(profile);
    const tx = new SrtpContext(profile, keys);
    const rx = new SrtpContext(profile, keys);
    const pkts = Array.from({ length: 100 }, (_, i) => tx.protect(sample(1000 + i)));
    expect(rx.unprotect(pkts[0])).not.toBeNull();
    expect(rx.unprotect(pkts[0])).toBeNull();
    expect(rx.unprotect(pkts[80])).not.toBeNull();
    expect(rx.unprotect(pkts[79])).not.toBeNull(); // late but inside the window
    expect(rx.unprotect(pkts[79])).toBeNull(); // replay
    expect(rx.unprotect(pkts[20])).not.toBeNull(); // 60 behind: still inside 64
    expect(rx.unprotect(pkts[10])).toBeNull(); // 70 behind: outside the window
    expect(rx.unprotect(pkts[81])).not.toBeNull();
    expect(rx.unprotect(pkts[81])).toBeNull();
    // in-place variant obeys the same rules and leaves rejected input untouched
    const copy = Buffer.from(pkts[81]);
    expect(rx.unprotectInPlace(copy)).toBeNull();
    expect(copy.equals(pkts[81])).toBe(true);
  });

  it('late packet from before a wrap (ROC - 1) authenticates after the wrap', () => {
    const keys = keysFor(profile);
    const tx = new SrtpContext(profile, keys);
    const rx = new SrtpContext(profile, keys);
    const a = tx.protect(sample(65533));
    const b = tx.protect(sample(65534));
    const c = tx.protect(sample(65535));
    const d = tx.protect(sample(0));
    const e = tx.protect(sample(1));
    // retransmission of 65535 after the wrap is sent with ROC 0
    const cAgain = tx.protect(sample(65535));
    expect(tx.getRoc(0x55667788, 'tx')).toBe(1);
    expect(rx.unprotect(a)).not.toBeNull();
    expect(rx.unprotect(d)).not.toBeNull();
    expect(rx.getRoc(0x55667788, 'rx')).toBe(1);
    expect(rx.unprotect(b)).not.toBeNull();
    expect(rx.unprotect(e)).not.toBeNull();
    expect(rx.unprotect(c)).not.toBeNull();
    // the retransmission reuses index 65535 (ROC 0): a replay for rx, but valid for a receiver that missed c
    expect(rx.unprotect(cAgain)).toBeNull();
    const rx2 = new SrtpContext(profile, keys);
    expect(rx2.unprotect(a)).not.toBeNull();
    expect(rx2.unprotect(e)).not.toBeNull();
    expect(rx2.unprotect(cAgain)).not.toBeNull();
  });

  it('SRTCP tampering and replay', () => {
    const keys = keysFor(profile);
    const tx = new SrtcpContext(profile, keys);
    const plain = makeRtcp(0x99, 40);
    const prot = tx.protect(plain);
    expect(prot.length).toBe(plain.length + tx.overhead);
    for (let pos = 0; pos < prot.length; pos++) {
      const bad = Buffer.from(prot);
      bad[pos] ^= 0x04;
      expect(new SrtcpContext(profile, keys).unprotect(bad), `byte ${pos}`).toBeNull();
    }
    const rx = new SrtcpContext(profile, keys);
    expect(rx.unprotect(prot)?.equals(plain)).toBe(true);
    expect(rx.unprotect(prot)).toBeNull();
    const next = tx.protect(plain);
    expect(rx.unprotectInPlace(next)?.equals(plain)).toBe(true);
  });

  it('never throws on garbage or truncated input (>= 10,000 buffers per context)', () => {
    const keys = keysFor(profile);
    const tx = new SrtpContext(profile, keys);
    const rtcpTx = new SrtcpContext(profile, keys);
    const rx = new SrtpContext(profile, keys);
    const rtcpRx = new SrtcpContext(profile, keys);
    const good = tx.protect(sample(7));
    const goodRtcp = rtcpTx.protect(makeRtcp(0x42, 20));
    let n = 0;
    const feed = (b: Buffer) => {
      n++;
      expect(rx.unprotect(b)).toBeNull();
      expect(rx.unprotectInPlace(Buffer.from(b))).toBeNull();
      expect(rtcpRx.unprotect(b)).toBeNull();
      expect(rtcpRx.unprotectInPlace(Buffer.from(b))).toBeNull();
    };
    for (let i = 0; i < 6000; i++) {
      const b = randomBytes(i % 300);
      if (i & 1 && b.length) b[0] = (b[0] & 0x3f) | 0x80; // version 2 half of the time
      feed(b);
    }
    for (let len = 0; len < good.length; len++) feed(good.subarray(0, len));
    for (let len = 0; len < goodRtcp.length; len++) feed(goodRtcp.subarray(0, len));
    for (let i = 0; i < 4000; i++) {
      const b = Buffer.from(i & 1 ? good : goodRtcp);
      b[Math.floor(Math.random() * b.length)] ^= 1 << (i % 8);
      // RTP corruptions must fail RTP unprotect; RTCP corruptions must fail RTCP unprotect
      if (i & 1) {
        expect(rx.unprotect(b)).toBeNull();
        expect(rtcpRx.unprotect(b)).toBeNull();
      } else {
        expect(rtcpRx.unprotect(b)).toBeNull();
        expect(rx.unprotect(b)).toBeNull();
      }
      n++;
    }
    // extension length pointing past the end, CSRC count past the end
    const ext = Buffer.from(good);
    ext[0] |= 0x10;
    ext.writeUInt16BE(0xffff, 14);
    feed(ext);
    const cc = Buffer.from(good);
    cc[0] |= 0x0f;
    feed(cc.subarray(0, 40));
    expect(n).toBeGreaterThanOrEqual(10_000);
    // nothing was learnt from garbage; genuine packets still pass
    expect(rx.getRoc(0x55667788, 'rx')).toBeUndefined();
    expect(rx.unprotect(good)).not.toBeNull();
    expect(rtcpRx.unprotect(goodRtcp)).not.toBeNull();
  });
});

describe('protect input validation', () => {
  it('throws RangeError on malformed packets or short output', () => {
    const ctx = new SrtpContext(SRTP_AES128_CM_HMAC_SHA1_80, keysFor(SRTP_AES128_CM_HMAC_SHA1_80));
    expect(() => ctx.protect(Buffer.alloc(8))).toThrow(RangeError);
    expect(() => ctx.protectInto(makeRtp({ seq: 1, payload: Buffer.alloc(10) }), Buffer.alloc(20))).toThrow(RangeError);
    const rtcp = new SrtcpContext(SRTP_AEAD_AES_128_GCM, keysFor(SRTP_AEAD_AES_128_GCM));
    expect(() => rtcp.protect(Buffer.alloc(4))).toThrow(RangeError);
  });

  it('explicit headerLen equals parsed header length', () => {
    const keys = keysFor(SRTP_AEAD_AES_128_GCM);
    const a = new SrtpContext(SRTP_AEAD_AES_128_GCM, keys);
    const b = new SrtpContext(SRTP_AEAD_AES_128_GCM, keys);
    const p = sample(3);
    expect(a.protect(p, rtpHeaderLength(p)).equals(b.protect(p))).toBe(true);
  });

  it('in-place protect (out aliases the packet)', () => {
    const keys = keysFor(SRTP_AES128_CM_HMAC_SHA1_80);
    const a = new SrtpContext(SRTP_AES128_CM_HMAC_SHA1_80, keys);
    const b = new SrtpContext(SRTP_AES128_CM_HMAC_SHA1_80, keys);
    const p = sample(3);
    const big = Buffer.alloc(p.length + 10);
    p.copy(big);
    const n = a.protectInto(big.subarray(0, p.length), big);
    expect(big.subarray(0, n).equals(b.protect(p))).toBe(true);
  });
});

describe('ReplayWindow', () => {
  it('tracks a 64-packet window', () => {
    const w = new ReplayWindow(64);
    expect(w.check(0)).toBe(true);
    w.accept(0);
    expect(w.check(0)).toBe(false);
    w.accept(100);
    expect(w.check(36)).toBe(false); // 64 behind
    expect(w.check(37)).toBe(true);
    w.accept(37);
    expect(w.check(37)).toBe(false);
    expect(w.check(101)).toBe(true);
    expect(() => new ReplayWindow(63)).toThrow(RangeError);
  });
});

describe('DTLS-SRTP keying material split (RFC 5764 §4.2)', () => {
  it.each(PROFILES)('%s: client local = server remote and vice versa', (_n, profile) => {
    const len = srtpKeyingMaterialLength(profile);
    expect(len).toBe(profile === SRTP_AEAD_AES_128_GCM ? 56 : 60);
    const material = Buffer.from(Array.from({ length: len }, (_, i) => i));
    const client = fromDtlsKeyingMaterial(profile, material, 'client');
    const server = fromDtlsKeyingMaterial(profile, material, 'server');
    expect(client.local.masterKey.equals(server.remote.masterKey)).toBe(true);
    expect(client.local.masterSalt.equals(server.remote.masterSalt)).toBe(true);
    expect(client.remote.masterKey.equals(server.local.masterKey)).toBe(true);
    expect(client.remote.masterSalt.equals(server.local.masterSalt)).toBe(true);
    const k = 16;
    const s = len / 2 - k;
    // client_write_key | server_write_key | client_write_salt | server_write_salt
    expect(client.local.masterKey.equals(material.subarray(0, k))).toBe(true);
    expect(server.local.masterKey.equals(material.subarray(k, 2 * k))).toBe(true);
    expect(client.local.masterSalt.equals(material.subarray(2 * k, 2 * k + s))).toBe(true);
    expect(server.local.masterSalt.equals(material.subarray(2 * k + s, len))).toBe(true);
    // and the two ends actually talk
    const rtp = makeRtp({ seq: 9, payload: Buffer.from('hello') });
    const fromClient = new SrtpContext(profile, client.local).protect(rtp);
    expect(new SrtpContext(profile, server.remote).unprotect(fromClient)?.equals(rtp)).toBe(true);
    expect(new SrtpContext(profile, server.local).unprotect(fromClient)).toBeNull();
    expect(() => fromDtlsKeyingMaterial(profile, material.subarray(0, len - 1), 'client')).toThrow(RangeError);
  });
});

describe('createSrtpTransportContexts', () => {
  it.each(PROFILES)('%s: client and server contexts from one material talk both ways', (_n, profile) => {
    const material = randomBytes(srtpKeyingMaterialLength(profile));
    const c = createSrtpTransportContexts(profile, material, 'client');
    const s = createSrtpTransportContexts(profile, material, 'server');
    const rtp = makeRtp({ seq: 1, payload: randomBytes(50) });
    const rtcp = makeRtcp(5, 12);
    expect(s.rtpIn.unprotect(c.rtpOut.protect(rtp))?.equals(rtp)).toBe(true);
    expect(c.rtpIn.unprotect(s.rtpOut.protect(rtp))?.equals(rtp)).toBe(true);
    expect(s.rtcpIn.unprotect(c.rtcpOut.protect(rtcp))?.equals(rtcp)).toBe(true);
    expect(c.rtcpIn.unprotect(s.rtcpOut.protect(rtcp))?.equals(rtcp)).toBe(true);
  });
});
