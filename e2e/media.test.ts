// Join and media with the official livekit-client in Debian's Chromium: camera, microphone and screen share reach
// the others through Kite; mute, unpublish, leave and moderation show up as LiveKit's events.
import { describe, expect, it } from 'vitest';
import { e2eEnv } from './harness/setup.js';
import { RoomServiceClient, DataPacket_Kind } from 'livekit-server-sdk';
import { API_KEY, API_SECRET } from './harness/kite.js';
import { evalRoom, joinRoom, pageNow, waitEvent, waitInbound, type Participant } from './harness/lk.js';

const env = e2eEnv();

async function join(identity: string, room: string, roomOptions: object = {}): Promise<Participant> {
  const p = await joinRoom(env.browser, `${env.web.url}/lk.html`, env.kite.wsUrl, await env.kite.token(identity, { room }), identity, roomOptions);
  console.log(`[e2e] ${identity} joined ${room} in ${Math.round(p.joinMs)} ms`);
  return p;
}

async function publishCameraAndMic(p: Participant) {
  await evalRoom(p.page, 'await room.localParticipant.setCameraEnabled(true); await room.localParticipant.setMicrophoneEnabled(true);');
}

function trackSid(p: Participant, source: string): Promise<string> {
  return evalRoom(p.page, `for (const pub of room.localParticipant.trackPublications.values()) if (pub.source === '${source}') return pub.trackSid;`);
}

describe('camera, microphone and screen share', () => {
  it('bob decodes alice camera (> 30 frames within 15 s) and receives her audio; a later joiner gets both', async () => {
    const room = 'media-1';
    const alice = await join('alice', room);
    const bob = await join('bob', room);
    const t0 = Date.now();
    await publishCameraAndMic(alice);
    await waitEvent(bob.page, 'TrackSubscribed', { identity: 'alice', kind: 'video' }, 15_000);
    await waitEvent(bob.page, 'TrackSubscribed', { identity: 'alice', kind: 'audio' }, 15_000);
    const first = await waitInbound(bob.page, 'alice', 'video', (s) => s.framesDecoded > 0);
    const video = await waitInbound(bob.page, 'alice', 'video', (s) => s.framesDecoded > 30, 15_000);
    console.log(`[e2e] publish → first decoded frame at bob: ${Date.now() - t0 - video.ms + first.ms} ms; 30 frames after ${Date.now() - t0} ms; ${video.stats.frameWidth}x${video.stats.frameHeight}`);
    expect(video.stats.framesDecoded).toBeGreaterThan(30);
    const audio = await waitInbound(bob.page, 'alice', 'audio', (s) => s.packetsReceived > 10);
    expect(audio.stats.bytesReceived).toBeGreaterThan(0);

    // carol joins after the tracks were published and gets both
    const tCarol = Date.now();
    const carol = await join('carol', room);
    await waitEvent(carol.page, 'TrackSubscribed', { identity: 'alice', kind: 'video' });
    await waitEvent(carol.page, 'TrackSubscribed', { identity: 'alice', kind: 'audio' });
    const cv = await waitInbound(carol.page, 'alice', 'video', (s) => s.framesDecoded > 0);
    console.log(`[e2e] join → first remote frame (late joiner carol): ${Date.now() - tCarol} ms`);
    expect(cv.stats.framesDecoded).toBeGreaterThan(0);
    await waitInbound(carol.page, 'alice', 'audio', (s) => s.packetsReceived > 10);
    for (const p of [alice, bob, carol]) await p.context.close();
  });

  it("alice's screen share reaches bob", async () => {
    const room = 'media-2';
    const alice = await join('alice', room);
    const bob = await join('bob', room);
    await evalRoom(alice.page, 'await room.localParticipant.setScreenShareEnabled(true);');
    await waitEvent(bob.page, 'TrackSubscribed', { identity: 'alice', kind: 'video', source: 'screen_share' });
    const s = await waitInbound(bob.page, 'alice', 'video', (x) => x.framesDecoded > 10, 15_000, 'screen_share');
    console.log(`[e2e] screen share at bob: ${s.stats.frameWidth}x${s.stats.frameHeight}, ${s.stats.framesDecoded} frames`);
    for (const p of [alice, bob]) await p.context.close();
  });
});

