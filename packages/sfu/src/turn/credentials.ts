/** Long-term credential helpers (RFC 8489 §9.2) and TURN REST API ("time-limited") credentials. */

import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Long-term credential key: MD5(username ":" realm ":" password) (RFC 8489 §9.2.2, MD5 password algorithm). */
export function longTermKey(username: string, realm: string, password: string): Buffer {
  return createHash('md5').update(`${username}:${realm}:${password}`, 'utf8').digest();
}

export type NonceCheck = 'valid' | 'stale' | 'invalid';

export interface NonceOptions {
  /** HMAC secret; random per instance by default (nonces then do not survive a restart, which is fine). */
  secret?: Buffer;
  /** How long a nonce stays valid, in ms. Default 600 000 (10 min). */
  lifetimeMs?: number;
  /** Clock in ms; defaults to Date.now. */
  now?: () => number;
}

/**
 * Stateless nonces: `<expiry-ms hex><base64url HMAC-SHA256(secret, expiry | client ip) truncated to 16 bytes>`.
 * A nonce is bound to the client IP and expires; nothing is stored server-side.
 */
export class NonceManager {
  private readonly secret: Buffer;
  private readonly lifetimeMs: number;
  private readonly now: () => number;

  constructor(options: NonceOptions = {}) {
    this.secret = options.secret ?? randomBytes(32);
    this.lifetimeMs = options.lifetimeMs ?? 600_000;
    this.now = options.now ?? Date.now;
  }

  issue(clientIp: string): string {
    const expiry = Math.floor(this.now() + this.lifetimeMs).toString(16).padStart(12, '0');
    return expiry + this.sign(expiry, clientIp);
  }

  check(nonce: string, clientIp: string): NonceCheck {
    if (nonce.length !== 12 + 22) return 'invalid';
    const expiryHex = nonce.slice(0, 12);
    if (!/^[0-9a-f]{12}$/.test(expiryHex)) return 'invalid';
    const expected = Buffer.from(this.sign(expiryHex, clientIp), 'latin1');
    const got = Buffer.from(nonce.slice(12), 'latin1');
    if (got.length !== expected.length || !timingSafeEqual(expected, got)) return 'invalid';
    return parseInt(expiryHex, 16) > this.now() ? 'valid' : 'stale';
  }

  private sign(expiryHex: string, clientIp: string): string {
    return createHmac('sha256', this.secret).update(`${expiryHex}|${clientIp}`).digest().subarray(0, 16).toString('base64url');
  }
}

// ---------------------------------------------------------------------------------------------------------------
// TURN REST API credentials (draft-uberti-behave-turn-rest; what coturn's use-auth-secret and LiveKit use)
// ---------------------------------------------------------------------------------------------------------------

export interface TurnRestCredentials {
  /** `<expiry-unix-seconds>:<id>` */
  username: string;
  /** base64(HMAC-SHA1(secret, username)) */
  password: string;
  /** Unix seconds after which the username is refused. */
  expiresAt: number;
  /** Seconds the credentials are valid for from issue time. */
  ttl: number;
}

/** password = base64(HMAC-SHA1(secret, username)). */
export function turnRestPassword(secret: string | Buffer, username: string): string {
  return createHmac('sha1', secret).update(username, 'utf8').digest('base64');
}

/**
 * Issues time-limited credentials for `id` (e.g. a participant identity): username `<expiry>:<id>`.
 * @param ttlSeconds validity, default 86 400 (24 h)
 * @param nowMs issue time, default Date.now()
 */
export function createTurnRestCredentials(
  secret: string | Buffer,
  id: string,
  ttlSeconds = 86_400,
  nowMs: number = Date.now(),
): TurnRestCredentials {
  const expiresAt = Math.floor(nowMs / 1000) + Math.floor(ttlSeconds);
  const username = id === '' ? String(expiresAt) : `${expiresAt}:${id}`;
  return { username, password: turnRestPassword(secret, username), expiresAt, ttl: Math.floor(ttlSeconds) };
}

/** Expiry (unix seconds) encoded in a TURN REST username (`<expiry>` or `<expiry>:<id>`), or undefined if malformed. */
export function turnRestUsernameExpiry(username: string): number | undefined {
  const colon = username.indexOf(':');
  const head = colon >= 0 ? username.slice(0, colon) : username;
  if (!/^\d{1,12}$/.test(head)) return undefined;
  return Number(head);
}

/**
 * Returns the REST password for `username` if the username is well formed and not expired, otherwise undefined.
 * Use as (or inside) the TurnServer `getPassword` callback.
 */
export function verifyTurnRestUsername(secret: string | Buffer, username: string, nowMs: number = Date.now()): string | undefined {
  const expiry = turnRestUsernameExpiry(username);
  if (expiry === undefined || expiry * 1000 <= nowMs) return undefined;
  return turnRestPassword(secret, username);
}

/**
 * A `getPassword` callback for TURN REST credentials signed with `secret`: returns the password for unexpired,
 * well-formed usernames and undefined otherwise (the server then answers 401).
 */
export function turnRestPasswordLookup(secret: string | Buffer, now: () => number = Date.now): (username: string) => string | undefined {
  return (username) => verifyTurnRestUsername(secret, username, now());
}
