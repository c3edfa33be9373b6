// LiveKit protocol v1 (/rtc/v1, single peer connection) through the real server with werift clients: the join with
// the offer inside `join_request` (gzip and plain), refusals of a bad join_request, subscriptions on the client's own
// connection (MediaSectionsRequirement, mid_to_track_id, media flowing), data on that connection, interop with v0
// clients, and a resume. Kite must never send an `offer` to a v1 client.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import WebSocket from 'ws';
import { ParticipantInfo_State, SignalResponse, SignalTarget, WrappedJoinRequest, WrappedJoinRequest_Compression } from '@kite/protocol';
import { startServer, type TestServer } from './helpers.js';
import { Clients, makeToken, waitUntil } from './support/harness.js';
import { tryUpgrade, type LocalTrack } from './support/lkClient.js';
import { OpusSource, Vp8Source, frameReport, pump, type Pump } from './support/media.js';
import { SinglePcClient, type SinglePcClientOptions } from './support/singlePcClient.js';

let ts: TestServer;
const clients = new Clients(() => ts);
const v1clients: SinglePcClient[] = [];
const pumps: Pump[] = [];
beforeAll(async () => {
  ts = await startServer();
});
afterEach(async () => {
  for (const p of pumps.splice(0)) p.stop();
  await Promise.allSettled(v1clients.splice(0).map((c) => c.close()));
  await clients.disposeAll();
});
afterAll(() => ts.server.close());

async function joinV1(identity: string, room: string, opts: Partial<SinglePcClientOptions> = {}): Promise<SinglePcClient> {
  const token = await makeToken(identity, { roomJoin: true, room, canPublish: true, canSubscribe: true });
  const c = await SinglePcClient.connect({ url: ts.url, token, label: identity, ...opts });
  v1clients.push(c);
  await c.answerJoinOffer();
  return c;
}

const kite = (room: string, identity: string) => ts.server.rooms.getRoom(room)?.getParticipant(identity);
const active = (room: string, identity: string) => waitUntil(() => kite(room, identity)?.state === ParticipantInfo_State.ACTIVE, 10_000, `${identity} active`);

/** Publishes VP8 video and Opus audio from `c`, pumping generated media; returns the tracks. */
async function publishAV(c: { publish(kind: 'audio' | 'video'): Promise<LocalTrack> }): Promise<{ video: LocalTrack; audio: LocalTrack }> {
  const video = await c.publish('video');
  const audio = await c.publish('audio');
  const vsrc = new Vp8Source();
  video.onKeyframeRequest = () => vsrc.requestKeyframe();
  pumps.push(pump(vsrc, (p) => video.writeRtp(p), 1000 / 30));
  pumps.push(pump(new OpusSource(), (p) => audio.writeRtp(p), 20));
  return { video, audio };
}

/** What every v1 session must show: no offer from Kite, every trickle for the publisher connection, no client error. */
function expectV1Rules(c: SinglePcClient): void {
  expect(c.messages('offer')).toEqual([]);
  expect(c.trickleTargets.every((t) => t === SignalTarget.PUBLISHER)).toBe(true);
  expect(c.errors).toEqual([]);
}

