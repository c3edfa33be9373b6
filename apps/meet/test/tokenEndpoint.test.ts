import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenVerifier } from '@kite/server-sdk';
import { hostnameOf, mintToken, serverUrlFor, tokenMiddleware, tokenOptionsFromEnv } from '../server/tokenEndpoint';

const opts = tokenOptionsFromEnv({});

describe('dev token endpoint', () => {
  it("uses Kite's --dev keys unless the environment says otherwise", () => {
    expect(opts).toMatchObject({ apiKey: 'devkey', apiSecret: 'secret', port: 7880, url: undefined });
    expect(tokenOptionsFromEnv({ KITE_API_KEY: 'k', KITE_API_SECRET: 's', KITE_URL: 'wss://kite.example' })).toMatchObject({ apiKey: 'k', apiSecret: 's', url: 'wss://kite.example' });
  });

  it('hands out the host the browser used, on Kite’s port', () => {
    expect(hostnameOf('192.168.1.20:5173')).toBe('192.168.1.20');
    expect(hostnameOf('[::1]:5173')).toBe('[::1]');
    expect(hostnameOf('my-laptop.local')).toBe('my-laptop.local');
    expect(hostnameOf('evil/"><x')).toBe('localhost');
    expect(hostnameOf(undefined)).toBe('localhost');
    expect(serverUrlFor({ host: '10.0.0.7:5173' }, opts)).toBe('ws://10.0.0.7:7880');
    expect(serverUrlFor({ host: 'meet.example', secure: true }, opts)).toBe('wss://meet.example:7880');
    expect(serverUrlFor({ host: '10.0.0.7:5173' }, { ...opts, url: 'ws://fixed:1234' })).toBe('ws://fixed:1234');
  });

  it('mints a join token with the grants the app needs', async () => {
    const r = await mintToken({ room: 'standup', identity: 'ada-k3f9', name: 'Ada', host: 'localhost:5173' }, opts);
    expect(r.status).toBe(200);
    const body = r.body as { token: string; url: string };
    expect(body.url).toBe('ws://localhost:7880');
    const claims = await new TokenVerifier('devkey', 'secret').verify(body.token);
    expect(claims.name).toBe('Ada');
    expect(claims.video).toMatchObject({ roomJoin: true, room: 'standup', canPublish: true, canSubscribe: true, canPublishData: true, canUpdateOwnMetadata: true });
    expect((claims as { sub?: string }).sub).toBe('ada-k3f9');
    const exp = (claims as { exp?: number }).exp!;
    expect(exp - Date.now() / 1000).toBeGreaterThan(5.9 * 3600);
  });

  it('refuses bad requests with 400 { error }', async () => {
    expect(await mintToken({ room: '', identity: 'x' }, opts)).toMatchObject({ status: 400, body: { error: 'missing "room"' } });
    expect(await mintToken({ room: 'r', identity: null }, opts)).toMatchObject({ status: 400 });
    expect(await mintToken({ room: 'r'.repeat(200), identity: 'x' }, opts)).toMatchObject({ status: 400 });
    expect(await mintToken({ room: 'r', identity: 'x\u0000y' }, opts)).toMatchObject({ status: 400 });
    expect(await mintToken({ room: 'a/b', identity: 'x' }, opts)).toMatchObject({ status: 400 });
    expect(await mintToken({ room: 'r', identity: 'x', name: 'n'.repeat(129) }, opts)).toMatchObject({ status: 400 });
    expect(await mintToken({ room: 'café', identity: 'x', name: "Zoë O'Neil" }, opts)).toMatchObject({ status: 200 });
  });

  describe('over HTTP', () => {
    let server: Server;
    let base: string;
    beforeAll(async () => {
      const mw = tokenMiddleware(opts);
      server = createServer((req, res) => mw(req, res, () => ((res.statusCode = 500), res.end())));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    it('answers JSON, never cached', async () => {
      const ok = await fetch(`${base}/?room=r&identity=i&name=N`);
      expect(ok.status).toBe(200);
      expect(ok.headers.get('content-type')).toContain('application/json');
      expect(ok.headers.get('cache-control')).toBe('no-store');
      expect(await ok.json()).toMatchObject({ url: 'ws://127.0.0.1:7880' });
      const bad = await fetch(`${base}/?identity=i`);
      expect(bad.status).toBe(400);
      expect(await bad.json()).toEqual({ error: 'missing "room"' });
      expect((await fetch(`${base}/?room=r&identity=i`, { method: 'POST' })).status).toBe(405);
    });
  });
});
