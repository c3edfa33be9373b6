// Automatic reconnection of @kite/client in Node (werift) against a real Kite server, as livekit-client does it: a
// dropped or stalled signal connection resumes the same session (same sid, media and data carry on); a resume the
// server refuses becomes a full reconnect (new session, local tracks republished); a server leave RECONNECT is a full
// reconnect, a leave DISCONNECT ends the room with its reason; a server that is gone for good ends it once the
// attempts are spent.
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { RoomServiceClient } from '@kite/server-sdk';
import { KEY, SECRET, kiteForTests, startKite, waitFor } from './support.js';
import {
  ConnectionState,
  DisconnectReason,
  RemoteVideoTrack,
  Room,
  RoomEvent,
  Track,
  type RemoteTrack,
  type RoomOptions,
} from '@kite/client';

/** Short delays: every test's recovery is over in a few seconds. */
const FAST: number[] = [0, 200, 400, 800, 1000];
const kite = kiteForTests({ reconnectDelays: FAST });

function join(identity: string, room: string, opts: RoomOptions = {}, url?: string): Promise<Room> {
  return kite.join(identity, room, { room: opts, url });
}

/** What a user of the room sees, in order (`participants`: arrivals and departures too). */
function record(room: Room, participants = false): string[] {
  const seen: string[] = [];
  room.on(RoomEvent.Reconnecting, () => seen.push('reconnecting'));
  room.on(RoomEvent.SignalReconnecting, () => seen.push('signalReconnecting'));
  room.on(RoomEvent.Reconnected, () => seen.push('reconnected'));
  room.on(RoomEvent.Disconnected, (reason) => seen.push(`disconnected:${reason === undefined ? 'none' : DisconnectReason[reason]}`));
  if (participants) {
    room.on(RoomEvent.ParticipantConnected, (p) => seen.push(`joined:${p.identity}`));
    room.on(RoomEvent.ParticipantDisconnected, (p) => seen.push(`left:${p.identity}`));
  }
  return seen;
}

/** Resolves with `identity`'s metadata as `viewer` sees it once it equals `value`. */
function metadataSeen(viewer: Room, identity: string, value: string, timeoutMs = 10_000): Promise<string> {
  if (viewer.remoteParticipants.get(identity)?.metadata === value) return Promise.resolve(value);
  return waitFor(`metadata "${value}" of ${identity}`, (resolve) =>
    viewer.on(RoomEvent.ParticipantMetadataChanged, (_prev, p) => {
      if (p.identity === identity && p.metadata === value) resolve(value);
    }),
  timeoutMs);
}

function waitEvent(room: Room, event: RoomEvent.Reconnected | RoomEvent.Reconnecting | RoomEvent.SignalReconnecting | RoomEvent.Disconnected, timeoutMs = 10_000): Promise<unknown> {
  return waitFor(event, (resolve) => room.once(event, (...args: unknown[]) => resolve(args[0])), timeoutMs);
}

async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The video track `viewer` receives from `identity` (the one subscribed now, or the next one). */
function videoFrom(viewer: Room, identity: string, notSid?: string): Promise<RemoteVideoTrack> {
  const p = viewer.remoteParticipants.get(identity);
  for (const pub of p?.trackPublications.values() ?? []) {
    if (pub.kind === Track.Kind.Video && pub.track && pub.trackSid !== notSid) return Promise.resolve(pub.track as RemoteVideoTrack);
  }
  return waitFor(`video from ${identity}`, (resolve) =>
    viewer.on(RoomEvent.TrackSubscribed, (track: RemoteTrack, pub, who) => {
      if (who.identity === identity && track.kind === Track.Kind.Video && pub.trackSid !== notSid) resolve(track as RemoteVideoTrack);
    }),
  );
}

