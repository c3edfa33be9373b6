// The signalling server as a LiveKit client sees it, driven by the Node test client (support/lkClient.ts) over a real
// WebSocket: the join, validation, ping, participant updates, bad input, duplicate identities, room lifetimes and
// participants that vanish.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { ClientInfo_SDK, DisconnectReason, JoinRequest, ParticipantInfo_State, RequestResponse_Reason, TrackType, type ParticipantInfo } from '@kite/protocol';
import { RoomServiceClient } from '@kite/server-sdk';
import { API_KEY, API_SECRET, startServer, type TestServer } from './helpers.js';
import { Clients, makeToken, sleep, waitUntil } from './support/harness.js';
import { LkClient, tryUpgrade } from './support/lkClient.js';
import { OpusSource, pump, type Pump } from './support/media.js';

let ts: TestServer;
const clients = new Clients(() => ts);
const pumps: Pump[] = [];
beforeAll(async () => {
  ts = await startServer({ room: { departure_timeout: 1 } });
});
afterEach(async () => {
  for (const p of pumps.splice(0)) p.stop();
  await clients.disposeAll();
});
afterAll(() => ts.server.close());

const rooms = () => new RoomServiceClient(ts.url, API_KEY, API_SECRET);

/** A token signed by hand (the SDKs refuse to build some of the broken ones tests need). */
async function rawToken(claims: Record<string, unknown>, secret = API_SECRET): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer(API_KEY)
    .setNotBefore(Math.floor(Date.now() / 1000) - 10)
    .setExpirationTime('10m')
    .sign(new TextEncoder().encode(secret));
}

async function validate(query: string, headers: Record<string, string> = {}, path = '/rtc/validate') {
  const res = await fetch(`${ts.url}${path}${query ? `?${query}` : ''}`, { headers });
  return { status: res.status, body: await res.text(), cors: res.headers.get('access-control-allow-origin'), type: res.headers.get('content-type') ?? '' };
}

/** Everything about a participant but its version (to tell a real change from a repeat). */
function content(p: ParticipantInfo): string {
  return JSON.stringify({ ...p, version: undefined });
}

/** Asserts that within each sid, versions never go down and go up whenever the info changed. */
function expectVersionsGrow(infos: ParticipantInfo[]): void {
  const last = new Map<string, ParticipantInfo>();
  for (const p of infos) {
    const prev = last.get(p.sid);
    if (prev) {
      expect(p.version, `${p.identity} version`).toBeGreaterThanOrEqual(prev.version);
      if (content(p) !== content(prev)) expect(p.version, `${p.identity} changed without a new version`).toBeGreaterThan(prev.version);
    }
    last.set(p.sid, p);
  }
}

/** A room where `pub` streams audio to `witness`: the traffic that must survive someone else's bad input. */
async function roomWithTraffic(room: string) {
  const pub = await clients.join('pub', room);
  const witness = await clients.join('witness', room);
  const audio = await pub.publishAudio();
  const p = pump(new OpusSource(), (pkt) => audio.writeRtp(pkt), 20);
  pumps.push(p);
  await waitUntil(() => (witness.remoteTracks.get(audio.sid)?.count ?? 0) > 10, 10_000, 'witness receiving audio');
  return { pub, witness, received: () => witness.remoteTracks.get(audio.sid)!.count };
}

/** After an incident: the witness still gets media, sees the culprit leave (when expected), and a newcomer can join. */
async function expectRoomCarriesOn(room: string, t: Awaited<ReturnType<typeof roomWithTraffic>>, culpritSid?: string) {
  const before = t.received();
  await waitUntil(() => t.received() > before + 25, 5000, 'witness still receiving media');
  if (culpritSid) await t.witness.waitFor('update', (u) => u.participants.some((p) => p.sid === culpritSid && p.state === ParticipantInfo_State.DISCONNECTED), { timeoutMs: 5000 });
  const since = t.witness.mark();
  const newcomer = await clients.join(`newcomer-${Math.random().toString(36).slice(2, 6)}`, room);
  expect(newcomer.join.otherParticipants.map((p) => p.identity).sort()).toEqual(expect.arrayContaining(['pub', 'witness']));
  await t.witness.waitFor('update', (u) => u.participants.some((p) => p.identity === newcomer.identity), { since, timeoutMs: 5000 });
  const pong = await newcomer.ping();
  expect(pong.pongResp.lastPingTimestamp).toBeGreaterThan(0);
}

