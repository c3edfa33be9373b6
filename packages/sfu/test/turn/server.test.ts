import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import {
  StunAttr,
  StunClass,
  StunMethod,
  encodeChannelNumber,
  encodeRequestedTransport,
  getErrorCode,
  getStringAttribute,
  getUnknownAttributes,
  getAttribute,
  getXorAddress,
  newTransactionId,
  verifyMessageIntegrity,
} from '../../src/turn/index.js';
import type { AllocationInfo, TurnServer } from '../../src/turn/index.js';
import { TestPeer, TestTurnClient, TurnError } from './client.js';
import type { ClientTransport } from './client.js';
import { selfSignedCert, serverEndpoint, sleep, startServer, udpPortFree, waitFor } from './helpers.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function client(server: TurnServer, transport: ClientTransport = 'udp', user = 'alice'): Promise<TestTurnClient> {
  const c = await TestTurnClient.connect(transport, serverEndpoint(server, transport), { ca: selfSignedCert().cert });
  cleanups.push(() => c.close());
  if (user) c.setCredentials(user, user === 'alice' ? 'alice-secret' : 'bob-secret');
  return c;
}

async function peer(address = '127.0.0.1'): Promise<TestPeer> {
  const p = await TestPeer.create(address);
  cleanups.push(() => p.close());
  return p;
}

async function expectTurnError(p: Promise<unknown>, code: number): Promise<TurnError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(TurnError);
    expect((e as TurnError).code).toBe(code);
    return e as TurnError;
  }
  throw new Error(`expected TURN error ${code}`);
}

const TRANSPORTS: ClientTransport[] = ['udp', 'tcp', 'tls'];