describe('v1 join', () => {
  for (const gzip of [true, false]) {
    it(`the offer inside join_request (${gzip ? 'gzip' : 'uncompressed'}): JoinResponse (subscriber_primary false), then the answer with the offer's id; the one connection goes active`, async () => {
      const room = `v1-join-${gzip ? 'gzip' : 'plain'}`;
      const t0 = Date.now();
      const c = await joinV1('alice', room, { gzip });
      expect(c.log[0]!.kind).toBe('join');
      expect(c.join!.subscriberPrimary).toBe(false);
      expect(c.join!.pingInterval).toBeGreaterThan(0);
      const answerAt = c.log.findIndex((e) => e.kind === 'answer');
      expect(answerAt).toBeGreaterThan(0);
      expect(c.log[answerAt]!.msg.answer!.id).toBe(1);
      // The answer leaves the three audio and three video recvonly m-lines inactive: nothing to send yet.
      const sdp = c.log[answerAt]!.msg.answer!.sdp;
      expect(sdp.match(/^m=(audio|video)/gm)?.length).toBe(6);
      expect(sdp).not.toMatch(/a=sendonly/);
      await active(room, 'alice');
      const p = kite(room, 'alice')!;
      expect(p.singlePeerConnection).toBe(true);
      expect(p.publisher.transport.isConnected).toBe(true);
      console.log(`[v1/join ${gzip ? 'gzip' : 'none'}] join → active ${Date.now() - t0} ms; messages ${c.log.map((e) => e.kind).join(',')}`);
      expectV1Rules(c);
    });
  }

  it('an uncompressed join_request as large as a browser offer makes (a 40 KB URL) is accepted, as LiveKit’s 1 MiB header limit allows', async () => {
    const room = 'v1-big';
    // Metadata stands in for a big SDP (Chrome offers every codec on each of its seven m-lines).
    const token = await makeToken('big', { roomJoin: true, room, canUpdateOwnMetadata: true });
    const metadata = 'x'.repeat(30_000);
    const url = SinglePcClient.url(ts.url, token, { connectionSettings: { autoSubscribe: true }, metadata });
    expect(url.length).toBeGreaterThan(40_000);
    const up = await tryUpgrade(url);
    expect(up.status).toBe(101);
    await waitUntil(() => kite(room, 'big') !== undefined, 5000, 'the session');
    expect(kite(room, 'big')!.metadata).toBe(metadata);
  });

  it('a bad join_request is refused with 400 and a precise reason, on the upgrade and on /rtc/v1/validate', async () => {
    const token = await makeToken('bad', { roomJoin: true, room: 'v1-bad' });
    const wrapped = (compression: WrappedJoinRequest_Compression, bytes: Uint8Array) =>
      Buffer.from(WrappedJoinRequest.encode({ compression, joinRequest: bytes })).toString('base64url');
    const cases: [string, string | undefined, RegExp][] = [
      ['missing', undefined, /^join_request is required$/],
      ['not base64', '***', /^cannot base64 decode wrapped join request$/],
      ['not a WrappedJoinRequest', Buffer.from([0xff, 0xff, 0xff]).toString('base64url'), /^cannot unmarshal wrapped join request/],
      ['gzip that is not gzip', wrapped(WrappedJoinRequest_Compression.GZIP, Buffer.from('plain bytes')), /^cannot read decompressed join request/],
      ['not a JoinRequest', wrapped(WrappedJoinRequest_Compression.NONE, Buffer.from([0x0a, 0xff])), /^cannot unmarshal join request/],
      ['gzip bomb over 1 MiB', wrapped(WrappedJoinRequest_Compression.GZIP, gzipSync(Buffer.alloc(2 << 20, 0x20))), /^join request too large$/],
      ['unknown compression', wrapped(7 as WrappedJoinRequest_Compression, Buffer.alloc(0)), /^unknown join request compression 7$/],
    ];
    for (const [what, param, reason] of cases) {
      const q = new URLSearchParams({ access_token: token });
      if (param !== undefined) q.set('join_request', param);
      const up = await tryUpgrade(`${ts.url}/rtc/v1?${q}`);
      const val = await fetch(`${ts.url}/rtc/v1/validate?${q}`);
      const body = await val.text();
      console.log(`[v1/bad] ${what}: upgrade ${up.status} "${up.body}", validate ${val.status} "${body}"`);
      expect(up.status, what).toBe(400);
      expect(up.body, what).toMatch(reason);
      expect(val.status, what).toBe(400);
      expect(body, what).toMatch(reason);
    }
    // A good one validates; a bad token is still a 401 (checked before the join_request); /rtc is unaffected.
    const good = SinglePcClient.url(ts.url, token, { connectionSettings: { autoSubscribe: true } }).replace(/^ws/, 'http').replace('/rtc/v1?', '/rtc/v1/validate?');
    const ok = await fetch(good);
    expect([ok.status, await ok.text()]).toEqual([200, 'success']);
    const noToken = await fetch(`${ts.url}/rtc/v1/validate?join_request=${encodeURIComponent('***')}`);
    expect(noToken.status).toBe(401);
    expect((await fetch(`${ts.url}/rtc/v1/validate?access_token=${token}`)).headers.get('access-control-allow-origin')).toBe('*');
    // Metadata in the JoinRequest takes canUpdateOwnMetadata, as in LiveKit.
    const meta = SinglePcClient.url(ts.url, token, { metadata: 'mine' }).replace(/^ws/, 'http').replace('/rtc/v1?', '/rtc/v1/validate?');
    expect((await fetch(meta)).status).toBe(401);
  });
});

