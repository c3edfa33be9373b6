// LiveKit's two signalling protocols with the official livekit-client in Chromium: its default (single peer
// connection, /rtc/v1) and `singlePeerConnection: false` (two peer connections, /rtc). Each test checks which one ran,
// on both sides: the client engine's PC mode and Kite's session. Then a resume on v1 (signal-reconnect).
import { describe, expect, it } from 'vitest';
import { e2eEnv } from './harness/setup.js';
import type { Page } from 'playwright-core';
import { evalRoom, inbound, joinRoom, pageNow, waitEvent, waitInbound, type Participant } from './harness/lk.js';

const env = e2eEnv();

async function join(identity: string, room: string, roomOptions: object = {}): Promise<Participant> {
  const p = await joinRoom(env.browser, `${env.web.url}/lk.html`, env.kite.wsUrl, await env.kite.token(identity, { room }), identity, roomOptions);
  console.log(`[e2e/v1] ${identity} joined ${room} in ${Math.round(p.joinMs)} ms`);
  return p;
}

/** The client side of the path: the engine's PC mode, whether it has a subscriber PC, the URL path it signalled on. */
function clientPath(page: Page): Promise<{ mode: string; subscriberPc: boolean; m: number }> {
  return evalRoom(
    page,
    `const pm = room.engine.pcManager;
     const pc = pm.publisher.getPC?.() ?? pm.publisher._pc;
     return { mode: pm.mode, subscriberPc: !!pm.subscriber, m: (pc.localDescription?.sdp ?? '').split('\\n').filter((l) => l.startsWith('m=')).length };`,
  );
}

/** Kite's side: the session's signalling protocol and what its one / two connections carry. */
function serverPath(room: string, identity: string) {
  const p = env.kite.server.rooms.getRoom(room)!.getParticipant(identity)!;
  return { singlePeerConnection: p.singlePeerConnection, subscriberPrimary: p.subscriberPrimary, downTracks: p.subscriber.downTracks.length, sameTransport: p.subscriber.transport === p.publisher.transport };
}

async function cameraAndMicReachBob(room: string, roomOptions: object) {
  const alice = await join('alice', room, roomOptions);
  const bob = await join('bob', room, roomOptions);
  const t0 = Date.now();
  await evalRoom(alice.page, 'await room.localParticipant.setCameraEnabled(true); await room.localParticipant.setMicrophoneEnabled(true);');
  await waitEvent(bob.page, 'TrackSubscribed', { identity: 'alice', kind: 'video' }, 15_000);
  await waitEvent(bob.page, 'TrackSubscribed', { identity: 'alice', kind: 'audio' }, 15_000);
  const first = await waitInbound(bob.page, 'alice', 'video', (s) => s.framesDecoded > 0, 15_000);
  const firstMs = Date.now() - t0;
  const video = await waitInbound(bob.page, 'alice', 'video', (s) => s.framesDecoded > 30, 15_000);
  const audio = await waitInbound(bob.page, 'alice', 'audio', (s) => s.packetsReceived > 20, 15_000);
  const paths = { alice: await clientPath(alice.page), bob: await clientPath(bob.page) };
  const server = { alice: serverPath(room, 'alice'), bob: serverPath(room, 'bob') };
  console.log(
    `[e2e/v1] ${room}: first frame at bob ${firstMs} ms after publishing (${first.stats.frameWidth}x${first.stats.frameHeight}), ${video.stats.framesDecoded} frames, ` +
      `audio ${audio.stats.packetsReceived} packets; client ${JSON.stringify(paths)}; server ${JSON.stringify(server)}`,
  );
  expect(video.stats.framesDecoded).toBeGreaterThan(30);
  expect(audio.stats.bytesReceived).toBeGreaterThan(0);
  return { alice, bob, paths, server };
}

