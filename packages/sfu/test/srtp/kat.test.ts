// Known-answer tests.
//  - RFC 3711 Appendix B.2 (AES-CM keystream, via our SRTP IV construction with SSRC = ROC = SEQ = 0)
//  - RFC 3711 Appendix B.3 (key derivation, labels 0/1/2)
//  - libsrtp test/srtp_driver.c srtp_validate() / srtp_validate_gcm(): full SRTP and SRTCP packets from master keys
//    (AES_CM_128_HMAC_SHA1_80, its _32 truncation, AEAD_AES_128_GCM with a 12-byte master salt -> checks the GCM KDF)
//  - RFC 7714 §16.1.1 (SRTP AEAD_AES_128_GCM), §17.1 (SRTCP, E=1) and §17.3 (SRTCP tag-only, E=0), from session keys
import { describe, expect, it } from 'vitest';
import {
  SRTP_AEAD_AES_128_GCM,
  SRTP_AES128_CM_HMAC_SHA1_32,
  SRTP_AES128_CM_HMAC_SHA1_80,
  SrtcpContext,
  SrtpContext,
  deriveSessionKeys,
  srtpKdf,
} from '../../src/srtp/index.js';
import { hex } from './helpers.js';

describe('RFC 3711 Appendix B.2 — AES-CM keystream', () => {
  const sessionKeys = {
    rtpKey: hex('2B7E151628AED2A6ABF7158809CF4F3C'),
    rtpSalt: hex('F0F1F2F3F4F5F6F7F8F9FAFBFCFD'),
    rtpAuthKey: Buffer.alloc(20, 1),
    rtcpKey: hex('2B7E151628AED2A6ABF7158809CF4F3C'),
    rtcpSalt: hex('F0F1F2F3F4F5F6F7F8F9FAFBFCFD'),
    rtcpAuthKey: Buffer.alloc(20, 1),
  };
  // header with SSRC = 0, SEQ = 0 (ROC 0): the counter block is exactly salt·2^16
  const header = hex('80000000 00000000 00000000');

  it('first three counter blocks', () => {
    const ctx = SrtpContext.fromSessionKeys(SRTP_AES128_CM_HMAC_SHA1_80, sessionKeys);
    const out = ctx.protect(Buffer.concat([header, Buffer.alloc(48)]));
    expect(out.subarray(12, 60).toString('hex').toUpperCase()).toBe(
      'E03EAD0935C95E80E166B16DD92B4EB4' + 'D23513162B02D0F72A43A2FE4A5F97AB' + '41E95B3BB0A2E8DD477901E4FCA894C0',
    );
  });

  it('counter blocks FEFF, FF00, FF01', () => {
    const ctx = SrtpContext.fromSessionKeys(SRTP_AES128_CM_HMAC_SHA1_80, sessionKeys);
    const out = ctx.protect(Buffer.concat([header, Buffer.alloc(0xff02 * 16)]));
    const block = (n: number) => out.subarray(12 + n * 16, 12 + (n + 1) * 16).toString('hex').toUpperCase();
    expect(block(0xfeff)).toBe('EC8CDF7398607CB0F2D21675EA9EA1E4');
    expect(block(0xff00)).toBe('362B7C3C6773516318A077D7FC5073AE');
    expect(block(0xff01)).toBe('6A2CC3787889374FBEB4C81B17BA6C44');
  });
});

describe('RFC 3711 Appendix B.3 — key derivation', () => {
  const masterKey = hex('E1F97A0D3E018BE0D64FA32C06DE4139');
  const masterSalt = hex('0EC675AD498AFEEBB6960B3AABE6');

  it('srtpKdf labels 0, 2, 1', () => {
    expect(srtpKdf(masterKey, masterSalt, 0, 16).toString('hex').toUpperCase()).toBe('C61E7A93744F39EE10734AFE3FF7A087');
    expect(srtpKdf(masterKey, masterSalt, 2, 14).toString('hex').toUpperCase()).toBe('30CBBC08863D8C85D49DB34A9AE1');
    expect(srtpKdf(masterKey, masterSalt, 1, 20).toString('hex').toUpperCase()).toBe('CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4');
  });

  it('deriveSessionKeys', () => {
    const k = deriveSessionKeys(SRTP_AES128_CM_HMAC_SHA1_80, { masterKey, masterSalt });
    expect(k.rtpKey.toString('hex')).toBe('c61e7a93744f39ee10734afe3ff7a087');
    expect(k.rtpSalt.toString('hex')).toBe('30cbbc08863d8c85d49db34a9ae1');
    expect(k.rtpAuthKey.toString('hex')).toBe('cebe321f6ff7716b6fd4ab49af256a156d38baa4');
    expect(k.rtcpKey.length).toBe(16);
    expect(k.rtcpSalt.length).toBe(14);
    expect(k.rtcpAuthKey.length).toBe(20);
    const g = deriveSessionKeys(SRTP_AEAD_AES_128_GCM, { masterKey, masterSalt: masterSalt.subarray(0, 12) });
    expect(g.rtpSalt.length).toBe(12);
    expect(g.rtpAuthKey.length).toBe(0);
  });
});

