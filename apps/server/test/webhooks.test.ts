// Webhooks end to end: a real Kite server POSTs to a local HTTP receiver, real participants (werift) join, publish and
// leave. Every request must be accepted by the official livekit-server-sdk WebhookReceiver and by @kite/server-sdk's,
// and its JWT is also checked independently with jose (issuer, exp, sha256 claim of the exact body).
import { createServer as createHttpServer, type IncomingHttpHeaders, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { jwtVerify } from 'jose';
import { WebhookReceiver as OfficialWebhookReceiver, RoomServiceClient, type WebhookEvent as OfficialWebhookEvent } from 'livekit-server-sdk';
import { WebhookReceiver as KiteWebhookReceiver } from '@kite/server-sdk';
import { DisconnectReason, LeaveRequest_Action, SignalRequest } from '@kite/protocol';
import type { KiteConfigInput } from '../src/config/index.js';
import type { WebhookTuning } from '../src/webhooks/notifier.js';
import { API_KEY, API_SECRET, startServer, type TestServer } from './helpers.js';
import { Clients, makeToken, sleep, waitUntil } from './support/harness.js';
import { LkClient } from './support/lkClient.js';
import { OpusSource, pump, type Pump } from './support/media.js';

// ---------------------------------------------------------------------------------------------------------------
// A webhook receiver

type Reply = 'ok' | 'hang' | number | { delayMs: number };

interface Hit {
  n: number;
  at: number;
  body: string;
  headers: IncomingHttpHeaders;
  reply: Reply;
}

interface Delivered {
  at: number;
  /** The body as sent (proto3 JSON). */
  raw: Record<string, any>;
  /** What the official WebhookReceiver made of it. */
  ev: OfficialWebhookEvent;
}

const official = new OfficialWebhookReceiver(API_KEY, API_SECRET);
const kite = new KiteWebhookReceiver(API_KEY, API_SECRET);
const secretKey = new TextEncoder().encode(API_SECRET);

class Receiver {
  readonly hits: Hit[] = [];
  readonly delivered: Delivered[] = [];
  /** Requests that failed a check (should stay empty). */
  readonly invalid: string[] = [];
  private readonly hung: ServerResponse[] = [];
  private server!: HttpServer;
  url = '';

  constructor(private readonly replyFor: (n: number, body: string) => Reply = () => 'ok') {}

  async start(path = '/hooks'): Promise<this> {
    this.server = createHttpServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => void this.onRequest(Buffer.concat(chunks).toString('utf8'), req.method ?? '', req.headers, res));
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
    return this;
  }

  private async onRequest(body: string, method: string, headers: IncomingHttpHeaders, res: ServerResponse): Promise<void> {
    const n = this.hits.length;
    const reply = this.replyFor(n, body);
    this.hits.push({ n, at: Date.now(), body, headers, reply });
    let ev: OfficialWebhookEvent | undefined;
    try {
      ev = await verify(method, body, headers);
    } catch (err) {
      this.invalid.push(`${(err as Error).message}: ${body.slice(0, 200)}`);
    }
    if (reply === 'hang') {
      this.hung.push(res);
      return;
    }
    if (typeof reply === 'object') await sleep(reply.delayMs);
    const status = reply === 'ok' || typeof reply === 'object' ? 200 : reply;
    if (status === 200 && ev) this.delivered.push({ at: Date.now(), raw: JSON.parse(body), ev });
    res.writeHead(status).end(status === 200 ? 'ok' : 'nope');
  }

  /** Event names delivered (answered 200), in order, optionally for one room. */
  events(room?: string): string[] {
    return this.delivered.filter((d) => room === undefined || d.raw.room?.name === room).map((d) => d.raw.event as string);
  }

  find(event: string, room?: string): Delivered | undefined {
    return this.delivered.find((d) => d.raw.event === event && (room === undefined || d.raw.room?.name === room));
  }

  async waitFor(event: string, room?: string, timeoutMs = 10_000): Promise<Delivered> {
    await waitUntil(() => this.find(event, room) !== undefined, timeoutMs, `webhook ${event}${room ? ` for ${room}` : ''}`);
    return this.find(event, room)!;
  }

  async close(): Promise<void> {
    for (const res of this.hung.splice(0)) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** Everything a receiver may check, three ways. Returns the official SDK's parse. */
async function verify(method: string, body: string, headers: IncomingHttpHeaders): Promise<OfficialWebhookEvent> {
  if (method !== 'POST') throw new Error(`method ${method}`);
  if (headers['content-type'] !== 'application/webhook+json') throw new Error(`content-type ${headers['content-type']}`);
  const auth = headers.authorization;
  if (!auth) throw new Error('no authorization');
  if (auth.startsWith('Bearer ')) throw new Error('authorization has a Bearer prefix');
  // Independently of either SDK: HS256 by the API key's secret, issuer = key, exp set (5 min), sha256 = body hash.
  const { payload, protectedHeader } = await jwtVerify(auth, secretKey, { issuer: API_KEY, algorithms: ['HS256'] });
  if (protectedHeader.alg !== 'HS256') throw new Error(`alg ${protectedHeader.alg}`);
  const now = Date.now() / 1000;
  if (typeof payload.exp !== 'number' || payload.exp < now + 240 || payload.exp > now + 310) throw new Error(`exp ${payload.exp}`);
  const sha = createHash('sha256').update(body, 'utf8').digest('base64');
  if (payload.sha256 !== sha) throw new Error('sha256 claim does not match the body');
  await kite.receive(body, auth);
  return official.receive(body, auth);
}

// ---------------------------------------------------------------------------------------------------------------
// Servers and clients

const servers: TestServer[] = [];
const receivers: Receiver[] = [];
const pumps: Pump[] = [];
let current: TestServer | undefined;
const clients = new Clients(() => current!);

/** Fast retries and short timeouts, so the file runs in seconds. */
const FAST: Partial<WebhookTuning> = { timeoutMs: 1_000, retryWaitMinMs: 50, retryWaitMaxMs: 400, closeTimeoutMs: 3_000 };

async function startKite(urls: string[], tuning: Partial<WebhookTuning> = {}, config: KiteConfigInput = {}): Promise<TestServer> {
  const ts = await startServer({ webhook: { api_key: API_KEY, urls }, ...config }, { webhook: { ...FAST, ...tuning } });
  servers.push(ts);
  current = ts;
  return ts;
}

async function receiver(replyFor?: (n: number, body: string) => Reply, path?: string): Promise<Receiver> {
  const r = await new Receiver(replyFor).start(path);
  receivers.push(r);
  return r;
}

function roomService(ts: TestServer): RoomServiceClient {
  return new RoomServiceClient(ts.url, API_KEY, API_SECRET);
}

/** A participant that joins (signalling only) and leaves before any peer connection came up. */
async function joinAndAbort(ts: TestServer, identity: string, room: string): Promise<void> {
  const token = await makeToken(identity, { roomJoin: true, room });
  const ws = new WebSocket(LkClient.rtcUrl({ url: ts.url, token }), { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once('message', () => resolve());
    ws.once('error', reject);
  });
  ws.send(SignalRequest.encode({ leave: { canReconnect: false, reason: DisconnectReason.CLIENT_INITIATED, action: LeaveRequest_Action.DISCONNECT } }));
  ws.close(1000);
}

/** The server logs never show the API secret or a webhook token. */
function expectNoSecrets(ts: TestServer, r: Receiver): void {
  const logs = ts.logs();
  expect(logs).not.toContain(API_SECRET);
  for (const h of r.hits) expect(logs).not.toContain(h.headers.authorization!);
}

afterEach(async () => {
  for (const p of pumps.splice(0)) p.stop();
  await clients.disposeAll();
  await Promise.all(servers.splice(0).map((s) => s.server.close()));
  await Promise.all(receivers.splice(0).map((r) => r.close()));
  current = undefined;
});

// ---------------------------------------------------------------------------------------------------------------

describe('webhooks', () => {
  it('a room’s life: room_started, participant_joined, track_published, track_unpublished, participant_left, room_finished', async () => {
    const r = await receiver();
    const ts = await startKite([r.url], {}, { room: { departure_timeout: 0 } });
    const room = 'wh-life';

    const alice = await clients.join('alice', room, { grant: { canPublish: true } });
    await r.waitFor('participant_joined', room);
    const mic = await alice.publishAudio();
    pumps.push(pump(new OpusSource(), (p) => mic.writeRtp(p), 20));
    await r.waitFor('track_published', room);
    // Unpublish as livekit-client does: the sender goes, the publisher PC renegotiates.
    alice.publisher.removeTrack(mic.transceiver.sender);
    await alice.negotiatePublisher();
    await r.waitFor('track_unpublished', room);
    pumps.splice(0).forEach((p) => p.stop());
    await alice.close();
    await r.waitFor('room_finished', room);

    console.log(`[webhooks] ${room}: ${r.events(room).join(', ')}`);
    if (process.env.KITE_WEBHOOK_DUMP) for (const h of r.hits) console.log(h.body);
    expect(r.events(room)).toEqual(['room_started', 'participant_joined', 'track_published', 'track_unpublished', 'participant_left', 'room_finished']);
    expect(r.invalid).toEqual([]);
    expect(r.hits.length).toBe(6);

    const [started, joined, published, unpublished, left, finished] = r.delivered.map((d) => d.raw);
    const roomSid = started!.room.sid as string;
    expect(roomSid).toMatch(/^RM_/);
    // Every event: an EV_ id of its own, created_at as a string of unix seconds (proto3 JSON int64).
    const ids = new Set<string>();
    for (const d of r.delivered) {
      expect(d.raw.id).toMatch(/^EV_[0-9A-Za-z]{12}$/);
      ids.add(d.raw.id);
      expect(typeof d.raw.createdAt).toBe('string');
      expect(Math.abs(Number(d.raw.createdAt) - Date.now() / 1000)).toBeLessThan(30);
      expect(d.ev.createdAt).toBe(BigInt(d.raw.createdAt));
      expect(d.raw.room.name).toBe(room);
      expect(d.raw.room.sid).toBe(roomSid);
      expect(d.ev.room?.sid).toBe(roomSid);
      expect(d.raw).not.toHaveProperty('numDropped');
    }
    expect(ids.size).toBe(6);
    for (const h of r.hits) expect(h.headers['user-agent']).toBe('LiveKit');

    // Room events carry the full Room.
    expect(started!.room.emptyTimeout).toBeGreaterThan(0);
    expect(started!).not.toHaveProperty('participant');
    expect(finished!.room.creationTime).toBe(started!.room.creationTime);
    // participant_joined / _left: the full Room and ParticipantInfo.
    expect(joined!.participant).toMatchObject({ sid: alice.sid, identity: 'alice', state: 'ACTIVE' });
    expect(joined!.room).toMatchObject({ numParticipants: 1 });
    expect(joined!.participant.permission).toMatchObject({ canPublish: true, canSubscribe: true });
    expect(left!.participant).toMatchObject({ sid: alice.sid, identity: 'alice', state: 'DISCONNECTED', disconnectReason: 'CLIENT_INITIATED' });
    // Track events: room = {sid, name}, participant = {sid, identity}, and the TrackInfo.
    for (const t of [published!, unpublished!]) {
      expect(t.room).toEqual({ sid: roomSid, name: room });
      expect(t.participant).toEqual({ sid: alice.sid, identity: 'alice' });
      expect(t.track).toMatchObject({ sid: mic.sid, source: 'MICROPHONE', name: 'microphone', mimeType: 'audio/opus' });
      expect(t.track).not.toHaveProperty('type'); // AUDIO = 0: a default, omitted in proto3 JSON
    }
    expect(r.delivered[2]!.ev.track?.type).toBe(0);
    expect(r.delivered[2]!.ev.track?.sid).toBe(mic.sid);
    expect(r.delivered[1]!.ev.participant?.identity).toBe('alice');
    await ts.server.webhooks!.idle(); // the receiver records an event before its answer reaches Kite
    expect(ts.server.webhooks!.stats()[0]).toMatchObject({ queued: 0, inFlight: 0, sent: 6, failed: 0, retries: 0, dropped: { queue_full: 0, max_age: 0, shutdown: 0 } });
    expectNoSecrets(ts, r);
  });

  it('leaving with a published track: track_unpublished before participant_left; never connected: participant_connection_aborted', async () => {
    const r = await receiver();
    const ts = await startKite([r.url], {}, { room: { departure_timeout: 0 } });
    const room = 'wh-leave';
    const alice = await clients.join('alice', room);
    await r.waitFor('participant_joined', room);
    await joinAndAbort(ts, 'carol', room);
    const aborted = await r.waitFor('participant_connection_aborted', room);
    expect(aborted.raw.participant).toMatchObject({ identity: 'carol', state: 'DISCONNECTED', disconnectReason: 'CLIENT_INITIATED' });

    const cam = await alice.publishAudio({ name: 'mic-2' });
    pumps.push(pump(new OpusSource(), (p) => cam.writeRtp(p), 20));
    await r.waitFor('track_published', room);
    await alice.close();
    await r.waitFor('room_finished', room);

    console.log(`[webhooks] ${room}: ${r.events(room).join(', ')}`);
    expect(r.events(room)).toEqual(['room_started', 'participant_joined', 'participant_connection_aborted', 'track_published', 'track_unpublished', 'participant_left', 'room_finished']);
    expect(r.find('track_unpublished', room)!.raw.track).toMatchObject({ sid: cam.sid, name: 'mic-2' });
    expect(r.find('participant_left', room)!.raw.participant).toMatchObject({ identity: 'alice' });
    expect(r.events(room).filter((e) => e === 'participant_joined')).toHaveLength(1); // carol never joined
    expect(r.invalid).toEqual([]);
  });

  it('CreateRoom sends room_started with the room as created; DeleteRoom sends room_finished', async () => {
    const r = await receiver();
    const ts = await startKite([r.url]);
    const api = roomService(ts);
    const created = await api.createRoom({ name: 'wh-api', emptyTimeout: 120, maxParticipants: 7, metadata: 'hello' });
    const started = await r.waitFor('room_started', 'wh-api');
    expect(started.raw.room).toMatchObject({ sid: created.sid, name: 'wh-api', emptyTimeout: 120, maxParticipants: 7, metadata: 'hello' });
    expect(started.ev.room?.sid).toBe(created.sid);
    expect(started.ev.room?.maxParticipants).toBe(7);
    // CreateRoom of an existing room is not a new room.
    await api.createRoom({ name: 'wh-api' });
    await api.deleteRoom('wh-api');
    await r.waitFor('room_finished', 'wh-api');
    expect(r.events('wh-api')).toEqual(['room_started', 'room_finished']);
    expect(r.invalid).toEqual([]);
  });

  it('retries with backoff: a receiver that fails 3 times still gets the event once; a 4xx is not retried', async () => {
    const r = await receiver((n, body) => (body.includes('wh-refused') ? 400 : n < 3 ? 500 : 'ok'));
    const ts = await startKite([r.url], { retryWaitMinMs: 100, retryWaitMaxMs: 1000 });
    const api = roomService(ts);
    await api.createRoom({ name: 'wh-retry' });
    const d = await r.waitFor('room_started', 'wh-retry');
    expect(r.hits.slice(0, 4).map((h) => h.reply)).toEqual([500, 500, 500, 'ok']);
    // The same event (same id, same body) every time, re-signed per attempt; backoff 100, 200, 400 ms.
    expect(new Set(r.hits.slice(0, 4).map((h) => h.body)).size).toBe(1);
    expect(JSON.parse(r.hits[0]!.body).id).toBe(d.raw.id);
    const gaps = r.hits.slice(1, 4).map((h, i) => h.at - r.hits[i]!.at);
    console.log(`[webhooks] retry gaps ${gaps.join(', ')} ms`);
    expect(gaps[0]).toBeGreaterThanOrEqual(90);
    expect(gaps[1]).toBeGreaterThanOrEqual(190);
    expect(gaps[2]).toBeGreaterThanOrEqual(390);
    expect(r.events()).toEqual(['room_started']);

    await api.createRoom({ name: 'wh-refused' });
    await waitUntil(() => ts.server.webhooks!.stats()[0]!.failed === 1, 5000, 'refused event given up');
    await sleep(300);
    expect(r.hits.filter((h) => h.body.includes('wh-refused'))).toHaveLength(1);
    await ts.server.webhooks!.idle();
    expect(ts.server.webhooks!.stats()[0]).toMatchObject({ sent: 1, failed: 1, retries: 3 });
    expect(ts.logs()).toContain('webhook refused by the receiver');
    expect(r.invalid).toEqual([]);
  });

  it('a receiver that hangs: the request times out and is retried, other rooms are not held up, order per room holds', async () => {
    const r = await receiver((n) => (n === 0 ? 'hang' : 'ok'));
    const ts = await startKite([r.url], { timeoutMs: 400 });
    const api = roomService(ts);
    const t0 = Date.now();
    await api.createRoom({ name: 'wh-hang-a' }); // its room_started hangs
    await waitUntil(() => r.hits.length === 1, 5000, 'first request');
    await api.deleteRoom('wh-hang-a'); // room_finished waits behind it
    await api.createRoom({ name: 'wh-hang-b' }); // another room: not blocked
    const apiMs = Date.now() - t0;
    const b = await r.waitFor('room_started', 'wh-hang-b');
    const a = await r.waitFor('room_finished', 'wh-hang-a');
    const aStarted = r.find('room_started', 'wh-hang-a')!;
    console.log(`[webhooks] hang: API calls ${apiMs} ms; b delivered at +${b.at - t0} ms, a's room_started at +${aStarted.at - t0} ms (after the 400 ms timeout), a's room_finished at +${a.at - t0} ms`);
    expect(apiMs).toBeLessThan(400); // the API did not wait for the receiver
    expect(b.at).toBeLessThan(aStarted.at);
    expect(aStarted.at - t0).toBeGreaterThanOrEqual(400);
    expect(r.events('wh-hang-a')).toEqual(['room_started', 'room_finished']);
    expect(JSON.parse(r.hits[0]!.body).id).toBe(aStarted.raw.id);
    await ts.server.webhooks!.idle();
    expect(ts.server.webhooks!.stats()[0]).toMatchObject({ sent: 3, failed: 0, retries: 1 });
    expect(r.invalid).toEqual([]);
  });

  it('a receiver that never answers delays neither signalling nor media, and close() gives up on it in bounded time', async () => {
    const r = await receiver(() => 'hang');
    const ts = await startKite([r.url], { timeoutMs: 30_000, closeTimeoutMs: 500 });
    const room = 'wh-dead';
    const t0 = Date.now();
    const alice = await clients.join('alice', room);
    const bob = await clients.join('bob', room);
    const joinMs = Date.now() - t0;
    const mic = await alice.publishAudio();
    pumps.push(pump(new OpusSource(), (p) => mic.writeRtp(p), 20));
    await waitUntil(() => (bob.remoteTracks.get(mic.sid)?.count ?? 0) > 20, 10_000, 'bob receiving alice');
    const mediaMs = Date.now() - t0;
    const stats = ts.server.webhooks!.stats()[0]!;
    console.log(`[webhooks] dead receiver: two joins in ${joinMs} ms, media at bob after ${mediaMs} ms; webhook queue ${stats.queued} waiting, ${stats.inFlight} in flight`);
    expect(joinMs).toBeLessThan(3000);
    expect(mediaMs).toBeLessThan(8000);
    expect(stats.inFlight).toBe(1); // one room: one request at a time
    expect(stats.queued).toBeGreaterThanOrEqual(2); // participant_joined ×2, track_published… behind room_started
    expect(r.delivered).toHaveLength(0);

    const c0 = Date.now();
    await ts.server.close();
    const closeMs = Date.now() - c0;
    const after = ts.server.webhooks!.stats()[0]!;
    console.log(`[webhooks] close with a dead receiver: ${closeMs} ms; dropped ${JSON.stringify(after.dropped)}`);
    expect(closeMs).toBeLessThan(2500);
    expect(after.queued).toBe(0);
    expect(after.inFlight).toBe(0);
    expect(after.dropped.shutdown).toBeGreaterThanOrEqual(stats.queued + 1);
    expect(ts.logs()).toContain('webhooks not delivered before shutdown');
    expect(r.invalid).toEqual([]);
  });

  it('the queue is bounded: with a dead receiver, events beyond the bound are dropped, counted and logged', async () => {
    const r = await receiver(() => 'hang', '/hooks?token=hook-secret-123');
    const ts = await startKite([r.url], { timeoutMs: 60_000, concurrency: 2, maxQueue: 20, closeTimeoutMs: 200 });
    const api = roomService(ts);
    for (let i = 0; i < 100; i += 10) await Promise.all(Array.from({ length: 10 }, (_, j) => api.createRoom({ name: `wh-bound-${i + j}` })));
    const s = ts.server.webhooks!.stats()[0]!;
    console.log(`[webhooks] bound: 100 events, ${s.inFlight} in flight, ${s.queued} queued (${s.queuedBytes} B), dropped ${JSON.stringify(s.dropped)}`);
    expect(s.inFlight).toBe(2);
    expect(s.queued).toBe(20);
    expect(s.maxQueued).toBe(20);
    expect(s.dropped.queue_full).toBe(78);
    expect(s.url).toBe(r.url.replace(/\?.*$/, ''));
    const logs = ts.logs();
    expect(logs).toContain('webhook dropped');
    expect(logs).not.toContain('hook-secret-123');
    expectNoSecrets(ts, r);

    // Memory: 20 000 events of 10 KB each (200 MB if kept) leave the queue at its bound.
    const big = 'x'.repeat(10_000);
    const heap0 = process.memoryUsage().heapUsed;
    for (let i = 0; i < 20_000; i++) ts.server.webhooks!.notify({ event: 'room_started', room: { name: `wh-mem-${i}`, metadata: big } });
    const heapGrowth = process.memoryUsage().heapUsed - heap0;
    const m = ts.server.webhooks!.stats()[0]!;
    console.log(`[webhooks] bound: after 20 000 × 10 KB events: ${m.queued} queued (${m.queuedBytes} B), dropped ${m.dropped.queue_full}, heap +${(heapGrowth / 1048576).toFixed(1)} MB`);
    expect(m.queued).toBe(20);
    expect(m.dropped.queue_full).toBe(78 + 20_000);
    expect(heapGrowth).toBeLessThan(100 * 1024 * 1024);
  });

  it('the queue is bounded in bytes too', async () => {
    const r = await receiver(() => 'hang');
    const ts = await startKite([r.url], { timeoutMs: 60_000, concurrency: 1, maxQueue: 1000, maxQueueBytes: 8 * 1024, closeTimeoutMs: 200 });
    const big = 'm'.repeat(1000);
    for (let i = 0; i < 30; i++) ts.server.webhooks!.notify({ event: 'room_started', room: { name: 'wh-bytes', metadata: big } });
    const s = ts.server.webhooks!.stats()[0]!;
    expect(s.inFlight).toBe(1);
    expect(s.queuedBytes).toBeLessThanOrEqual(8 * 1024);
    expect(s.queued).toBeGreaterThanOrEqual(6);
    expect(s.queued + s.dropped.queue_full).toBe(29);
  });

  it('events that waited longer than max age are dropped unsent, as LiveKit does', async () => {
    const r = await receiver((n) => (n === 0 ? 'hang' : 'ok'));
    const ts = await startKite([r.url], { timeoutMs: 500, maxRetries: 0, maxAgeMs: 200, concurrency: 1 });
    for (let i = 0; i < 5; i++) ts.server.webhooks!.notify({ event: 'room_started', room: { name: `wh-age-${i}` } });
    await waitUntil(() => ts.server.webhooks!.stats()[0]!.failed === 1, 5000, 'the hung request given up');
    await ts.server.webhooks!.idle();
    ts.server.webhooks!.notify({ event: 'room_started', room: { name: 'wh-age-fresh' } });
    await r.waitFor('room_started', 'wh-age-fresh');
    await ts.server.webhooks!.idle();
    expect(ts.server.webhooks!.stats()[0]).toMatchObject({ sent: 1, failed: 1, dropped: { max_age: 4 } });
    expect(r.events()).toEqual(['room_started']);
  });

  it('graceful close delivers what is still queued: every room’s last events arrive before close() returns', async () => {
    const r = await receiver(() => ({ delayMs: 150 }));
    const ts = await startKite([r.url], { concurrency: 1 });
    const api = roomService(ts);
    for (const name of ['wh-close-1', 'wh-close-2', 'wh-close-3']) await api.createRoom({ name });
    await clients.join('alice', 'wh-close-4');
    await waitUntil(() => ts.server.rooms.getRoom('wh-close-4')?.getParticipant('alice')?.isActive === true, 10_000, 'alice active');
    const pending = ts.server.webhooks!.stats()[0]!;
    expect(pending.queued + pending.inFlight).toBeGreaterThan(0);
    const c0 = Date.now();
    await ts.server.close();
    const closeMs = Date.now() - c0;
    const s = ts.server.webhooks!.stats()[0]!;
    console.log(`[webhooks] close: ${pending.queued + pending.inFlight} pending (+ the rooms' last events) delivered in ${closeMs} ms; ${r.delivered.length} events in all`);
    for (const name of ['wh-close-1', 'wh-close-2', 'wh-close-3']) expect(r.events(name)).toEqual(['room_started', 'room_finished']);
    expect(r.events('wh-close-4')).toEqual(['room_started', 'participant_joined', 'participant_left', 'room_finished']);
    expect(r.find('participant_left', 'wh-close-4')!.raw.participant).toMatchObject({ identity: 'alice', disconnectReason: 'SERVER_SHUTDOWN' });
    expect(s).toMatchObject({ queued: 0, inFlight: 0, sent: 10, failed: 0, dropped: { queue_full: 0, max_age: 0, shutdown: 0 } });
    expect(r.invalid).toEqual([]);
  });

  it('several URLs: each gets every event, the same id, and one that is down does not hold the others up', async () => {
    const good = await receiver();
    const down = await receiver(() => 503);
    const ts = await startKite([good.url, down.url], { retryWaitMinMs: 200, maxRetries: 1 });
    await roomService(ts).createRoom({ name: 'wh-multi' });
    const d = await good.waitFor('room_started', 'wh-multi');
    await waitUntil(() => down.hits.length >= 1, 5000, 'the second URL tried');
    expect(JSON.parse(down.hits[0]!.body).id).toBe(d.raw.id);
    await waitUntil(() => ts.server.webhooks!.stats()[0]!.sent === 1, 5000, 'first URL done');
    expect(ts.server.webhooks!.stats().map((s) => s.sent)).toEqual([1, 0]);
    expect(good.invalid).toEqual([]);
  });
});
