// RoomService over Twirp, driven by the official livekit-server-sdk and by @kite/server-sdk with one test body.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as official from 'livekit-server-sdk';
import * as kite from '@kite/server-sdk';
import { CreateRoomRequest, Room, DataPacket_Kind } from '@kite/protocol';
import { API_KEY, API_SECRET, startServer, type TestServer } from './helpers.js';

interface Sdk {
  name: string;
  RoomServiceClient: typeof kite.RoomServiceClient;
  AccessToken: typeof kite.AccessToken;
}
const sdks: Sdk[] = [
  { name: 'livekit-server-sdk (official)', RoomServiceClient: official.RoomServiceClient as never, AccessToken: official.AccessToken as never },
  { name: '@kite/server-sdk', RoomServiceClient: kite.RoomServiceClient, AccessToken: kite.AccessToken },
];

let ts: TestServer;
beforeAll(async () => {
  ts = await startServer();
});
afterAll(async () => {
  await ts.server.close();
});

/** Runs a call expected to fail and returns the error's Twirp code and HTTP status. */
async function failure(p: Promise<unknown>): Promise<{ code?: string; status?: number; message: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as { code?: string; status?: number; message: string };
    return { code: e.code, status: e.status, message: e.message };
  }
  throw new Error('expected the call to fail');
}

async function twirp(method: string, body: string | Uint8Array, headers: Record<string, string>) {
  const res = await fetch(`${ts.url}/twirp/livekit.RoomService/${method}`, { method: 'POST', headers, body });
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get('content-type'), json: (() => { try { return JSON.parse(text); } catch { return text; } })(), text };
}