describe('signalling protocol', () => {
  it('default options (single PC, /rtc/v1): camera and microphone reach bob, on one peer connection each', async () => {
    const { alice, bob, paths, server } = await cameraAndMicReachBob('v1-default', {});
    for (const who of ['alice', 'bob'] as const) {
      expect(paths[who].mode).toBe('publisher-only');
      expect(paths[who].subscriberPc).toBe(false);
      expect(server[who].singlePeerConnection).toBe(true);
      expect(server[who].subscriberPrimary).toBe(false);
      expect(server[who].sameTransport).toBe(true);
    }
    // bob's one connection: data + 3 audio + 3 video recvonly m-lines from the start (alice's also carries her two tracks).
    expect(paths.bob.m).toBeGreaterThanOrEqual(7);
    expect(server.bob.downTracks).toBe(2);
    expect(env.kite.logs()).not.toMatch(/subscriber negotiation failed/);
    for (const p of [alice, bob]) await p.context.close();
  });

  it('singlePeerConnection: false (two PCs, /rtc): camera and microphone reach bob, Kite offers on the subscriber PC', async () => {
    const { alice, bob, paths, server } = await cameraAndMicReachBob('v0-forced', { singlePeerConnection: false });
    for (const who of ['alice', 'bob'] as const) {
      expect(paths[who].mode).toBe('subscriber-primary');
      expect(paths[who].subscriberPc).toBe(true);
      expect(server[who].singlePeerConnection).toBe(false);
      expect(server[who].sameTransport).toBe(false);
    }
    for (const p of [alice, bob]) await p.context.close();
  });

  it('a v1 and a v0 client in one room see and hear each other', async () => {
    const room = 'mixed';
    const alice = await join('alice', room, {});
    const carol = await join('carol', room, { singlePeerConnection: false });
    await evalRoom(alice.page, 'await room.localParticipant.setCameraEnabled(true);');
    await evalRoom(carol.page, 'await room.localParticipant.setCameraEnabled(true);');
    const atCarol = await waitInbound(carol.page, 'alice', 'video', (s) => s.framesDecoded > 10, 15_000);
    const atAlice = await waitInbound(alice.page, 'carol', 'video', (s) => s.framesDecoded > 10, 15_000);
    console.log(`[e2e/v1] mixed: carol (v0) decoded ${atCarol.stats.framesDecoded} of alice's frames, alice (v1) ${atAlice.stats.framesDecoded} of carol's`);
    expect(serverPath(room, 'alice').singlePeerConnection).toBe(true);
    expect(serverPath(room, 'carol').singlePeerConnection).toBe(false);
    for (const p of [alice, carol]) await p.context.close();
  });
});

describe('resume on v1', () => {
  for (const who of ['bob', 'alice'] as const) {
    it(`signal-reconnect on the ${who === 'bob' ? 'subscriber' : 'publisher'} (v1): Reconnected, frames keep coming, nobody sees a leave`, async () => {
      const room = `v1-resume-${who}`;
      const alice = await join('alice', room);
      const bob = await join('bob', room);
      await evalRoom(alice.page, 'await room.localParticipant.setCameraEnabled(true);');
      await waitInbound(bob.page, 'alice', 'video', (s) => s.framesDecoded > 10, 15_000);
      const subject = who === 'alice' ? alice : bob;
      const sidBefore = env.kite.server.rooms.getRoom(room)!.getParticipant(who)!.sid;
      const since = await pageNow(subject.page);
      const bobSince = await pageNow(bob.page);
      const t0 = Date.now();
      await evalRoom(subject.page, `await room.simulateScenario('signal-reconnect');`);
      await waitEvent(subject.page, 'Reconnected', {}, 20_000, since);
      const reconnectedMs = Date.now() - t0;
      const start = (await inbound(bob.page, 'alice', 'video'))?.framesDecoded ?? 0;
      const flow = await waitInbound(bob.page, 'alice', 'video', (s) => s.framesDecoded > start + 30, 10_000);
      const events: { name: string; identity?: string }[] = await evalRoom(subject.page, `return window.t.events.filter((e) => e.at >= ${since}).map((e) => ({ name: e.name, identity: e.identity }));`);
      const bobEvents: { name: string; identity?: string }[] = await evalRoom(bob.page, `return window.t.events.filter((e) => e.at >= ${bobSince}).map((e) => ({ name: e.name, identity: e.identity }));`);
      console.log(
        `[e2e/v1] signal-reconnect on ${who}: Reconnected after ${reconnectedMs} ms (${events.map((e) => e.name).filter((n) => /Reconnect|Disconnect/.test(n)).join(' → ')}); 30 more frames at bob within ${flow.ms} ms`,
      );
      expect(events.filter((e) => e.name === 'Disconnected')).toEqual([]);
      expect(bobEvents.filter((e) => e.name === 'ParticipantDisconnected')).toEqual([]);
      const after = serverPath(room, who);
      expect(after.singlePeerConnection).toBe(true);
      expect(env.kite.server.rooms.getRoom(room)!.getParticipant(who)!.sid).toBe(sidBefore); // resumed, not rejoined
      expect((await clientPath(subject.page)).mode).toBe('publisher-only');
      for (const p of [alice, bob]) await p.context.close();
    });
  }
});
