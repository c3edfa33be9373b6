// Data and state with the official livekit-client in Chromium: data messages, RPC, text and byte streams, metadata,
// names, attributes and permissions, from clients and from the server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { DataPacket_Kind, RoomServiceClient } from 'livekit-server-sdk';
import { launchChromium } from './harness/browser.js';
import { startStaticServer, type StaticServer } from './harness/static.js';
import { startKite, API_KEY, API_SECRET, type E2eServer } from './harness/kite.js';
import { evalRoom, joinRoom, pageNow, waitEvent, waitInbound, type Participant } from './harness/lk.js';

let kite: E2eServer;
let web: StaticServer;
let browser: Browser;
let api: RoomServiceClient;

beforeAll(async () => {
  [kite, web, browser] = await Promise.all([startKite(), startStaticServer(), launchChromium()]);
  api = new RoomServiceClient(kite.httpUrl, API_KEY, API_SECRET);
});
afterAll(async () => {
  await browser?.close();
  await web?.close();
  await kite?.close();
});

async function join(identity: string, room: string, grant: Record<string, unknown> = {}): Promise<Participant> {
  return joinRoom(browser, `${web.url}/lk.html`, kite.wsUrl, await kite.token(identity, { room, ...grant }), identity);
}

async function closeAll(...ps: Participant[]) {
  for (const p of ps) await p.context.close();
}

/** Events named `name` recorded since `since`. */
function eventsSince(p: Participant, name: string, since: number): Promise<Record<string, unknown>[]> {
  return p.page.evaluate(([n, s]) => (window as any).t.events.filter((e: any) => e.name === n && e.at >= s), [name, since] as const);
}

