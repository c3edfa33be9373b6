import { describe, it, expect, afterEach } from 'vitest';
import { createHmac } from 'node:crypto';
import {
  NonceManager,
  createTurnRestCredentials,
  turnRestPassword,
  turnRestPasswordLookup,
  turnRestUsernameExpiry,
  verifyTurnRestUsername,
} from '../../src/turn/index.js';
import { TestTurnClient } from './client.js';
import { serverEndpoint, startServer } from './helpers.js';
import type { TurnServer } from '../../src/turn/index.js';

describe('TURN REST API credentials', () => {
  const secret = 'kite-shared-secret';
  const now = Date.UTC(2030, 0, 1);

  it('username = <expiry>:<id>, password = base64(HMAC-SHA1(secret, username))', () => {
    const c = createTurnRestCredentials(secret, 'participant-1', 3600, now);
    expect(c.username).toBe(`${now / 1000 + 3600}:participant-1`);
    expect(c.expiresAt).toBe(now / 1000 + 3600);
    expect(c.password).toBe(createHmac('sha1', secret).update(c.username).digest('base64'));
    expect(turnRestPassword(secret, c.username)).toBe(c.password);
    expect(turnRestUsernameExpiry(c.username)).toBe(c.expiresAt);
  });

  it('the verifier refuses expired and malformed usernames', () => {
    const c = createTurnRestCredentials(secret, 'p', 60, now);
    expect(verifyTurnRestUsername(secret, c.username, now)).toBe(c.password);
    expect(verifyTurnRestUsername(secret, c.username, now + 59_000)).toBe(c.password);
    expect(verifyTurnRestUsername(secret, c.username, now + 60_000)).toBeUndefined();
    expect(verifyTurnRestUsername(secret, 'alice', now)).toBeUndefined();
    expect(verifyTurnRestUsername(secret, ':x', now)).toBeUndefined();
    expect(verifyTurnRestUsername(secret, `${now / 1000 + 10}`, now)).toBe(turnRestPassword(secret, `${now / 1000 + 10}`));
  });

  describe('against the server', () => {
    let server: TurnServer | undefined;
    afterEach(async () => {
      await server?.close();
    });

    it('time-limited credentials allocate; expired or forged ones get 401', async () => {
      let clock = Date.now();
      server = await startServer({ getPassword: turnRestPasswordLookup(secret, () => clock), now: () => clock }, false);
      const good = createTurnRestCredentials(secret, 'p1', 600, clock);
      const c = await TestTurnClient.connect('udp', serverEndpoint(server, 'udp'));
      c.setCredentials(good.username, good.password);
      await c.allocate();
      expect(server.allocations()[0].username).toBe(good.username);

      const forged = await TestTurnClient.connect('udp', serverEndpoint(server, 'udp'));
      forged.setCredentials(good.username.replace('p1', 'p2'), good.password);
      await expect(forged.allocate()).rejects.toMatchObject({ code: 401 });

      const old = createTurnRestCredentials(secret, 'p3', 10, clock - 60_000);
      const expired = await TestTurnClient.connect('udp', serverEndpoint(server, 'udp'));
      expired.setCredentials(old.username, old.password);
      await expect(expired.allocate()).rejects.toMatchObject({ code: 401 });

      // once the username expires, the allocation can no longer be refreshed
      clock += 601_000;
      await expect(c.refresh(600)).rejects.toMatchObject({ code: 401 });
      await Promise.all([c.close(), forged.close(), expired.close()]);
    });
  });
});

describe('NonceManager', () => {
  it('issues nonces bound to the client IP that go stale', () => {
    let t = 1_000_000;
    const n = new NonceManager({ lifetimeMs: 1000, now: () => t });
    const nonce = n.issue('1.2.3.4');
    expect(nonce.length).toBeLessThan(128);
    expect(n.check(nonce, '1.2.3.4')).toBe('valid');
    expect(n.check(nonce, '1.2.3.5')).toBe('invalid');
    expect(n.check(nonce.slice(0, -1) + (nonce.endsWith('A') ? 'B' : 'A'), '1.2.3.4')).toBe('invalid');
    expect(n.check('garbage', '1.2.3.4')).toBe('invalid');
    t += 1000;
    expect(n.check(nonce, '1.2.3.4')).toBe('stale');
    expect(new NonceManager().check(nonce, '1.2.3.4')).toBe('invalid'); // other secret
  });
});
