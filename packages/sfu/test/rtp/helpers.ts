/** Test helpers: deterministic PRNG, byte fixtures, a tiny MSB-first bit writer. */

/** Mulberry32: deterministic 32-bit PRNG so failures are reproducible. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randInt(r: () => number, lo: number, hiExcl: number): number {
  return lo + Math.floor(r() * (hiExcl - lo));
}

export function randomBytes(r: () => number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

export function u8(...parts: Array<number | number[] | Uint8Array>): Uint8Array {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === 'number') out.push(p);
    else for (const x of p) out.push(x);
  }
  return Uint8Array.from(out);
}

export function be16(v: number): number[] {
  return [(v >> 8) & 0xff, v & 0xff];
}

export function be32(v: number): number[] {
  return [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
}

/** Builds an RTP packet by hand from explicit parts (independent of the code under test). */
export function rtp(opts: {
  pt?: number;
  marker?: boolean;
  seq?: number;
  ts?: number;
  ssrc?: number;
  csrcs?: number[];
  ext?: { profile: number; data: number[] };
  payload?: number[];
  padding?: number;
}): Uint8Array {
  const csrcs = opts.csrcs ?? [];
  const pad = opts.padding ?? 0;
  const b0 = 0x80 | (pad ? 0x20 : 0) | (opts.ext ? 0x10 : 0) | csrcs.length;
  const bytes: number[] = [b0, (opts.marker ? 0x80 : 0) | (opts.pt ?? 96), ...be16(opts.seq ?? 0), ...be32(opts.ts ?? 0), ...be32(opts.ssrc ?? 0)];
  for (const c of csrcs) bytes.push(...be32(c));
  if (opts.ext) {
    if (opts.ext.data.length % 4 !== 0) throw new Error('ext data must be a multiple of 4');
    bytes.push(...be16(opts.ext.profile), ...be16(opts.ext.data.length / 4), ...opts.ext.data);
  }
  bytes.push(...(opts.payload ?? []));
  if (pad) {
    for (let i = 0; i < pad - 1; i++) bytes.push(0);
    bytes.push(pad);
  }
  return Uint8Array.from(bytes);
}

export class BitWriter {
  private bits: number[] = [];
  write(v: number, n: number): this {
    for (let i = n - 1; i >= 0; i--) this.bits.push(Math.floor(v / 2 ** i) % 2);
    return this;
  }
  /** ns(n) encoding of v (AV1 non-symmetric unsigned). */
  ns(n: number, v: number): this {
    let w = 0;
    for (let x = n; x !== 0; x >>= 1) w++;
    const m = (1 << w) - n;
    if (v < m) return this.write(v, w - 1);
    this.write((v + m) >> 1, w - 1);
    return this.write((v + m) & 1, 1);
  }
  get length(): number {
    return this.bits.length;
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(Math.ceil(this.bits.length / 8));
    this.bits.forEach((b, i) => {
      if (b) out[i >> 3] |= 0x80 >> (i & 7);
    });
    return out;
  }
}