describe('data messages', () => {
  it('reliable and lossy, to all and to one identity, with topics: right payload, topic and sender, nowhere else', async () => {
    const room = 'data-1';
    const [alice, bob, carol] = [await join('alice', room), await join('bob', room), await join('carol', room)];
    await waitEvent(alice.page, 'ParticipantConnected', { identity: 'carol' }, 10_000).catch(() => undefined);
    const sinceB = await pageNow(bob.page);
    const sinceC = await pageNow(carol.page);
    await evalRoom(
      alice.page,
      `const enc = (s) => new TextEncoder().encode(s);
       await room.localParticipant.publishData(enc('hello all'), { reliable: true, topic: 'greet' });
       await room.localParticipant.publishData(enc('lossy all'), { reliable: false, topic: 'fast' });
       await room.localParticipant.publishData(enc('only bob'), { reliable: true, topic: 'dm', destinationIdentities: ['bob'] });
       await room.localParticipant.publishData(enc('only bob lossy'), { reliable: false, destinationIdentities: ['bob'] });`,
    );
    const r1 = await waitEvent(bob.page, 'DataReceived', { text: 'hello all' }, 10_000, sinceB);
    expect(r1).toMatchObject({ identity: 'alice', topic: 'greet', kind: DataPacket_Kind.RELIABLE });
    const r2 = await waitEvent(bob.page, 'DataReceived', { text: 'lossy all' }, 10_000, sinceB).catch(async (e) => {
      const lr = kite.server.rooms.getRoom(room)!;
      console.log('[diag] dropped', JSON.stringify(lr.data.dropped), 'bob lossy', lr.getParticipant('bob')!.subscriber.dataChannels.get('_lossy')?.readyState, 'alice channels', [...((lr.getParticipant('alice') as any).publisherChannels.entries())].map(([k, c]: any) => k + ':' + c.readyState));
      throw e;
    });
    expect(r2).toMatchObject({ identity: 'alice', topic: 'fast', kind: DataPacket_Kind.LOSSY });
    expect(await waitEvent(bob.page, 'DataReceived', { text: 'only bob' }, 10_000, sinceB)).toMatchObject({ identity: 'alice', topic: 'dm' });
    await waitEvent(bob.page, 'DataReceived', { text: 'only bob lossy' }, 10_000, sinceB);
    await waitEvent(carol.page, 'DataReceived', { text: 'hello all' }, 10_000, sinceC);
    await waitEvent(carol.page, 'DataReceived', { text: 'lossy all' }, 10_000, sinceC);
    await new Promise((r) => setTimeout(r, 500));
    const carolGot = (await eventsSince(carol, 'DataReceived', sinceC)).map((e) => e.text);
    expect(carolGot.sort()).toEqual(['hello all', 'lossy all']);
    // the sender never receives its own packets
    expect(await eventsSince(alice, 'DataReceived', 0)).toEqual([]);
    await closeAll(alice, bob, carol);
  });

  it('1,000 reliable messages arrive complete and in order; server SendData reaches the browsers; latency and rate figures', async () => {
    const room = 'data-2';
    const [alice, bob] = [await join('alice', room), await join('bob', room)];
    await bob.page.evaluate(() => {
      const t = (window as any).t;
      t.quietData = true;
      t.got = [];
      t.lat = [];
      t.onData = (payload: Uint8Array) => {
        const s = new TextDecoder().decode(payload);
        const [n, sentAt] = s.split(':').map(Number);
        t.got.push(n);
        t.lat.push(Date.now() - sentAt!);
      };
    });
    const start = Date.now();
    await evalRoom(alice.page, `for (let i = 0; i < 1000; i++) await room.localParticipant.publishData(new TextEncoder().encode(i + ':' + Date.now() + ':' + 'x'.repeat(80)), { reliable: true });`);
    await bob.page.waitForFunction(() => (window as any).t.got.length >= 1000, undefined, { timeout: 30_000 });
    const elapsed = Date.now() - start;
    const { got, lat } = await bob.page.evaluate(() => ({ got: (window as any).t.got as number[], lat: (window as any).t.lat as number[] }));
    expect(got).toEqual([...Array(1000).keys()]);
    lat.sort((a, b) => a - b);
    console.log(`[data] 1,000 reliable messages in a burst: ${elapsed} ms (${Math.round(1000 / (elapsed / 1000))} msg/s); latency p50 ${lat[500]} ms, p99 ${lat[990]} ms`);

    // Latency without queueing: 100 messages, 20 ms apart.
    await bob.page.evaluate(() => {
      (window as any).t.got = [];
      (window as any).t.lat = [];
    });
    await evalRoom(alice.page, `for (let i = 0; i < 100; i++) { await room.localParticipant.publishData(new TextEncoder().encode(i + ':' + Date.now()), { reliable: true }); await new Promise((r) => setTimeout(r, 20)); }`);
    await bob.page.waitForFunction(() => (window as any).t.got.length >= 100, undefined, { timeout: 10_000 });
    const idle: number[] = (await bob.page.evaluate(() => (window as any).t.lat)).sort((a: number, b: number) => a - b);
    console.log(`[data] message latency alice → Kite → bob (browser to browser, spaced 20 ms): p50 ${idle[50]} ms, p99 ${idle[99]} ms`);
    expect(idle[50]!).toBeLessThan(50);

    await bob.page.evaluate(() => ((window as any).t.quietData = false));
    const since = await pageNow(bob.page);
    await api.sendData(room, new TextEncoder().encode('from the server'), DataPacket_Kind.RELIABLE, { topic: 'srv' });
    await api.sendData(room, new TextEncoder().encode('to bob only'), DataPacket_Kind.LOSSY, { destinationIdentities: ['bob'] });
    const s1 = await waitEvent(bob.page, 'DataReceived', { text: 'from the server' }, 10_000, since);
    expect(s1.identity).toBeUndefined(); // no sender: it came from the server
    expect(s1.topic).toBe('srv');
    await waitEvent(bob.page, 'DataReceived', { text: 'to bob only' }, 10_000, since);
    await waitEvent(alice.page, 'DataReceived', { text: 'from the server' }, 10_000);
    await closeAll(alice, bob);
  });

  it('without canPublishData a participant’s packets reach nobody (and its permission says so)', async () => {
    const room = 'data-3';
    const mute = await join('mute', room, { canPublishData: false });
    const bob = await join('bob', room);
    expect(await evalRoom(mute.page, 'return room.localParticipant.permissions?.canPublishData;')).toBe(false);
    const since = await pageNow(bob.page);
    await evalRoom(mute.page, `await room.localParticipant.publishData(new TextEncoder().encode('should not pass'), { reliable: true });`).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await eventsSince(bob, 'DataReceived', since)).toEqual([]);
    await closeAll(mute, bob);
  });

  it('a flood of 10,000 packets from one participant neither crashes the server nor stalls the others', async () => {
    const room = 'data-4';
    const [flooder, bob, carol] = [await join('flooder', room), await join('bob', room), await join('carol', room)];
    await evalRoom(carol.page, 'await room.localParticipant.setCameraEnabled(true);');
    await waitInbound(bob.page, 'carol', 'video', (s) => s.framesDecoded > 10, 15_000);
    await bob.page.evaluate(() => {
      const t = (window as any).t;
      t.quietData = true;
      t.carolLat = [];
      t.onData = (payload: Uint8Array, p: any) => {
        if (p?.identity === 'carol') t.carolLat.push(Date.now() - Number(new TextDecoder().decode(payload)));
      };
    });
    const before = await waitInbound(bob.page, 'carol', 'video', () => true);
    // carol keeps chatting every 100 ms while the flood runs
    await carol.page.evaluate(() => {
      (window as any).chat = setInterval(() => (window as any).t.room.localParticipant.publishData(new TextEncoder().encode(String(Date.now())), { reliable: true }), 100);
    });
    const t0 = Date.now();
    await evalRoom(flooder.page, `const p = []; for (let i = 0; i < 10000; i++) p.push(room.localParticipant.publishData(new TextEncoder().encode('flood ' + i), { reliable: i % 2 === 0 })); await Promise.allSettled(p);`);
    const floodMs = Date.now() - t0;
    await new Promise((r) => setTimeout(r, 2000));
    await carol.page.evaluate(() => clearInterval((window as any).chat));
    const after = await waitInbound(bob.page, 'carol', 'video', () => true);
    const carolLat: number[] = (await bob.page.evaluate(() => (window as any).t.carolLat)).sort((a: number, b: number) => a - b);
    const floodGot = await bob.page.evaluate(() => (window as any).t.dataCount);
    console.log(
      `[data] flood: 10,000 packets sent in ${floodMs} ms, bob received ${floodGot - carolLat.length}; carol's messages during the flood: ${carolLat.length}, ` +
        `delay p50 ${carolLat[Math.floor(carolLat.length / 2)]} ms, max ${carolLat[carolLat.length - 1]} ms; carol's video at bob +${after.stats.framesDecoded - before.stats.framesDecoded} frames (freezes ${after.stats.freezeCount})`,
    );
    expect(after.stats.framesDecoded - before.stats.framesDecoded).toBeGreaterThan(20);
    expect(carolLat.length).toBeGreaterThan(10);
    // the server still serves
    expect((await api.listParticipants(room)).length).toBe(3);
    await closeAll(flooder, bob, carol);
  });
});

