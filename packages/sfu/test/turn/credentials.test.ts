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
import { serverEndpoint, startServer, udpPortFree } from './helpers.js';
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

    it('allocationsOutliveCredentials: an allocation keeps working after its credentials expire, new ones are refused', async () => {
      let clock = Date.now();
      server = await startServer(
        { getPassword: turnRestPasswordLookup(secret, () => clock), now: () => clock, allocationsOutliveCredentials: true },
        false,
      );
      const creds = createTurnRestCredentials(secret, 'p1', 60, clock);
      const c = await TestTurnClient.connect('udp', serverEndpoint(server, 'udp'));
      c.setCredentials(creds.username, creds.password);
      await c.allocate();
      clock += 61_000; // expired (and the nonce is still fresh: this is the credential check, not 438)
      expect(await c.refresh(600)).toBe(600);
      await c.createPermission({ address: '127.0.0.1', port: 5000 });
      // the same username on another 5-tuple cannot make a new allocation with them
      const other = await TestTurnClient.connect('udp', serverEndpoint(server, 'udp'));
      other.setCredentials(creds.username, creds.password);
      await expect(other.allocate()).rejects.toMatchObject({ code: 401 });
      // nor can the allocation's own 5-tuple once it is gone
      expect(await c.refresh(0)).toBe(0);
      await expect(c.allocate()).rejects.toMatchObject({ code: 401 });
      // a wrong password on the live allocation is still refused
      const d = await TestTurnClient.connect('udp', serverEndpoint(server, 'udp'));
      const fresh = createTurnRestCredentials(secret, 'p4', 60, clock);
      d.setCredentials(fresh.username, fresh.password);
      await d.allocate();
      clock += 61_000;
      d.setCredentials(fresh.username, 'not-the-password');
      await expect(d.refresh(600)).rejects.toMatchObject({ code: 401 });
      await Promise.all([c.close(), other.close(), d.close()]);
    });

    it('deleteAllocations frees the selected allocations and their relay ports (reason revoked)', async () => {
      server = await startServer({ getPassword: turnRestPasswordLookup(secret) }, false);
      const a = createTurnRestCredentials(secret, 'gone', 600);
      const b = createTurnRestCredentials(secret, 'stays', 600);
      const ca = await TestTurnClient.connect('udp', serverEndpoint(server, 'udp'));
      const cb = await TestTurnClient.connect('udp', serverEndpoint(server, 'udp'));
      ca.setCredentials(a.username, a.password);
      cb.setCredentials(b.username, b.password);
      const ra = (await ca.allocate()).relay;
      await cb.allocate();
      const reasons: string[] = [];
      server.on('allocation-deleted', (_i, r) => reasons.push(r));
      expect(server.deleteAllocations((i) => i.username.endsWith(':gone'))).toBe(1);
      expect(reasons).toEqual(['revoked']);
      expect(server.allocations().map((i) => i.username)).toEqual([b.username]);
      expect(await udpPortFree(ra.port)).toBe(true);
      await expect(ca.refresh(600)).rejects.toMatchObject({ code: 437 });
      expect(await cb.refresh(600)).toBe(600);
      await Promise.all([ca.close(), cb.close()]);
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