describe.each(TRANSPORTS)('TURN over %s', (transport) => {
  let server: TurnServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(async () => {
    await server.close();
  });

  it('answers Binding without authentication', async () => {
    const c = await client(server, transport, '');
    const res = await c.transact(StunMethod.Binding);
    expect(res.cls).toBe(StunClass.SuccessResponse);
    expect(getXorAddress(res, StunAttr.XorMappedAddress)).toEqual({ family: 4, ...c.localAddress });
    expect(res.hasFingerprint).toBe(true);
  });

  it('challenges an unauthenticated Allocate with 401 + REALM + NONCE', async () => {
    const c = await client(server, transport);
    const res = await c.transact(StunMethod.Allocate, (b) => b.add(StunAttr.RequestedTransport, encodeRequestedTransport(17)));
    expect(res.cls).toBe(StunClass.ErrorResponse);
    expect(getErrorCode(res)?.code).toBe(401);
    expect(getStringAttribute(res, StunAttr.Realm)).toBe('kite.test');
    expect(getStringAttribute(res, StunAttr.Nonce)?.length).toBeGreaterThan(8);
    expect(getAttribute(res, StunAttr.MessageIntegrity)).toBeUndefined();
  });

  it('allocates with credentials: XOR-RELAYED-ADDRESS, LIFETIME, XOR-MAPPED-ADDRESS, MESSAGE-INTEGRITY', async () => {
    const c = await client(server, transport);
    const a = await c.allocate();
    expect(a.relay.address).toBe('127.0.0.1');
    expect(a.relay.port).toBeGreaterThanOrEqual(49152);
    expect(a.lifetime).toBe(600);
    expect(a.mapped).toEqual({ family: 4, ...c.localAddress });
    expect(verifyMessageIntegrity(a.response, c.key)).toBe(true);
    expect(server.allocations().some((x) => x.relay.port === a.relay.port && x.transport === transport)).toBe(true);
  });

  it('relays Send indications to a permitted peer and its replies as Data indications', async () => {
    const c = await client(server, transport);
    const p = await peer();
    const { relay } = await c.allocate();
    await c.createPermission(p.address);
    c.sendIndication(p.address, Buffer.from('hello peer'));
    const got = await p.next();
    expect(got?.data.toString()).toBe('hello peer');
    expect(got?.from).toEqual({ address: relay.address, port: relay.port });
    p.send(Buffer.from('hello client!'), relay);
    const back = await c.nextData();
    expect(back?.data.toString()).toBe('hello client!');
    expect(back?.peer).toEqual({ family: 4, ...p.address });
    expect(back?.channel).toBeUndefined();
  });

  it('ChannelBind then ChannelData in both directions (odd sizes, padding over streams)', async () => {
    const c = await client(server, transport);
    const p = await peer();
    const { relay } = await c.allocate();
    await c.channelBind(0x4001, p.address);
    for (const size of [0, 1, 3, 4, 5, 1200]) {
      const payload = Buffer.alloc(size, size & 0xff);
      c.sendChannelData(0x4001, payload);
      const got = await p.next();
      expect(got?.data.equals(payload)).toBe(true);
      p.send(payload, relay);
      const back = await c.nextData();
      expect(back?.channel).toBe(0x4001);
      expect(back?.data.equals(payload)).toBe(true);
    }
    // a Send indication to the bound peer still works, and its reply still comes as ChannelData
    c.sendIndication(p.address, Buffer.from('via send'));
    expect((await p.next())?.data.toString()).toBe('via send');
  });

  it('drops datagrams from a peer without a permission', async () => {
    const c = await client(server, transport);
    const allowed = await peer('127.0.0.1');
    const stranger = await peer('127.0.0.2'); // allowed by policy, but no permission
    const { relay } = await c.allocate();
    await c.createPermission(allowed.address);
    const before = server.counters.droppedFromPeers;
    stranger.send(Buffer.from('let me in'), relay);
    await waitFor(() => server.counters.droppedFromPeers > before);
    allowed.send(Buffer.from('ok'), relay);
    const got = await c.nextData();
    expect(got?.data.toString()).toBe('ok'); // the stranger's datagram never arrived
    // and the client cannot send to the stranger either
    c.sendIndication(stranger.address, Buffer.from('nope'));
    expect(await stranger.next(200)).toBeUndefined();
  });

  it('refuses peers outside isPeerAllowed with 403 and drops Send indications to them', async () => {
    const c = await client(server, transport);
    await c.allocate();
    const e = await expectTurnError(c.createPermission({ address: '127.0.0.3', port: 5000 }), 403);
    expect(verifyMessageIntegrity(e.response, c.key)).toBe(true);
    await expectTurnError(c.channelBind(0x4002, { address: '127.0.0.3', port: 5000 }), 403);
    await expectTurnError(c.createPermission({ address: '127.0.0.1', port: 9 }), 403);
    // permission on the IP exists but the port is refused per packet
    const p = await peer();
    await c.createPermission(p.address);
    const before = server.counters.droppedFromClients;
    c.sendIndication({ address: '127.0.0.1', port: 9 }, Buffer.from('x'));
    await waitFor(() => server.counters.droppedFromClients > before);
  });

  it('Refresh extends the lifetime; LIFETIME 0 deletes the allocation and frees the relay port', async () => {
    const c = await client(server, transport);
    const { relay } = await c.allocate();
    expect(await c.refresh(1200)).toBe(1200);
    expect(await c.refresh(99999)).toBe(3600);
    expect(await c.refresh(10)).toBe(600);
    expect(await udpPortFree(relay.port)).toBe(false);
    const deleted = new Promise<string>((resolve) => {
      const h = (info: AllocationInfo, reason: string): void => {
        if (info.relay.port === relay.port) {
          server.off('allocation-deleted', h);
          resolve(reason);
        }
      };
      server.on('allocation-deleted', h);
    });
    expect(await c.refresh(0)).toBe(0);
    expect(await deleted).toBe('refresh');
    expect(await udpPortFree(relay.port)).toBe(true);
    await expectTurnError(c.refresh(600), 437);
    // a new allocation on the same 5-tuple is allowed afterwards
    await c.allocate();
  });
});