describe('join', () => {
  it('JoinResponse carries what livekit-client requires', async () => {
    const bob = await clients.join('bob', 'join-1');
    const alice = await clients.join('alice', 'join-1');
    const j = alice.join;
    expect(j.participant?.sid).toMatch(/^PA_[0-9A-Za-z]{12}$/);
    expect(j.participant?.identity).toBe('alice');
    expect(j.room?.sid).toMatch(/^RM_[0-9A-Za-z]{12}$/);
    expect(j.room?.name).toBe('join-1');
    const [maj, min] = (j.serverInfo?.version ?? '').split('.').map(Number);
    expect(maj! > 1 || (maj === 1 && min! >= 8)).toBe(true);
    expect(j.serverInfo?.protocol).toBe(17);
    expect(j.serverVersion).toBe(j.serverInfo?.version);
    expect(j.pingInterval).toBe(5);
    expect(j.pingTimeout).toBe(15);
    expect(j.subscriberPrimary).toBe(true);
    expect(j.enabledPublishCodecs.some((c) => c.mime.toLowerCase().startsWith('video/'))).toBe(true);
    expect(j.enabledPublishCodecs.some((c) => c.mime.toLowerCase() === 'video/rtx')).toBe(false);
    expect(j.otherParticipants.map((p) => p.identity)).toEqual(['bob']);
    expect(j.otherParticipants[0]!.sid).toBe(bob.sid);
    expect(j.participant?.clientProtocol).toBe(2);
    expect(alice.log[0]!.kind).toBe('join');
    console.log(`[join] server ${j.serverInfo?.version} protocol ${j.serverInfo?.protocol}, codecs ${j.enabledPublishCodecs.map((c) => c.mime).join(' ')}`);
    // The primary (subscriber) connection comes up: the server offers at once and the participant turns ACTIVE.
    await alice.until(() => alice.self?.state === ParticipantInfo_State.ACTIVE, 10_000, 'alice active');
  });

  it('accepts the token in an Authorization: Bearer header (Rust SDK / rtc-node)', async () => {
    const c = await clients.join('rusty', 'join-2', { tokenIn: 'header' });
    expect(c.join.participant?.identity).toBe('rusty');
    expect(LkClient.rtcUrl({ url: ts.url, token: 'x', tokenIn: 'header' })).not.toContain('access_token');
    const bearer = await validate('', { authorization: `Bearer ${await makeToken('rusty', { roomJoin: true, room: 'join-2' })}` });
    expect(bearer).toMatchObject({ status: 200, body: 'success' });
  });

  it('/rtc/validate answers like LiveKit (plain-text reasons, CORS)', async () => {
    const good = await makeToken('val', { roomJoin: true, room: 'val-1' });
    const ok = await validate(`access_token=${good}&auto_subscribe=1&protocol=17&sdk=js&version=2.23.0`);
    expect(ok).toMatchObject({ status: 200, body: 'success', cors: '*' });

    const cases = {
      absent: await validate(''),
      garbage: await validate('access_token=not.a.jwt'),
      wrongSecret: await validate(`access_token=${await rawToken({ sub: 'x', video: { roomJoin: true, room: 'val-1' } }, 'another-secret-that-is-long-enough-000000')}`),
      noIdentity: await validate(`access_token=${await rawToken({ video: { roomJoin: true, room: 'val-1' } })}`),
      noRoom: await validate(`access_token=${await rawToken({ sub: 'x', video: { roomJoin: true } })}`),
      noJoin: await validate(`access_token=${await rawToken({ sub: 'x', video: { room: 'val-1' } })}`),
    };
    for (const [name, r] of Object.entries(cases)) console.log(`[validate] ${name}: ${r.status} "${r.body}"`);
    for (const name of ['absent', 'garbage', 'wrongSecret', 'noJoin'] as const) {
      expect(cases[name].status, name).toBe(401);
      expect(cases[name].body.length, name).toBeGreaterThan(0);
      expect(cases[name].type, name).toContain('text/plain');
      expect(cases[name].cors, name).toBe('*');
    }
    expect(cases.absent.body).toBe('permissions denied');
    expect(cases.garbage.body).toMatch(/^invalid authorization token/);
    expect(cases.noIdentity.status).toBe(400);
    expect(cases.noRoom.status).toBe(400);
    // A refused upgrade carries the same status (the client then fetches /rtc/validate for the reason).
    const refused = await LkClient.connect({ url: ts.url, token: 'not.a.jwt' }).catch((e: Error & { status?: number }) => e);
    expect((refused as { status?: number }).status).toBe(401);
  });

  it('/rtc/validate gives 404 "requested room does not exist" when rooms are not auto-created', async () => {
    const strict = await startServer({ room: { auto_create: false } });
    try {
      const get = async (token: string) => {
        const res = await fetch(`${strict.url}/rtc/validate?access_token=${token}`);
        return { status: res.status, body: await res.text(), cors: res.headers.get('access-control-allow-origin') };
      };
      const plain = await get(await makeToken('u', { roomJoin: true, room: 'nowhere' }));
      expect(plain).toEqual({ status: 404, body: 'requested room does not exist', cors: '*' });
      // roomCreate in the token allows creating it by joining.
      expect((await get(await makeToken('u', { roomJoin: true, room: 'nowhere', roomCreate: true }))).status).toBe(200);
      // A room created through the API exists for everyone.
      await new RoomServiceClient(strict.url, API_KEY, API_SECRET).createRoom({ name: 'made' });
      expect((await get(await makeToken('u', { roomJoin: true, room: 'made' }))).status).toBe(200);
      const upgrade = await tryUpgrade(LkClient.rtcUrl({ url: strict.url, token: await makeToken('u', { roomJoin: true, room: 'nowhere' }) }));
      expect(upgrade.status).toBe(404);
    } finally {
      await strict.server.close();
    }
  });

  it('/rtc/v1 (single PC) is served: a join_request is required (400), a plain GET is a 404 as for /rtc', async () => {
    const token = await makeToken('v1', { roomJoin: true, room: 'v1-room' });
    const v1validate = await validate(`access_token=${token}`, {}, '/rtc/v1/validate');
    expect(v1validate.status).toBe(400);
    expect(v1validate.body).toBe('join_request is required');
    const v1get = await validate(`access_token=${token}`, {}, '/rtc/v1');
    expect(v1get.status).toBe(404);
    // AAAA is three zero bytes: not a WrappedJoinRequest.
    const upgrade = await tryUpgrade(`${ts.url.replace('http', 'ws')}/rtc/v1?access_token=${token}&join_request=AAAA`);
    expect(upgrade.status).toBe(400);
    // A plain GET of /rtc (no upgrade) is a 404 too, as in LiveKit.
    expect((await validate(`access_token=${token}`, {}, '/rtc')).status).toBe(404);
    console.log(`[v1] /rtc/v1/validate ${v1validate.status} "${v1validate.body}", upgrade ${upgrade.status} "${upgrade.body}"`);
  });
});

