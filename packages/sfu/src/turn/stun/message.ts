/** STUN message codec (RFC 8489 §5, §14; TURN attributes from RFC 8656 §18). */

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { crc32 } from './crc32.js';
import {
  ADDRESS_FAMILY_IPV4,
  ADDRESS_FAMILY_IPV6,
  STUN_ERROR_REASONS,
  STUN_FINGERPRINT_XOR,
  STUN_HEADER_LENGTH,
  STUN_MAGIC_COOKIE,
  StunAttr,
  STUN_TRANSACTION_ID_LENGTH,
  stunClassOf,
  stunMessageType,
  stunMethodOf,
} from './constants.js';
import type { StunClass } from './constants.js';
import { formatIPv4, formatIPv6, writeIPv4, writeIPv6 } from './address.js';
import type { StunAddress } from './address.js';

export interface StunAttribute {
  type: number;
  /** The attribute value (without padding); a view into the message buffer. */
  value: Buffer;
  /** Offset of the attribute's 4-byte header inside the message. */
  offset: number;
}

export interface StunMessage {
  method: number;
  cls: StunClass;
  /** 12 bytes; a view into `raw`. */
  transactionId: Buffer;
  /**
   * Attributes in wire order. Attributes that follow MESSAGE-INTEGRITY (other than MESSAGE-INTEGRITY-SHA256 and
   * FINGERPRINT) or MESSAGE-INTEGRITY-SHA256 (other than FINGERPRINT) are dropped, as RFC 8489 §14.5/§14.6 require.
   */
  attributes: StunAttribute[];
  /** Exactly the message bytes (header + body); a view into the parsed buffer. */
  raw: Buffer;
  /** True when a FINGERPRINT attribute was present (it has been verified). */
  hasFingerprint: boolean;
}

export type StunParseError =
  | 'too-short'
  | 'not-stun'
  | 'bad-cookie'
  | 'bad-length'
  | 'truncated'
  | 'trailing-bytes'
  | 'bad-attribute'
  | 'bad-fingerprint';

export type StunParseResult =
  | { ok: true; message: StunMessage }
  | { ok: false; error: StunParseError; detail: string };

const fail = (error: StunParseError, detail: string): StunParseResult => ({ ok: false, error, detail });

/** Cheap check: could `buf[offset...]` be the start of a STUN message (top bits 00 and the magic cookie)? */
export function looksLikeStun(buf: Uint8Array, offset = 0): boolean {
  return (
    buf.length - offset >= STUN_HEADER_LENGTH &&
    (buf[offset] & 0xc0) === 0 &&
    buf[offset + 4] === 0x21 &&
    buf[offset + 5] === 0x12 &&
    buf[offset + 6] === 0xa4 &&
    buf[offset + 7] === 0x42
  );
}

export interface ParseOptions {
  /** Accept bytes after the message (for callers that frame a stream themselves). Default false. */
  allowTrailing?: boolean;
}

/**
 * Parses one STUN message. Never throws: every length is bounds-checked and a typed error is returned on garbage.
 * A present FINGERPRINT is verified (mismatch -> 'bad-fingerprint').
 */