describe('long-term credentials', () => {
  let server: TurnServer;
  let skew = 0;
  beforeAll(async () => {
    server = await startServer({ now: () => Date.now() + skew, nonceLifetime: 600 }, false);
  });
  afterAll(async () => {
    await server.close();
  });

  it('wrong password: 401 with REALM and a fresh NONCE, auth-failure event', async () => {
    const c = await client(server, 'udp');
    c.setCredentials('alice', 'not-the-password');
    const failures: number[] = [];
    const onFail = (e: { code: number }): void => void failures.push(e.code);
    server.on('auth-failure', onFail);
    const first = await c.transact(StunMethod.Allocate, (b) => b.add(StunAttr.RequestedTransport, encodeRequestedTransport(17)));
    c.realm = getStringAttribute(first, StunAttr.Realm);
    c.nonce = getStringAttribute(first, StunAttr.Nonce);
    await sleep(2);
    const res = await c.transact(StunMethod.Allocate, (b) => b.add(StunAttr.RequestedTransport, encodeRequestedTransport(17)));
    server.off('auth-failure', onFail);
    expect(getErrorCode(res)?.code).toBe(401);
    expect(getStringAttribute(res, StunAttr.Realm)).toBe('kite.test');
    const fresh = getStringAttribute(res, StunAttr.Nonce);
    expect(fresh).toBeDefined();
    expect(fresh).not.toBe(c.nonce);
    expect(failures).toEqual([401]);
    expect(getAttribute(res, StunAttr.MessageIntegrity)).toBeUndefined();
  });

  it('unknown user → 401; wrong realm → 401', async () => {
    const c = await client(server, 'udp');
    c.setCredentials('mallory', 'x');
    await expectTurnError(c.allocate(), 401);
    const d = await client(server, 'udp');
    await d.allocate().catch(() => {}); // learn a nonce... then lie about the realm
    const e = await client(server, 'udp');
    e.realm = 'other.realm';
    e.nonce = d.nonce;
    const res = await e.transact(StunMethod.Allocate, (b) => b.add(StunAttr.RequestedTransport, encodeRequestedTransport(17)));
    expect(getErrorCode(res)?.code).toBe(401);
  });

  it('stale nonce → 438 with a new NONCE; retrying with it succeeds', async () => {
    const c = await client(server, 'udp');
    const first = await c.transact(StunMethod.Allocate, (b) => b.add(StunAttr.RequestedTransport, encodeRequestedTransport(17)));
    c.realm = getStringAttribute(first, StunAttr.Realm);
    c.nonce = getStringAttribute(first, StunAttr.Nonce);
    skew += 601_000;
    try {
      const res = await c.transact(StunMethod.Allocate, (b) => b.add(StunAttr.RequestedTransport, encodeRequestedTransport(17)));
      expect(getErrorCode(res)?.code).toBe(438);
      expect(getStringAttribute(res, StunAttr.Realm)).toBe('kite.test');
      const fresh = getStringAttribute(res, StunAttr.Nonce)!;
      expect(fresh).not.toBe(c.nonce);
      c.nonce = fresh;
      const ok = await c.transact(StunMethod.Allocate, (b) => b.add(StunAttr.RequestedTransport, encodeRequestedTransport(17)));
      expect(ok.cls).toBe(StunClass.SuccessResponse);
    } finally {
      skew = 0;
    }
  });

  it('a forged nonce is rejected with 438', async () => {
    const c = await client(server, 'udp');
    c.realm = 'kite.test';
    c.nonce = 'ffffffffffff' + 'A'.repeat(22);
    const res = await c.transact(StunMethod.Allocate, (b) => b.add(StunAttr.RequestedTransport, encodeRequestedTransport(17)));
    expect(getErrorCode(res)?.code).toBe(438);
  });

  it('MESSAGE-INTEGRITY without USERNAME → 400', async () => {
    const c = await client(server, 'udp');
    await c.allocate();
    const saved = c.username;
    c.username = undefined; // transact then sends no credentials...
    const res = await c.transact(StunMethod.Refresh, undefined, { auth: false });
    expect(getErrorCode(res)?.code).toBe(401);
    c.username = saved;
    // hand-build a request with MI but no USERNAME
    const { StunMessageBuilder } = await import('../../src/turn/index.js');
    const tx = newTransactionId();
    const buf = new StunMessageBuilder(StunMethod.Refresh, StunClass.Request, tx)
      .addString(StunAttr.Realm, c.realm!)
      .addString(StunAttr.Nonce, c.nonce!)
      .build({ integrityKey: c.key });
    const got = new Promise<number | undefined>((resolve) => {
      const t = setInterval(() => {
        const m = c.messages.find((x) => x.transactionId.equals(tx));
        if (m) {
          clearInterval(t);
          resolve(getErrorCode(m)?.code);
        }
      }, 5);
    });
    c.sendRaw(buf);
    expect(await got).toBe(400);
  });

  it('another user on the same 5-tuple → 441', async () => {
    const c = await client(server, 'udp');
    await c.allocate();
    c.setCredentials('bob', 'bob-secret');
    await expectTurnError(c.refresh(600), 441);
    await expectTurnError(c.createPermission({ address: '127.0.0.1', port: 1234 }), 441);
  });

  it('MESSAGE-INTEGRITY-SHA256 is accepted and answered in kind', async () => {
    const c = await client(server, 'udp');
    const first = await c.transact(StunMethod.Allocate, (b) => b.add(StunAttr.RequestedTransport, encodeRequestedTransport(17)));
    c.realm = getStringAttribute(first, StunAttr.Realm);
    c.nonce = getStringAttribute(first, StunAttr.Nonce);
    const { StunMessageBuilder, parseStunMessage, verifyMessageIntegritySha256 } = await import('../../src/turn/index.js');
    const tx = newTransactionId();
    const buf = new StunMessageBuilder(StunMethod.Allocate, StunClass.Request, tx)
      .add(StunAttr.RequestedTransport, encodeRequestedTransport(17))
      .addString(StunAttr.Username, 'alice')
      .addString(StunAttr.Realm, c.realm!)
      .addString(StunAttr.Nonce, c.nonce!)
      .build({ integritySha256Key: c.key });
    expect(parseStunMessage(buf).ok).toBe(true);
    c.sendRaw(buf);
    await waitFor(() => c.messages.some((x) => x.transactionId.equals(tx)));
    const res = c.messages.find((x) => x.transactionId.equals(tx))!;
    expect(res.cls).toBe(StunClass.SuccessResponse);
    expect(verifyMessageIntegritySha256(res, c.key)).toBe(true);
  });
});

