// The meeting app served by Kite (meet.enabled, on in --dev): static files under meet.path and the token endpoint
// the app calls. Tokens it mints are real (verified here) and carry the grants a meeting needs, nothing more.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TokenVerifier } from '@kite/server-sdk';
import { buildConfig, ConfigError } from '../src/config/index.js';
import { API_KEY, API_SECRET, startServer, type TestServer } from './helpers.js';

let srv: TestServer | undefined;
afterEach(async () => {
  await srv?.server.close();
  srv = undefined;
});

function appDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'kite-meet-'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Kite Meet</title>');
  writeFileSync(join(dir, 'app.js'), 'console.log(1)');
  return dir;
}

describe('meet app', () => {
  it('serves the app and mints tokens for it', async () => {
    srv = await startServer({ meet: { enabled: true, dir: appDir() } });
    const page = await fetch(`${srv.url}/meet/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toContain('Kite Meet');
    expect((await fetch(`${srv.url}/meet/app.js`)).headers.get('content-type')).toMatch(/javascript/);
    const bare = await fetch(`${srv.url}/meet`, { redirect: 'manual' });
    expect(bare.status).toBe(302);
    expect(bare.headers.get('location')).toBe('/meet/');
    expect((await fetch(`${srv.url}/`)).status).toBe(200);

    const res = await fetch(`${srv.url}/meet/api/token?room=standup&identity=ann-1a2b&name=${encodeURIComponent("Ann O'Lee ✓")}`);
    expect(res.status).toBe(200);
    const { token, url } = (await res.json()) as { token: string; url: string };
    expect(url).toBe(srv.url.replace(/^http/, 'ws'));
    const claims = await new TokenVerifier(API_KEY, API_SECRET).verify(token);
    expect(claims.sub).toBe('ann-1a2b');
    expect(claims.name).toBe("Ann O'Lee ✓");
    expect(claims.video).toMatchObject({ roomJoin: true, room: 'standup', canPublish: true, canSubscribe: true, canPublishData: true });
    expect(claims.video?.roomAdmin).toBeUndefined();
    expect(claims.video?.roomCreate).toBeUndefined();
  });

  it('refuses bad token requests with a 400 naming the field', async () => {
    srv = await startServer({ meet: { enabled: true, dir: appDir() } });
    for (const [query, field] of [
      ['identity=a', 'room'],
      ['room=r', 'identity'],
      ['room=a%2Fb&identity=x', 'room'],
      [`room=r&identity=${'x'.repeat(65)}`, 'identity'],
      ['room=r&identity=i&name=a%0Ab', 'name'],
    ] as const) {
      const res = await fetch(`${srv.url}/meet/api/token?${query}`);
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: string }).error).toMatch(new RegExp(`^${field} `));
    }
  });

  it('is off unless enabled, and says so when the app is not built', async () => {
    srv = await startServer();
    expect((await fetch(`${srv.url}/meet/`)).status).toBe(404);
    expect((await fetch(`${srv.url}/meet/api/token?room=r&identity=i`)).status).toBe(404);
    await srv.server.close();
    srv = await startServer({ meet: { enabled: true, dir: mkdtempSync(join(tmpdir(), 'kite-empty-')) } });
    const res = await fetch(`${srv.url}/meet/`);
    expect(res.status).toBe(503);
    expect(await res.text()).toMatch(/pnpm --filter @kite\/meet build/);
  });

  it('validates its config', () => {
    const keys = { k: 'secret-secret-secret-secret-secret-00' };
    expect(() => buildConfig({ keys, meet: { enabled: true, path: 'meet' } })).toThrow(ConfigError);
    expect(() => buildConfig({ keys, meet: { enabled: true, path: '/rtc' } })).toThrow(/collides/);
    expect(() => buildConfig({ keys, meet: { enabled: true, api_key: 'nope' } })).toThrow(/meet.api_key/);
    expect(buildConfig({ keys, meet: { enabled: true, path: '/app' } }).meet.path).toBe('/app');
  });
});
