// Two Kite nodes sharing one redis-server, with the official livekit-client in Debian's Chromium: alice's WebSocket
// goes to node A (which hosts the room), bob's to node B (which relays his signalling to A; his media goes straight
// to A). Each decodes the other's camera and hears the other's microphone; moderation through B reaches them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { DataPacket_Kind, RoomServiceClient } from 'livekit-server-sdk';
import { launchChromium } from './harness/browser.js';
import { startStaticServer, type StaticServer } from './harness/static.js';
import { API_KEY, API_SECRET, startKite, type E2eServer } from './harness/kite.js';
import { PUBLISH_TONE, evalRoom, joinRoom, waitEvent, waitInbound, type Participant } from './harness/lk.js';
import { startRedis, type RedisProcess } from '../apps/server/test/support/processes.js';

let redis: RedisProcess;
let a: E2eServer;
let b: E2eServer;
let web: StaticServer;
let browser: Browser;

beforeAll(async () => {
  redis = await startRedis();
  const cluster = (id: string) => ({ node_id: id, redis: { address: redis.address } });
  [a, web, browser] = await Promise.all([startKite(cluster('node-a')), startStaticServer(), launchChromium()]);
  b = await startKite(cluster('node-b'));
});
afterAll(async () => {
  await browser?.close();
  await web?.close();
  await b?.close();
  await a?.close();
  await redis?.stop();
});

async function join(node: E2eServer, identity: string, room: string): Promise<Participant> {
  const p = await joinRoom(browser, `${web.url}/lk.html`, node.wsUrl, await node.token(identity, { room }), identity);
  console.log(`[e2e] ${identity} joined ${room} through ${node.server.nodeId} in ${Math.round(p.joinMs)} ms`);
  return p;
}

describe('two nodes, one room', () => {
  it('livekit-client on node A and on node B see and hear each other; RoomService through B reaches both', async () => {
    const room = 'cluster-1';
    const alice = await join(a, 'alice', room);
    const bob = await join(b, 'bob', room);
    expect(a.server.rooms.getRoom(room)?.getParticipant('bob')).toBeDefined();
    expect(b.server.rooms.getRoom(room)).toBeUndefined();

    const t0 = Date.now();
    for (const p of [alice, bob]) await evalRoom(p.page, `${PUBLISH_TONE} await room.localParticipant.setCameraEnabled(true);`);
    const [atBob, atAlice] = await Promise.all([
      waitInbound(bob.page, 'alice', 'video', (s) => s.framesDecoded > 30, 20_000),
      waitInbound(alice.page, 'bob', 'video', (s) => s.framesDecoded > 30, 20_000),
    ]);
    console.log(`[e2e] across nodes: publish → 30 decoded frames both ways in ${Date.now() - t0} ms (${atBob.stats.frameWidth}x${atBob.stats.frameHeight} at bob, ${atAlice.stats.frameWidth}x${atAlice.stats.frameHeight} at alice)`);
    const [audioAtBob, audioAtAlice] = await Promise.all([
      waitInbound(bob.page, 'alice', 'audio', (s) => s.packetsReceived > 20 && (s.audioLevel ?? 0) > 0.05),
      waitInbound(alice.page, 'bob', 'audio', (s) => s.packetsReceived > 20 && (s.audioLevel ?? 0) > 0.05),
    ]);
    expect(audioAtBob.stats.bytesReceived).toBeGreaterThan(0);
    expect(audioAtAlice.stats.bytesReceived).toBeGreaterThan(0);

    // The API on B acts on A's room.
    const viaB = new RoomServiceClient(b.httpUrl, API_KEY, API_SECRET);
    await viaB.sendData(room, new TextEncoder().encode('hello from B'), DataPacket_Kind.RELIABLE, { destinationIdentities: ['bob'], topic: 'ops' });
    const data = await waitEvent(bob.page, 'DataReceived', { topic: 'ops' });
    expect(data.text).toBe('hello from B');
    await viaB.updateRoomMetadata(room, 'set on B');
    await waitEvent(alice.page, 'RoomMetadataChanged', { metadata: 'set on B' });
    await viaB.removeParticipant(room, 'alice');
    await waitEvent(alice.page, 'Disconnected');
    await waitEvent(bob.page, 'ParticipantDisconnected', { identity: 'alice' });
    for (const p of [alice, bob]) await p.context.close();
  });
});
