// TURN credentials for Kite's participants: per participant, time-limited, stateless (HMAC), in the TURN REST API
// form coturn and every WebRTC client understand (draft-uberti-behave-turn-rest): the client passes username and
// credential to RTCPeerConnection unchanged and the TURN long-term credential mechanism does the rest.
//
//   username   = "<expiry unix seconds>:<api key>:<participant sid>"
//   credential = base64(HMAC-SHA1(turnSecret(api secret), username))
//
// Like LiveKit's (base62 of "apiKey|participantID" with a password derived from the API secret and the participant
// ID), they name the API key the participant joined with and are derived from its secret, so no state is kept and a
// restarted node still accepts them. Unlike LiveKit's they expire, and the server also refuses them for new
// allocations once the participant has left this node (see TurnService).
import { createHmac } from 'node:crypto';
import { turn } from '@kite/sfu';

const { turnRestPassword } = turn;

/** How long issued credentials may create allocations. Every join and reconnect issues fresh ones. */
export const TURN_CREDENTIAL_TTL_S = 6 * 3600;

/**
 * The HMAC key for TURN credentials of one API key. Derived (never the API secret itself) so that a TURN credential,
 * which browsers keep in plain sight, reveals nothing usable to sign access tokens.
 */
export function turnSecret(apiSecret: string): Buffer {
  return createHmac('sha256', apiSecret).update('kite turn credentials v1').digest();
}

export interface TurnCredentials {
  username: string;
  credential: string;
  /** Unix seconds. */
  expiresAt: number;
}

export function issueTurnCredentials(apiKey: string, apiSecret: string, participantSid: string, ttlS = TURN_CREDENTIAL_TTL_S, nowMs = Date.now()): TurnCredentials {
  const expiresAt = Math.floor(nowMs / 1000) + Math.floor(ttlS);
  const username = `${expiresAt}:${apiKey}:${participantSid}`;
  return { username, credential: turnRestPassword(turnSecret(apiSecret), username), expiresAt };
}

export interface ParsedTurnUsername {
  expiresAt: number;
  apiKey: string;
  participantSid: string;
}

/** Splits a Kite TURN username; undefined when it is not one. The sid never holds ':', the API key may. */
export function parseTurnUsername(username: string): ParsedTurnUsername | undefined {
  const first = username.indexOf(':');
  const last = username.lastIndexOf(':');
  if (first <= 0 || last <= first + 1 || last === username.length - 1) return undefined;
  const head = username.slice(0, first);
  if (!/^\d{1,12}$/.test(head)) return undefined;
  return { expiresAt: Number(head), apiKey: username.slice(first + 1, last), participantSid: username.slice(last + 1) };
}

/**
 * The TurnServer `getPassword` callback: the password for a well-formed, unexpired username whose API key is known
 * and whose participant is still here (`isParticipantActive`), otherwise undefined (the server answers 401).
 */
export function turnPasswordLookup(
  keys: () => Record<string, string>,
  isParticipantActive: (sid: string) => boolean,
  now: () => number = Date.now,
): (username: string) => string | undefined {
  return (username) => {
    const u = parseTurnUsername(username);
    if (!u || u.expiresAt * 1000 <= now()) return undefined;
    const secret = Object.hasOwn(keys(), u.apiKey) ? keys()[u.apiKey] : undefined;
    if (secret === undefined || !isParticipantActive(u.participantSid)) return undefined;
    return turnRestPassword(turnSecret(secret), username);
  };
}