describe('Allocate rules', () => {
  let server: TurnServer;
  beforeAll(async () => {
    server = await startServer({}, false);
  });
  afterAll(async () => {
    await server.close();
  });

  it('REQUESTED-TRANSPORT other than UDP → 442; missing → 400', async () => {
    const c = await client(server);
    await expectTurnError(c.request(StunMethod.Allocate, (b) => b.add(StunAttr.RequestedTransport, encodeRequestedTransport(6))), 442);
    await expectTurnError(c.request(StunMethod.Allocate), 400);
  });

  it('IPv6 relay not configured → 440', async () => {
    const c = await client(server);
    await expectTurnError(
      c.request(StunMethod.Allocate, (b) =>
        b.add(StunAttr.RequestedTransport, encodeRequestedTransport(17)).add(StunAttr.RequestedAddressFamily, Buffer.from([2, 0, 0, 0])),
      ),
      440,
    );
  });

  it('a retransmitted Allocate gets the same success; a new one on the same 5-tuple → 437', async () => {
    const c = await client(server);
    await c.allocate(); // learns the nonce
    await c.refresh(0);
    const tx = newTransactionId();
    const fill = (b: import('../../src/turn/index.js').StunMessageBuilder): void => void b.add(StunAttr.RequestedTransport, encodeRequestedTransport(17));
    const r1 = await c.transact(StunMethod.Allocate, fill, { transactionId: tx });
    const r2 = await c.transact(StunMethod.Allocate, fill, { transactionId: tx });
    expect(r1.cls).toBe(StunClass.SuccessResponse);
    expect(r2.raw.equals(r1.raw)).toBe(true);
    const r3 = await c.transact(StunMethod.Allocate, fill);
    expect(getErrorCode(r3)?.code).toBe(437);
  });

  it('unknown comprehension-required attribute → 420 with UNKNOWN-ATTRIBUTES', async () => {
    const c = await client(server);
    const res = await c.transact(StunMethod.Binding, (b) => b.add(0x7abc, Buffer.from('?')).add(0xfabc, Buffer.from('ok')));
    expect(getErrorCode(res)?.code).toBe(420);
    expect(getUnknownAttributes(res)).toEqual([0x7abc]);
  });

  it('ChannelBind rules (RFC 8656 §12.2)', async () => {
    const c = await client(server);
    const p1 = await peer();
    const p2 = await peer();
    await c.allocate();
    await expectTurnError(c.channelBind(0x3fff, p1.address), 400);
    await expectTurnError(c.channelBind(0x5000, p1.address), 400);
    await expectTurnError(c.request(StunMethod.ChannelBind, (b) => b.add(StunAttr.ChannelNumber, encodeChannelNumber(0x4000))), 400);
    await c.channelBind(0x4000, p1.address);
    await c.channelBind(0x4000, p1.address); // refresh is fine
    await expectTurnError(c.channelBind(0x4000, p2.address), 400); // number bound to another peer
    await expectTurnError(c.channelBind(0x4001, p1.address), 400); // peer bound to another number
    await c.channelBind(0x4fff, p2.address);
  });
});

