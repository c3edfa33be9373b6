// Token grants as a client experiences them: publishing refused or limited to some sources, subscribing disabled,
// hidden participants.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ParticipantInfo_State, RequestResponse_Reason, TrackSource } from '@kite/protocol';
import { startServer, type TestServer } from './helpers.js';
import { Clients, sleep, waitUntil } from './support/harness.js';
import { PublishRefusedError, type LkClient, type LocalTrack } from './support/lkClient.js';
import { OpusSource, Vp8Source, pump, type Pump } from './support/media.js';

let ts: TestServer;
const clients = new Clients(() => ts);
const pumps: Pump[] = [];
beforeAll(async () => {
  ts = await startServer();
});
afterEach(async () => {
  for (const p of pumps.splice(0)) p.stop();
  await clients.disposeAll();
});
afterAll(() => ts.server.close());

function stream(t: LocalTrack): void {
  if (t.kind === 'audio') pumps.push(pump(new OpusSource(), (p) => t.writeRtp(p), 20));
  else {
    const src = new Vp8Source({ gop: 30 });
    t.onKeyframeRequest = () => src.requestKeyframe();
    pumps.push(pump(src, (p) => t.writeRtp(p), 1000 / 30));
  }
}

async function refused(p: Promise<LocalTrack>): Promise<PublishRefusedError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PublishRefusedError);
  return err as PublishRefusedError;
}

const packetsAt = (c: LkClient) => [...c.remoteTracks.values()].reduce((n, t) => n + t.count, 0);

describe('publish grants', () => {
  it('without canPublish, AddTrack is answered NOT_ALLOWED and nothing is published', async () => {
    const room = 'grants-nopub';
    const bob = await clients.join('bob', room);
    const alice = await clients.join('alice', room, { grant: { canPublish: false } });
    expect(alice.join.participant?.permission?.canPublish).toBe(false);
    expect(alice.join.fastPublish).toBe(false);

    const err = await refused(alice.publishAudio());
    console.log(`[grants/nopub] ${err.message}`);
    expect(err.response.reason).toBe(RequestResponse_Reason.NOT_ALLOWED);
    expect(err.response.addTrack?.cid).toBe(err.track.cid);
    // The m-line was negotiated anyway (in parallel, like livekit-client); media sent on it reaches nobody.
    stream(err.track);
    await sleep(1500);
    expect(alice.messages('trackPublished')).toEqual([]);
    expect(packetsAt(bob)).toBe(0);
    expect(bob.participants.get('alice')?.tracks ?? []).toEqual([]);
    expect(bob.participants.get('alice')?.isPublisher).toBe(false);
    expect(ts.server.rooms.getRoom(room)?.getParticipant('alice')?.tracks.size).toBe(0);
  });

  it('canPublishSources=[microphone]: a camera is refused, a microphone is published', async () => {
    const room = 'grants-sources';
    const bob = await clients.join('bob', room);
    const alice = await clients.join('alice', room, { grant: { canPublishSources: ['microphone'] } });
    expect(alice.join.participant?.permission?.canPublishSources).toEqual([TrackSource.MICROPHONE]);

    const cam = await refused(alice.publishVideo());
    expect(cam.response.reason).toBe(RequestResponse_Reason.NOT_ALLOWED);
    const screen = await refused(alice.publishVideo({ source: TrackSource.SCREEN_SHARE, name: 'screen' }));
    expect(screen.response.reason).toBe(RequestResponse_Reason.NOT_ALLOWED);
    const mic = await alice.publishAudio();
    expect(mic.info?.source).toBe(TrackSource.MICROPHONE);
    expect(mic.sid).toMatch(/^TR_/);
    stream(mic);
    stream(cam.track);
    await waitUntil(() => (bob.remoteTracks.get(mic.sid)?.count ?? 0) > 10, 10_000, 'bob receiving the microphone');
    await sleep(500);
    console.log(`[grants/sources] camera: ${cam.message}; microphone ${mic.sid}: bob received ${bob.remoteTracks.get(mic.sid)!.count} packets; tracks bob received: ${[...bob.remoteTracks.keys()]}`);
    expect([...bob.remoteTracks.keys()]).toEqual([mic.sid]);
    expect(bob.participants.get('alice')?.tracks.map((t) => t.source)).toEqual([TrackSource.MICROPHONE]);
    expect(alice.messages('trackPublished').map((r) => r.cid)).toEqual([mic.cid]);
  });
});