describe.each(sdks)('RoomService with $name', (sdk) => {
  const client = () => new sdk.RoomServiceClient(ts.url, API_KEY, API_SECRET);
  const room = (suffix: string) => `${sdk.name.replace(/[^a-z]/gi, '')}-${suffix}`;

  async function token(grant: kite.VideoGrant, identity = 'admin') {
    const at = new sdk.AccessToken(API_KEY, API_SECRET, { identity });
    at.addGrant(grant);
    return at.toJwt();
  }

  it('creates rooms with options and lists them', async () => {
    const c = client();
    const created = await c.createRoom({ name: room('a'), emptyTimeout: 120, maxParticipants: 7, metadata: 'hello', departureTimeout: 30 });
    expect(created.name).toBe(room('a'));
    expect(created.sid).toMatch(/^RM_[0-9A-Za-z]{12}$/);
    expect(created.emptyTimeout).toBe(120);
    expect(created.departureTimeout).toBe(30);
    expect(created.maxParticipants).toBe(7);
    expect(created.metadata).toBe('hello');
    expect(Number(created.creationTime)).toBeGreaterThan(1_700_000_000);

    // Creating an existing room returns it unchanged.
    const again = await c.createRoom({ name: room('a') });
    expect(again.sid).toBe(created.sid);

    await c.createRoom({ name: room('b') });
    const all = await c.listRooms();
    expect(all.map((r) => r.name)).toEqual(expect.arrayContaining([room('a'), room('b')]));
    const filtered = await c.listRooms([room('b'), 'does-not-exist']);
    expect(filtered.map((r) => r.name)).toEqual([room('b')]);
  });

  it('updates room metadata', async () => {
    const c = client();
    await c.createRoom({ name: room('meta') });
    const updated = await c.updateRoomMetadata(room('meta'), '{"topic":"kite"}');
    expect(updated.metadata).toBe('{"topic":"kite"}');
    const [listed] = await c.listRooms([room('meta')]);
    expect(listed?.metadata).toBe('{"topic":"kite"}');
    expect(await failure(c.updateRoomMetadata('no-such-room', 'x'))).toMatchObject({ code: 'not_found', status: 404 });
  });

  it('deletes rooms; deleting a missing room is not_found', async () => {
    const c = client();
    await c.createRoom({ name: room('del') });
    await c.deleteRoom(room('del'));
    expect((await c.listRooms([room('del')])).length).toBe(0);
    expect(await failure(c.deleteRoom(room('del')))).toMatchObject({ code: 'not_found', status: 404, message: 'requested room does not exist' });
  });

  it('participant methods answer not_found for an empty room; listParticipants is empty', async () => {
    const c = client();
    await c.createRoom({ name: room('p') });
    expect(await c.listParticipants(room('p'))).toEqual([]);
    expect(await failure(c.getParticipant(room('p'), 'nobody'))).toMatchObject({ code: 'not_found', status: 404 });
    expect(await failure(c.removeParticipant(room('p'), 'nobody'))).toMatchObject({ code: 'not_found' });
    expect(await failure(c.mutePublishedTrack(room('p'), 'nobody', 'TR_x', true))).toMatchObject({ code: 'not_found' });
    expect(await failure(c.updateParticipant(room('p'), 'nobody', { metadata: 'm' }))).toMatchObject({ code: 'not_found' });
    expect(await failure(c.updateSubscriptions(room('p'), 'nobody', ['TR_x'], true))).toMatchObject({ code: 'not_found' });
  });

  it('sendData to an existing room succeeds, to a missing room is not_found', async () => {
    const c = client();
    await c.createRoom({ name: room('data') });
    await c.sendData(room('data'), new Uint8Array([1, 2, 3]), DataPacket_Kind.RELIABLE as never, { topic: 't' });
    expect(await failure(c.sendData('missing-room', new Uint8Array([1]), DataPacket_Kind.LOSSY as never, {}))).toMatchObject({ code: 'not_found' });
  });

  it('a client with a wrong secret gets unauthenticated', async () => {
    const bad = new sdk.RoomServiceClient(ts.url, API_KEY, 'not-the-secret');
    expect(await failure(bad.listRooms())).toMatchObject({ code: 'unauthenticated', status: 401 });
    const unknownKey = new sdk.RoomServiceClient(ts.url, 'nokey', API_SECRET);
    expect(await failure(unknownKey.createRoom({ name: 'x' }))).toMatchObject({ code: 'unauthenticated', status: 401, message: 'invalid API key' });
  });

  it('a token without the right grant is refused with LiveKit codes', async () => {
    const join = await token({ roomJoin: true, room: 'r' });
    let r = await twirp('CreateRoom', '{"name":"x"}', { 'content-type': 'application/json', authorization: `Bearer ${join}` });
    expect(r).toMatchObject({ status: 401, contentType: 'application/json', json: { code: 'unauthenticated', msg: 'permissions denied' } });
    r = await twirp('ListRooms', '{}', { 'content-type': 'application/json', authorization: `Bearer ${join}` });
    expect(r.json).toMatchObject({ code: 'unauthenticated' });
    // roomAdmin for another room does not reach this one
    const otherAdmin = await token({ roomAdmin: true, room: 'other' });
    r = await twirp('ListParticipants', `{"room":"${room('a')}"}`, { 'content-type': 'application/json', authorization: `Bearer ${otherAdmin}` });
    expect(r).toMatchObject({ status: 401, json: { code: 'unauthenticated', msg: 'permissions denied' } });
    // roomList does not allow deleting
    const lister = await token({ roomList: true });
    r = await twirp('DeleteRoom', `{"room":"${room('a')}"}`, { 'content-type': 'application/json', authorization: `Bearer ${lister}` });
    expect(r.json).toMatchObject({ code: 'unauthenticated' });
    // no token at all
    r = await twirp('ListRooms', '{}', { 'content-type': 'application/json' });
    expect(r).toMatchObject({ status: 401, json: { code: 'unauthenticated', msg: 'permissions denied' } });
  });
});