describe('limits', () => {
  it('per-user quota → 486; freed quota can be reused', async () => {
    const server = await startServer({ maxAllocationsPerUser: 2 }, false);
    cleanups.push(() => server.close());
    const a = await client(server);
    const b = await client(server);
    const c = await client(server);
    await a.allocate();
    await b.allocate();
    await expectTurnError(c.allocate(), 486);
    const other = await client(server, 'udp', 'bob');
    await other.allocate(); // a different user is unaffected
    await a.refresh(0);
    await c.allocate();
  });

  it('relay port range exhausted → 508; relay ports stay inside the range', async () => {
    const base = 40000 + Math.floor(Math.random() * 10000);
    const server = await startServer({ relayPortRange: [base, base + 1] }, false);
    cleanups.push(() => server.close());
    const a = await client(server);
    const b = await client(server);
    const c = await client(server, 'udp', 'bob');
    const pa = (await a.allocate()).relay.port;
    const pb = (await b.allocate()).relay.port;
    expect([pa, pb].sort()).toEqual([base, base + 1]);
    await expectTurnError(c.allocate(), 508);
    await a.refresh(0);
    expect((await c.allocate()).relay.port).toBe(pa);
  });

  it('max total allocations → 508', async () => {
    const server = await startServer({ maxAllocations: 1 }, false);
    cleanups.push(() => server.close());
    const a = await client(server);
    const b = await client(server, 'udp', 'bob');
    await a.allocate();
    await expectTurnError(b.allocate(), 508);
  });
});

describe('lifetimes', () => {
  it('an allocation that is not refreshed expires and its relay socket is closed', async () => {
    const server = await startServer({ defaultLifetime: 0.5, sweepIntervalMs: 50 }, false);
    cleanups.push(() => server.close());
    const c = await client(server);
    const events: string[] = [];
    server.on('allocation-created', () => events.push('created'));
    server.on('allocation-deleted', (_i, reason) => events.push(reason));
    const { relay, lifetime } = await c.allocate();
    expect(lifetime).toBe(1); // LIFETIME is whole seconds
    expect(await udpPortFree(relay.port)).toBe(false);
    await waitFor(() => events.includes('expired'), 3000);
    expect(events).toEqual(['created', 'expired']);
    expect(server.allocationCount).toBe(0);
    expect(await udpPortFree(relay.port)).toBe(true);
    await expectTurnError(c.refresh(), 437);
  });

  it('permissions expire: later peer data is dropped', async () => {
    const server = await startServer({ permissionLifetime: 0.3, sweepIntervalMs: 50 }, false);
    cleanups.push(() => server.close());
    const c = await client(server);
    const p = await peer();
    const { relay } = await c.allocate();
    await c.createPermission(p.address);
    p.send(Buffer.from('1'), relay);
    expect((await c.nextData())?.data.toString()).toBe('1');
    await sleep(500);
    p.send(Buffer.from('2'), relay);
    expect(await c.nextData(300)).toBeUndefined();
    await c.createPermission(p.address);
    p.send(Buffer.from('3'), relay);
    expect((await c.nextData())?.data.toString()).toBe('3');
  });

  it('closing a TCP connection deletes its allocation', async () => {
    const server = await startServer({}, false);
    cleanups.push(() => server.close());
    const c = await client(server, 'tcp');
    const { relay } = await c.allocate();
    const reason = new Promise<string>((resolve) => server.once('allocation-deleted', (_i, r) => resolve(r)));
    await c.close();
    expect(await reason).toBe('connection-closed');
    expect(await udpPortFree(relay.port)).toBe(true);
  });
});