export function parseStunMessage(buf: Buffer, options?: ParseOptions): StunParseResult {
  if (buf.length < STUN_HEADER_LENGTH) return fail('too-short', `${buf.length} bytes`);
  if ((buf[0] & 0xc0) !== 0) return fail('not-stun', 'first two bits are not zero');
  if (buf.readUInt32BE(4) !== STUN_MAGIC_COOKIE) return fail('bad-cookie', 'magic cookie mismatch');
  const length = buf.readUInt16BE(2);
  if ((length & 3) !== 0) return fail('bad-length', `length ${length} is not a multiple of 4`);
  const total = STUN_HEADER_LENGTH + length;
  if (total > buf.length) return fail('truncated', `need ${total} bytes, have ${buf.length}`);
  if (total < buf.length && !options?.allowTrailing) return fail('trailing-bytes', `${buf.length - total} bytes after message`);
  const raw = total === buf.length ? buf : buf.subarray(0, total);
  const type = raw.readUInt16BE(0);
  const attributes: StunAttribute[] = [];
  let pos = STUN_HEADER_LENGTH;
  let seenIntegrity = false;
  let seenIntegrity256 = false;
  let hasFingerprint = false;
  while (pos < total) {
    if (hasFingerprint) return fail('bad-attribute', 'attribute after FINGERPRINT');
    if (pos + 4 > total) return fail('bad-attribute', 'truncated attribute header');
    const atype = raw.readUInt16BE(pos);
    const alen = raw.readUInt16BE(pos + 2);
    const vstart = pos + 4;
    const vend = vstart + alen;
    const next = vstart + ((alen + 3) & ~3);
    if (next > total) return fail('bad-attribute', `attribute 0x${atype.toString(16)} overruns the message`);
    if (atype === StunAttr.Fingerprint) {
      if (alen !== 4) return fail('bad-attribute', 'FINGERPRINT length');
      const expected = (crc32(raw, 0, pos) ^ STUN_FINGERPRINT_XOR) >>> 0;
      if (raw.readUInt32BE(vstart) !== expected) return fail('bad-fingerprint', 'FINGERPRINT mismatch');
      hasFingerprint = true;
      attributes.push({ type: atype, value: raw.subarray(vstart, vend), offset: pos });
    } else if (atype === StunAttr.MessageIntegrity) {
      if (alen !== 20) return fail('bad-attribute', 'MESSAGE-INTEGRITY length');
      if (!seenIntegrity && !seenIntegrity256) {
        seenIntegrity = true;
        attributes.push({ type: atype, value: raw.subarray(vstart, vend), offset: pos });
      }
    } else if (atype === StunAttr.MessageIntegritySha256) {
      if (alen < 16 || alen > 32 || (alen & 3) !== 0) return fail('bad-attribute', 'MESSAGE-INTEGRITY-SHA256 length');
      if (!seenIntegrity256) {
        seenIntegrity256 = true;
        attributes.push({ type: atype, value: raw.subarray(vstart, vend), offset: pos });
      }
    } else if (!seenIntegrity && !seenIntegrity256) {
      attributes.push({ type: atype, value: raw.subarray(vstart, vend), offset: pos });
    }
    pos = next;
  }
  return {
    ok: true,
    message: {
      method: stunMethodOf(type),
      cls: stunClassOf(type),
      transactionId: raw.subarray(8, 8 + STUN_TRANSACTION_ID_LENGTH),
      attributes,
      raw,
      hasFingerprint,
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Attribute accessors (all return undefined on absent or malformed values; none throw)
// ---------------------------------------------------------------------------------------------------------------

export function getAttribute(msg: StunMessage, type: number): StunAttribute | undefined {
  const attrs = msg.attributes;
  for (let i = 0; i < attrs.length; i++) if (attrs[i].type === type) return attrs[i];
  return undefined;
}

export function getAttributes(msg: StunMessage, type: number): StunAttribute[] {
  return msg.attributes.filter((a) => a.type === type);
}

export function hasAttribute(msg: StunMessage, type: number): boolean {
  return getAttribute(msg, type) !== undefined;
}

export function getStringAttribute(msg: StunMessage, type: number): string | undefined {
  const a = getAttribute(msg, type);
  return a ? a.value.toString('utf8') : undefined;
}

export function getUint32Attribute(msg: StunMessage, type: number): number | undefined {
  const a = getAttribute(msg, type);
  return a && a.value.length === 4 ? a.value.readUInt32BE(0) : undefined;
}

/** CHANNEL-NUMBER: 16-bit number + 16 bits RFFU. */
export function getChannelNumber(msg: StunMessage): number | undefined {
  const a = getAttribute(msg, StunAttr.ChannelNumber);
  return a && a.value.length === 4 ? a.value.readUInt16BE(0) : undefined;
}

/** REQUESTED-TRANSPORT: protocol number in the first byte. */
export function getRequestedTransport(msg: StunMessage): number | undefined {
  const a = getAttribute(msg, StunAttr.RequestedTransport);
  return a && a.value.length === 4 ? a.value[0] : undefined;
}

/** REQUESTED-ADDRESS-FAMILY: 0x01 IPv4, 0x02 IPv6 in the first byte -> 4 / 6, or 0 for an unknown value. */
export function getRequestedAddressFamily(msg: StunMessage): 4 | 6 | 0 | undefined {
  const a = getAttribute(msg, StunAttr.RequestedAddressFamily);
  if (!a) return undefined;
  if (a.value.length !== 4) return 0;
  return a.value[0] === ADDRESS_FAMILY_IPV4 ? 4 : a.value[0] === ADDRESS_FAMILY_IPV6 ? 6 : 0;
}

export interface ErrorCodeValue {
  code: number;
  reason: string;
}

export function getErrorCode(msg: StunMessage): ErrorCodeValue | undefined {
  const a = getAttribute(msg, StunAttr.ErrorCode);
  if (!a || a.value.length < 4) return undefined;
  const cls = a.value[2] & 0x07;
  const num = a.value[3];
  return { code: cls * 100 + num, reason: a.value.toString('utf8', 4) };
}

export function getUnknownAttributes(msg: StunMessage): number[] | undefined {
  const a = getAttribute(msg, StunAttr.UnknownAttributes);
  if (!a) return undefined;
  const out: number[] = [];
  for (let i = 0; i + 2 <= a.value.length; i += 2) out.push(a.value.readUInt16BE(i));
  return out;
}

/** Decodes an XOR-*-ADDRESS value (XOR-MAPPED/PEER/RELAYED). */
export function decodeXorAddress(value: Buffer, transactionId: Uint8Array): StunAddress | undefined {
  if (value.length < 4) return undefined;
  const fam = value[1];
  const port = value.readUInt16BE(2) ^ (STUN_MAGIC_COOKIE >>> 16);
  if (fam === ADDRESS_FAMILY_IPV4) {
    if (value.length !== 8) return undefined;
    const b = XOR_SCRATCH;
    b[0] = value[4] ^ 0x21;
    b[1] = value[5] ^ 0x12;
    b[2] = value[6] ^ 0xa4;
    b[3] = value[7] ^ 0x42;
    return { family: 4, address: formatIPv4(b, 0), port };
  }
  if (fam === ADDRESS_FAMILY_IPV6) {
    if (value.length !== 20 || transactionId.length !== STUN_TRANSACTION_ID_LENGTH) return undefined;
    const b = XOR_SCRATCH;
    b[0] = value[4] ^ 0x21;
    b[1] = value[5] ^ 0x12;
    b[2] = value[6] ^ 0xa4;
    b[3] = value[7] ^ 0x42;
    for (let i = 0; i < 12; i++) b[4 + i] = value[8 + i] ^ transactionId[i];
    return { family: 6, address: formatIPv6(b, 0), port };
  }
  return undefined;
}
const XOR_SCRATCH = new Uint8Array(16);

/** Decodes a plain (non-XOR) address value, e.g. MAPPED-ADDRESS. */
export function decodeAddress(value: Buffer): StunAddress | undefined {
  if (value.length < 4) return undefined;
  const fam = value[1];
  const port = value.readUInt16BE(2);
  if (fam === ADDRESS_FAMILY_IPV4 && value.length === 8) return { family: 4, address: formatIPv4(value, 4), port };
  if (fam === ADDRESS_FAMILY_IPV6 && value.length === 20) return { family: 6, address: formatIPv6(value, 4), port };
  return undefined;
}

export function getXorAddress(msg: StunMessage, type: number): StunAddress | undefined {
  const a = getAttribute(msg, type);
  return a ? decodeXorAddress(a.value, msg.transactionId) : undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Attribute value encoders
// ---------------------------------------------------------------------------------------------------------------

/** Encodes an XOR-*-ADDRESS value. Throws on an invalid IP (callers pass addresses they produced themselves). */
export function encodeXorAddress(address: string, port: number, transactionId: Uint8Array): Buffer {
  const v4 = Buffer.allocUnsafe(8);
  if (writeIPv4(address, v4, 4)) {
    v4[0] = 0;
    v4[1] = ADDRESS_FAMILY_IPV4;
    v4.writeUInt16BE((port ^ (STUN_MAGIC_COOKIE >>> 16)) & 0xffff, 2);
    v4[4] ^= 0x21;
    v4[5] ^= 0x12;
    v4[6] ^= 0xa4;
    v4[7] ^= 0x42;
    return v4;
  }
  const v6 = Buffer.allocUnsafe(20);
  if (!writeIPv6(address, v6, 4)) throw new TypeError(`invalid IP address: ${address}`);
  v6[0] = 0;
  v6[1] = ADDRESS_FAMILY_IPV6;
  v6.writeUInt16BE((port ^ (STUN_MAGIC_COOKIE >>> 16)) & 0xffff, 2);
  v6[4] ^= 0x21;
  v6[5] ^= 0x12;
  v6[6] ^= 0xa4;
  v6[7] ^= 0x42;
  for (let i = 0; i < 12; i++) v6[8 + i] ^= transactionId[i];
  return v6;
}

export function encodeAddress(address: string, port: number): Buffer {
  const v4 = Buffer.allocUnsafe(8);
  if (writeIPv4(address, v4, 4)) {
    v4[0] = 0;
    v4[1] = ADDRESS_FAMILY_IPV4;
    v4.writeUInt16BE(port & 0xffff, 2);
    return v4;
  }
  const v6 = Buffer.allocUnsafe(20);
  if (!writeIPv6(address, v6, 4)) throw new TypeError(`invalid IP address: ${address}`);
  v6[0] = 0;
  v6[1] = ADDRESS_FAMILY_IPV6;
  v6.writeUInt16BE(port & 0xffff, 2);
  return v6;
}

export function encodeUint32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

export function encodeErrorCode(code: number, reason = STUN_ERROR_REASONS[code] ?? ''): Buffer {
  const text = Buffer.from(reason, 'utf8');
  const b = Buffer.alloc(4 + text.length);
  b[2] = Math.floor(code / 100) & 0x07;
  b[3] = code % 100;
  text.copy(b, 4);
  return b;
}

export function encodeChannelNumber(channel: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(channel & 0xffff, 0);
  return b;
}

export function encodeRequestedTransport(protocol: number): Buffer {
  const b = Buffer.alloc(4);
  b[0] = protocol & 0xff;
  return b;
}

export function encodeRequestedAddressFamily(family: 4 | 6): Buffer {
  const b = Buffer.alloc(4);
  b[0] = family === 4 ? ADDRESS_FAMILY_IPV4 : ADDRESS_FAMILY_IPV6;
  return b;
}

export function encodeUnknownAttributes(types: readonly number[]): Buffer {
  const b = Buffer.alloc(types.length * 2);
  for (let i = 0; i < types.length; i++) b.writeUInt16BE(types[i] & 0xffff, i * 2);
  return b;
}

// ---------------------------------------------------------------------------------------------------------------
// Serialisation
// ---------------------------------------------------------------------------------------------------------------

export interface SerializeOptions {
  /** Adds MESSAGE-INTEGRITY (HMAC-SHA1) with this key. */
  integrityKey?: Buffer;
  /** Adds MESSAGE-INTEGRITY-SHA256 (HMAC-SHA256, full 32 bytes) with this key. */
  integritySha256Key?: Buffer;
  /** Appends FINGERPRINT. */
  fingerprint?: boolean;
}

const EMPTY = Buffer.alloc(0);

/** Builds a STUN message attribute by attribute. */
export class StunMessageBuilder {
  readonly method: number;
  readonly cls: StunClass;
  readonly transactionId: Buffer;
  private readonly attrs: Array<{ type: number; value: Buffer }> = [];
  private bodyLength = 0;

  constructor(method: number, cls: StunClass, transactionId: Uint8Array) {
    if (transactionId.length !== STUN_TRANSACTION_ID_LENGTH) throw new RangeError('transaction id must be 12 bytes');
    this.method = method;
    this.cls = cls;
    this.transactionId = Buffer.from(transactionId);
  }

  add(type: number, value: Buffer = EMPTY): this {
    if (value.length > 0xffff) throw new RangeError('attribute too long');
    this.attrs.push({ type, value });
    this.bodyLength += 4 + ((value.length + 3) & ~3);
    return this;
  }

  addString(type: number, value: string): this {
    return this.add(type, Buffer.from(value, 'utf8'));
  }

  addUint32(type: number, value: number): this {
    return this.add(type, encodeUint32(value));
  }

  addXorAddress(type: number, address: string, port: number): this {
    return this.add(type, encodeXorAddress(address, port, this.transactionId));
  }

  addErrorCode(code: number, reason?: string): this {
    return this.add(StunAttr.ErrorCode, encodeErrorCode(code, reason));
  }

  build(options?: SerializeOptions): Buffer {
    let total = STUN_HEADER_LENGTH + this.bodyLength;
    if (options?.integrityKey) total += 24;
    if (options?.integritySha256Key) total += 36;
    if (options?.fingerprint) total += 8;
    if (total - STUN_HEADER_LENGTH > 0xffff) throw new RangeError('message too long');
    const buf = Buffer.alloc(total);
    buf.writeUInt16BE(stunMessageType(this.method, this.cls), 0);
    buf.writeUInt32BE(STUN_MAGIC_COOKIE, 4);
    this.transactionId.copy(buf, 8);
    let pos = STUN_HEADER_LENGTH;
    for (const { type, value } of this.attrs) {
      buf.writeUInt16BE(type, pos);
      buf.writeUInt16BE(value.length, pos + 2);
      value.copy(buf, pos + 4);
      pos += 4 + ((value.length + 3) & ~3);
    }
    if (options?.integrityKey) {
      buf.writeUInt16BE(pos + 24 - STUN_HEADER_LENGTH, 2);
      const mac = createHmac('sha1', options.integrityKey).update(buf.subarray(0, pos)).digest();
      buf.writeUInt16BE(StunAttr.MessageIntegrity, pos);
      buf.writeUInt16BE(20, pos + 2);
      mac.copy(buf, pos + 4);
      pos += 24;
    }
    if (options?.integritySha256Key) {
      buf.writeUInt16BE(pos + 36 - STUN_HEADER_LENGTH, 2);
      const mac = createHmac('sha256', options.integritySha256Key).update(buf.subarray(0, pos)).digest();
      buf.writeUInt16BE(StunAttr.MessageIntegritySha256, pos);
      buf.writeUInt16BE(32, pos + 2);
      mac.copy(buf, pos + 4);
      pos += 36;
    }
    if (options?.fingerprint) {
      buf.writeUInt16BE(pos + 8 - STUN_HEADER_LENGTH, 2);
      const crc = (crc32(buf, 0, pos) ^ STUN_FINGERPRINT_XOR) >>> 0;
      buf.writeUInt16BE(StunAttr.Fingerprint, pos);
      buf.writeUInt16BE(4, pos + 2);
      buf.writeUInt32BE(crc, pos + 4);
      pos += 8;
    }
    buf.writeUInt16BE(pos - STUN_HEADER_LENGTH, 2);
    return buf;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Integrity
// ---------------------------------------------------------------------------------------------------------------

function macOver(algorithm: 'sha1' | 'sha256', key: Buffer, raw: Buffer, attrOffset: number, attrTotal: number): Buffer {
  // The HMAC covers the message up to the attribute, with the header length adjusted to end after the attribute.
  const header = Buffer.from(raw.subarray(0, STUN_HEADER_LENGTH));
  header.writeUInt16BE(attrOffset + attrTotal - STUN_HEADER_LENGTH, 2);
  return createHmac(algorithm, key).update(header).update(raw.subarray(STUN_HEADER_LENGTH, attrOffset)).digest();
}

/** Verifies MESSAGE-INTEGRITY (HMAC-SHA1). Returns undefined when the attribute is absent. */
export function verifyMessageIntegrity(msg: StunMessage, key: Buffer): boolean | undefined {
  const a = getAttribute(msg, StunAttr.MessageIntegrity);
  if (!a) return undefined;
  const mac = macOver('sha1', key, msg.raw, a.offset, 24);
  return a.value.length === 20 && timingSafeEqual(mac, a.value);
}

/** Verifies MESSAGE-INTEGRITY-SHA256 (possibly truncated, >= 16 bytes). Returns undefined when absent. */
export function verifyMessageIntegritySha256(msg: StunMessage, key: Buffer): boolean | undefined {
  const a = getAttribute(msg, StunAttr.MessageIntegritySha256);
  if (!a) return undefined;
  const mac = macOver('sha256', key, msg.raw, a.offset, 4 + a.value.length);
  return timingSafeEqual(mac.subarray(0, a.value.length), a.value);
}

// ---------------------------------------------------------------------------------------------------------------
// Attributes this implementation understands (anything else in the comprehension-required range gets 420).
// ---------------------------------------------------------------------------------------------------------------

export const KNOWN_STUN_ATTRIBUTES: ReadonlySet<number> = new Set<number>([
  StunAttr.MappedAddress,
  StunAttr.Username,
  StunAttr.MessageIntegrity,
  StunAttr.ErrorCode,
  StunAttr.UnknownAttributes,
  StunAttr.ChannelNumber,
  StunAttr.Lifetime,
  StunAttr.XorPeerAddress,
  StunAttr.Data,
  StunAttr.Realm,
  StunAttr.Nonce,
  StunAttr.XorRelayedAddress,
  StunAttr.RequestedAddressFamily,
  StunAttr.EvenPort,
  StunAttr.RequestedTransport,
  StunAttr.DontFragment,
  StunAttr.MessageIntegritySha256,
  StunAttr.XorMappedAddress,
  StunAttr.ReservationToken,
  StunAttr.Priority,
  StunAttr.UseCandidate,
]);

/** Comprehension-required attribute types (< 0x8000) in `msg` that are not understood. */
export function unknownComprehensionRequired(msg: StunMessage, known: ReadonlySet<number> = KNOWN_STUN_ATTRIBUTES): number[] {
  let out: number[] | undefined;
  for (const a of msg.attributes) {
    if (a.type < 0x8000 && !known.has(a.type)) {
      out ??= [];
      if (!out.includes(a.type)) out.push(a.type);
    }
  }
  return out ?? [];
}

/** Random 12-byte transaction id. */
export function newTransactionId(): Buffer {
  return randomBytes(STUN_TRANSACTION_ID_LENGTH);
}
