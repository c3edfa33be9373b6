// Interop with werift's SrtpSession / SrtcpSession (a reference peer) in both directions.
import { randomBytes } from 'node:crypto';
import { RtpPacket } from 'werift';
import { describe, expect, it } from 'vitest';
import {
  SRTP_AEAD_AES_128_GCM,
  SRTP_AES128_CM_HMAC_SHA1_80,
  SrtcpContext,
  SrtpContext,
  fromDtlsKeyingMaterial,
  srtpKeyingMaterialLength,
} from '../../src/srtp/index.js';
import type { SrtpProfile } from '../../src/srtp/index.js';
import { makeRtcp, makeRtp, weriftSrtcp, weriftSrtp } from './helpers.js';
import type { RtpSpec } from './helpers.js';

const PROFILES: [string, SrtpProfile][] = [
  ['AES128_CM_HMAC_SHA1_80', SRTP_AES128_CM_HMAC_SHA1_80],
  ['AEAD_AES_128_GCM', SRTP_AEAD_AES_128_GCM],
];

function setup(profile: SrtpProfile) {
  const material = randomBytes(srtpKeyingMaterialLength(profile));
  const kite = fromDtlsKeyingMaterial(profile, material, 'server');
  const peer = fromDtlsKeyingMaterial(profile, material, 'client');
  return {
    kiteRtp: { tx: new SrtpContext(profile, kite.local), rx: new SrtpContext(profile, kite.remote) },
    kiteRtcp: { tx: new SrtcpContext(profile, kite.local), rx: new SrtcpContext(profile, kite.remote) },
    werift: weriftSrtp(profile, peer.local, peer.remote),
    weriftRtcp: weriftSrtcp(profile, peer.local, peer.remote),
  };
}

const ext = (id: number, n: number) => ({ id, data: randomBytes(n) });
function variants(seq: number, ssrc = 0x11223344): RtpSpec[] {
  return [
    { seq, ssrc, payload: randomBytes(1200) },
    { seq, ssrc, payload: randomBytes(1), marker: true },
    { seq, ssrc, csrcs: [0xdeadbeef, 0x01020304, 7], payload: randomBytes(160) },
    { seq, ssrc, extensions: [ext(1, 1), ext(3, 2), ext(4, 3)], payload: randomBytes(300) },
    { seq, ssrc, csrcs: [0xcafebabe], extensions: [ext(2, 16), ext(5, 4)], payload: randomBytes(777) },
  ];
}

/** werift re-serialises the header when it encrypts: our test packets must survive that byte for byte. */
function weriftEncrypt(session: ReturnType<typeof weriftSrtp>, plain: Buffer): Buffer {
  const p = RtpPacket.deSerialize(plain);
  expect(p.serialize().equals(plain)).toBe(true);
  return session.encrypt(p.payload, p.header);
}

describe.each(PROFILES)('werift interop, %s', (_name, profile) => {
  it('RTP Kite -> werift, incl. CSRCs and header extensions', () => {
    const s = setup(profile);
    let seq = 1000;
    for (const spec of variants(0)) {
      spec.seq = seq++;
      const plain = makeRtp(spec);
      const prot = s.kiteRtp.tx.protect(plain);
      expect(prot.length).toBe(plain.length + s.kiteRtp.tx.tagLength);
      // header (incl. CSRCs + extensions) travels in the clear
      const h = plain.length - spec.payload.length;
      expect(prot.subarray(0, h).equals(plain.subarray(0, h))).toBe(true);
      expect(s.werift.decrypt(prot).equals(plain)).toBe(true);
    }
  });

  it('RTP werift -> Kite, incl. CSRCs and header extensions', () => {
    const s = setup(profile);
    let seq = 40000;
    for (const spec of variants(0)) {
      spec.seq = seq++;
      const plain = makeRtp(spec);
      const prot = weriftEncrypt(s.werift, plain);
      const out = s.kiteRtp.rx.unprotect(prot);
      expect(out?.equals(plain)).toBe(true);
    }
  });

  it('RTP protectInto a reused egress buffer and unprotectInPlace', () => {
    const s = setup(profile);
    const egress = Buffer.alloc(1500);
    let seq = 5;
    for (const spec of variants(0)) {
      spec.seq = seq++;
      const plain = makeRtp(spec);
      const n = s.kiteRtp.tx.protectInto(plain, egress);
      const wire = Buffer.from(egress.subarray(0, n));
      expect(s.werift.decrypt(wire).equals(plain)).toBe(true);
      const back = weriftEncrypt(s.werift, plain);
      const view = s.kiteRtp.rx.unprotectInPlace(back);
      expect(view?.equals(plain)).toBe(true);
      expect(view?.buffer).toBe(back.buffer);
    }
  });

  it('RTP across a sequence-number wrap (ROC 0 -> 1), both directions', () => {
    const s = setup(profile);
    const ssrc = 0xa1b2c3d4;
    for (let i = 0; i < 40; i++) {
      const seq = (65520 + i) & 0xffff;
      const plain = makeRtp({ seq, ssrc, extensions: [ext(1, 2)], payload: randomBytes(200) });
      // Kite -> werift
      expect(s.werift.decrypt(s.kiteRtp.tx.protect(plain)).equals(plain)).toBe(true);
      // werift -> Kite
      expect(s.kiteRtp.rx.unprotect(weriftEncrypt(s.werift, plain))?.equals(plain)).toBe(true);
    }
    expect(s.kiteRtp.tx.getRoc(ssrc, 'tx')).toBe(1);
    expect(s.kiteRtp.rx.getRoc(ssrc, 'rx')).toBe(1);
  });

  it('RTCP both directions, several SSRCs', () => {
    const s = setup(profile);
    for (let i = 0; i < 20; i++) {
      const plain = makeRtcp(0x1000 + (i % 3), 4 * (i % 7), i);
      expect(s.weriftRtcp.decrypt(s.kiteRtcp.tx.protect(plain)).equals(plain)).toBe(true);
      const fromWerift = s.weriftRtcp.encrypt(plain);
      expect(s.kiteRtcp.rx.unprotect(fromWerift)?.equals(plain)).toBe(true);
    }
    expect(s.kiteRtcp.tx.nextIndex(0x1000)).toBe(7);
  });
});