describe('ping and participant updates', () => {
  it('ping → pong (server ms), ping_req → pong_resp echoing the timestamp', async () => {
    const c = await clients.join('pinger', 'ping-1');
    const before = Date.now();
    const r = await c.ping();
    expect(r.pong).toBeGreaterThanOrEqual(before - 1000);
    expect(r.pong).toBeLessThanOrEqual(Date.now() + 1000);
    expect(r.pongResp.lastPingTimestamp).toBeGreaterThanOrEqual(before);
    expect(r.pongResp.timestamp).toBeGreaterThanOrEqual(r.pongResp.lastPingTimestamp - 1000);
    console.log(`[ping] signalling RTT ${r.rttMs} ms`);
  });

  it('a client that speaks JSON text frames is answered in JSON from then on', async () => {
    const c = await clients.join('jsonic', 'ping-2', { json: true });
    expect(c.log[0]!.binary).toBe(true); // the JoinResponse precedes any client frame
    const since = c.mark();
    const r = await c.ping();
    expect(r.pongResp.lastPingTimestamp).toBeGreaterThan(0);
    // (What the server sent before it read the client's first text frame may still be binary.)
    const replies = c.log.slice(since).filter((e) => e.kind === 'pong' || e.kind === 'pongResp');
    expect(replies.length).toBe(2);
    expect(replies.every((e) => !e.binary)).toBe(true);
  });

  it('versions grow on every change and the sender gets its own update (mute, metadata)', async () => {
    const room = 'updates-1';
    const alice = await clients.join('alice', room, { grant: { canUpdateOwnMetadata: true } });
    const bob = await clients.join('bob', room);
    const mic = await alice.publishAudio();
    const p = pump(new OpusSource(), (pkt) => mic.writeRtp(pkt), 20);
    pumps.push(p);
    const published = await alice.waitFor('update', (u) => u.participants.some((x) => x.sid === alice.sid && x.tracks.some((t) => t.sid === mic.sid)));
    const vPublished = published.participants.find((x) => x.sid === alice.sid)!.version;

    let since = alice.mark();
    mic.mute(true);
    const muted = await alice.waitFor('update', (u) => u.participants.some((x) => x.sid === alice.sid && x.tracks.find((t) => t.sid === mic.sid)?.muted === true), { since });
    const vMuted = muted.participants.find((x) => x.sid === alice.sid)!.version;
    expect(vMuted).toBeGreaterThan(vPublished);
    await bob.waitFor('update', (u) => u.participants.some((x) => x.sid === alice.sid && x.version === vMuted && x.tracks[0]?.muted === true));

    since = alice.mark();
    alice.updateMetadata({ metadata: 'hello', requestId: 7 });
    const meta = await alice.waitFor('update', (u) => u.participants.some((x) => x.sid === alice.sid && x.metadata === 'hello'), { since });
    expect(meta.participants.find((x) => x.sid === alice.sid)!.version).toBeGreaterThan(vMuted);
    const ok = await alice.waitFor('requestResponse', (r) => r.requestId === 7, { since });
    expect(ok.reason).toBe(RequestResponse_Reason.OK);
    await bob.waitFor('update', (u) => u.participants.some((x) => x.sid === alice.sid && x.metadata === 'hello'));

    // Without canUpdateOwnMetadata: NOT_ALLOWED, nothing changes.
    since = bob.mark();
    bob.updateMetadata({ metadata: 'nope', requestId: 8 });
    const refused = await bob.waitFor('requestResponse', (r) => r.requestId === 8, { since });
    expect(refused.reason).toBe(RequestResponse_Reason.NOT_ALLOWED);

    // Every client's view: the JoinResponse snapshot of itself, then every update, in order.
    for (const c of [alice, bob]) {
      const seen = [c.join.participant!, ...c.join.otherParticipants, ...c.updates()];
      expectVersionsGrow(seen);
      expect(c.staleUpdates).toEqual([]);
    }
    console.log(`[updates] alice versions seen by bob: ${bob.updates('alice').map((x) => `${x.version}:${ParticipantInfo_State[x.state]}${x.tracks[0]?.muted ? ':muted' : ''}${x.metadata ? ':meta' : ''}`).join(' ')}`);
    expect(alice.self?.tracks.find((t) => t.sid === mic.sid)?.muted).toBe(true);
    expect(bob.participants.get('alice')?.metadata).toBe('hello');
    expect(alice.self?.tracks[0]?.type).toBe(TrackType.AUDIO);
  });
});