describe('track state and leaving', () => {
  it('mute and unmute reach bob; unpublish removes the track', async () => {
    const room = 'media-3';
    const alice = await join('alice', room);
    const bob = await join('bob', room);
    await publishCameraAndMic(alice);
    await waitEvent(bob.page, 'TrackSubscribed', { identity: 'alice', kind: 'video' });
    const micSid = await trackSid(alice, 'microphone');
    let since = await pageNow(bob.page);
    await evalRoom(alice.page, 'await room.localParticipant.setMicrophoneEnabled(false);');
    await waitEvent(bob.page, 'TrackMuted', { identity: 'alice', sid: micSid }, 5000, since);
    since = await pageNow(bob.page);
    await evalRoom(alice.page, 'await room.localParticipant.setMicrophoneEnabled(true);');
    await waitEvent(bob.page, 'TrackUnmuted', { identity: 'alice', sid: micSid }, 5000, since);
    const camSid = await trackSid(alice, 'camera');
    since = await pageNow(bob.page);
    await evalRoom(alice.page, `const pub = room.localParticipant.getTrackPublication(LK.Track.Source.Camera); await room.localParticipant.unpublishTrack(pub.track);`);
    await waitEvent(bob.page, 'TrackUnpublished', { identity: 'alice', sid: camSid }, 10_000, since);
    for (const p of [alice, bob]) await p.context.close();
  });

  it('disconnect() is seen by bob within 3 s; a closed tab within 20 s', async () => {
    const room = 'media-4';
    const alice = await join('alice', room);
    const bob = await join('bob', room);
    const carol = await join('carol', room);
    await publishCameraAndMic(alice);
    await waitEvent(bob.page, 'TrackSubscribed', { identity: 'alice', kind: 'video' });

    let since = await pageNow(bob.page);
    let t = Date.now();
    await evalRoom(alice.page, 'await room.disconnect();');
    await waitEvent(bob.page, 'ParticipantDisconnected', { identity: 'alice' }, 3000, since);
    console.log(`[e2e] disconnect() → ParticipantDisconnected at bob: ${Date.now() - t} ms`);

    await waitEvent(bob.page, 'ParticipantConnected', { identity: 'carol' }, 5000).catch(() => undefined);
    since = await pageNow(bob.page);
    t = Date.now();
    await carol.context.close(); // the tab goes away without a word
    await waitEvent(bob.page, 'ParticipantDisconnected', { identity: 'carol' }, 20_000, since);
    const closedMs = Date.now() - t;
    console.log(`[e2e] closed tab → ParticipantDisconnected at bob: ${closedMs} ms`);
    expect(closedMs).toBeLessThan(20_000);
    for (const p of [alice, bob]) await p.context.close();
  });
});

describe('moderation through RoomService (official livekit-server-sdk)', () => {
  it('list/get show live participants and tracks; mute, update, subscriptions, send data and remove act on the browsers', async () => {
    const room = 'media-5';
    const api = new RoomServiceClient(env.kite.httpUrl, API_KEY, API_SECRET);
    const alice = await join('alice', room);
    const bob = await join('bob', room);
    const carol = await join('carol', room);
    await publishCameraAndMic(alice);
    await waitEvent(bob.page, 'TrackSubscribed', { identity: 'alice', kind: 'video' });
    await waitEvent(bob.page, 'TrackSubscribed', { identity: 'alice', kind: 'audio' });

    const listed = await api.listParticipants(room);
    expect(listed.map((p) => p.identity).sort()).toEqual(['alice', 'bob', 'carol']);
    const a = await api.getParticipant(room, 'alice');
    expect(a.sid).toMatch(/^PA_/);
    expect(a.tracks.length).toBe(2);
    const cam = a.tracks.find((t) => t.type === 1)!;
    const mic = a.tracks.find((t) => t.type === 0)!;
    expect(cam.sid).toMatch(/^TR_/);
    expect(cam.muted).toBe(false);

    // MutePublishedTrack: bob sees TrackMuted, alice's own client mutes the track
    let since = await pageNow(bob.page);
    const muted = await api.mutePublishedTrack(room, 'alice', mic.sid, true);
    expect(muted.muted).toBe(true);
    await waitEvent(bob.page, 'TrackMuted', { identity: 'alice', sid: mic.sid }, 5000, since);
    expect(await evalRoom(alice.page, `return room.localParticipant.getTrackPublication(LK.Track.Source.Microphone).isMuted;`)).toBe(true);
    expect((await api.getParticipant(room, 'alice')).tracks.find((t) => t.sid === mic.sid)?.muted).toBe(true);

    // UpdateParticipant: metadata and name reach everyone
    since = await pageNow(bob.page);
    const updated = await api.updateParticipant(room, 'alice', { metadata: '{"role":"host"}', name: 'Alice A.' });
    expect(updated.metadata).toBe('{"role":"host"}');
    await waitEvent(bob.page, 'ParticipantMetadataChanged', { identity: 'alice', metadata: '{"role":"host"}' }, 5000, since);
    await waitEvent(bob.page, 'ParticipantNameChanged', { identity: 'alice', newName: 'Alice A.' }, 5000, since);

    // UpdateSubscriptions: bob is unsubscribed from alice's camera, then subscribed again
    since = await pageNow(bob.page);
    await api.updateSubscriptions(room, 'bob', [cam.sid], false);
    await waitEvent(bob.page, 'TrackUnsubscribed', { identity: 'alice', sid: cam.sid }, 10_000, since);
    since = await pageNow(bob.page);
    await api.updateSubscriptions(room, 'bob', [cam.sid], true);
    await waitEvent(bob.page, 'TrackSubscribed', { identity: 'alice', sid: cam.sid }, 10_000, since);

    // SendData from the server reaches the browsers (no sender)
    since = await pageNow(bob.page);
    await api.sendData(room, new TextEncoder().encode('hello from the server'), DataPacket_Kind.RELIABLE, { topic: 'news' });
    const got = await waitEvent(bob.page, 'DataReceived', { topic: 'news' }, 10_000, since);
    expect(got.text).toBe('hello from the server');

    // RemoveParticipant: carol is told why, the others see her leave
    since = await pageNow(bob.page);
    const carolSince = await pageNow(carol.page);
    await api.removeParticipant(room, 'carol');
    const d = await waitEvent(carol.page, 'Disconnected', {}, 5000, carolSince);
    expect(d.reason).toBe(4); // PARTICIPANT_REMOVED
    await waitEvent(bob.page, 'ParticipantDisconnected', { identity: 'carol' }, 5000, since);
    expect((await api.listParticipants(room)).map((p) => p.identity).sort()).toEqual(['alice', 'bob']);
    for (const p of [alice, bob]) await p.context.close();
  });
});

