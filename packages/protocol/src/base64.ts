// Base64 that works in Node and browsers: Node's Buffer when present (fast), atob/btoa otherwise.
interface BufferLike {
  from(data: Uint8Array | string, encoding?: string): Uint8Array & { toString(encoding: string): string };
}
const NodeBuffer = (globalThis as { Buffer?: BufferLike }).Buffer;

/** Standard base64 with padding. */
export function base64Encode(bytes: Uint8Array): string {
  if (NodeBuffer) return NodeBuffer.from(bytes.buffer ? bytes : new Uint8Array(bytes)).toString('base64');
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

const B64_RE = /^[A-Za-z0-9+/\-_]*={0,2}$/;
/** Accepts standard and URL-safe base64, with or without padding. Throws on anything else. */
export function base64Decode(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, '');
  if (!B64_RE.test(clean)) throw new Error('invalid base64');
  const std = clean.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  if (std.length % 4 === 1) throw new Error('invalid base64 length');
  if (NodeBuffer) return new Uint8Array(NodeBuffer.from(std, 'base64'));
  const bin = atob(std + '='.repeat((4 - (std.length % 4)) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** URL-safe base64 with padding, as LiveKit's `join_request` parameter uses. */
export function base64UrlEncode(bytes: Uint8Array): string {
  return base64Encode(bytes).replace(/\+/g, '-').replace(/\//g, '_');
}
