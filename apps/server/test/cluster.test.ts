// Several Kite nodes through one real redis-server: node A in this process, node B as the real binary in its own
// process (so it can be killed like a crashed machine), node C in-process for the drain. Clients are werift peers
// speaking the LiveKit protocol; the API is driven with the official livekit-server-sdk; webhooks are checked with its
// WebhookReceiver. Nothing is mocked: routing, relaying and cleanup go through Redis as in production.
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { DataPacket_Kind, RoomServiceClient, TwirpError, WebhookReceiver, type WebhookEvent } from 'livekit-server-sdk';
import { DisconnectReason, LeaveRequest_Action } from '@kite/protocol';
import { API_KEY, API_SECRET, startServer, type TestServer } from './helpers.js';
import { ConnectionState, Room, RoomEvent } from '@kite/client';
import { Clients, makeToken, publishGeneratedVideo, waitUntil } from './support/harness.js';
import { LkClient } from './support/lkClient.js';
import type { Pump } from './support/media.js';
import { freePort, sleep, startKiteProcess, startRedis, type KiteProcess, type RedisProcess } from './support/processes.js';

const K = {
  nodes: '{kite}:nodes',
  node: (id: string) => `{kite}:node:${id}`,
  map: '{kite}:room_node_map',
  rooms: '{kite}:rooms',
  participants: (room: string) => `{kite}:room_participants:${room}`,
};

/** Webhook requests, each verified by the official receiver. */
class HookReceiver {
  readonly events: WebhookEvent[] = [];
  readonly invalid: string[] = [];
  private server!: HttpServer;
  url = '';
  private readonly receiver = new WebhookReceiver(API_KEY, API_SECRET);