describe('werift defects fixed in Kite, seen from the browser', () => {
  it('camera and screen share simulcast with the same RIDs (q/h/f) both arrive intact, and a clean link gets no NACKs', async () => {
    const room = 'media-6';
    // Force screen-share simulcast so both tracks carry rids q/h/f (werift's own router keys RIDs per connection).
    const alice = await join('alice', room, {});
    const bob = await join('bob', room);
    await evalRoom(
      alice.page,
      `await room.localParticipant.setCameraEnabled(true);
       await room.localParticipant.setScreenShareEnabled(true, {}, { screenShareSimulcastLayers: [LK.VideoPresets.h360, LK.VideoPresets.h720] });`,
    );
    await waitEvent(bob.page, 'TrackSubscribed', { identity: 'alice', kind: 'video', source: 'camera' });
    await waitEvent(bob.page, 'TrackSubscribed', { identity: 'alice', kind: 'video', source: 'screen_share' });
    const cam = await waitInbound(bob.page, 'alice', 'video', (s) => s.framesDecoded > 30, 15_000, 'camera');
    const screen = await waitInbound(bob.page, 'alice', 'video', (s) => s.framesDecoded > 10, 15_000, 'screen_share');
    console.log(`[e2e] camera at bob ${cam.stats.frameWidth}x${cam.stats.frameHeight}, screen ${screen.stats.frameWidth}x${screen.stats.frameHeight}`);
    // Camera frames are 16:9 of the 1280x720 source, screen frames of the 1920x1080 one: a misrouted layer would mix them.
    expect(cam.stats.frameWidth).toBeLessThanOrEqual(1280);
    expect(screen.stats.frameWidth).toBeGreaterThan(0);
    // Every simulcast layer Chrome sends, with their rids, and the NACKs it received from Kite: none on loopback.
    const layers = await evalRoom<{ rid: string; packetsSent: number; nackCount: number }[]>(
      alice.page,
      `const out = [];
       for (const pub of room.localParticipant.trackPublications.values()) {
         if (pub.kind !== 'video' || !pub.track) continue;
         const report = await pub.track.sender.getStats();
         report.forEach((s) => { if (s.type === 'outbound-rtp') out.push({ source: pub.source, rid: s.rid, packetsSent: s.packetsSent, nackCount: s.nackCount }); });
       }
       return out;`,
    );
    console.log('[e2e] alice outbound layers', JSON.stringify(layers));
    expect(layers.filter((l) => l.packetsSent > 0).length).toBeGreaterThanOrEqual(3);
    expect(layers.reduce((n, l) => n + l.nackCount, 0)).toBe(0);
    for (const p of [alice, bob]) await p.context.close();
  });
});
