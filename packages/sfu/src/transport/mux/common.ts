// Pieces shared by the UDP and TCP muxes.
import { lookup as dnsLookup } from 'node:dns';
import { isIP } from 'node:net';
import { randomBytes } from 'node:crypto';
import { parseBindingRequest, verifyIntegrity, type BindingRequestInfo } from './stun.js';

/** [ip, port], the shape werift uses for addresses. */
export type MuxAddress = [string, number];

/** What every mux session answers: the ICE password for one of its ufrags (to check MESSAGE-INTEGRITY). */
export interface MuxCredentials {
  /**
   * The local ICE password for `ufrag`, used to verify the MESSAGE-INTEGRITY of a Binding request before a new remote
   * address (or TCP connection) is bound to this session. `undefined` skips the check (routing by ufrag alone).
   */
  password?(ufrag: string): string | undefined;
}

/** Ufrags a session keeps routable after ICE restarts (the newest ones). */
export const MAX_UFRAGS_PER_SESSION = 3;

/** A ufrag → session table with the bookkeeping both muxes need. */
export class UfragTable<S extends { readonly ufrags: string[] }> {
  private readonly map = new Map<string, S>();

  get size(): number {
    return this.map.size;
  }

  has(ufrag: string): boolean {
    return this.map.has(ufrag);
  }

  get(ufrag: string): S | undefined {
    return this.map.get(ufrag);
  }

  /** Adds `ufrag` to `session` (dropping its oldest beyond MAX_UFRAGS_PER_SESSION); throws if another session holds it. */
  add(session: S, ufrag: string): void {
    if (!ufrag) throw new Error('empty ufrag');
    const holder = this.map.get(ufrag);
    if (holder !== undefined && holder !== session) throw new Error(`ufrag ${ufrag} is already registered`);
    if (holder === session) return;
    this.map.set(ufrag, session);
    session.ufrags.push(ufrag);
    while (session.ufrags.length > MAX_UFRAGS_PER_SESSION) {
      const old = session.ufrags.shift()!;
      if (this.map.get(old) === session) this.map.delete(old);
    }
  }

  removeAll(session: S): void {
    for (const u of session.ufrags) if (this.map.get(u) === session) this.map.delete(u);
    session.ufrags.length = 0;
  }
}

export type RouteResult<S> =
  | { ok: true; session: S; info: BindingRequestInfo }
  | { ok: false; reason: 'not-binding' | 'unknown-ufrag' | 'integrity' };

/** Routes a STUN Binding request by the local ufrag in its USERNAME, checking MESSAGE-INTEGRITY when possible. */
export function routeBinding<S extends { readonly handler: MuxCredentials }>(
  msg: Buffer,
  table: { get(ufrag: string): S | undefined },
): RouteResult<S> {
  const info = parseBindingRequest(msg);
  if (!info) return { ok: false, reason: 'not-binding' };
  const session = table.get(info.localUfrag);
  if (!session) return { ok: false, reason: 'unknown-ufrag' };
  if (!checkIntegrity(msg, info, session.handler)) return { ok: false, reason: 'integrity' };
  return { ok: true, session, info };
}

export function checkIntegrity(msg: Buffer, info: BindingRequestInfo, handler: MuxCredentials): boolean {
  let password: string | undefined;
  try {
    password = handler.password?.(info.localUfrag);
  } catch {
    return false;
  }
  if (password === undefined) return true;
  try {
    return verifyIntegrity(msg, info, password);
  } catch {
    return false;
  }
}

/**
 * dgram's `lookup` option: IP literals are answered synchronously, so `send(buf, port, '1.2.3.4')` does not pay
 * dns.lookup's process.nextTick per packet. Names still go through DNS.
 */
export function syncLookup(hostname: string, options: unknown, callback: (err: Error | null, address: string, family: number) => void): void {
  const family = isIP(hostname);
  if (family !== 0) {
    callback(null, hostname, family);
    return;
  }
  const fam = typeof options === 'number' ? options : ((options as { family?: number } | undefined)?.family ?? 0);
  dnsLookup(hostname, { family: fam }, (err, address, f) => callback(err, address, f));
}

/** A random ICE ufrag (16 hex characters: 64 bits) that no given table holds. werift's own are 4 hex characters. */
export function uniqueUfrag(taken: (u: string) => boolean): string {
  for (;;) {
    const u = randomBytes(8).toString('hex');
    if (!taken(u)) return u;
  }
}

export const isWildcard = (address: string): boolean => address === '0.0.0.0' || address === '::' || address === '';