describe('RPC and streams', () => {
  it('performRpc returns the handler’s answer; an unknown method returns the RPC error the client expects', async () => {
    const room = 'data-5';
    const [alice, bob] = [await join('alice', room), await join('bob', room)];
    await evalRoom(bob.page, `room.localParticipant.registerRpcMethod('greet', async (data) => 'hello ' + data.payload + ' from ' + room.localParticipant.identity);`);
    await waitEvent(alice.page, 'ParticipantConnected', { identity: 'bob' }, 10_000).catch(() => undefined);
    const t0 = Date.now();
    const answer = await evalRoom(alice.page, `return await room.localParticipant.performRpc({ destinationIdentity: 'bob', method: 'greet', payload: 'alice' });`);
    console.log(`[data] RPC round trip ${Date.now() - t0} ms`);
    expect(answer).toBe('hello alice from bob');
    const err = await evalRoom<{ code: number; message: string }>(
      alice.page,
      `try { await room.localParticipant.performRpc({ destinationIdentity: 'bob', method: 'nope', payload: '' }); return null; } catch (e) { return { code: e.code, message: e.message }; }`,
    );
    expect(err.code).toBe(1400); // UNSUPPORTED_METHOD
    await closeAll(alice, bob);
  });

  it('sendText and sendFile (1 MB) arrive intact through the stream APIs', async () => {
    const room = 'data-6';
    const [alice, bob] = [await join('alice', room), await join('bob', room)];
    await evalRoom(
      bob.page,
      `window.streams = {};
       room.registerTextStreamHandler('chat', async (reader, from) => { window.streams.text = { text: await reader.readAll(), from: from.identity }; });
       room.registerByteStreamHandler('files', async (reader, from) => {
         const chunks = await reader.readAll();
         const total = chunks.reduce((n, c) => n + c.byteLength, 0);
         const all = new Uint8Array(total); let off = 0; for (const c of chunks) { all.set(c, off); off += c.byteLength; }
         const digest = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', all))).map((b) => b.toString(16).padStart(2, '0')).join('');
         window.streams.file = { name: reader.info.name, size: total, digest, from: from.identity };
       });`,
    );
    await waitEvent(alice.page, 'ParticipantConnected', { identity: 'bob' }, 10_000).catch(() => undefined);
    const text = 'Kite ' + 'ü✓ '.repeat(5000);
    await evalRoom(alice.page, `await room.localParticipant.sendText(${JSON.stringify(text)}, { topic: 'chat' });`);
    const t0 = Date.now();
    const digest = await evalRoom<string>(
      alice.page,
      `const bytes = new Uint8Array(1024 * 1024); for (let i = 0; i < bytes.length; i += 65536) crypto.getRandomValues(bytes.subarray(i, i + 65536));
       const digest = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))).map((b) => b.toString(16).padStart(2, '0')).join('');
       await room.localParticipant.sendFile(new File([bytes], 'random.bin'), { topic: 'files' });
       return digest;`,
    );
    await bob.page.waitForFunction(() => (window as any).streams.file && (window as any).streams.text, undefined, { timeout: 60_000 });
    const got = await bob.page.evaluate(() => (window as any).streams);
    console.log(`[data] 1 MB file through Kite in ${Date.now() - t0} ms`);
    expect(got.text).toEqual({ text, from: 'alice' });
    expect(got.file).toEqual({ name: 'random.bin', size: 1024 * 1024, digest, from: 'alice' });
    await closeAll(alice, bob);
  });
});

