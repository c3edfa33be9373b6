/** IP address text <-> bytes, without allocation-heavy helpers. */

import { isIPv4, isIPv6 } from 'node:net';

export type IpFamily = 4 | 6;

export interface StunAddress {
  /** IPv4 dotted quad or IPv6 text in canonical (RFC 5952 / inet_ntop) form. */
  address: string;
  port: number;
  family: IpFamily;
}

/** Writes the 4 bytes of an IPv4 address into `out` at `offset`. Returns false when `ip` is not IPv4. */
export function writeIPv4(ip: string, out: Uint8Array, offset: number): boolean {
  let part = 0;
  let digits = 0;
  let idx = 0;
  for (let i = 0; i <= ip.length; i++) {
    const c = i < ip.length ? ip.charCodeAt(i) : 46; /* '.' terminator */
    if (c === 46) {
      if (digits === 0 || idx > 3) return false;
      out[offset + idx++] = part;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return false;
    } else {
      return false;
    }
  }
  return idx === 4;
}

/** Parses an IPv6 address (with optional embedded IPv4 tail) into 16 bytes at `out[offset]`. Returns false when invalid. */
export function writeIPv6(ip: string, out: Uint8Array, offset: number): boolean {
  if (!isIPv6(ip)) return false;
  const zone = ip.indexOf('%');
  const text = zone >= 0 ? ip.slice(0, zone) : ip;
  const words = new Array<number>(8).fill(0);
  const dbl = text.indexOf('::');
  const parseSide = (s: string): number[] | null => {
    if (s === '') return [];
    const parts = s.split(':');
    const res: number[] = [];
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (i === parts.length - 1 && p.includes('.')) {
        const b = new Uint8Array(4);
        if (!writeIPv4(p, b, 0)) return null;
        res.push((b[0] << 8) | b[1], (b[2] << 8) | b[3]);
      } else {
        if (p.length === 0 || p.length > 4) return null;
        const v = parseInt(p, 16);
        if (Number.isNaN(v)) return null;
        res.push(v);
      }
    }
    return res;
  };
  if (dbl >= 0) {
    const head = parseSide(text.slice(0, dbl));
    const tail = parseSide(text.slice(dbl + 2));
    if (!head || !tail || head.length + tail.length > 7) return false;
    for (let i = 0; i < head.length; i++) words[i] = head[i];
    for (let i = 0; i < tail.length; i++) words[8 - tail.length + i] = tail[i];
  } else {
    const all = parseSide(text);
    if (!all || all.length !== 8) return false;
    for (let i = 0; i < 8; i++) words[i] = all[i];
  }
  for (let i = 0; i < 8; i++) {
    out[offset + 2 * i] = words[i] >> 8;
    out[offset + 2 * i + 1] = words[i] & 0xff;
  }
  return true;
}

/** Formats 4 bytes as a dotted quad. */
export function formatIPv4(b: Uint8Array, offset: number): string {
  return `${b[offset]}.${b[offset + 1]}.${b[offset + 2]}.${b[offset + 3]}`;
}

/**
 * Formats 16 bytes as IPv6 text the way libuv's inet_ntop does (which is what Node reports as `rinfo.address`):
 * lowercase hex, the longest run (>= 2) of zero words compressed, IPv4-mapped / IPv4-compatible tails dotted.
 */
export function formatIPv6(b: Uint8Array, offset: number): string {
  const words = [0, 0, 0, 0, 0, 0, 0, 0];
  for (let i = 0; i < 8; i++) words[i] = (b[offset + 2 * i] << 8) | b[offset + 2 * i + 1];
  let bestBase = -1;
  let bestLen = 0;
  let curBase = -1;
  let curLen = 0;
  for (let i = 0; i < 8; i++) {
    if (words[i] === 0) {
      if (curBase === -1) {
        curBase = i;
        curLen = 1;
      } else curLen++;
    } else if (curBase !== -1) {
      if (bestBase === -1 || curLen > bestLen) {
        bestBase = curBase;
        bestLen = curLen;
      }
      curBase = -1;
    }
  }
  if (curBase !== -1 && (bestBase === -1 || curLen > bestLen)) {
    bestBase = curBase;
    bestLen = curLen;
  }
  if (bestBase !== -1 && bestLen < 2) bestBase = -1;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (bestBase !== -1 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    if (i === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff))) {
      out += formatIPv4(b, offset + 12);
      break;
    }
    out += words[i].toString(16);
  }
  if (bestBase !== -1 && bestBase + bestLen === 8) out += ':';
  return out;
}

/** `::ffff:a.b.c.d` -> `a.b.c.d`; anything else unchanged. */
export function unmapIPv4(address: string): string {
  if (address.length > 7 && address.charCodeAt(0) === 58 /* : */ && address.startsWith('::ffff:') && isIPv4(address.slice(7))) {
    return address.slice(7);
  }
  return address;
}

export function ipFamily(address: string): IpFamily | 0 {
  if (isIPv4(address)) return 4;
  if (isIPv6(address)) return 6;
  return 0;
}

/** Canonical text form of an IP address (IPv6 normalised through bytes), or undefined when invalid. */
export function canonicalIp(address: string): string | undefined {
  if (isIPv4(address)) return address;
  const b = new Uint8Array(16);
  if (!writeIPv6(address, b, 0)) return undefined;
  return formatIPv6(b, 0);
}