/** Reads frames that arrive from now on: resolves with the count once `n` complete frames (one a keyframe) came. */
async function framesArrive(track: RemoteVideoTrack, n = 15, timeoutMs = 10_000): Promise<{ complete: number; width: number }> {
  const frames = track.videoFrames();
  let complete = 0;
  let width = 0;
  const read = (async () => {
    for await (const f of frames) {
      if (f.complete) complete++;
      if (f.keyframe && f.complete) width = f.width ?? width;
      if (complete >= n && width > 0) break;
    }
    return { complete, width };
  })();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`only ${complete} frames (keyframe width ${width}) within ${timeoutMs} ms`)), timeoutMs)));
  try {
    return await Promise.race([read, timeout]);
  } finally {
    clearTimeout(timer);
    void frames.return?.();
  }
}

/** Sends `text` from `from` and resolves once `to` got it (retrying: a reconnect may still be settling). */
async function dataArrives(from: Room, to: Room, text: string, timeoutMs = 10_000): Promise<string | undefined> {
  const got = waitFor<string | undefined>(`data "${text}"`, (resolve) => {
    const on = (payload: Uint8Array, p?: { identity: string }) => {
      if (new TextDecoder().decode(payload) !== text) return;
      to.off(RoomEvent.DataReceived, on);
      resolve(p?.identity);
    };
    to.on(RoomEvent.DataReceived, on);
  }, timeoutMs);
  await from.localParticipant.publishData(new TextEncoder().encode(text));
  return got;
}

/**
 * A TCP relay in front of the server's HTTP/WebSocket port (media still goes straight to the server's UDP port):
 * kill() makes the server unreachable without it saying anything — connections reset, new ones refused.
 */