describe('IPv6', () => {
  it('IPv6 listener + IPv6 relay (REQUESTED-ADDRESS-FAMILY), data both ways, 443 on family mismatch', async () => {
    const server = await startServer(
      { listenAddresses: ['127.0.0.1', '::1'], relayAddressV6: '::1', isPeerAllowed: (ip) => ip === '::1' || ip === '127.0.0.1' },
      false,
    );
    cleanups.push(() => server.close());
    const ep = server.addresses().udp.find((a) => a.family === 'IPv6')!;
    const c = await TestTurnClient.connect('udp', { address: '::1', port: ep.port });
    cleanups.push(() => c.close());
    c.setCredentials('alice', 'alice-secret');
    const res = await c.transact(StunMethod.Binding);
    expect(getXorAddress(res, StunAttr.XorMappedAddress)).toEqual({ family: 6, address: '::1', port: c.localAddress.port });
    const a = await c.allocate(undefined, 6);
    expect(a.relay).toMatchObject({ family: 6, address: '::1' });
    const p = await peer('::1');
    await expectTurnError(c.createPermission({ address: '127.0.0.1', port: 5000 }), 443);
    await c.createPermission(p.address);
    c.sendIndication(p.address, Buffer.from('six'));
    expect((await p.next())?.data.toString()).toBe('six');
    p.send(Buffer.from('back6'), a.relay);
    const d = await c.nextData();
    expect(d?.data.toString()).toBe('back6');
    expect(d?.peer).toEqual({ family: 6, address: '::1', port: p.address.port });
    await c.channelBind(0x4123, p.address);
    c.sendChannelData(0x4123, Buffer.from('chan6'));
    expect((await p.next())?.data.toString()).toBe('chan6');
    p.send(Buffer.from('chan6back'), a.relay);
    expect(await c.nextData()).toMatchObject({ channel: 0x4123 });
    // an IPv4 allocation from an IPv6 client is fine too (default family)
    const c4 = await TestTurnClient.connect('udp', { address: '::1', port: ep.port });
    cleanups.push(() => c4.close());
    c4.setCredentials('bob', 'bob-secret');
    expect((await c4.allocate()).relay.family).toBe(4);
  });
});