describe('metadata, names, attributes and permissions', () => {
  it('the client updates its own metadata, name and attributes (with canUpdateOwnMetadata): it resolves and others see the events', async () => {
    const room = 'state-1';
    const alice = await join('alice', room, { canUpdateOwnMetadata: true });
    const bob = await join('bob', room);
    const since = await pageNow(bob.page);
    await evalRoom(alice.page, `await room.localParticipant.setMetadata('{"mood":"happy"}');`);
    await evalRoom(alice.page, `await room.localParticipant.setName('Alice in Kite');`);
    await evalRoom(alice.page, `await room.localParticipant.setAttributes({ role: 'speaker', lang: 'fr' });`);
    await waitEvent(bob.page, 'ParticipantMetadataChanged', { identity: 'alice', metadata: '{"mood":"happy"}' }, 5000, since);
    await waitEvent(bob.page, 'ParticipantNameChanged', { identity: 'alice', newName: 'Alice in Kite' }, 5000, since);
    const attr = await waitEvent(bob.page, 'ParticipantAttributesChanged', { identity: 'alice' }, 5000, since);
    expect(attr.changed).toEqual({ role: 'speaker', lang: 'fr' });
    expect(await evalRoom(bob.page, `return Object.fromEntries(Object.entries(room.remoteParticipants.get('alice').attributes));`)).toEqual({ role: 'speaker', lang: 'fr' });
    // deleting an attribute (empty value)
    await evalRoom(alice.page, `await room.localParticipant.setAttributes({ lang: '' });`);
    await bob.page.waitForFunction(() => !('lang' in (window as any).t.room.remoteParticipants.get('alice').attributes), undefined, { timeout: 5000 });

    // without the grant, the client's request is refused
    const bob2 = await join('carol', room);
    const refused = await evalRoom<string>(bob2.page, `try { await room.localParticipant.setMetadata('x'); return 'resolved'; } catch (e) { return 'rejected: ' + e.message; }`);
    expect(refused).toMatch(/^rejected/);
    await closeAll(alice, bob, bob2);
  });

  it('server-side metadata, attributes, room metadata and permissions reach everyone; revoking publish and subscribe takes effect', async () => {
    const room = 'state-2';
    const alice = await join('alice', room);
    const bob = await join('bob', room);
    await evalRoom(alice.page, 'await room.localParticipant.setCameraEnabled(true); await room.localParticipant.setMicrophoneEnabled(true);');
    await evalRoom(bob.page, 'await room.localParticipant.setMicrophoneEnabled(true);');
    await waitEvent(bob.page, 'TrackSubscribed', { identity: 'alice', kind: 'video' });
    await waitEvent(alice.page, 'TrackSubscribed', { identity: 'bob', kind: 'audio' });

    let sinceA = await pageNow(alice.page);
    let sinceB = await pageNow(bob.page);
    await api.updateParticipant(room, 'alice', { attributes: { team: 'kite' } });
    await waitEvent(bob.page, 'ParticipantAttributesChanged', { identity: 'alice' }, 5000, sinceB);
    await waitEvent(alice.page, 'ParticipantAttributesChanged', { identity: 'alice' }, 5000, sinceA);

    await api.updateRoomMetadata(room, 'room topic: testing');
    await waitEvent(alice.page, 'RoomMetadataChanged', { metadata: 'room topic: testing' }, 5000);
    await waitEvent(bob.page, 'RoomMetadataChanged', { metadata: 'room topic: testing' }, 5000);

    // revoke alice's canPublish: her tracks are unpublished everywhere; she is told her permissions changed
    sinceA = await pageNow(alice.page);
    sinceB = await pageNow(bob.page);
    await api.updateParticipant(room, 'alice', { permission: { canPublish: false, canSubscribe: true, canPublishData: true } });
    await waitEvent(alice.page, 'ParticipantPermissionsChanged', { identity: 'alice', canPublish: false }, 5000, sinceA);
    await waitEvent(bob.page, 'TrackUnpublished', { identity: 'alice' }, 10_000, sinceB);
    // revoke alice's canSubscribe: bob's audio stops reaching her
    sinceA = await pageNow(alice.page);
    await api.updateParticipant(room, 'alice', { permission: { canPublish: false, canSubscribe: false, canPublishData: true } });
    await waitEvent(alice.page, 'ParticipantPermissionsChanged', { identity: 'alice', canSubscribe: false }, 5000, sinceA);
    await waitEvent(alice.page, 'TrackUnsubscribed', { identity: 'bob', kind: 'audio' }, 10_000, sinceA);
    await closeAll(alice, bob);
  });
});
