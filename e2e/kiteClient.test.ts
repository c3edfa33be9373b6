// Kite's own @kite/client next to the official livekit-client, in one room through Kite, in Debian's Chromium: both
// see, hear and message each other, simulcast quality changes work both ways, speaker events fire on both sides.
// And a Node participant (@kite/client on werift, in this test process) receives a Chromium participant's camera.
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { Room, RoomEvent, Track, type RemoteVideoTrack } from '@kite/client';
import { e2eEnv } from './harness/setup.js';
import { PUBLISH_TONE, evalRoom, joinRoom, waitEvent, waitInbound, type Participant } from './harness/lk.js';

const env = e2eEnv();

type Sdk = 'kite' | 'livekit';

async function join(sdk: Sdk, identity: string, room: string, roomOptions: object = {}): Promise<Participant> {
  const page = sdk === 'kite' ? `${env.web.url}/lk.html?sdk=kite` : `${env.web.url}/lk.html`;
  const p = await joinRoom(env.browser, page, env.kite.wsUrl, await env.kite.token(identity, { room }), identity, roomOptions);
  expect(await p.page.evaluate(() => (window as never as { t: { SDK: string } }).t.SDK)).toBe(sdk);
  return p;
}

async function leave(...ps: Participant[]): Promise<void> {
  await Promise.allSettled(ps.map((p) => p.context.close()));
}

/** Camera at 1280×720 with simulcast (320×180, 640×360, 1280×720) and the microphone. */
async function publishCameraAndMic(p: Participant): Promise<void> {
  await evalRoom(p.page, 'await room.localParticipant.setCameraEnabled(true, { resolution: LK.VideoPresets.h720.resolution }, { simulcast: true }); await room.localParticipant.setMicrophoneEnabled(true);');
}

/** Camera (simulcast 720p) plus a steady 440 Hz tone as the microphone: a level speaker detection can rely on. */
async function publishCameraAndTone(p: Participant): Promise<void> {
  await evalRoom(
    p.page,
    `await room.localParticipant.setCameraEnabled(true, { resolution: LK.VideoPresets.h720.resolution }, { simulcast: true }); ${PUBLISH_TONE}`,
  );
}

/** Waits until the page's own camera encoding `rid` is (in)active: dynacast at the publisher. */
async function waitLayerActive(page: Page, rid: string, active: boolean): Promise<void> {
  await page.waitForFunction(
    async ([r, a]) => {
      const out = await (window as never as { t: { outbound(): Promise<Record<string, { active: boolean }> | undefined> } }).t.outbound();
      return out?.[r as string]?.active === a;
    },
    [rid, active] as const,
    { timeout: 10_000, polling: 250 },
  );
}

function onRemoteCamera<T>(page: Page, identity: string, body: string): Promise<T> {
  return evalRoom<T>(page, `const pub = [...room.remoteParticipants.get('${identity}').trackPublications.values()].find((p) => p.source === 'camera'); ${body}`);
}