describe('v1 subscriptions on the client’s one connection', () => {
  it('bob (v1) receives alice’s (v1) VP8 and Opus: MediaSectionsRequirement, a re-offer, mid_to_track_id; media flows', async () => {
    const room = 'v1-media';
    const alice = await joinV1('alice', room);
    const bob = await joinV1('bob', room);
    await active(room, 'bob');
    const t0 = Date.now();
    const { video, audio } = await publishAV(alice);
    await bob.until(() => (bob.remoteTracks.get(video.sid)?.count ?? 0) > 60 && (bob.remoteTracks.get(audio.sid)?.count ?? 0) > 50, 15_000, 'media at bob');
    const ms = Date.now() - t0;
    // Kite asked bob to offer again (the three initial video and audio m-lines are enough: 0 more of each).
    const reqs = bob.messages('mediaSectionsRequirement');
    expect(reqs.length).toBeGreaterThan(0);
    expect(reqs.every((r) => r.numAudios === 0 && r.numVideos === 0)).toBe(true);
    // The answer that put the tracks on bob's m-lines names them by mid.
    const mapping = bob.messages('answer').at(-1)!.midToTrackId;
    expect(Object.values(mapping).sort()).toEqual([video.sid, audio.sid].sort());
    const rv = bob.remoteTracks.get(video.sid)!;
    const ra = bob.remoteTracks.get(audio.sid)!;
    expect(rv.participantSid).toBe(alice.sid);
    expect(ra.participantSid).toBe(alice.sid);
    expect(rv.firstKeyframeSeq).toBeDefined();
    const vr = frameReport(rv.packets.map((p) => p.payload));
    console.log(`[v1/media] publish → 60 video + 50 audio packets at bob in ${ms} ms; requirements ${JSON.stringify(reqs)}; mapping ${JSON.stringify(mapping)}; video frames ${vr.first}..${vr.last} lost ${vr.lost}`);
    expect(vr.lost).toBe(0);
    expectV1Rules(alice);
    expectV1Rules(bob);
    expect(kite(room, 'bob')!.subscriber.downTracks.every((d) => d.isReady)).toBe(true);
  });

  it('more subscriptions than the initial recvonly m-lines: Kite asks for the missing ones and fills them', async () => {
    const room = 'v1-many';
    const alice = await joinV1('alice', room);
    const bob = await joinV1('bob', room, { initialVideo: 1, initialAudio: 0 });
    await active(room, 'bob');
    const tracks: LocalTrack[] = [];
    for (let i = 0; i < 3; i++) tracks.push(await alice.publish('video'));
    tracks.push(await alice.publish('audio'));
    for (const t of tracks) {
      if (t.kind === 'video') {
        const src = new Vp8Source();
        t.onKeyframeRequest = () => src.requestKeyframe();
        pumps.push(pump(src, (p) => t.writeRtp(p), 1000 / 30));
      } else pumps.push(pump(new OpusSource(), (p) => t.writeRtp(p), 20));
    }
    await bob.until(() => tracks.every((t) => (bob.remoteTracks.get(t.sid)?.count ?? 0) > 20), 15_000, 'all four tracks at bob');
    const reqs = bob.messages('mediaSectionsRequirement');
    const asked = reqs.reduce((a, r) => ({ audio: a.audio + r.numAudios, video: a.video + r.numVideos }), { audio: 0, video: 0 });
    console.log(`[v1/many] requirements ${JSON.stringify(reqs)}; bob's m-lines ${(kite(room, 'bob')!.subscriber as unknown as { mediaSectionCount: number }).mediaSectionCount}`);
    // One video m-line was there; two more video and one audio were asked for — and no more.
    expect(asked).toEqual({ audio: 1, video: 2 });
    expectV1Rules(bob);
  });

  it('a MediaSectionsRequirement the client never acts on is sent again after two more answers', async () => {
    const room = 'v1-lost-requirement';
    const alice = await joinV1('alice', room);
    const bob = await joinV1('bob', room, { initialVideo: 0, initialAudio: 0 });
    await active(room, 'bob');
    bob.ignoreRequirements = 1;
    const video = await alice.publish('video');
    const src = new Vp8Source();
    video.onKeyframeRequest = () => src.requestKeyframe();
    pumps.push(pump(src, (p) => video.writeRtp(p), 1000 / 30));
    await bob.waitFor('mediaSectionsRequirement', (r) => r.numVideos === 1);
    // Two offers of bob's own (e.g. publishing) without the asked-for m-line.
    await bob.negotiate();
    await bob.negotiate();
    await bob.until(() => (bob.remoteTracks.get(video.sid)?.count ?? 0) > 10, 10_000, 'the track after the repeated request');
    const reqs = bob.messages('mediaSectionsRequirement');
    console.log(`[v1/lost] requirements ${JSON.stringify(reqs)}`);
    expect(reqs.filter((r) => r.numVideos === 1).length).toBe(2);
    expectV1Rules(bob);
  });

  it('unsubscribe and subscribe again: the m-line goes inactive, then carries the track again with new SSRCs', async () => {
    const room = 'v1-resub';
    const alice = await joinV1('alice', room);
    const bob = await joinV1('bob', room, { initialVideo: 1, initialAudio: 0 });
    await active(room, 'bob');
    const video = await alice.publish('video');
    const src = new Vp8Source();
    video.onKeyframeRequest = () => src.requestKeyframe();
    pumps.push(pump(src, (p) => video.writeRtp(p), 1000 / 30));
    await bob.until(() => (bob.remoteTracks.get(video.sid)?.count ?? 0) > 10, 10_000, 'first subscription');
    const firstSsrcs = [...bob.remoteTracks.get(video.sid)!.ssrcs];
    bob.send({ subscription: { trackSids: [video.sid], subscribe: false, participantTracks: [] } });
    await bob.until(() => bob.messages('answer').some((a) => Object.keys(a.midToTrackId).length === 0 && a.id > 2), 10_000, 'an answer without the track');
    const inactiveSdp = bob.messages('answer').at(-1)!.sdp;
    expect(inactiveSdp).toMatch(/a=inactive/);
    bob.remoteTracks.delete(video.sid);
    bob.send({ subscription: { trackSids: [video.sid], subscribe: true, participantTracks: [] } });
    await bob.until(() => (bob.remoteTracks.get(video.sid)?.count ?? 0) > 10, 10_000, 'second subscription');
    const again = [...bob.remoteTracks.get(video.sid)!.ssrcs];
    console.log(`[v1/resub] ssrcs ${firstSsrcs} → ${again}; answers ${bob.messages('answer').length}, m-lines ${(kite(room, 'bob')!.subscriber as unknown as { mediaSectionCount: number }).mediaSectionCount}`);
    expect(again.some((s) => firstSsrcs.includes(s))).toBe(false);
    expect((kite(room, 'bob')!.subscriber as unknown as { mediaSectionCount: number }).mediaSectionCount).toBe(1);
    expectV1Rules(bob);
  });

  it('v0 and v1 clients in one room receive each other', async () => {
    const room = 'v1-mixed';
    const alice = await joinV1('alice', room);
    const carol = await clients.join('carol', room); // v0, /rtc
    await active(room, 'carol');
    const a = await publishAV(alice);
    const c = await publishAV(carol);
    await alice.until(() => (alice.remoteTracks.get(c.video.sid)?.count ?? 0) > 30 && (alice.remoteTracks.get(c.audio.sid)?.count ?? 0) > 30, 15_000, 'carol’s media at alice (v1)');
    await carol.until(() => (carol.remoteTracks.get(a.video.sid)?.count ?? 0) > 30 && (carol.remoteTracks.get(a.audio.sid)?.count ?? 0) > 30, 15_000, 'alice’s media at carol (v0)');
    expect(kite(room, 'carol')!.singlePeerConnection).toBe(false);
    expect(carol.messages('offer').length).toBeGreaterThan(0); // v0 keeps Kite's subscriber offers
    expectV1Rules(alice);
  });
});