async function tcpRelay(target: string): Promise<{ url: string; kill(): Promise<void> }> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<net.Socket>();
  const relay = net.createServer((client) => {
    const upstream = net.connect(Number(port), hostname);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', drop).on('close', () => {
        sockets.delete(s);
        drop();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(relay.address() as net.AddressInfo).port}`;
  return {
    url,
    kill: async () => {
      const closed = new Promise<void>((resolve) => relay.close(() => resolve()));
      for (const s of sockets) s.resetAndDestroy();
      await closed;
    },
  };
}

/** The `ws` socket under the room's signal connection (Node). */
function signalSocket(room: Room): { _socket: { destroy(): void; pause(): void } } {
  return (room.engine.signal as unknown as { ws: { _socket: { destroy(): void; pause(): void } } }).ws;
}

describe('@kite/client reconnection in Node', () => {
  it('signal socket dropped: SignalReconnecting, then Reconnected as the same participant; video and data carry on', async () => {
    const room = 'resume';
    const alice = await join('alice', room);
    const bob = await join('bob', room);
    await alice.localParticipant.setCameraEnabled(true);
    const video = await videoFrom(bob, 'alice');
    expect((await framesArrive(video, 5)).width).toBe(640);
    const sid = alice.localParticipant.sid;
    const trackSid = alice.localParticipant.getTrackPublication(Track.Source.Camera)!.trackSid;
    const seen = record(alice);
    const states: ConnectionState[] = [];
    alice.on(RoomEvent.ConnectionStateChanged, (s) => states.push(s));
    const bobSaw: string[] = [];
    bob.on(RoomEvent.ParticipantDisconnected, (p) => bobSaw.push(`left:${p.identity}`));
    bob.on(RoomEvent.TrackUnpublished, (pub) => bobSaw.push(`unpublished:${pub.trackSid}`));

    const reconnected = waitEvent(alice, RoomEvent.Reconnected);
    const reconnecting = waitEvent(alice, RoomEvent.SignalReconnecting);
    signalSocket(alice)._socket.destroy(); // the network drops the TCP connection
    await reconnecting;
    expect(alice.state).toBe(ConnectionState.SignalReconnecting);
    // Data sent and metadata set while reconnecting are not lost.
    const during = dataArrives(alice, bob, 'sent while reconnecting');
    const metadata = metadataSeen(bob, 'alice', 'set while reconnecting');
    await alice.localParticipant.setMetadata('set while reconnecting');
    await reconnected;
    expect(await during).toBe('alice');
    expect(await metadata).toBe('set while reconnecting');

    expect(seen).toEqual(['signalReconnecting', 'reconnected']);
    expect(states).toEqual([ConnectionState.SignalReconnecting, ConnectionState.Connected]);
    expect(alice.state).toBe(ConnectionState.Connected);
    expect(alice.localParticipant.sid).toBe(sid);
    expect(alice.localParticipant.getTrackPublication(Track.Source.Camera)?.trackSid).toBe(trackSid);
    // Bob never saw Alice go: same participant, same track, and its frames keep coming.
    expect(bob.remoteParticipants.get('alice')?.sid).toBe(sid);
    const after = await framesArrive(await videoFrom(bob, 'alice'), 15);
    expect(after.width).toBe(640);
    expect(bobSaw).toEqual([]);
    expect(await dataArrives(alice, bob, 'alice → bob after resume')).toBe('alice');
    expect(await dataArrives(bob, alice, 'bob → alice after resume')).toBe('bob');
  });

  it('resume refused (the server removed the participant meanwhile): full reconnect with a new sid; tracks republished and received', async () => {
    const room = 'refused';
    const alice = await join('alice', room, { reconnectDelays: [600, 200, 400, 800, 1000] });
    const bob = await join('bob', room);
    await alice.localParticipant.setCameraEnabled(true);
    const before = await videoFrom(bob, 'alice');
    await framesArrive(before, 5);
    const sid = alice.localParticipant.sid;
    const oldTrack = alice.localParticipant.getTrackPublication(Track.Source.Camera)!.trackSid;
    const seen = record(alice);
    const svc = new RoomServiceClient(kite.server.url, KEY, SECRET);

    const reconnected = waitEvent(alice, RoomEvent.Reconnected, 15_000);
    signalSocket(alice)._socket.destroy();
    await waitEvent(alice, RoomEvent.SignalReconnecting);
    // While Alice waits for her first attempt, the server forgets her: her resume will be refused.
    await svc.removeParticipant(room, 'alice');
    await reconnected;

    expect(seen).toEqual(['signalReconnecting', 'reconnecting', 'reconnected']);
    expect(alice.state).toBe(ConnectionState.Connected);
    const newSid = alice.localParticipant.sid;
    expect(newSid).not.toBe(sid);
    expect(newSid).toMatch(/^PA_/);
    const pub = alice.localParticipant.getTrackPublication(Track.Source.Camera);
    expect(pub?.track).toBeDefined();
    expect(pub!.trackSid).not.toBe(oldTrack);
    await until('bob sees the new alice', () => bob.remoteParticipants.get('alice')?.sid === newSid);
    const after = await videoFrom(bob, 'alice', oldTrack);
    expect(after.sid).toBe(pub!.trackSid);
    expect((await framesArrive(after, 15)).width).toBe(640);
    expect(await dataArrives(alice, bob, 'alice → bob after rejoin')).toBe('alice');
    expect(await dataArrives(bob, alice, 'bob → alice after rejoin')).toBe('bob');
  });

  it('server leave DISCONNECT (removeParticipant): Disconnected with PARTICIPANT_REMOVED, no reconnect attempt', async () => {
    const room = 'removed';
    const alice = await join('alice', room);
    const bob = await join('bob', room);
    const seen = record(alice);
    const left = waitFor('bob sees alice leave', (resolve) => bob.on(RoomEvent.ParticipantDisconnected, (p) => p.identity === 'alice' && resolve(p)));
    const disconnected = waitEvent(alice, RoomEvent.Disconnected);
    await new RoomServiceClient(kite.server.url, KEY, SECRET).removeParticipant(room, 'alice');
    expect(await disconnected).toBe(DisconnectReason.PARTICIPANT_REMOVED);
    await left;
    await new Promise((r) => setTimeout(r, 500)); // nothing else happens
    expect(seen).toEqual(['disconnected:PARTICIPANT_REMOVED']);
    expect(alice.state).toBe(ConnectionState.Disconnected);
  });

  it('server unreachable: SignalReconnecting, then Disconnected (CONNECTION_TIMEOUT) once the attempts are spent', async () => {
    const own = await startKite();
    const relay = await tcpRelay(own.url);
    try {
      const alice = await join('alice', 'gone', { reconnectDelays: [0, 100, 200, 300] }, relay.url);
      const seen = record(alice);
      const start = Date.now();
      const disconnected = waitEvent(alice, RoomEvent.Disconnected, 20_000);
      // The server vanishes without a word: its port refuses connections, then the machine is gone (media too).
      await relay.kill();
      await own.close();
      const reason = await disconnected;
      expect(seen).toEqual(['signalReconnecting', 'disconnected:CONNECTION_TIMEOUT']);
      expect(reason).toBe(DisconnectReason.CONNECTION_TIMEOUT);
      expect(alice.state).toBe(ConnectionState.Disconnected);
      expect(Date.now() - start).toBeLessThan(5_000);
      await expect(alice.localParticipant.publishData(new Uint8Array([1]))).rejects.toThrow(/disconnected/);
    } finally {
      await relay.kill().catch(() => undefined);
      await own.close();
    }
  });

  it('signal stalls (no pongs within the ping timeout): the engine gives the socket up and resumes', async () => {
    const room = 'stall';
    const alice = await join('alice', room);
    const bob = await join('bob', room);
    const sid = alice.localParticipant.sid;
    const seen = record(alice);
    // The server asks for a ping every 5 s and a 15 s timeout; a shorter pair keeps the test quick.
    alice.engine.signal.startPing(0.2, 0.8);
    const reconnected = waitEvent(alice, RoomEvent.Reconnected);
    signalSocket(alice)._socket.pause(); // nothing more is read: the pongs never arrive
    await reconnected;
    expect(seen).toEqual(['signalReconnecting', 'reconnected']);
    expect(alice.localParticipant.sid).toBe(sid);
    expect(await dataArrives(bob, alice, 'bob → alice after the stall')).toBe('bob');
    expect(await dataArrives(alice, bob, 'alice → bob after the stall')).toBe('alice');
  });

  it('node failure (simulate): resume refused, full reconnect taking the session over; camera republished, data sent meanwhile delivered', async () => {
    const room = 'node-failure';
    const alice = await join('alice', room);
    const bob = await join('bob', room);
    await alice.localParticipant.setCameraEnabled(true);
    await framesArrive(await videoFrom(bob, 'alice'), 5);
    const oldTrack = alice.localParticipant.getTrackPublication(Track.Source.Camera)!.trackSid;
    const seen = record(alice, true);
    const bobSaw: string[] = [];
    bob.on(RoomEvent.ParticipantDisconnected, (p) => bobSaw.push(`left:${p.identity}`));

    const reconnected = waitEvent(alice, RoomEvent.Reconnected, 15_000);
    const reconnecting = waitEvent(alice, RoomEvent.SignalReconnecting);
    await alice.engine.simulate('node-failure');
    await reconnecting;
    const during = dataArrives(alice, bob, 'sent during the full reconnect', 15_000);
    await reconnected;
    // A new session: the others are unwound and announced again (as livekit-client's restart does).
    await until('bob announced again', () => seen.length >= 4);
    expect(seen).toEqual(['signalReconnecting', 'reconnecting', 'left:bob', 'reconnected', 'joined:bob']);
    expect(await during).toBe('alice');
    const pub = alice.localParticipant.getTrackPublication(Track.Source.Camera);
    expect(pub?.trackSid).toMatch(/^TR_/);
    expect(pub!.trackSid).not.toBe(oldTrack);
    const after = await videoFrom(bob, 'alice', oldTrack);
    expect(after.sid).toBe(pub!.trackSid);
    expect((await framesArrive(after, 15)).width).toBe(640);
    // Kite's takeover: the new session keeps the sid, so Bob never saw Alice leave.
    expect(bob.remoteParticipants.get('alice')?.sid).toBe(alice.localParticipant.sid);
    expect(bobSaw).toEqual([]);
  });

  it('server leave RECONNECT (simulate leave-full-reconnect): full reconnect, then the room works as before', async () => {
    const room = 'leave-reconnect';
    const alice = await join('alice', room);
    const bob = await join('bob', room);
    const seen = record(alice, true);
    const reconnected = waitEvent(alice, RoomEvent.Reconnected, 15_000);
    await alice.engine.simulate('leave-full-reconnect');
    await reconnected;
    await until('bob announced again', () => seen.length >= 4);
    expect(seen).toEqual(['reconnecting', 'left:bob', 'reconnected', 'joined:bob']);
    expect(alice.state).toBe(ConnectionState.Connected);
    expect([...alice.remoteParticipants.keys()]).toEqual(['bob']);
    expect(await dataArrives(alice, bob, 'alice → bob after the server leave')).toBe('alice');
    expect(await dataArrives(bob, alice, 'bob → alice after the server leave')).toBe('bob');
  });

  it('the new signal connection dies right after the resume response (simulate): the engine resumes again, and the session really works', async () => {
    const room = 'resume-dies';
    const alice = await join('alice', room);
    const bob = await join('bob', room);
    const sid = alice.localParticipant.sid;
    const seen = record(alice);
    const reconnected = waitEvent(alice, RoomEvent.Reconnected);
    await alice.engine.simulate('disconnect-signal-on-resume');
    await reconnected;
    expect(seen).toEqual(['signalReconnecting', 'reconnected']);
    expect(alice.localParticipant.sid).toBe(sid);
    // The signal connection the room ended with is a live one: requests reach the server.
    const metadata = metadataSeen(bob, 'alice', 'after the second resume');
    await alice.localParticipant.setMetadata('after the second resume');
    expect(await metadata).toBe('after the second resume');
    expect(await dataArrives(bob, alice, 'bob → alice after the second resume')).toBe('bob');
  });

  it('a camera enabled while reconnecting is published once the session is back, and bob receives it', async () => {
    const room = 'publish-during';
    // The first attempt waits a little: the publish starts while there is no signal connection at all.
    const alice = await join('alice', room, { reconnectDelays: [400, 200, 400, 800] });
    const bob = await join('bob', room);
    await alice.localParticipant.publishData(new TextEncoder().encode('publisher in use'));
    const sid = alice.localParticipant.sid;
    const reconnecting = waitEvent(alice, RoomEvent.SignalReconnecting);
    const reconnected = waitEvent(alice, RoomEvent.Reconnected);
    signalSocket(alice)._socket.destroy();
    await reconnecting;
    const published = alice.localParticipant.setCameraEnabled(true);
    await reconnected;
    const pub = await published;
    expect(pub?.trackSid).toMatch(/^TR_/);
    expect(alice.localParticipant.sid).toBe(sid);
    const video = await videoFrom(bob, 'alice');
    expect(video.sid).toBe(pub!.trackSid);
    expect((await framesArrive(video, 15)).width).toBe(640);
  });

  it('a resume that fails once the signal is back (simulate resume-reconnect) becomes a full reconnect, as in livekit-client', async () => {
    const room = 'resume-fails';
    const alice = await join('alice', room);
    const bob = await join('bob', room);
    const seen = record(alice, true);
    const reconnected = waitEvent(alice, RoomEvent.Reconnected, 15_000);
    await alice.engine.simulate('resume-reconnect');
    await reconnected;
    await until('bob announced again', () => seen.length >= 4);
    expect(seen).toEqual(['signalReconnecting', 'reconnecting', 'left:bob', 'reconnected', 'joined:bob']);
    expect(await dataArrives(bob, alice, 'bob → alice after the full reconnect')).toBe('bob');
  });
});