describe('libsrtp srtp_validate() — AES_CM_128_HMAC_SHA1_80 / _32 from master keys', () => {
  const keys = { masterKey: hex('E1F97A0D3E018BE0D64FA32C06DE4139'), masterSalt: hex('0EC675AD498AFEEBB6960B3AABE6') };
  const rtpPlain = hex('800f1234 decafbad cafebabe' + 'ab'.repeat(16));
  const srtp80 = hex('800f1234 decafbad cafebabe 4e55dc4c e79978d8 8ca4d215 949d2402 b78d6acc 99ea179b 8dbb');
  const rtcpPlain = hex('81c8000b cafebabe' + 'ab'.repeat(16));
  const srtcp = hex('81c8000b cafebabe 7128035b e487b9bd bef89041 f977a5a8 80000001 993e08cd 54d6c123 0798');

  it('SRTP protect/unprotect (80-bit tag)', () => {
    expect(new SrtpContext(SRTP_AES128_CM_HMAC_SHA1_80, keys).protect(rtpPlain).toString('hex')).toBe(srtp80.toString('hex'));
    expect(new SrtpContext(SRTP_AES128_CM_HMAC_SHA1_80, keys).unprotect(srtp80)?.toString('hex')).toBe(rtpPlain.toString('hex'));
  });

  it('SRTP protect/unprotect (32-bit tag)', () => {
    const srtp32 = srtp80.subarray(0, 32);
    expect(new SrtpContext(SRTP_AES128_CM_HMAC_SHA1_32, keys).protect(rtpPlain).toString('hex')).toBe(srtp32.toString('hex'));
    expect(new SrtpContext(SRTP_AES128_CM_HMAC_SHA1_32, keys).unprotect(srtp32)?.toString('hex')).toBe(rtpPlain.toString('hex'));
  });

  it('SRTCP protect (index 1) / unprotect', () => {
    const tx = new SrtcpContext(SRTP_AES128_CM_HMAC_SHA1_80, keys);
    tx.protect(rtcpPlain); // index 0 (RFC 3711 §3.4 starts at 0; libsrtp's first packet carries 1)
    expect(tx.protect(rtcpPlain).toString('hex')).toBe(srtcp.toString('hex'));
    expect(new SrtcpContext(SRTP_AES128_CM_HMAC_SHA1_80, keys).unprotect(srtcp)?.toString('hex')).toBe(rtcpPlain.toString('hex'));
    // SHA1_32 keeps the 80-bit SRTCP tag (RFC 5764 §4.1.2)
    expect(new SrtcpContext(SRTP_AES128_CM_HMAC_SHA1_32, keys).unprotect(srtcp)?.toString('hex')).toBe(rtcpPlain.toString('hex'));
  });
});

describe('libsrtp srtp_validate_gcm() — AEAD_AES_128_GCM from master keys (12-byte salt through the KDF)', () => {
  const keys = { masterKey: hex('000102030405060708090a0b0c0d0e0f'), masterSalt: hex('a0a1a2a3a4a5a6a7a8a9aaab') };
  const rtpPlain = hex('800f1234 decafbad cafebabe' + 'ab'.repeat(16));
  const srtp = hex(
    '800f1234 decafbad cafebabe c5002ede 04cfdd2e b91159e0 880aa06e d2976826 f796b201 df3131a1 27e8a392',
  );
  const rtcpPlain = hex('81c8000b cafebabe' + 'ab'.repeat(16));
  const srtcp = hex(
    '81c8000b cafebabe c98b8b5d f0392a55 852b6c21 ac8e7025 c52c6fbe a2b3b446 ea31123b a88ce61e 80000001',
  );

  it('SRTP', () => {
    expect(new SrtpContext(SRTP_AEAD_AES_128_GCM, keys).protect(rtpPlain).toString('hex')).toBe(srtp.toString('hex'));
    expect(new SrtpContext(SRTP_AEAD_AES_128_GCM, keys).unprotect(srtp)?.toString('hex')).toBe(rtpPlain.toString('hex'));
  });

  it('SRTCP (index 1)', () => {
    const tx = new SrtcpContext(SRTP_AEAD_AES_128_GCM, keys);
    tx.protect(rtcpPlain);
    expect(tx.protect(rtcpPlain).toString('hex')).toBe(srtcp.toString('hex'));
    expect(new SrtcpContext(SRTP_AEAD_AES_128_GCM, keys).unprotect(srtcp)?.toString('hex')).toBe(rtcpPlain.toString('hex'));
  });
});

