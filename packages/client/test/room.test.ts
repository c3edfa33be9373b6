// Two @kite/client participants in Node (werift) through a real Kite server: media both ways (the generated VP8
// clip and an Opus tone, read back as frames and PCM), data, RPC, text streams, metadata, mute, unpublish, leave.
import { describe, expect, it } from 'vitest';
import type { VideoGrant } from '@kite/server-sdk';
import {
  ConnectionState,
  DataPacket_Kind,
  ParticipantEvent,
  RemoteAudioTrack,
  RemoteVideoTrack,
  Room,
  RoomEvent,
  Track,
  type RemoteParticipant,
  type RemoteTrack,
  type RemoteTrackPublication,
} from '@kite/client';
import { kiteForTests, token, waitFor } from './support.js';

const kite = kiteForTests({ dynacast: true });
const rooms = kite.rooms;

function join(identity: string, room: string, grant: VideoGrant = {}): Promise<Room> {
  return kite.join(identity, room, { grant });
}

function subscribed(room: Room, identity: string, kind: Track.Kind): Promise<RemoteTrack> {
  for (const p of room.remoteParticipants.values()) {
    if (p.identity !== identity) continue;
    for (const pub of p.trackPublications.values()) if (pub.kind === kind && pub.track) return Promise.resolve(pub.track);
  }
  return waitFor(`${kind} from ${identity}`, (resolve) =>
    room.on(RoomEvent.TrackSubscribed, (track, _pub, p) => {
      if (p.identity === identity && track.kind === kind) resolve(track);
    }),
  ).catch((err: Error) => {
    const p = room.remoteParticipants.get(identity);
    const pubs = p ? [...p.trackPublications.values()].map((x) => `${x.kind}:${x.trackSid}:${x.subscriptionStatus}:${!!x.track}`) : 'no participant';
    const sub = room.engine.subscriber?.pc;
    const sdp = sub?.remoteDescription?.sdp ?? '';
    throw new Error(`${err.message}; pubs ${JSON.stringify(pubs)}; pending ${JSON.stringify([...((room as unknown as { pendingMedia: Map<string, unknown[]> }).pendingMedia.keys())])}; participant pending ${JSON.stringify([...((p as unknown as { pending?: Map<string, unknown> })?.pending?.keys() ?? [])])}; subscriber ${sub?.connectionState}; offer m-lines ${sdp.split('\n').filter((l) => l.startsWith('m=') || l.startsWith('a=msid') || l.startsWith('a=send') || l.startsWith('a=recv') || l.startsWith('a=inactive')).join(' | ')}`);
  });
}

/** Goertzel power of `freq` relative to the signal's total power (≈ 0.5 for a pure tone at that frequency). */
function toneShare(samples: Int16Array, rate: number, freq: number): number {
  const k = (2 * Math.cos((2 * Math.PI * freq) / rate));
  let s1 = 0;
  let s2 = 0;
  let energy = 0;
  for (const x of samples) {
    const s = x + k * s1 - s2;
    s2 = s1;
    s1 = s;
    energy += x * x;
  }
  const power = s1 * s1 + s2 * s2 - k * s1 * s2;
  return energy === 0 ? 0 : (2 * power) / (samples.length * energy);
}