describe('bad input', () => {
  it('a malformed binary frame: a clear close reason, the others carry on', async () => {
    const room = 'bad-binary';
    const t = await roomWithTraffic(room);
    const culprit = await clients.join('culprit', room);
    // Not a SignalRequest: field 27 with wire type 6 (does not exist) right at the start.
    culprit.sendRaw(Buffer.from('deadbeef'.repeat(16), 'hex'));
    const closed = await culprit.closed;
    const leave = culprit.messages('leave')[0];
    console.log(`[bad/binary] close ${closed.code} "${closed.reason}", leave ${leave ? DisconnectReason[leave.reason] : 'none'}`);
    expect(closed.code).toBe(1007);
    expect(closed.reason).toMatch(/malformed/);
    expect(leave).toBeDefined();
    await expectRoomCarriesOn(room, t, culprit.sid);
  });

  it('a SignalRequest with an unknown message (field 99): RequestResponse UNSUPPORTED_TYPE, the connection stays', async () => {
    const room = 'bad-unknown';
    const t = await roomWithTraffic(room);
    const c = await clients.join('curious', room);
    const since = c.mark();
    // Field 99, length-delimited, holding a small message: valid protobuf, no member of the oneof Kite knows.
    c.sendRaw(Uint8Array.from([0x9a, 0x06, 0x02, 0x08, 0x01]));
    const r = await c.waitFor('requestResponse', () => true, { since, timeoutMs: 3000 });
    console.log(`[bad/unknown] request_response ${RequestResponse_Reason[r.reason]} "${r.message}"`);
    expect(r.reason).toBe(RequestResponse_Reason.UNSUPPORTED_TYPE);
    expect((await c.ping()).pongResp.lastPingTimestamp).toBeGreaterThan(0);
    expect(c.closeEvent).toBeUndefined();
    await expectRoomCarriesOn(room, t);
  });

  it('a second join on the same socket (a v1 JoinRequest as a frame): a clear error', async () => {
    const room = 'bad-rejoin';
    const t = await roomWithTraffic(room);
    const c = await clients.join('rejoiner', room);
    const since = c.mark();
    // What a v1 client puts in its URL, sent as a frame after the join.
    const jr = JoinRequest.encode({
      clientInfo: { sdk: ClientInfo_SDK.JS, version: '2.23.0', protocol: 17 },
      connectionSettings: { autoSubscribe: true, adaptiveStream: false },
      metadata: '',
    });
    c.sendRaw(jr);
    const outcome = await Promise.race([
      c.closed.then((e) => ({ close: e })),
      c.waitFor('requestResponse', (r) => r.reason !== RequestResponse_Reason.OK, { since, timeoutMs: 5000 }).then((r) => ({ response: r })),
    ]);
    console.log(`[bad/rejoin] ${JSON.stringify(outcome)}; leave ${c.messages('leave', since).map((l) => DisconnectReason[l.reason])}`);
    if ('close' in outcome) {
      expect(outcome.close.code).not.toBe(1000);
      expect(outcome.close.reason.length).toBeGreaterThan(0);
    } else {
      expect(outcome.response.message.length).toBeGreaterThan(0);
    }
    await expectRoomCarriesOn(room, t, 'close' in outcome ? c.sid : undefined);
  });

  it('a 5 MB frame: the WebSocket is closed with 1009, the others carry on', async () => {
    const room = 'bad-big';
    const t = await roomWithTraffic(room);
    const c = await clients.join('bigmouth', room);
    c.sendRaw(Buffer.alloc(5 * 1024 * 1024, 0x41));
    const closed = await c.closed;
    console.log(`[bad/big] close ${closed.code} "${closed.reason}" (limit ${ts.server.config.limit.signal_message_size_limit} bytes)`);
    expect(closed.code).toBe(1009);
    await expectRoomCarriesOn(room, t);
  });

  it('a text frame with invalid JSON: a clear close reason, the others carry on', async () => {
    const room = 'bad-json';
    const t = await roomWithTraffic(room);
    const c = await clients.join('jsonfan', room);
    c.sendRaw('{"ping": 12,');
    const closed = await c.closed;
    const leave = c.messages('leave')[0];
    console.log(`[bad/json] close ${closed.code} "${closed.reason}", leave ${leave ? DisconnectReason[leave.reason] : 'none'}`);
    expect(closed.code).toBe(1007);
    expect(closed.reason).toMatch(/malformed/);
    await expectRoomCarriesOn(room, t, c.sid);
  });
});