describe('robustness', () => {
  it('garbage, truncated and oversize-length datagrams on UDP never break the server', async () => {
    const server = await startServer({}, false);
    cleanups.push(() => server.close());
    const attacker = await client(server, 'udp', '');
    const good = await client(server);
    const p = await peer();
    const { relay } = await good.allocate();
    await good.channelBind(0x4000, p.address);
    const valid = Buffer.from(
      (await import('../../src/turn/index.js')).encodeChannelData(0x4000, Buffer.from('x')),
    );
    const samples: Buffer[] = [
      Buffer.alloc(0),
      Buffer.from([0]),
      Buffer.from([0x00, 0x01, 0xff, 0xfc, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]), // huge length
      Buffer.from([0x00, 0x01, 0x00, 0x08, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x00, 0x06, 0xff, 0xff, 0, 0, 0, 0]), // attr overflow
      Buffer.from([0x40, 0x00, 0xff, 0xff, 1, 2, 3]), // ChannelData longer than the datagram
      Buffer.from([0x4f, 0xff, 0x00, 0x00]), // unbound channel
      Buffer.from([0x00, 0x16, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]), // Send without allocation
      Buffer.alloc(65000, 0xff),
    ];
    for (let i = 0; i < 3000; i++) {
      const g = Buffer.from(samples[i % samples.length]);
      if (i >= samples.length && g.length > 0) g[i % g.length] ^= i & 0xff;
      attacker.sendRaw(g);
      if (i % 200 === 0) await sleep(1);
    }
    // the good client's ChannelData sent from the attacker's 5-tuple is not relayed
    attacker.sendRaw(valid);
    await sleep(100);
    expect(server.counters.internalErrors).toBe(0);
    expect(server.counters.malformed).toBeGreaterThan(0);
    const res = await attacker.transact(StunMethod.Binding);
    expect(res.cls).toBe(StunClass.SuccessResponse);
    good.sendChannelData(0x4000, Buffer.from('still works'));
    expect((await p.next())?.data.toString()).toBe('still works');
    p.send(Buffer.from('back'), relay);
    expect((await good.nextData())?.data.toString()).toBe('back');
    expect(await p.next(100)).toBeUndefined(); // nothing from the attacker reached the peer
  });

  it('TCP: garbage closes only that connection; partial reads, many messages per chunk, oversize frames', async () => {
    const server = await startServer({ maxStreamFrameSize: 4096 }, false);
    cleanups.push(() => server.close());
    const good = await client(server, 'tcp');
    await good.allocate();

    const garbage = await client(server, 'tcp', '');
    garbage.sendRaw(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n\xff\xff\xff\xff'));
    garbage.sendRaw(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    await waitFor(() => garbage.closed);

    const huge = await client(server, 'tcp', '');
    huge.sendRaw(Buffer.from([0x00, 0x01, 0xff, 0xfc, 0x21, 0x12, 0xa4, 0x42]));
    await waitFor(() => huge.closed);

    const hugeChannel = await client(server, 'tcp', '');
    hugeChannel.sendRaw(Buffer.from([0x40, 0x00, 0xff, 0xff, 1, 2]));
    await waitFor(() => hugeChannel.closed);

    // byte-by-byte request
    const slow = await client(server, 'tcp', '');
    const { StunMessageBuilder } = await import('../../src/turn/index.js');
    const tx = newTransactionId();
    const req = new StunMessageBuilder(StunMethod.Binding, StunClass.Request, tx).build({ fingerprint: true });
    for (const byte of req) {
      slow.sendRaw(Buffer.from([byte]));
      await sleep(1);
    }
    await waitFor(() => slow.messages.some((m) => m.transactionId.equals(tx)));

    // three requests in one write, plus half of a fourth, then the rest
    const txs = [newTransactionId(), newTransactionId(), newTransactionId(), newTransactionId()];
    const reqs = txs.map((t) => new StunMessageBuilder(StunMethod.Binding, StunClass.Request, t).build());
    const all = Buffer.concat(reqs);
    slow.sendRaw(all.subarray(0, 70));
    await sleep(20);
    slow.sendRaw(all.subarray(70));
    await waitFor(() => txs.every((t) => slow.messages.some((m) => m.transactionId.equals(t))));

    // the good connection survived all of that
    expect(good.closed).toBe(false);
    expect(await good.refresh(600)).toBe(600);
    expect(server.counters.internalErrors).toBe(0);
  });

  it('close() releases every socket: listener and relay ports can be bound again', async () => {
    const server = await startServer({}, true);
    const udp = serverEndpoint(server, 'udp');
    const c = await client(server);
    const t = await client(server, 'tcp');
    const { relay } = await c.allocate();
    const r2 = (await t.allocate()).relay;
    await server.close();
    expect(server.allocationCount).toBe(0);
    expect(await udpPortFree(relay.port)).toBe(true);
    expect(await udpPortFree(r2.port)).toBe(true);
    expect(await udpPortFree(udp.port)).toBe(true);
    await waitFor(() => t.closed);
    await server.close(); // idempotent
  });
});

describe('RFC 8656 details', () => {
  it('permissions are per IP address: any port of a permitted IP may send in (§9)', async () => {
    const server = await startServer({}, false);
    cleanups.push(() => server.close());
    const c = await client(server);
    const a = await peer('127.0.0.1');
    const b = await peer('127.0.0.1'); // same IP, another port, never named in a request
    const { relay } = await c.allocate();
    await c.createPermission(a.address);
    b.send(Buffer.from('from b'), relay);
    const got = await c.nextData();
    expect(got?.data.toString()).toBe('from b');
    expect(got?.peer).toEqual({ family: 4, ...b.address });
  });

  it('CreatePermission is all or nothing: one refused peer → 403 and no permission installed (§9.2)', async () => {
    const server = await startServer({}, false);
    cleanups.push(() => server.close());
    const c = await client(server);
    const ok = await peer('127.0.0.1');
    const { relay } = await c.allocate();
    await expectTurnError(c.createPermission(ok.address, { address: '127.0.0.3', port: 5000 }), 403);
    const before = server.counters.droppedFromPeers;
    ok.send(Buffer.from('should not pass'), relay);
    await waitFor(() => server.counters.droppedFromPeers > before);
    expect(await c.nextData(100)).toBeUndefined();
  });

  it('requests other than Allocate without an allocation → 437 (§7.3, §9.2, §11.2)', async () => {
    const server = await startServer({}, false);
    cleanups.push(() => server.close());
    const c = await client(server);
    await c.allocate();
    await c.refresh(0);
    await expectTurnError(c.refresh(600), 437);
    await expectTurnError(c.createPermission({ address: '127.0.0.1', port: 5000 }), 437);
    await expectTurnError(c.channelBind(0x4000, { address: '127.0.0.1', port: 5000 }), 437);
  });

  it('a peer at a port the policy refuses cannot send in, even with a permission on its IP', async () => {
    const blocked = await peer('127.0.0.1');
    const allowed = await peer('127.0.0.1');
    const server = await startServer({ isPeerAllowed: (ip, port) => ip === '127.0.0.1' && port !== blocked.address.port }, false);
    cleanups.push(() => server.close());
    const c = await client(server);
    const { relay } = await c.allocate();
    await c.createPermission(allowed.address); // permission for 127.0.0.1 (any port, as far as permissions go)
    await expectTurnError(c.channelBind(0x4000, blocked.address), 403);
    const before = server.counters.droppedFromPeers;
    blocked.send(Buffer.from('refused port'), relay);
    await waitFor(() => server.counters.droppedFromPeers > before);
    allowed.send(Buffer.from('allowed port'), relay);
    expect((await c.nextData())?.data.toString()).toBe('allowed port');
    expect(await c.nextData(100)).toBeUndefined();
  });

  it('channel bindings expire: ChannelData is dropped, peer data comes as Data indications, the number cools down (§12)', async () => {
    const server = await startServer({ channelLifetime: 0.3, permissionLifetime: 30, channelCooldown: 0.6, sweepIntervalMs: 25 }, false);
    cleanups.push(() => server.close());
    const c = await client(server);
    const p = await peer();
    const q = await peer();
    const { relay } = await c.allocate();
    await c.channelBind(0x4000, p.address);
    p.send(Buffer.from('bound'), relay);
    expect(await c.nextData()).toMatchObject({ channel: 0x4000 });
    await sleep(450); // expired, in its cool-down
    const before = server.counters.droppedFromClients;
    c.sendChannelData(0x4000, Buffer.from('too late'));
    await waitFor(() => server.counters.droppedFromClients > before);
    expect(await p.next(100)).toBeUndefined();
    p.send(Buffer.from('unbound now'), relay);
    const back = await c.nextData();
    expect(back?.channel).toBeUndefined();
    expect(back?.peer).toEqual({ family: 4, ...p.address });
    // during the cool-down the number cannot go to another peer
    await expectTurnError(c.channelBind(0x4000, q.address), 400);
    await sleep(400); // cool-down over: the number is free
    await c.channelBind(0x4000, q.address);
    c.sendChannelData(0x4000, Buffer.from('to q'));
    expect((await q.next())?.data.toString()).toBe('to q');
  });
});