describe('v1 data and resume', () => {
  // Sent the moment bob is active: Kite usually has not seen his channels' DCEP OPEN yet, and holds the packets until then.
  it('data travels on the client’s own _reliable / _lossy channels, both ways, also right after joining', async () => {
    const room = 'v1-data';
    const alice = await joinV1('alice', room);
    const bob = await joinV1('bob', room);
    await active(room, 'alice');
    await active(room, 'bob');
    await alice.publishData(new TextEncoder().encode('hello reliable'), true, 'r');
    await alice.publishData(new TextEncoder().encode('hello lossy'), false, 'l');
    await bob.until(() => bob.data.some((d) => d.packet.user?.topic === 'r') && bob.data.some((d) => d.packet.user?.topic === 'l'), 10_000, 'data at bob');
    await bob.publishData(new TextEncoder().encode('back'), true, 'back');
    await alice.until(() => alice.data.some((d) => d.packet.user?.topic === 'back'), 10_000, 'data at alice');
    const r = bob.data.find((d) => d.packet.user?.topic === 'r')!;
    const l = bob.data.find((d) => d.packet.user?.topic === 'l')!;
    expect([r.label, l.label]).toEqual(['_reliable', '_lossy']);
    expect(r.packet.participantIdentity).toBe('alice');
    expect(new TextDecoder().decode(r.packet.user!.payload)).toBe('hello reliable');
    // Kite made no channels of its own: one SCTP association, the client's channels.
    expect(kite(room, 'bob')!.subscriber.dataChannels.size).toBe(0);
    expectV1Rules(alice);
    expectV1Rules(bob);
  });

  it('resume: a new join_request with reconnect and participant_sid gets a ReconnectResponse; the session and its media carry on', async () => {
    const room = 'v1-resume';
    const alice = await joinV1('alice', room);
    const bob = await joinV1('bob', room);
    await active(room, 'bob');
    const { video } = await publishAV(alice);
    await bob.until(() => (bob.remoteTracks.get(video.sid)?.count ?? 0) > 10, 10_000, 'media before');
    const sid = bob.sid;
    bob.dropSignal();
    await waitUntil(() => kite(room, 'bob')!.signalLostSince > 0, 5000, 'signal loss noticed');
    const before = bob.remoteTracks.get(video.sid)!.count;
    const reconnect = await bob.resume();
    expect(reconnect.serverInfo?.version).toBeTruthy();
    expect(kite(room, 'bob')!.sid).toBe(sid);
    // The one connection was never touched: media keeps arriving, and a new offer (e.g. a publish) is answered.
    await bob.until(() => bob.remoteTracks.get(video.sid)!.count > before + 30, 10_000, 'media after the resume');
    const mic = await bob.publish('audio');
    expect(mic.sid).toMatch(/^TR_/);
    console.log(`[v1/resume] reconnect ${JSON.stringify({ ...reconnect, iceServers: reconnect.iceServers.length })}; packets ${before} → ${bob.remoteTracks.get(video.sid)!.count}`);
    expectV1Rules(bob);
  });

  it('a v1 resume of a v0 session is refused (leave RECONNECT): the client must rejoin', async () => {
    const room = 'v1-resume-mismatch';
    const carol = await clients.join('carol', room); // v0
    await active(room, 'carol');
    const token = await makeToken('carol', { roomJoin: true, room });
    const url = SinglePcClient.url(ts.url, token, { reconnect: true, participantSid: carol.sid });
    const up = await tryUpgrade(url);
    expect(up.status).toBe(101);
    expect(await firstMessage(url)).toBe('leave');
  });
});

/** Opens a /rtc/v1 socket and reports the kind of the first SignalResponse. */
function firstMessage(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('message', (d) => {
      resolve(SignalResponse.decode(d as Buffer).message ?? '');
      ws.terminate();
    });
    ws.once('error', reject);
  });
}
