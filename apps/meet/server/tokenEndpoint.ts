// The development token endpoint: `GET <base>api/token?room=&identity=&name=` → `{ token, url }` (or a 4xx
// `{ error }`). The Kite server implements the same contract in production, where it serves the built app under
// /meet/. Node-only: vite.config.ts mounts it on the dev and preview servers; the browser app never imports it.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AccessToken } from '@kite/server-sdk';

export interface TokenEndpointOptions {
  apiKey: string;
  apiSecret: string;
  /** Fixed signalling URL to hand out; otherwise ws://<the host the browser used>:<port>. */
  url?: string;
  /** Kite's HTTP port for the derived URL (default 7880). */
  port: number;
  /** Token lifetime, seconds. */
  ttlSeconds: number;
}

export interface TokenRequest {
  room?: string | null;
  identity?: string | null;
  name?: string | null;
  /** The request's Host header. */
  host?: string;
  /** True when the page was served over TLS (then the derived URL is wss://). */
  secure?: boolean;
}

export type TokenResponseBody = { token: string; url: string } | { error: string };

export interface TokenResult {
  status: number;
  body: TokenResponseBody;
}

/** Rooms and identities: what the Kite server's own endpoint accepts (apps/server/src/meet.ts). */
const NAME = /^[\p{L}\p{N}_.\- ]{1,64}$/u;
/** Display names: anything printable, within reason. */
const MAX_LEN = 128;

/** Kite's --dev keys unless KITE_API_KEY / KITE_API_SECRET / KITE_URL (or KITE_PORT) say otherwise. */
export function tokenOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): TokenEndpointOptions {
  const port = Number(env.KITE_PORT);
  return {
    apiKey: env.KITE_API_KEY || 'devkey',
    apiSecret: env.KITE_API_SECRET || 'secret',
    url: env.KITE_URL || undefined,
    port: Number.isInteger(port) && port > 0 ? port : 7880,
    ttlSeconds: 6 * 60 * 60,
  };
}

/** The hostname part of a Host header ("10.0.0.5:5173" → "10.0.0.5", "[::1]:5173" → "[::1]"), or localhost. */
export function hostnameOf(host: string | undefined): string {
  const h = (host ?? '').trim();
  const v6 = /^\[[0-9a-fA-F:.]+\]/.exec(h);
  if (v6) return v6[0];
  const name = h.split(':')[0] ?? '';
  return /^[A-Za-z0-9.-]{1,253}$/.test(name) ? name : 'localhost';
}

/** The signalling URL for a browser that reached us under `host`: same hostname, Kite's port. */
export function serverUrlFor(req: Pick<TokenRequest, 'host' | 'secure'>, opts: Pick<TokenEndpointOptions, 'url' | 'port'>): string {
  if (opts.url) return opts.url;
  return `${req.secure ? 'wss' : 'ws'}://${hostnameOf(req.host)}:${opts.port}`;
}

function check(field: string, value: string | null | undefined, required: boolean): string | { error: string } {
  const v = (value ?? '').trim();
  if (!v) return required ? { error: `missing "${field}"` } : '';
  if (required && !NAME.test(v)) return { error: `"${field}" must be 1–64 letters, digits, spaces, '.', '_' or '-'` };
  if (v.length > MAX_LEN) return { error: `"${field}" is longer than ${MAX_LEN} characters` };
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(v)) return { error: `"${field}" contains control characters` };
  return v;
}

/** Validates the request and mints a join token (room join, publish, subscribe, data, own metadata). */
export async function mintToken(req: TokenRequest, opts: TokenEndpointOptions): Promise<TokenResult> {
  const room = check('room', req.room, true);
  if (typeof room !== 'string') return { status: 400, body: room };
  const identity = check('identity', req.identity, true);
  if (typeof identity !== 'string') return { status: 400, body: identity };
  const name = check('name', req.name, false);
  if (typeof name !== 'string') return { status: 400, body: name };

  const at = new AccessToken(opts.apiKey, opts.apiSecret, { identity, name: name || identity, ttl: opts.ttlSeconds });
  at.addGrant({ roomJoin: true, room, canPublish: true, canSubscribe: true, canPublishData: true, canUpdateOwnMetadata: true });
  return { status: 200, body: { token: await at.toJwt(), url: serverUrlFor(req, opts) } };
}

function send(res: ServerResponse, status: number, body: TokenResponseBody): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  res.end(JSON.stringify(body));
}

/** Connect-style middleware for the token endpoint; mount it at `/api/token`. */
export function tokenMiddleware(opts: TokenEndpointOptions) {
  return (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      send(res, 405, { error: 'use GET' });
      return;
    }
    const url = new URL(req.url ?? '/', 'http://localhost');
    const secure = (req.socket as { encrypted?: boolean }).encrypted === true || req.headers['x-forwarded-proto'] === 'https';
    mintToken({ room: url.searchParams.get('room'), identity: url.searchParams.get('identity'), name: url.searchParams.get('name'), host: req.headers.host, secure }, opts).then(
      (r) => send(res, r.status, r.body),
      (err: unknown) => next(err),
    );
  };
}
