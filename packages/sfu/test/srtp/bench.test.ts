// Micro-benchmark: Kite SRTP vs werift's SrtpSession in the same process. Prints figures, asserts nothing about time.
//
// Method: for each (profile, payload size) every variant runs in interleaved slices of RING packets (so background
// load hits all variants alike); a slice's cost is process CPU time (user + sys) / packets. Reported: median slice and
// best slice, as µs/op and ops/s. A young-generation GC runs before each slice (untimed), so garbage is paid by
// whoever made it. Receivers are recreated outside the timed region before each slice (the same RING
// of sequential packets is replayed, which a fresh replay window accepts).
import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { RtpPacket } from 'werift';
import { describe, expect, it } from 'vitest';
import {
  SRTP_AEAD_AES_128_GCM,
  SRTP_AES128_CM_HMAC_SHA1_80,
  SrtpContext,
  fromDtlsKeyingMaterial,
  srtpKeyingMaterialLength,
} from '../../src/srtp/index.js';
import type { SrtpProfile } from '../../src/srtp/index.js';
import { makeRtp, weriftSrtp } from './helpers.js';

const RING = 1024;
const ROUNDS = Number(process.env.SRTP_BENCH_ROUNDS ?? 9);

interface Variant {
  name: string;
  /** untimed preparation; returns the timed body */
  prepare: () => (i: number) => unknown;
}

function measure(variants: Variant[]): Map<string, number[]> {
  const samples = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  for (let round = -1; round < ROUNDS; round++) {
    for (const v of variants) {
      const body = v.prepare();
      gc();
      const t0 = process.cpuUsage();
      for (let i = 0; i < RING; i++) body(i);
      const dt = process.cpuUsage(t0);
      if (round >= 0) samples.get(v.name)!.push((dt.user + dt.system) / RING); // round -1 = warm-up
    }
  }
  return samples;
}

// A GC before each slice (untimed), so one variant's garbage is not collected on another's clock.
setFlagsFromString('--expose-gc');
const fullGc = runInNewContext('gc') as (options?: { type: 'minor' | 'major' }) => void;
const gc = () => fullGc({ type: 'minor' });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const best = (xs: number[]) => Math.min(...xs);

function bench(profile: SrtpProfile, size: number) {
  const material = randomBytes(srtpKeyingMaterialLength(profile));
  const kite = fromDtlsKeyingMaterial(profile, material, 'server');
  const peer = fromDtlsKeyingMaterial(profile, material, 'client');
  const ssrc = 0x0badcafe;
  const plains = Array.from({ length: RING }, (_, i) =>
    makeRtp({ seq: 30000 + i, ssrc, timestamp: i * 3000, extensions: [{ id: 1, data: Buffer.from([0x30]) }], payload: randomBytes(size) }),
  );
  const parsed = plains.map((p) => RtpPacket.deSerialize(p));
  // Kite's local keys are werift's remote keys: both senders produce packets for the same receiver keys
  const prot = plains.map((p) => new SrtpContext(profile, kite.local).protect(p));
  const weriftTx = weriftSrtp(profile, kite.local, kite.local);
  const egress = Buffer.alloc(1500);
  const copies = prot.map((p) => Buffer.from(p));

  const variants: Variant[] = [
    // senders are fresh per slice too, so every slice is a stream moving forward (not a replay of old indices)
    {
      name: 'kite protect',
      prepare: () => {
        const tx = new SrtpContext(profile, kite.local);
        return (i) => tx.protect(plains[i]);
      },
    },
    {
      name: 'kite protectInto',
      prepare: () => {
        const tx = new SrtpContext(profile, kite.local);
        return (i) => tx.protectInto(plains[i], egress);
      },
    },
    {
      name: 'werift encrypt',
      prepare: () => {
        const tx = weriftSrtp(profile, kite.local, kite.local);
        return (i) => tx.encrypt(parsed[i].payload, parsed[i].header);
      },
    },
    {
      name: 'kite unprotect',
      prepare: () => {
        const rx = new SrtpContext(profile, kite.local);
        return (i) => rx.unprotect(prot[i]);
      },
    },
    {
      name: 'kite unprotectInPlace',
      prepare: () => {
        const rx = new SrtpContext(profile, kite.local);
        for (let i = 0; i < RING; i++) prot[i].copy(copies[i]);
        return (i) => rx.unprotectInPlace(copies[i]);
      },
    },
    {
      name: 'werift decrypt',
      prepare: () => {
        const rx = weriftSrtp(profile, peer.local, kite.local);
        return (i) => rx.decrypt(prot[i]);
      },
    },
  ];
  // sanity: every variant really works on these packets
  expect(new SrtpContext(profile, kite.local).unprotect(weriftTx.encrypt(parsed[0].payload, parsed[0].header))?.equals(plains[0])).toBe(true);
  expect(weriftSrtp(profile, peer.local, kite.local).decrypt(prot[0]).equals(plains[0])).toBe(true);

  const s = measure(variants);
  const row = (name: string) => {
    const m = median(s.get(name)!);
    const b = best(s.get(name)!);
    return { m, b };
  };
  const lines: string[] = [];
  for (const v of variants) {
    const { m, b } = row(v.name);
    lines.push(
      `  ${v.name.padEnd(22)} ${(1e6 / m).toFixed(0).padStart(8)} ops/s ${m.toFixed(2).padStart(6)} µs/op   (best ${(1e6 / b).toFixed(0)} ops/s, ${b.toFixed(2)} µs)`,
    );
  }
  const ratio = (k: string, w: string) => `${(row(w).m / row(k).m).toFixed(2)}x (best ${(row(w).b / row(k).b).toFixed(2)}x)`;
  lines.push(
    `  werift time / kite time: protect ${ratio('kite protect', 'werift encrypt')}, protectInto ${ratio('kite protectInto', 'werift encrypt')}, ` +
      `unprotect ${ratio('kite unprotect', 'werift decrypt')}, unprotectInPlace ${ratio('kite unprotectInPlace', 'werift decrypt')}`,
  );
  return lines;
}

describe('SRTP benchmark (prints; no timing assertions)', () => {
  it('Kite vs werift, AES_CM_128_HMAC_SHA1_80 and AEAD_AES_128_GCM, 1200 B and 160 B payloads', () => {
    const out: string[] = [`SRTP benchmark, Node ${process.version}, CPU time per packet (median of ${ROUNDS} slices of ${RING})`];
    for (const [name, profile] of [
      ['AES_CM_128_HMAC_SHA1_80', SRTP_AES128_CM_HMAC_SHA1_80],
      ['AEAD_AES_128_GCM', SRTP_AEAD_AES_128_GCM],
    ] as [string, SrtpProfile][]) {
      for (const size of [1200, 160]) {
        out.push(`${name}, ${size} B payload:`);
        out.push(...bench(profile, size));
      }
    }
    console.log(out.join('\n'));
  }, 120_000);
});