describe('RFC 7714 §16–17 — AEAD_AES_128_GCM from session keys', () => {
  const session = {
    rtpKey: hex('000102030405060708090a0b0c0d0e0f'),
    rtpSalt: hex('517569642070726f2071756f'), // "Quid pro quo"
    rtpAuthKey: Buffer.alloc(0),
    rtcpKey: hex('000102030405060708090a0b0c0d0e0f'),
    rtcpSalt: hex('517569642070726f2071756f'),
    rtcpAuthKey: Buffer.alloc(0),
  };
  const rtp = hex('8040f17b 8041f8d3 5501a0b2 47616c6c 69612065 7374206f 6d6e6973 20646976 69736120 696e2070 61727465 73207472 6573');
  const srtp = hex(
    '8040f17b 8041f8d3 5501a0b2 f24de3a3 fb34de6c acba861c 9d7e4bca be633bd5 0d294e6f 42a5f47a 51c7d19b 36de3adf 8833899d 7f27beb1 6a9152cf 765ee439 0cce',
  );
  const rtcp = hex(
    '81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930 4c756e61 deadbeef deadbeef deadbeef deadbeef deadbeef',
  );
  const srtcp = hex(
    '81c8000d 4d617273 63e94885 dcdab67c a727d766 2f6b7e99 7ff5c0f7 6c06f32d c676a5f1 730d6fda 4ce09b46 86303ded 0bb9275b c84aa458 96cf4d2f c5abf872 45d9eade 800005d4',
  );
  const srtcpTagOnly = hex(
    '81c8000d 4d617273 4e545031 4e545032 52545020 0000042a 0000e930 4c756e61 deadbeef deadbeef deadbeef deadbeef deadbeef 841dd968 3dd78ec9 2ae58790 125f62b3 000005d4',
  );

  it('§16.1.1 SRTP encryption / §16.1.2 decryption', () => {
    expect(SrtpContext.fromSessionKeys(SRTP_AEAD_AES_128_GCM, session).protect(rtp).toString('hex')).toBe(srtp.toString('hex'));
    expect(SrtpContext.fromSessionKeys(SRTP_AEAD_AES_128_GCM, session).unprotect(srtp)?.toString('hex')).toBe(rtp.toString('hex'));
  });

  it('§17.1 SRTCP encryption (index 0x5d4) and decryption', () => {
    const rx = SrtcpContext.fromSessionKeys(SRTP_AEAD_AES_128_GCM, session);
    expect(rx.unprotect(srtcp)?.toString('hex')).toBe(rtcp.toString('hex'));
    expect(rx.highestReceivedIndex(0x4d617273)).toBe(0x5d4);
    const tx = SrtcpContext.fromSessionKeys(SRTP_AEAD_AES_128_GCM, session);
    for (let i = 0; i < 0x5d4; i++) tx.protect(rtcp);
    expect(tx.nextIndex(0x4d617273)).toBe(0x5d4);
    expect(tx.protect(rtcp).toString('hex')).toBe(srtcp.toString('hex'));
  });

  it('§17.3 SRTCP tag-only (E = 0) verification', () => {
    const rx = SrtcpContext.fromSessionKeys(SRTP_AEAD_AES_128_GCM, session);
    expect(rx.unprotect(srtcpTagOnly)?.toString('hex')).toBe(rtcp.toString('hex'));
    const bad = Buffer.from(srtcpTagOnly);
    bad[20] ^= 1;
    expect(SrtcpContext.fromSessionKeys(SRTP_AEAD_AES_128_GCM, session).unprotect(bad)).toBeNull();
  });
});
