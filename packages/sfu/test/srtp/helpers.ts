import { SrtcpSession, SrtpSession } from 'werift';
import type { SrtpKeys } from '../../src/srtp/index.js';

export const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

export interface RtpSpec {
  seq: number;
  ssrc?: number;
  timestamp?: number;
  payloadType?: number;
  marker?: boolean;
  csrcs?: number[];
  /** one-byte header extensions (RFC 8285), each 1..16 bytes */
  extensions?: { id: number; data: Buffer }[];
  payload: Buffer;
}

/** Serialise a plain RTP packet (one-byte extension profile 0xBEDE, zero padded to a word). */
export function makeRtp(spec: RtpSpec): Buffer {
  const csrcs = spec.csrcs ?? [];
  let ext = Buffer.alloc(0);
  if (spec.extensions && spec.extensions.length) {
    const body = Buffer.concat(spec.extensions.map((e) => Buffer.concat([Buffer.from([(e.id << 4) | (e.data.length - 1)]), e.data])));
    const words = Math.ceil(body.length / 4);
    ext = Buffer.alloc(4 + words * 4);
    ext.writeUInt16BE(0xbede, 0);
    ext.writeUInt16BE(words, 2);
    body.copy(ext, 4);
  }
  const h = Buffer.alloc(12 + csrcs.length * 4);
  h[0] = 0x80 | (ext.length ? 0x10 : 0) | csrcs.length;
  h[1] = (spec.marker ? 0x80 : 0) | (spec.payloadType ?? 96);
  h.writeUInt16BE(spec.seq & 0xffff, 2);
  h.writeUInt32BE((spec.timestamp ?? 0x01020304) >>> 0, 4);
  h.writeUInt32BE((spec.ssrc ?? 0x11223344) >>> 0, 8);
  csrcs.forEach((c, i) => h.writeUInt32BE(c >>> 0, 12 + i * 4));
  return Buffer.concat([h, ext, spec.payload]);
}

/** A minimal RTCP receiver report (+ optional extra bytes) from `ssrc`. */
export function makeRtcp(ssrc: number, extra = 0, fill = 0x5a): Buffer {
  const words = 1 + Math.ceil(extra / 4);
  const b = Buffer.alloc(4 + words * 4, fill);
  b[0] = 0x80;
  b[1] = 201; // RR, RC 0
  b.writeUInt16BE(words, 2);
  b.writeUInt32BE(ssrc >>> 0, 4);
  return b;
}

export function weriftSrtp(profile: number, local: SrtpKeys, remote: SrtpKeys): SrtpSession {
  return new SrtpSession({
    profile,
    keys: {
      localMasterKey: local.masterKey,
      localMasterSalt: local.masterSalt,
      remoteMasterKey: remote.masterKey,
      remoteMasterSalt: remote.masterSalt,
    },
  });
}

export function weriftSrtcp(profile: number, local: SrtpKeys, remote: SrtpKeys): SrtcpSession {
  return new SrtcpSession({
    profile,
    keys: {
      localMasterKey: local.masterKey,
      localMasterSalt: local.masterSalt,
      remoteMasterKey: remote.masterKey,
      remoteMasterSalt: remote.masterSalt,
    },
  });
}