  async start(): Promise<this> {
    this.server = createHttpServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        this.receiver.receive(body, req.headers.authorization).then(
          (ev) => this.events.push(ev),
          (err: Error) => this.invalid.push(err.message),
        );
        res.end();
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hooks`;
    return this;
  }
  of(room: string, event?: string): WebhookEvent[] {
    return this.events.filter((e) => e.room?.name === room && (!event || e.event === event));
  }
  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.95))]!;

let redis: RedisProcess;
let rc: Redis;
let hooks: HookReceiver;
let a: TestServer;
let b: KiteProcess;
const pumps: Pump[] = [];
/** alice (on A) and bob (WebSocket on B) in room media-across, hosted on A. */
let alice: LkClient;
let bob: LkClient;

const clientsA = new Clients(() => a);
const clientsB = new Clients(() => ({ url: b.url }) as TestServer);
const svc = (url: string) => new RoomServiceClient(url, API_KEY, API_SECRET);

const clusterConfig = () => ({
  keys: { [API_KEY]: API_SECRET },
  redis: { address: redis.address },
  webhook: { api_key: API_KEY, urls: [hooks.url] },
});

beforeAll(async () => {
  redis = await startRedis();
  rc = new Redis({ port: redis.port, host: '127.0.0.1' });
  hooks = await new HookReceiver().start();
  a = await startServer({ ...clusterConfig(), node_id: 'node-a' }, { cluster: { registry: { reapMs: 1000 } } });
  b = await startKiteProcess({ ...clusterConfig(), node_id: 'node-b' });
}, 60_000);

afterAll(async () => {
  for (const p of pumps.splice(0)) p.stop();
  await clientsA.disposeAll();
  await clientsB.disposeAll();
  await b?.stop('SIGKILL');
  await a?.server.close();
  rc?.disconnect();
  await hooks?.close();
  await redis?.stop();
});

const publishVideo = (c: LkClient) => publishGeneratedVideo(c, pumps);

describe('multi-node through Redis', () => {
  it('both nodes register with their load; their entries expire unless refreshed', async () => {
    expect((await rc.smembers(K.nodes)).sort()).toEqual(['node-a', 'node-b']);
    const infoB = JSON.parse((await rc.get(K.node('node-b')))!);
    expect(infoB).toMatchObject({ id: 'node-b', state: 'serving', rooms: 0, participants: 0 });
    const ttl = await rc.pttl(K.node('node-a'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(10_000);
  });

  it('CreateRoom on A is listed by B, and lives on A', async () => {
    const room = await svc(a.url).createRoom({ name: 'created-on-a', metadata: 'hello' });
    expect(await rc.hget(K.map, 'created-on-a')).toBe('node-a');
    const listed = await svc(b.url).listRooms();
    expect(listed.map((r) => r.name)).toContain('created-on-a');
    const byName = await svc(b.url).listRooms(['created-on-a']);
    expect(byName).toHaveLength(1);
    expect(byName[0]).toMatchObject({ sid: room.sid, metadata: 'hello' });
    // CreateRoom of an existing room through the other node returns the same room, not a second one.
    const again = await svc(b.url).createRoom({ name: 'created-on-a' });
    expect(again.sid).toBe(room.sid);
    expect(a.server.rooms.getRoom('created-on-a')).toBeDefined();
    await svc(b.url).deleteRoom('created-on-a');
    await waitUntil(() => !a.server.rooms.getRoom('created-on-a'), 5000, 'room closed on A');
    expect(await rc.hget(K.map, 'created-on-a')).toBeNull();
    expect((await svc(b.url).listRooms()).map((r) => r.name)).not.toContain('created-on-a');
  });

  it('a participant whose WebSocket is on B joins a room hosted on A and exchanges media with one on A', async () => {
    const room = 'media-across';
    await svc(a.url).createRoom({ name: room });
    let t0 = Date.now();
    alice = await clientsA.join('alice', room);
    const directJoinMs = Date.now() - t0;
    t0 = Date.now();
    bob = await clientsB.join('bob', room, { grant: { canUpdateOwnMetadata: true } });
    const relayedJoinMs = Date.now() - t0;
    // The JoinResponse is A's: its node id, its ICE candidates (media goes straight to A).
    expect(alice.join.serverInfo?.nodeId).toBe('node-a');
    expect(bob.join.serverInfo?.nodeId).toBe('node-a');
    expect(a.server.cluster!.stats().relayedIn).toBe(1);
    await bob.until(() => bob.participants.has('alice'), 5000, 'bob sees alice');
    await alice.until(() => alice.participants.has('bob'), 5000, 'alice sees bob');

    const va = await publishVideo(alice);
    const vb = await publishVideo(bob);
    await bob.until(() => (bob.remoteTracks.get(va.sid)?.count ?? 0) > 30, 10_000, 'bob receiving alice');
    await alice.until(() => (alice.remoteTracks.get(vb.sid)?.count ?? 0) > 30, 10_000, 'alice receiving bob');
    // bob's publisher and subscriber connections end at A's sockets: A forwards his video.
    expect(bob.remoteTracks.get(va.sid)!.participantSid).toBe(alice.sid);
    expect(alice.remoteTracks.get(vb.sid)!.participantSid).toBe(bob.sid);
    // Signalling keeps working both ways through the relay: pings and metadata.
    const { rttMs } = await bob.ping();
    bob.updateMetadata({ metadata: 'via-b' });
    await alice.until(() => alice.participants.get('bob')?.metadata === 'via-b', 5000, 'bob’s metadata at alice');
    expect((await svc(b.url).getParticipant(room, 'bob')).metadata).toBe('via-b');
    console.log(`[cluster] join (WebSocket open → JoinResponse): on the hosting node ${directJoinMs} ms, through the relaying node ${relayedJoinMs} ms; ping through the relay ${rttMs} ms`);
  });

  it('RoomService calls through B act on the room A hosts', async () => {
    const room = 'media-across';
    const viaB = svc(b.url);
    const aliceTrack = [...alice.localTracks][0]!;

    // SendData to alice only.
    let mark = alice.data.length;
    await viaB.sendData(room, new TextEncoder().encode('from-b'), DataPacket_Kind.RELIABLE, { destinationIdentities: ['alice'], topic: 't' });
    await alice.until(() => alice.data.length > mark, 5000, 'data at alice');
    expect(new TextDecoder().decode(alice.data[mark]!.packet.user!.payload)).toBe('from-b');

    // MutePublishedTrack: the publisher is asked to mute, the answer is the muted track.
    mark = alice.mark();
    const muted = await viaB.mutePublishedTrack(room, 'alice', aliceTrack.sid, true);
    expect(muted.muted).toBe(true);
    await alice.waitFor('mute', (m) => m.sid === aliceTrack.sid && m.muted, { since: mark, timeoutMs: 5000 });

    // UpdateParticipant and UpdateRoomMetadata reach the clients.
    await viaB.updateParticipant(room, 'alice', { metadata: 'set-through-b' });
    await bob.until(() => bob.participants.get('alice')?.metadata === 'set-through-b', 5000, 'alice’s metadata at bob');
    mark = bob.mark();
    const updated = await viaB.updateRoomMetadata(room, 'room-meta');
    expect(updated.metadata).toBe('room-meta');
    await bob.waitFor('roomUpdate', (u) => u.room?.metadata === 'room-meta', { since: mark, timeoutMs: 5000 });

    // UpdateSubscriptions: bob stops receiving alice's video.
    await viaB.updateSubscriptions(room, 'bob', [aliceTrack.sid], false);
    await sleep(1000);
    const before = bob.remoteTracks.get(aliceTrack.sid)!.count;
    await sleep(1000);
    expect(bob.remoteTracks.get(aliceTrack.sid)!.count - before).toBeLessThan(5);

    // Errors come back from A as the same Twirp errors.
    const err = await viaB.removeParticipant(room, 'nobody').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TwirpError);
    expect((err as TwirpError).code).toBe('not_found');

    // Latency: the same call answered by the hosting node vs routed through the other.
    const time = async (url: string) => {
      const s = svc(url);
      const out: number[] = [];
      for (let i = 0; i < 30; i++) {
        const t = performance.now();
        await s.updateRoomMetadata(room, `m${i}`);
        out.push(performance.now() - t);
      }
      return out;
    };
    const local = await time(a.url);
    const routed = await time(b.url);
    console.log(
      `[cluster] UpdateRoomMetadata ×30: on the hosting node median ${median(local).toFixed(1)} ms (p95 ${p95(local).toFixed(1)}), ` +
        `routed through the other node median ${median(routed).toFixed(1)} ms (p95 ${p95(routed).toFixed(1)})`,
    );

    // RemoveParticipant through B: bob is told and leaves, A forgets him.
    mark = bob.mark();
    await viaB.removeParticipant(room, 'bob');
    const leave = await bob.waitFor('leave', () => true, { since: mark, timeoutMs: 5000 });
    expect(leave.reason).toBe(DisconnectReason.PARTICIPANT_REMOVED);
    await waitUntil(() => !a.server.rooms.getRoom(room)?.getParticipant('bob'), 5000, 'bob gone from A');
    expect((await svc(a.url).listParticipants(room)).map((p) => p.identity)).toEqual(['alice']);

    // DeleteRoom through B closes it on A.
    mark = alice.mark();
    await viaB.deleteRoom(room);
    expect((await alice.waitFor('leave', () => true, { since: mark, timeoutMs: 5000 })).reason).toBe(DisconnectReason.ROOM_DELETED);
    await waitUntil(() => !a.server.rooms.getRoom(room), 5000, 'room closed on A');
  });

  it('webhooks go out once per event, from the node that hosts the room, and validate', async () => {
    const room = 'media-across';
    await waitUntil(() => hooks.of(room, 'room_finished').length > 0, 10_000, 'room_finished');
    await sleep(300);
    expect(hooks.invalid).toEqual([]);
    const names = hooks.of(room).map((e) => `${e.event}${e.participant ? ':' + e.participant.identity : ''}`);
    const count = (n: string) => names.filter((x) => x === n).length;
    expect(count('room_started')).toBe(1);
    expect(count('room_finished')).toBe(1);
    expect(count('participant_joined:alice')).toBe(1);
    expect(count('participant_joined:bob')).toBe(1);
    expect(count('participant_left:bob')).toBe(1);
    expect(count('participant_left:alice')).toBe(1);
    expect(names[0]).toBe('room_started');
    expect(names[names.length - 1]).toBe('room_finished');
  });

  it('@kite/client through B into a room on A: a dropped signal connection resumes through the relay, a refused resume rejoins', async () => {
    const room = 'resume-across';
    await svc(a.url).createRoom({ name: room });
    const hana = new Room({ reconnectDelays: [0, 200, 400, 800] });
    const ivan = new Room();
    try {
      await ivan.connect(a.url, await makeToken('ivan', { roomJoin: true, room }));
      await hana.connect(b.url, await makeToken('hana', { roomJoin: true, room, canUpdateOwnMetadata: true }));
      expect(a.server.rooms.getRoom(room)?.getParticipant('hana')).toBeDefined();
      const sid = hana.localParticipant.sid;
      const seen: string[] = [];
      hana.on(RoomEvent.SignalReconnecting, () => seen.push('signalReconnecting'));
      hana.on(RoomEvent.Reconnecting, () => seen.push('reconnecting'));
      hana.on(RoomEvent.Reconnected, () => seen.push('reconnected'));
      const reconnected = () => new Promise<void>((r) => hana.once(RoomEvent.Reconnected, () => r()));

      // The WebSocket to B drops: the client resumes through B, A keeps the session (same sid).
      let done = reconnected();
      await hana.simulateScenario('signal-reconnect');
      await done;
      expect(hana.localParticipant.sid).toBe(sid);
      await hana.localParticipant.setMetadata('after-resume');
      await waitUntil(() => ivan.remoteParticipants.get('hana')?.metadata === 'after-resume', 5000, 'metadata after the resume');

      // A refuses the resume (the session is gone): a full rejoin, still through B, still into A's room.
      done = reconnected();
      await hana.simulateScenario('node-failure');
      await done;
      expect(hana.state).toBe(ConnectionState.Connected);
      await waitUntil(() => ivan.remoteParticipants.has('hana'), 5000, 'hana back at ivan');
      expect(a.server.rooms.getRoom(room)?.getParticipant('hana')).toBeDefined();
      console.log(`[cluster] @kite/client through the relay: ${seen.join(' → ')}`);
    } finally {
      await Promise.allSettled([hana.disconnect(), ivan.disconnect()]);
      await svc(a.url).deleteRoom(room).catch(() => {});
    }
  });

  it('Redis work per join, direct and relayed', async () => {
    // Commands the registry runs in the background (heartbeats, reaping) are left out; the rest is the join's.
    const background = new Set(['set', 'smembers', 'mget', 'exists', 'info', 'config|resetstat']);
    const joinOps = async () => {
      let n = 0;
      for (const m of (await rc.info('commandstats')).matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) if (!background.has(m[1]!)) n += Number(m[2]);
      return n;
    };
    const measure = async (label: string, join: () => Promise<LkClient>) => {
      await rc.config('RESETSTAT');
      const c = await join();
      await c.until(() => c.participants.size > 0, 5000, 'the other participant');
      await sleep(500);
      const ops = await joinOps();
      const detail = (await rc.info('commandstats')).split('\n').filter((l) => l.startsWith('cmdstat_') && !background.has(l.slice(8, l.indexOf(':')))).map((l) => l.slice(8, l.indexOf(',')));
      console.log(`[cluster] Redis commands for one join into a room of one (${label}): ${ops} (${detail.join(' ')})`);
      return ops;
    };
    await svc(a.url).createRoom({ name: 'ops-room' });
    expect(await rc.hget(K.map, 'ops-room')).toBe('node-a');
    await clientsA.join('ops-host', 'ops-room');
    const direct = await measure('WebSocket on the hosting node', () => clientsA.join('ops-direct', 'ops-room'));
    const relayed = await measure('WebSocket on the other node', () => clientsB.join('ops-relayed', 'ops-room'));
    // Bounded, and not growing with the room (the figures themselves go in the closing note).
    expect(direct).toBeGreaterThan(0);
    expect(direct).toBeLessThan(50);
    expect(relayed).toBeLessThan(80);
  });

  it('a draining node takes no new rooms; its participants are sent to rejoin when the drain ends', async () => {
    const c = await startServer({ ...clusterConfig(), node_id: 'node-c' });
    try {
      await svc(c.url).createRoom({ name: 'drain-room' });
      expect(await rc.hget(K.map, 'drain-room')).toBe('node-c');
      const carol = await new Clients(() => c).join('carol', 'drain-room');
      const draining = c.server.drain(2000);
        await sleep(100);
      expect(JSON.parse((await rc.get(K.node('node-c')))!).state).toBe('draining');
      // A new room asked of C goes elsewhere; the existing one carries on meanwhile.
      await svc(c.url).createRoom({ name: 'after-drain' });
      expect(await rc.hget(K.map, 'after-drain')).not.toBe('node-c');
      expect((await carol.ping()).rttMs).toBeLessThan(1000);
      const leave = await carol.waitFor('leave', () => true, { timeoutMs: 5000 });
      expect(leave).toMatchObject({ action: LeaveRequest_Action.RECONNECT, reason: DisconnectReason.SERVER_SHUTDOWN, canReconnect: true });
      await draining;
      expect(await rc.sismember(K.nodes, 'node-c')).toBe(0);
      expect(await rc.hget(K.map, 'drain-room')).toBeNull();
      expect(await rc.hexists(K.rooms, 'drain-room')).toBe(0);
      await svc(a.url).deleteRoom('after-drain').catch(() => {});
    } finally {
      await c.server.close();
    }
  });

  it('SIGTERM drains the binary: participants are told to rejoin, the node leaves the registry, the process exits 0', async () => {
    const d = await startKiteProcess({ ...clusterConfig(), node_id: 'node-d' }, { KITE_DRAIN_TIMEOUT_MS: '500' });
    try {
      await svc(d.url).createRoom({ name: 'room-on-d' });
      expect(await rc.hget(K.map, 'room-on-d')).toBe('node-d');
      const gina = await new Clients(() => ({ url: d.url }) as TestServer).join('gina', 'room-on-d');
      d.proc.kill('SIGTERM');
      const leave = await gina.waitFor('leave', () => true, { timeoutMs: 10_000 });
      expect(leave).toMatchObject({ action: LeaveRequest_Action.RECONNECT, reason: DisconnectReason.SERVER_SHUTDOWN });
      expect(await d.exited).toEqual({ code: 0, signal: null });
      expect(await rc.sismember(K.nodes, 'node-d')).toBe(0);
      expect(await rc.exists(K.node('node-d'))).toBe(0);
      expect(await rc.hexists(K.rooms, 'room-on-d')).toBe(0);
      await gina.dispose();
    } finally {
      await d.stop('SIGKILL');
    }
  });

  it('a node that cannot reach Redis does not start, and says why', async () => {
    const port = await freePort();
    const err = await startServer({ keys: { [API_KEY]: API_SECRET }, redis: { address: `127.0.0.1:${port}` } }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/cannot connect to Redis/);
  });

  it('SIGKILL of node B: A’s rooms keep working, B’s state is gone from Redis within 30 s, its rooms move to A', async () => {
    // A clean slate, so that placement is predictable: no rooms, and both registry entries say so.
    await clientsA.disposeAll();
    await clientsB.disposeAll();
    for (const r of await svc(a.url).listRooms()) await svc(a.url).deleteRoom(r.name);
    const load = async (id: string) => JSON.parse((await rc.get(K.node(id)))!) as { rooms: number; participants: number };
    for (let t = Date.now(); ; await sleep(100)) {
      const [la, lb] = [await load('node-a'), await load('node-b')];
      if (la.rooms + la.participants + lb.rooms + lb.participants === 0) break;
      if (Date.now() - t > 10_000) throw new Error(`nodes still report load: ${JSON.stringify({ la, lb })}`);
    }
    // A room on B (on a tie the node asked keeps the room) with a participant, and a room on A with media flowing.
    await svc(b.url).createRoom({ name: 'room-on-b' });
    expect(await rc.hget(K.map, 'room-on-b')).toBe('node-b');
    const dave = await clientsB.join('dave', 'room-on-b');
    expect(dave.join.serverInfo?.nodeId).toBe('node-b');
    await sleep(200);
    expect(await rc.hexists(K.participants('room-on-b'), 'dave')).toBe(1);

    // B now carries a participant: once its registry entry says so, A is the least-loaded node for a new room.
    for (let t = Date.now(); (await load('node-b')).participants < 1; await sleep(100)) {
      if (Date.now() - t > 5000) throw new Error('node-b never reported its participant');
    }
    const erin = await clientsA.join('erin', 'room-on-a');
    expect(await rc.hget(K.map, 'room-on-a')).toBe('node-a');
    const frank = await clientsA.join('frank', 'room-on-a');
    const ve = await publishVideo(erin);
    await frank.until(() => (frank.remoteTracks.get(ve.sid)?.count ?? 0) > 30, 10_000, 'frank receiving erin');

    b.proc.kill('SIGKILL');
    const killedAt = Date.now();
    const killed = await b.exited;
    expect(killed.signal).toBe('SIGKILL');

    // Media on A does not notice.
    const before = frank.remoteTracks.get(ve.sid)!.count;
    await sleep(2000);
    expect(frank.remoteTracks.get(ve.sid)!.count - before).toBeGreaterThan(30);

    // B's registry entry expires and A cleans its rooms and participants out.
    let goneMs = 0;
    while (Date.now() - killedAt < 30_000) {
      const [member, entry, mapped, stored, participants] = await Promise.all([
        rc.sismember(K.nodes, 'node-b'),
        rc.exists(K.node('node-b')),
        rc.hexists(K.map, 'room-on-b'),
        rc.hexists(K.rooms, 'room-on-b'),
        rc.exists(K.participants('room-on-b')),
      ]);
      if (!member && !entry && !mapped && !stored && !participants) {
        goneMs = Date.now() - killedAt;
        break;
      }
      await sleep(100);
    }
    expect(goneMs, 'B’s state still in Redis 30 s after SIGKILL').toBeGreaterThan(0);
    console.log(`[cluster] SIGKILL of node B → its registry entry, rooms and participants gone from Redis after ${goneMs} ms`);
    expect((await svc(a.url).listRooms()).map((r) => r.name)).not.toContain('room-on-b');

    // The dead node's room finished once, from A. A new join of it lands on A.
    await waitUntil(() => hooks.of('room-on-b', 'room_finished').length === 1, 5000, 'room_finished of the dead node’s room');
    const dave2 = await clientsA.join('dave', 'room-on-b');
    expect(dave2.join.serverInfo?.nodeId).toBe('node-a');
    expect(await rc.hget(K.map, 'room-on-b')).toBe('node-a');
    // And A's media still flows.
    const later = frank.remoteTracks.get(ve.sid)!.count;
    await sleep(500);
    expect(frank.remoteTracks.get(ve.sid)!.count).toBeGreaterThan(later);
  }, 60_000);
});