describe('@kite/client in Node', () => {
  it('two participants publish generated video and audio to each other and read frames and PCM', async () => {
    const alice = await join('alice', 'media');
    const bob = await join('bob', 'media');
    expect(alice.state).toBe(ConnectionState.Connected);
    expect(alice.name).toBe('media');
    expect(bob.remoteParticipants.get('alice')?.name).toBe('ALICE');

    await Promise.all([alice.localParticipant.setCameraEnabled(true), alice.localParticipant.setMicrophoneEnabled(true), bob.localParticipant.setCameraEnabled(true), bob.localParticipant.setMicrophoneEnabled(true)]);
    expect(alice.localParticipant.isCameraEnabled).toBe(true);

    for (const [viewer, other] of [
      [bob, 'alice'],
      [alice, 'bob'],
    ] as const) {
      const video = await subscribed(viewer, other, Track.Kind.Video);
      expect(video).toBeInstanceOf(RemoteVideoTrack);
      const frames = (video as RemoteVideoTrack).videoFrames();
      let keyframes = 0;
      let complete = 0;
      let width = 0;
      for await (const f of frames) {
        if (f.keyframe && f.complete) {
          keyframes++;
          width = f.width ?? 0;
        }
        if (f.complete) complete++;
        if (keyframes >= 1 && complete >= 20) break;
      }
      expect(width).toBe(640);
      expect(complete).toBeGreaterThanOrEqual(20);

      const audio = await subscribed(viewer, other, Track.Kind.Audio);
      expect(audio).toBeInstanceOf(RemoteAudioTrack);
      // Per decoded 20 ms frame (concealed or zero-filled frames under CPU load say nothing about the tone).
      const at440: number[] = [];
      const at1000: number[] = [];
      let audioFrames = 0;
      for await (const frame of (audio as RemoteAudioTrack).audioFrames()) {
        expect(frame.sampleRate).toBe(48000);
        if (++audioFrames > 100) break; // two seconds
        if (audioFrames <= 25 || (frame as { kind?: string }).kind !== 'decoded') continue; // Opus settles in the first half second
        const mono = Int16Array.from({ length: frame.samplesPerChannel }, (_, i) => frame.data[i * frame.channels]!);
        at440.push(toneShare(mono, 48000, 440));
        at1000.push(toneShare(mono, 48000, 1000));
      }
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
      expect(at440.length).toBeGreaterThan(30);
      expect(median(at440)).toBeGreaterThan(0.3);
      expect(median(at1000)).toBeLessThan(0.05);
    }
  });

  it('carries data (reliable, lossy, topic, destinations), chat, RPC and text streams', async () => {
    const alice = await join('alice', 'data');
    const bob = await join('bob', 'data');
    const carol = await join('carol', 'data');
    const got: { who: string; text: string; kind?: DataPacket_Kind; topic?: string; from?: string }[] = [];
    for (const [name, r] of [
      ['bob', bob],
      ['carol', carol],
    ] as const) {
      r.on(RoomEvent.DataReceived, (payload, p, kind, topic) => got.push({ who: name, text: new TextDecoder().decode(payload), kind, topic, from: p?.identity }));
    }
    await alice.localParticipant.publishData(new TextEncoder().encode('hello all'), { topic: 'greet' });
    await alice.localParticipant.publishData(new TextEncoder().encode('only bob'), { destinationIdentities: ['bob'] });
    await alice.localParticipant.publishData(new TextEncoder().encode('lossy'), { reliable: false });
    const deadline = Date.now() + 5000;
    while (got.length < 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(got).toContainEqual({ who: 'bob', text: 'hello all', kind: DataPacket_Kind.RELIABLE, topic: 'greet', from: 'alice' });
    expect(got).toContainEqual({ who: 'carol', text: 'hello all', kind: DataPacket_Kind.RELIABLE, topic: 'greet', from: 'alice' });
    expect(got.filter((g) => g.text === 'only bob').map((g) => g.who)).toEqual(['bob']);
    expect(got.filter((g) => g.text === 'lossy').map((g) => g.kind)).toEqual([DataPacket_Kind.LOSSY, DataPacket_Kind.LOSSY]);

    const chat = waitFor<string>('chat', (resolve) => bob.on(RoomEvent.ChatMessage, (m, p) => resolve(`${p?.identity}:${m.message}`)));
    await alice.localParticipant.sendChatMessage('hi from chat');
    expect(await chat).toBe('alice:hi from chat');

    bob.registerRpcMethod('add', async (data) => {
      const { a, b } = JSON.parse(data.payload) as { a: number; b: number };
      return JSON.stringify({ sum: a + b, caller: data.callerIdentity });
    });
    const res = await alice.localParticipant.performRpc({ destinationIdentity: 'bob', method: 'add', payload: JSON.stringify({ a: 2, b: 3 }) });
    expect(JSON.parse(res)).toEqual({ sum: 5, caller: 'alice' });
    await expect(alice.localParticipant.performRpc({ destinationIdentity: 'bob', method: 'nope', payload: '' })).rejects.toMatchObject({ code: 1400 });

    const text = waitFor<string>('text stream', (resolve) =>
      carol.registerTextStreamHandler('notes', async (reader, info) => {
        resolve(`${info.identity}:${await reader.readAll()}`);
      }),
    );
    const long = 'ünïcödé '.repeat(3000);
    await alice.localParticipant.sendText(long, { topic: 'notes' });
    expect(await text).toBe(`alice:${long}`);
  });

  it('follows metadata, mute, unpublish and leave across participants', async () => {
    const alice = await join('alice', 'state');
    const bob = await join('bob', 'state');
    const pub = await alice.localParticipant.setMicrophoneEnabled(true);
    expect(pub?.source).toBe(Track.Source.Microphone);
    await subscribed(bob, 'alice', Track.Kind.Audio);
    const remoteAlice = bob.remoteParticipants.get('alice')!;

    const md = waitFor<string>('metadata', (resolve) => bob.on(RoomEvent.ParticipantMetadataChanged, (_prev, p) => resolve(`${p.identity}:${p.metadata}`)));
    await alice.localParticipant.setMetadata('{"hand":true}');
    expect(await md).toBe('alice:{"hand":true}');
    const attrs = waitFor<Record<string, string>>('attributes', (resolve) => remoteAlice.on(ParticipantEvent.AttributesChanged, resolve));
    await alice.localParticipant.setAttributes({ role: 'host' });
    expect(await attrs).toEqual({ role: 'host' });

    const muted = waitFor<RemoteTrackPublication>('muted', (resolve) => bob.on(RoomEvent.TrackMuted, (p) => resolve(p as RemoteTrackPublication)));
    await alice.localParticipant.setMicrophoneEnabled(false);
    expect((await muted).isMuted).toBe(true);
    expect(remoteAlice.isMicrophoneEnabled).toBe(false);
    const unmuted = waitFor<boolean>('unmuted', (resolve) => bob.on(RoomEvent.TrackUnmuted, () => resolve(true)));
    await alice.localParticipant.setMicrophoneEnabled(true);
    expect(await unmuted).toBe(true);

    const unpublished = waitFor<string>('unpublished', (resolve) => bob.on(RoomEvent.TrackUnpublished, (p, who) => resolve(`${who.identity}:${p.source}`)));
    await alice.localParticipant.unpublishTrack(pub!.track!);
    expect(await unpublished).toBe('alice:microphone');

    const left = waitFor<RemoteParticipant>('left', (resolve) => bob.on(RoomEvent.ParticipantDisconnected, resolve));
    await alice.disconnect();
    expect((await left).identity).toBe('alice');
    expect([...bob.remoteParticipants.keys()]).toEqual([]);
  });

  it('autoSubscribe off: nothing arrives until setSubscribed(true); unsubscribe and subscribe again; setEnabled pauses', async () => {
    const alice = await join('alice', 'selective');
    const bob = new Room();
    rooms.push(bob);
    await bob.connect(kite.server.url, await token('bob', 'selective'), { autoSubscribe: false });
    const published = waitFor<RemoteTrackPublication>('published', (resolve) => bob.on(RoomEvent.TrackPublished, (pub) => pub.kind === Track.Kind.Video && resolve(pub)));
    await alice.localParticipant.setCameraEnabled(true);
    const pub = await published;
    expect(pub.isSubscribed).toBe(false);
    expect(pub.subscriptionStatus).toBe('unsubscribed');
    await new Promise((r) => setTimeout(r, 500));
    expect(pub.track).toBeUndefined();

    const countFrames = async (track: RemoteVideoTrack, n: number) => {
      let got = 0;
      for await (const f of track.videoFrames()) if (f.complete && ++got >= n) break;
      return got;
    };
    for (let round = 0; round < 2; round++) {
      const sub = waitFor<RemoteTrack>('subscribed', (resolve) => bob.once(RoomEvent.TrackSubscribed, resolve));
      pub.setSubscribed(true);
      const track = (await sub) as RemoteVideoTrack;
      expect(pub.subscriptionStatus).toBe('subscribed');
      expect(await countFrames(track, 10)).toBe(10);
      const unsub = waitFor<RemoteTrack>('unsubscribed', (resolve) => bob.once(RoomEvent.TrackUnsubscribed, resolve));
      pub.setSubscribed(false);
      expect(await unsub).toBe(track);
      expect(pub.track).toBeUndefined();
      await new Promise((r) => setTimeout(r, 300));
    }

    // setEnabled(false): still subscribed, but the server stops forwarding.
    const sub = waitFor<RemoteTrack>('subscribed', (resolve) => bob.once(RoomEvent.TrackSubscribed, resolve));
    pub.setSubscribed(true);
    const track = (await sub) as RemoteVideoTrack;
    let packets = 0;
    const reading = (async () => {
      for await (const _ of track.rtpPackets()) packets++;
    })();
    await new Promise((r) => setTimeout(r, 800));
    expect(packets).toBeGreaterThan(10);
    pub.setEnabled(false);
    await new Promise((r) => setTimeout(r, 500));
    const atDisable = packets;
    await new Promise((r) => setTimeout(r, 1000));
    expect(packets - atDisable).toBeLessThan(5);
    pub.setEnabled(true);
    await new Promise((r) => setTimeout(r, 1000));
    expect(packets - atDisable).toBeGreaterThan(10);
    pub.setVideoDimensions({ width: 320, height: 180 });
    void reading;
  });

  it('refuses a bad token with a clear error, and a subscriber-only participant cannot publish', async () => {
    const bad = new Room();
    await expect(bad.connect(kite.server.url, 'not-a-token')).rejects.toThrow(/401|token/i);
    expect(bad.state).toBe(ConnectionState.Disconnected);
    const viewer = await join('viewer', 'perm', { canPublish: false });
    await expect(viewer.localParticipant.setMicrophoneEnabled(true)).rejects.toThrow(/refused|permission|not allowed/i);
  });
});
