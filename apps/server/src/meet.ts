// The demo meeting app served by Kite itself (meet.enabled; on with --dev): the built app (apps/meet/dist) at
// meet.path, and its token endpoint at <path>/api/token — the same contract as the app's dev server
// (GET ?room=&identity=&name= → { token, url }). Tokens are minted for whoever asks: development and LAN trials only.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { AccessToken } from '@kite/server-sdk';
import type { KiteConfig } from './config/index.js';

/** apps/meet/dist, seen from apps/server/dist (or src under vitest). */
const DEFAULT_DIR = fileURLToPath(new URL('../../meet/dist/', import.meta.url));
/** Room names and identities: what fits in a URL and a log line as is. Display names are free text. */
const ID = /^[\p{L}\p{N}_.\- ]{1,64}$/u;
const DISPLAY_NAME = /^[^\p{Cc}]{1,128}$/u;
const TOKEN_TTL = '6h';

export async function registerMeet(app: FastifyInstance, cfg: KiteConfig, log: Logger): Promise<void> {
  const { meet } = cfg;
  if (!meet.enabled) return;
  const base = meet.path;
  const dir = meet.dir || DEFAULT_DIR;
  const apiKey = meet.api_key || Object.keys(cfg.keys)[0]!;
  const secret = cfg.keys[apiKey]!;

  app.get(`${base}/api/token`, async (req, reply) => {
    const q = req.query as Record<string, string | undefined>;
    const room = (q.room ?? '').trim();
    const identity = (q.identity ?? '').trim();
    const name = (q.name ?? '').trim() || identity;
    for (const [field, value] of [['room', room], ['identity', identity]] as const) {
      if (!ID.test(value)) return reply.code(400).send({ error: `${field} must be 1–64 letters, digits, spaces, '.', '_' or '-'` });
    }
    if (!DISPLAY_NAME.test(name)) return reply.code(400).send({ error: 'name must be 1–128 characters without control characters' });
    const at = new AccessToken(apiKey, secret, { identity, name, ttl: TOKEN_TTL });
    at.addGrant({ roomJoin: true, room, canPublish: true, canSubscribe: true, canPublishData: true, canUpdateOwnMetadata: true });
    return reply.header('cache-control', 'no-store').send({ token: await at.toJwt(), url: wsUrl(req) });
  });

  if (!existsSync(join(dir, 'index.html'))) {
    log.warn({ dir }, 'meet app is not built (pnpm --filter @kite/meet build); serving a notice instead');
    app.get(base, async (_req, reply) => reply.redirect(`${base}/`));
    app.get(`${base}/`, async (_req, reply) => reply.code(503).type('text/plain').send('The meeting app is not built: run `pnpm --filter @kite/meet build`.'));
    return;
  }
  app.get(base, async (_req, reply) => reply.redirect(`${base}/`));
  await app.register(fastifyStatic, { root: dir, prefix: `${base}/`, index: ['index.html'], cacheControl: false });
  log.info({ path: `${base}/`, dir }, 'meet app served');
}

/** The signalling URL as the browser reaches this server (same host and port it loaded the app from). */
function wsUrl(req: FastifyRequest): string {
  const proto = (req.headers['x-forwarded-proto'] as string | undefined)?.split(',')[0]?.trim() || req.protocol;
  return `${proto === 'https' ? 'wss' : 'ws'}://${req.headers.host}`;
}
