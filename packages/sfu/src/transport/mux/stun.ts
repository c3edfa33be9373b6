// The little STUN the muxes need to route a packet: is it a Binding request, whose ufrag does it name, and does its
// MESSAGE-INTEGRITY check out. No allocation beyond the USERNAME string; never throws on hostile input.
import { createHmac, timingSafeEqual } from 'node:crypto';

const HEADER = 20;
const MAGIC_COOKIE = 0x2112a442;
const BINDING_REQUEST = 0x0001;
const ATTR_USERNAME = 0x0006;
const ATTR_MESSAGE_INTEGRITY = 0x0008;
const ATTR_MESSAGE_INTEGRITY_SHA256 = 0x001c;
/** RFC 8445 §5.3: ufrag is at most 256 characters; USERNAME is `ufrag:ufrag`. */
const MAX_USERNAME = 513;

export interface BindingRequestInfo {
  /** The part of USERNAME before the first ':' — the ufrag of the agent receiving the request (ours). */
  localUfrag: string;
  /** The part after it — the sender's ufrag. */
  remoteUfrag: string;
  /** Offset of the MESSAGE-INTEGRITY(-SHA256) attribute header inside the message, or -1. */
  integrityOffset: number;
  integrityType: number;
  integrityLength: number;
}

/** First byte of a STUN message per RFC 7983 (0–3). */
export function maybeStun(b0: number): boolean {
  return b0 < 4;
}

/** Is `msg` (exactly one message) a well-formed STUN Binding request? Cheap header checks only. */
export function isBindingRequestHeader(msg: Uint8Array): boolean {
  if (msg.length < HEADER) return false;
  if (((msg[0]! << 8) | msg[1]!) !== BINDING_REQUEST) return false;
  const len = (msg[2]! << 8) | msg[3]!;
  if ((len & 3) !== 0 || HEADER + len !== msg.length) return false;
  return ((msg[4]! << 24) | (msg[5]! << 16) | (msg[6]! << 8) | msg[7]!) >>> 0 === MAGIC_COOKIE;
}

/**
 * Parses a Binding request far enough to route it. Returns undefined for anything else: other methods/classes,
 * truncated or malformed messages, a missing or malformed USERNAME.
 */
export function parseBindingRequest(msg: Buffer): BindingRequestInfo | undefined {
  if (!isBindingRequestHeader(msg)) return undefined;
  const end = msg.length;
  let p = HEADER;
  let username: string | undefined;
  let integrityOffset = -1;
  let integrityType = 0;
  let integrityLength = 0;
  while (p + 4 <= end) {
    const type = msg.readUInt16BE(p);
    const len = msg.readUInt16BE(p + 2);
    if (p + 4 + len > end) return undefined; // truncated attribute
    if (type === ATTR_USERNAME && username === undefined && integrityOffset < 0) {
      if (len === 0 || len > MAX_USERNAME) return undefined;
      username = msg.toString('utf8', p + 4, p + 4 + len);
    } else if ((type === ATTR_MESSAGE_INTEGRITY || type === ATTR_MESSAGE_INTEGRITY_SHA256) && integrityOffset < 0) {
      integrityOffset = p;
      integrityType = type;
      integrityLength = len;
    }
    p += 4 + ((len + 3) & ~3);
  }
  if (p !== end || username === undefined) return undefined;
  const colon = username.indexOf(':');
  if (colon <= 0) return undefined;
  return {
    localUfrag: username.slice(0, colon),
    remoteUfrag: username.slice(colon + 1),
    integrityOffset,
    integrityType,
    integrityLength,
  };
}

/**
 * Checks MESSAGE-INTEGRITY (HMAC-SHA1, 20 bytes) or MESSAGE-INTEGRITY-SHA256 (16–32 bytes) with the ICE short-term
 * credential `password` (RFC 8489 §14.5/§14.6). A request without either attribute fails.
 */
export function verifyIntegrity(msg: Buffer, info: BindingRequestInfo, password: string): boolean {
  const at = info.integrityOffset;
  if (at < 0) return false;
  const sha1 = info.integrityType === ATTR_MESSAGE_INTEGRITY;
  const macLen = info.integrityLength;
  if (sha1 ? macLen !== 20 : macLen < 16 || macLen > 32 || (macLen & 3) !== 0) return false;
  // The length field covers the message up to and including the integrity attribute.
  const header = Buffer.from(msg.subarray(0, HEADER));
  header.writeUInt16BE(at + 4 + macLen - HEADER, 2);
  const mac = createHmac(sha1 ? 'sha1' : 'sha256', password).update(header).update(msg.subarray(HEADER, at)).digest();
  const got = msg.subarray(at + 4, at + 4 + macLen);
  return timingSafeEqual(mac.subarray(0, macLen), got);
}