describe('Twirp transport', () => {
  let admin: string;
  beforeAll(async () => {
    const at = new kite.AccessToken(API_KEY, API_SECRET, { identity: 'admin' });
    at.addGrant({ roomCreate: true, roomList: true, roomAdmin: true, room: 'proto-room' });
    admin = await at.toJwt();
  });
  const json = () => ({ 'content-type': 'application/json', authorization: `Bearer ${admin}` });

  it('malformed bodies get a 4xx Twirp error and the server keeps serving', async () => {
    const cases: [string, string | Uint8Array, Record<string, string>, string, number][] = [
      ['CreateRoom', '{not json', json(), 'malformed', 400],
      ['CreateRoom', '{"name": 42, "emptyTimeout": "soon"}', json(), 'malformed', 400],
      ['CreateRoom', '[1,2,3]', json(), 'malformed', 400],
      ['UpdateParticipant', '{"room":"proto-room","permission":{"canPublish":"yes"}}', json(), 'malformed', 400],
      ['CreateRoom', new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff]), { 'content-type': 'application/protobuf', authorization: `Bearer ${admin}` }, 'malformed', 400],
      ['CreateRoom', '{"name":"x"}', { 'content-type': 'text/plain', authorization: `Bearer ${admin}` }, 'bad_route', 404],
      ['NoSuchMethod', '{}', json(), 'bad_route', 404],
      ['CreateRoom', '{"name":""}', json(), 'invalid_argument', 400],
    ];
    for (const [method, body, headers, code, status] of cases) {
      const r = await twirp(method, body, headers);
      expect({ method, status: r.status, code: r.json.code, ct: r.contentType }).toEqual({ method, status, code, ct: 'application/json' });
      expect(typeof r.json.msg).toBe('string');
    }
    const get = await fetch(`${ts.url}/twirp/livekit.RoomService/ListRooms`);
    expect(get.status).toBe(404);
    expect((await get.json()).code).toBe('bad_route');
    const huge = await twirp('CreateRoom', JSON.stringify({ name: 'x', metadata: 'x'.repeat(600 * 1024) }), json());
    expect(huge.json.code).toBe('invalid_argument');
    // still serving
    const ok = await new kite.RoomServiceClient(ts.url, API_KEY, API_SECRET).listRooms();
    expect(Array.isArray(ok)).toBe(true);
  });

  it('a non-Bearer Authorization header is refused', async () => {
    const r = await twirp('ListRooms', '{}', { 'content-type': 'application/json', authorization: `Token ${admin}` });
    expect(r).toMatchObject({ status: 401, json: { code: 'unauthenticated' } });
  });

  it('speaks application/protobuf both ways', async () => {
    const r = await fetch(`${ts.url}/twirp/livekit.RoomService/CreateRoom`, {
      method: 'POST',
      headers: { 'content-type': 'application/protobuf', authorization: `Bearer ${admin}` },
      body: CreateRoomRequest.encode({ name: 'proto-room', maxParticipants: 3 }),
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/protobuf');
    const room = Room.decode(new Uint8Array(await r.arrayBuffer()));
    expect(room).toMatchObject({ name: 'proto-room', maxParticipants: 3 });
  });

  it('answers JSON as LiveKit does (proto names, defaults included)', async () => {
    const r = await twirp('CreateRoom', '{"name":"proto-room"}', json());
    expect(r.status).toBe(200);
    expect(r.contentType).toBe('application/json');
    expect(r.json).toMatchObject({ name: 'proto-room', num_participants: 0, empty_timeout: 300 });
    expect(typeof r.json.creation_time).toBe('string'); // int64 as a string, as protojson writes it
  });
});

describe('the server refuses bad tokens on the API', () => {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = () => Math.floor(Date.now() / 1000);
  it('expired, not yet valid, wrong key, alg none', async () => {
    const { SignJWT } = await import('jose');
    const sign = (claims: object, secret = API_SECRET) =>
      new SignJWT(claims as never).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret));
    const grant = { video: { roomList: true } };
    const tokens = {
      expired: await sign({ ...grant, iss: API_KEY, exp: now() - 3600 }),
      notYetValid: await sign({ ...grant, iss: API_KEY, exp: now() + 7200, nbf: now() + 3600 }),
      wrongSecret: await sign({ ...grant, iss: API_KEY, exp: now() + 600 }, 'wrong-wrong-wrong-wrong-wrong-wrong'),
      algNone: `${b64({ alg: 'none' })}.${b64({ ...grant, iss: API_KEY, exp: now() + 600 })}.`,
    };
    for (const [what, t] of Object.entries(tokens)) {
      const r = await twirp('ListRooms', '{}', { 'content-type': 'application/json', authorization: `Bearer ${t}` });
      expect({ what, status: r.status, code: r.json.code }).toEqual({ what, status: 401, code: 'unauthenticated' });
    }
    // and a token that is fine passes
    const ok = await sign({ ...grant, iss: API_KEY, exp: now() + 600 });
    expect((await twirp('ListRooms', '{}', { 'content-type': 'application/json', authorization: `Bearer ${ok}` })).status).toBe(200);
    // the server never logs a token
    for (const t of Object.values(tokens)) expect(ts.logs()).not.toContain(t.split('.')[2] || t);
    expect(ts.logs()).not.toContain(API_SECRET);
  });
});