describe('subscribe grant', () => {
  it('without canSubscribe: subscriber_primary false and no media comes down, even when asked for', async () => {
    const room = 'grants-nosub';
    const alice = await clients.join('alice', room);
    const viewer = await clients.join('viewer', room, { grant: { canSubscribe: false } });
    expect(viewer.join.subscriberPrimary).toBe(false);
    expect(viewer.join.participant?.permission?.canSubscribe).toBe(false);
    const bob = await clients.join('bob', room);
    const video = await alice.publishVideo();
    const audio = await alice.publishAudio();
    stream(video);
    stream(audio);
    await waitUntil(() => (bob.remoteTracks.get(video.sid)?.count ?? 0) > 30 && (bob.remoteTracks.get(audio.sid)?.count ?? 0) > 30, 10_000, 'bob receiving');
    // The viewer knows the tracks exist (updates), becomes ACTIVE through its publisher connection, and asks anyway.
    await viewer.until(() => (viewer.participants.get('alice')?.tracks.length ?? 0) === 2, 5000, 'viewer sees alice’s tracks');
    await viewer.until(() => viewer.self?.state === ParticipantInfo_State.ACTIVE, 10_000, 'viewer active');
    viewer.setSubscribed([video.sid, audio.sid], true);
    await sleep(1500);
    const offers = viewer.messages('offer');
    const mediaOffers = offers.filter((o) => /^m=(audio|video)/m.test(o.sdp));
    console.log(`[grants/nosub] viewer: ${packetsAt(viewer)} packets, ${offers.length} subscriber offers (${mediaOffers.length} with media); bob: ${packetsAt(bob)} packets`);
    expect(packetsAt(viewer)).toBe(0);
    expect(mediaOffers).toEqual([]);
    expect(viewer.messages('trackSubscribed')).toEqual([]);
    expect(ts.server.rooms.getRoom(room)?.getParticipant('viewer')?.subscribedTrackSids).toEqual([]);
  });
});

describe('hidden', () => {
  it('a hidden participant is in no one’s JoinResponse and in no one’s ParticipantUpdates', async () => {
    const room = 'grants-hidden';
    const alice = await clients.join('alice', room);
    const ghost = await clients.join('ghost', room, { grant: { hidden: true, canUpdateOwnMetadata: true } });
    expect(ghost.join.participant?.permission?.hidden).toBe(true);
    expect(ghost.join.otherParticipants.map((p) => p.identity)).toEqual(['alice']);
    const bob = await clients.join('bob', room);
    expect(bob.join.otherParticipants.map((p) => p.identity)).toEqual(['alice']);
    expect(bob.join.room?.numParticipants).toBe(2);
    await ghost.until(() => ghost.self?.state === ParticipantInfo_State.ACTIVE, 10_000, 'ghost active');
    // The ghost sees the others come and go like anyone.
    await ghost.until(() => ghost.participants.has('bob'), 5000, 'ghost sees bob');

    // Changes and a departure in one go (same event-loop turn on the server).
    ghost.updateMetadata({ metadata: 'boo' });
    ghost.send({ leave: { reason: 1, action: 0, canReconnect: false } });
    await ghost.closed;
    // Something visible afterwards, so the others' update streams are known to have moved past the ghost's exit.
    const mic = await alice.publishAudio();
    stream(mic);
    await bob.waitFor('update', (u) => u.participants.some((p) => p.identity === 'alice' && p.tracks.length === 1));
    await sleep(200);
    for (const c of [alice, bob]) {
      const mentions = c.updates().filter((p) => p.sid === ghost.sid || p.identity === 'ghost');
      console.log(`[hidden] ${c.identity}: ${c.updates().length} participant infos received, ${mentions.length} about the ghost`);
      expect(mentions).toEqual([]);
      expect(c.participants.has('ghost')).toBe(false);
      expect(c.log.some((e) => JSON.stringify(e.msg).includes(ghost.sid))).toBe(false);
    }
  });
});