describe('@kite/client and livekit-client in one room', () => {
  it('see, hear and message each other both ways; speaker events on both sides', async () => {
    const room = 'mix-1';
    const kiteP = await join('kite', 'kat', room);
    const lkP = await join('livekit', 'leo', room);
    await waitEvent(kiteP.page, 'ParticipantConnected', { identity: 'leo' });
    await Promise.all([publishCameraAndTone(kiteP), publishCameraAndTone(lkP)]);

    for (const [viewer, other] of [
      [kiteP, 'leo'],
      [lkP, 'kat'],
    ] as const) {
      await waitEvent(viewer.page, 'TrackSubscribed', { identity: other, kind: 'video' });
      await waitEvent(viewer.page, 'TrackSubscribed', { identity: other, kind: 'audio' });
      const video = await waitInbound(viewer.page, other, 'video', (s) => s.framesDecoded > 30 && s.frameWidth > 0, 20_000);
      const audio = await waitInbound(viewer.page, other, 'audio', (s) => s.packetsReceived > 100 && (s.audioLevel ?? 0) > 0.1, 20_000);
      console.log(`[e2e] ${viewer.identity} sees ${other}: ${video.stats.framesDecoded} frames ${video.stats.frameWidth}x${video.stats.frameHeight} (${video.ms} ms); hears ${audio.stats.packetsReceived} audio packets, level ${JSON.stringify((audio.stats as { audioLevel?: number }).audioLevel)}`);
      expect(video.stats.framesDecoded).toBeGreaterThan(30);
      expect(audio.stats.packetsReceived).toBeGreaterThan(100);
    }

    // Speaker detection: the tones make each side an active speaker at the other.
    const kiteHearsLeo = await kiteP.page.waitForFunction(() => (window as never as { t: { events: { name: string; speakers?: string[] }[] } }).t.events.some((e) => e.name === 'ActiveSpeakersChanged' && e.speakers?.includes('leo')), undefined, { timeout: 20_000 });
    const leoHearsKat = await lkP.page.waitForFunction(() => (window as never as { t: { events: { name: string; speakers?: string[] }[] } }).t.events.some((e) => e.name === 'ActiveSpeakersChanged' && e.speakers?.includes('kat')), undefined, { timeout: 20_000 });
    expect(await kiteHearsLeo.jsonValue()).toBe(true);
    expect(await leoHearsKat.jsonValue()).toBe(true);
    expect(await evalRoom<boolean>(lkP.page, `return room.remoteParticipants.get('kat').lastSpokeAt !== undefined;`)).toBe(true);
    expect(await evalRoom<boolean>(kiteP.page, `return room.remoteParticipants.get('leo').isSpeaking && room.activeSpeakers.some((p) => p.identity === 'leo');`)).toBe(true);

    // Data both ways, with topic and kind.
    await evalRoom(kiteP.page, `await room.localParticipant.publishData(new TextEncoder().encode('hi leo'), { reliable: true, topic: 'chat' });`);
    await evalRoom(lkP.page, `await room.localParticipant.publishData(new TextEncoder().encode('hi kat'), { reliable: false, topic: 'fast' });`);
    const atLeo = await waitEvent(lkP.page, 'DataReceived', { identity: 'kat', text: 'hi leo' });
    const atKat = await waitEvent(kiteP.page, 'DataReceived', { identity: 'leo', text: 'hi kat' });
    expect(atLeo.topic).toBe('chat');
    expect(atKat.topic).toBe('fast');
    expect(atKat.kind).toBe(1); // LOSSY

    // RPC both ways.
    await evalRoom(lkP.page, `room.registerRpcMethod('greet', async (d) => 'hello ' + d.callerIdentity + ' from livekit-client');`);
    await evalRoom(kiteP.page, `room.registerRpcMethod('greet', async (d) => 'hello ' + d.callerIdentity + ' from kite');`);
    expect(await evalRoom(kiteP.page, `return await room.localParticipant.performRpc({ destinationIdentity: 'leo', method: 'greet', payload: '' });`)).toBe('hello kat from livekit-client');
    expect(await evalRoom(lkP.page, `return await room.localParticipant.performRpc({ destinationIdentity: 'kat', method: 'greet', payload: '' });`)).toBe('hello leo from kite');

    // Text streams both ways (livekit-client's chat in its components uses topic lk.chat).
    const text = 'ünïcödé ✓ '.repeat(2000);
    for (const [from, to] of [
      [kiteP, lkP],
      [lkP, kiteP],
    ] as const) {
      await evalRoom(to.page, `window.gotText = undefined; room.registerTextStreamHandler('lk.chat', async (reader, info) => { window.gotText = info.identity + ':' + (await reader.readAll()); });`);
      await evalRoom(from.page, `await room.localParticipant.sendText(${JSON.stringify(text)}, { topic: 'lk.chat' });`);
      const got = await to.page.waitForFunction(() => (window as never as { gotText?: string }).gotText, undefined, { timeout: 10_000 });
      expect(await got.jsonValue()).toBe(`${from.identity}:${text}`);
    }

    // Mute crosses too, and a muted speaker stops being one.
    await evalRoom(kiteP.page, 'await room.localParticipant.setMicrophoneEnabled(false);');
    await waitEvent(lkP.page, 'TrackMuted', { identity: 'kat' });
    await lkP.page.waitForFunction(() => !(window as never as { t: { room: { activeSpeakers: { identity: string }[] } } }).t.room.activeSpeakers.some((p) => p.identity === 'kat'), undefined, { timeout: 10_000 });

    // Screen share from @kite/client: published, decoded at leo, and gone when stopped.
    await evalRoom(kiteP.page, 'await room.localParticipant.setScreenShareEnabled(true);');
    await waitEvent(lkP.page, 'TrackSubscribed', { identity: 'kat', kind: 'video', source: 'screen_share' });
    await waitInbound(lkP.page, 'kat', 'video', (s) => s.framesDecoded > 5, 15_000, 'screen_share');
    await evalRoom(kiteP.page, 'await room.localParticipant.setScreenShareEnabled(false);');
    await waitEvent(lkP.page, 'TrackUnpublished', { identity: 'kat', kind: 'video' });
    await leave(kiteP, lkP);
  });

  it('simulcast quality changes both ways: LOW gives the small layer, HIGH the full one', async () => {
    const room = 'mix-2';
    const kiteP = await join('kite', 'kat', room, { dynacast: true });
    const lkP = await join('livekit', 'leo', room);
    await Promise.all([publishCameraAndMic(kiteP), publishCameraAndMic(lkP)]);
    // kat's outbound: three layers are being encoded (q, h, f), as livekit-client would publish them.
    const outbound = () => kiteP.page.evaluate(() => (window as never as { t: { outbound(): Promise<Record<string, { framesEncoded?: number; frameWidth?: number }> | undefined> } }).t.outbound());
    const start = Date.now();
    let layers = await outbound();
    while (!['q', 'h', 'f'].every((rid) => (layers?.[rid]?.framesEncoded ?? 0) > 0) && Date.now() - start < 20_000) {
      await new Promise((r) => setTimeout(r, 250));
      layers = await outbound();
    }
    console.log(`[e2e] kat publishes ${JSON.stringify(layers)}`);
    expect(['q', 'h', 'f'].map((rid) => layers?.[rid]?.frameWidth)).toEqual([320, 640, 1280]);

    for (const [viewer, other] of [
      [kiteP, 'leo'],
      [lkP, 'kat'],
    ] as const) {
      await waitEvent(viewer.page, 'TrackSubscribed', { identity: other, kind: 'video' });
      const high = await waitInbound(viewer.page, other, 'video', (s) => s.frameWidth >= 960 && s.framesDecoded > 30, 20_000);
      await onRemoteCamera(viewer.page, other, 'pub.setVideoQuality(LK.VideoQuality.LOW);');
      const low = await waitInbound(viewer.page, other, 'video', (s) => s.frameWidth > 0 && s.frameWidth <= 400, 10_000);
      if (other === 'kat') await waitLayerActive(kiteP.page, 'f', false);
      await onRemoteCamera(viewer.page, other, 'pub.setVideoQuality(LK.VideoQuality.HIGH);');
      const back = await waitInbound(viewer.page, other, 'video', (s) => s.frameWidth >= 960, 10_000);
      if (other === 'kat') {
        // Dynacast at kat (@kite/client): with leo on LOW and back on HIGH, her f layer went off and came back.
        await waitLayerActive(kiteP.page, 'f', true);
      }
      console.log(`[e2e] ${viewer.identity} ← ${other}: HIGH ${high.stats.frameWidth}px, LOW ${low.stats.frameWidth}px in ${low.ms} ms, HIGH again ${back.stats.frameWidth}px in ${back.ms} ms`);
      expect(low.stats.frameWidth).toBeLessThanOrEqual(400);
    }
    await leave(kiteP, lkP);
  });

  it('adaptiveStream follows the element (small → low layer, hidden → paused) and dynacast stops the unused layers', async () => {
    const room = 'mix-4';
    const lkP = await join('livekit', 'leo', room, { dynacast: true });
    const kiteP = await join('kite', 'kat', room, { adaptiveStream: true });
    await publishCameraAndMic(lkP);
    await waitEvent(kiteP.page, 'TrackSubscribed', { identity: 'leo', kind: 'video' });
    // A 1280 px wide element asks for the high layer (an unstyled one would stay at its own small size).
    await kiteP.page.evaluate(() => {
      for (const el of document.querySelectorAll<HTMLVideoElement>('video[data-identity="leo"]')) el.style.width = '1280px';
    });
    const big = await waitInbound(kiteP.page, 'leo', 'video', (s) => s.frameWidth >= 960 && s.framesDecoded > 10, 20_000);
    await kiteP.page.evaluate(() => {
      for (const el of document.querySelectorAll<HTMLVideoElement>('video[data-identity="leo"]')) el.style.width = '160px';
    });
    const small = await waitInbound(kiteP.page, 'leo', 'video', (s) => s.frameWidth > 0 && s.frameWidth <= 400, 10_000);
    // Dynacast at the publisher: nobody needs the high layers any more, so leo's browser stops encoding them.
    await waitLayerActive(lkP.page, 'f', false);
    console.log(`[e2e] adaptive: ${big.stats.frameWidth}px in a 1280 px element, ${small.stats.frameWidth}px at 160 px (${small.ms} ms); leo's f layer then off`);
    // Hidden element: the subscription is disabled and the bytes stop.
    await kiteP.page.evaluate(() => {
      for (const el of document.querySelectorAll<HTMLVideoElement>('video[data-identity="leo"]')) el.style.display = 'none';
    });
    await new Promise((r) => setTimeout(r, 1500));
    const before = await waitInbound(kiteP.page, 'leo', 'video', () => true, 5_000);
    await new Promise((r) => setTimeout(r, 1500));
    const after = await waitInbound(kiteP.page, 'leo', 'video', () => true, 5_000);
    console.log(`[e2e] hidden: ${after.stats.bytesReceived - before.stats.bytesReceived} bytes in 1.5 s`);
    expect(after.stats.bytesReceived - before.stats.bytesReceived).toBeLessThan(5_000);
    // Shown again: video resumes.
    await kiteP.page.evaluate(() => {
      for (const el of document.querySelectorAll<HTMLVideoElement>('video[data-identity="leo"]')) el.style.display = '';
    });
    await waitInbound(kiteP.page, 'leo', 'video', (s) => s.framesDecoded > after.stats.framesDecoded + 10, 10_000);
    await leave(kiteP, lkP);
  });

  it('a Node participant receives a Chromium camera: RTP counted, keyframes and complete frames seen', async () => {
    const room = 'mix-3';
    const lkP = await join('livekit', 'leo', room);
    await publishCameraAndMic(lkP);
    const bot = new Room();
    await bot.connect(env.kite.wsUrl, await env.kite.token('bot', { room }));
    try {
      const track = await new Promise<RemoteVideoTrack>((resolve) => {
        const have = [...(bot.remoteParticipants.get('leo')?.trackPublications.values() ?? [])].find((p) => p.kind === Track.Kind.Video && p.track);
        if (have) resolve(have.track as RemoteVideoTrack);
        bot.on(RoomEvent.TrackSubscribed, (t) => t.kind === Track.Kind.Video && resolve(t as RemoteVideoTrack));
      });
      let packets = 0;
      const rtp = track.rtpPackets();
      const counting = (async () => {
        for await (const _ of rtp) packets++;
      })();
      let keyframes = 0;
      let complete = 0;
      let width = 0;
      const start = Date.now();
      for await (const f of track.videoFrames()) {
        if (f.keyframe && f.complete) {
          keyframes++;
          width = f.width ?? width;
        }
        if (f.complete) complete++;
        if ((keyframes >= 1 && complete >= 60) || Date.now() - start > 20_000) break;
      }
      rtp.return?.();
      await counting;
      console.log(`[e2e] node bot got ${packets} RTP packets, ${complete} complete frames, ${keyframes} keyframes, ${width}px wide`);
      expect(keyframes).toBeGreaterThanOrEqual(1);
      expect(complete).toBeGreaterThanOrEqual(60);
      expect(packets).toBeGreaterThan(60);
      expect(width).toBeGreaterThan(0);
    } finally {
      await bot.disconnect();
      await leave(lkP);
    }
  });
});