describe('participants and rooms', () => {
  it('a duplicate identity replaces the first session; others see the old sid leave before the new one', async () => {
    const room = 'dup-1';
    const alice1 = await clients.join('alice', room);
    const carol = await clients.join('carol', room);
    await carol.until(() => carol.participants.get('alice')?.sid === alice1.sid, 5000, 'carol knows alice');
    const since = carol.mark();
    const alice2 = await clients.join('alice', room);
    const leave = await alice1.waitFor('leave');
    expect(leave.reason).toBe(DisconnectReason.DUPLICATE_IDENTITY);
    expect(alice2.sid).not.toBe(alice1.sid);
    expect(alice2.join.otherParticipants.map((p) => p.identity)).toEqual(['carol']);

    await carol.until(() => carol.participants.get('alice')?.sid === alice2.sid, 5000, 'carol sees the new alice');
    // Position of each event in carol's stream: (message index, index within the message).
    const seen: { sid: string; state: ParticipantInfo_State; pos: number }[] = [];
    for (const e of carol.log.slice(since)) {
      if (e.kind !== 'update') continue;
      e.msg.update!.participants.forEach((p, i) => p.identity === 'alice' && seen.push({ sid: p.sid, state: p.state, pos: e.index * 1000 + i }));
    }
    const oldGone = seen.find((s) => s.sid === alice1.sid && s.state === ParticipantInfo_State.DISCONNECTED);
    const newInfo = seen.find((s) => s.sid === alice2.sid);
    console.log(`[dup] carol saw: ${seen.map((s) => `${s.sid === alice1.sid ? 'old' : 'new'}:${ParticipantInfo_State[s.state]}@${s.pos}`).join(' ')}`);
    expect(oldGone).toBeDefined();
    expect(newInfo).toBeDefined();
    expect(oldGone!.pos).toBeLessThan(newInfo!.pos);
    // And livekit-client's bookkeeping (by identity) ends with the new session.
    await sleep(200);
    expect(carol.participants.get('alice')?.sid).toBe(alice2.sid);
    await alice1.closed;
  });

  it('rooms are created on first join and closed departure_timeout after the last one left', async () => {
    const room = 'lifetime-1';
    const svc = rooms();
    expect((await svc.listRooms([room])).length).toBe(0);
    const a = await clients.join('a', room);
    const listed = await svc.listRooms([room]);
    expect(listed.map((r) => r.name)).toEqual([room]);
    expect(listed[0]!.sid).toBe(a.join.room!.sid);
    expect(listed[0]!.departureTimeout).toBe(1);
    const left = Date.now();
    await a.close();
    let goneMs = -1;
    while (Date.now() - left < 5000) {
      if ((await svc.listRooms([room])).length === 0) {
        goneMs = Date.now() - left;
        break;
      }
      await sleep(50);
    }
    console.log(`[rooms] departure_timeout 1 s: room gone ${goneMs} ms after the last participant left`);
    expect(goneMs).toBeGreaterThanOrEqual(900);
    expect(goneMs).toBeLessThan(3000);
  });

  it('empty_timeout closes a room created by CreateRoom that nobody joined', async () => {
    const s = await startServer({ room: { empty_timeout: 1 } });
    try {
      const svc = new RoomServiceClient(s.url, API_KEY, API_SECRET);
      const created = Date.now();
      const room = await svc.createRoom({ name: 'lonely' });
      expect(room.emptyTimeout).toBe(1);
      expect((await svc.listRooms(['lonely'])).length).toBe(1);
      let goneMs = -1;
      while (Date.now() - created < 5000) {
        if ((await svc.listRooms(['lonely'])).length === 0) {
          goneMs = Date.now() - created;
          break;
        }
        await sleep(50);
      }
      console.log(`[rooms] empty_timeout 1 s: unjoined room gone after ${goneMs} ms`);
      expect(goneMs).toBeGreaterThanOrEqual(900);
      expect(goneMs).toBeLessThan(3000);
    } finally {
      await s.server.close();
    }
  });

  it('a participant that vanishes without a word is removed and announced within 20 s', { timeout: 40_000 }, async () => {
    const room = 'vanish-1';
    const observer = await clients.join('observer', room);
    const staller = await clients.join('staller', room);
    const dropper = await clients.join('dropper', room);
    for (const c of [staller, dropper]) await c.until(() => c.self?.state === ParticipantInfo_State.ACTIVE, 10_000, `${c.identity} active`);
    await observer.until(() => observer.participants.get('staller')?.state === ParticipantInfo_State.ACTIVE && observer.participants.get('dropper')?.state === ParticipantInfo_State.ACTIVE, 5000, 'both active');
    const since = observer.mark();
    const t0 = Date.now();
    staller.vanish('stall'); // TCP open but silent, PCs silent: only the ping timeout can tell
    dropper.vanish('reset'); // TCP reset (no close frame), PCs silent
    const gone = (c: LkClient) =>
      observer.waitFor('update', (u) => u.participants.some((p) => p.sid === c.sid && p.state === ParticipantInfo_State.DISCONNECTED), { since, timeoutMs: 25_000 }).then((u) => ({
        ms: Date.now() - t0,
        reason: u.participants.find((p) => p.sid === c.sid)!.disconnectReason,
      }));
    const [stall, drop] = await Promise.all([gone(staller), gone(dropper)]);
    console.log(`[vanish] silent (stalled TCP): removed after ${stall.ms} ms (${DisconnectReason[stall.reason]}); TCP reset: removed after ${drop.ms} ms (${DisconnectReason[drop.reason]})`);
    expect(stall.ms).toBeLessThan(20_000);
    expect(drop.ms).toBeLessThan(20_000);
    expect(observer.participants.has('staller')).toBe(false);
    expect(observer.participants.has('dropper')).toBe(false);
    expect(ts.server.rooms.getRoom(room)?.getParticipant('staller')).toBeUndefined();
  });
});
