// Simulcast, selective subscription, quality controls, dynacast, speaker detection and connection quality with the
// official livekit-client in Debian's Chromium: what a subscriber sees when it asks for less (or nothing), and what
// the publisher stops encoding when nobody wants it.
import { describe, expect, it } from 'vitest';
import { e2eEnv } from './harness/setup.js';
import type { Page } from 'playwright-core';
import { RoomServiceClient } from 'livekit-server-sdk';
import { API_KEY, API_SECRET } from './harness/kite.js';
import { PUBLISH_TONE, evalRoom, inbound, joinRoom, pageNow, waitEvent, waitInbound, type Inbound, type Participant } from './harness/lk.js';

const env = e2eEnv();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function join(identity: string, room: string, roomOptions: object = {}, connectOptions: object = {}): Promise<Participant> {
  return joinRoom(env.browser, `${env.web.url}/lk.html`, env.kite.wsUrl, await env.kite.token(identity, { room }), identity, roomOptions, connectOptions);
}

/** Publishes a 1280×720 camera with the client's default simulcast layers (320×180, 640×360, 1280×720). */
async function publishCamera720(p: Participant): Promise<void> {
  await evalRoom(p.page, 'await room.localParticipant.setCameraEnabled(true, { resolution: LK.VideoPresets.h720.resolution }, { simulcast: true });');
}

/** Runs `body` with `pub` = the subscriber's publication of `identity`'s camera. */
function onRemoteCamera<T>(page: Page, identity: string, body: string): Promise<T> {
  return evalRoom<T>(page, `const pub = [...room.remoteParticipants.get('${identity}').trackPublications.values()].find((p) => p.source === 'camera'); ${body}`);
}

function cameraSid(p: Participant): Promise<string> {
  return evalRoom(p.page, `for (const pub of room.localParticipant.trackPublications.values()) if (pub.source === 'camera') return pub.trackSid;`);
}

type Outbound = Record<string, { active: boolean; framesEncoded?: number; bytesSent?: number; frameWidth?: number }>;
function outbound(page: Page): Promise<Outbound | undefined> {
  return page.evaluate(() => (window as never as { t: { outbound(): Promise<Outbound> } }).t.outbound());
}

async function waitFor<T>(what: string, fn: () => Promise<T>, pred: (v: T) => boolean, timeoutMs: number): Promise<{ value: T; ms: number }> {
  const start = Date.now();
  let last: T | undefined;
  while (Date.now() - start < timeoutMs) {
    last = await fn();
    if (pred(last)) return { value: last, ms: Date.now() - start };
    await sleep(100);
  }
  throw new Error(`${what}: not reached within ${timeoutMs} ms; last ${JSON.stringify(last)}`);
}

const freezes = (s: Inbound) => ({ count: s.freezeCount, seconds: s.totalFreezesDuration });

describe('simulcast layer selection', () => {
  it('bob gets ≥ 640 px by default, ≤ 400 px on LOW within 10 s without a long freeze, and back on HIGH; setEnabled(false) stops the bytes', async () => {
    const room = 'sim-1';
    const alice = await join('alice', room);
    const bob = await join('bob', room);
    await publishCamera720(alice);
    await waitEvent(bob.page, 'TrackSubscribed', { identity: 'alice', kind: 'video' });
    const high = await waitInbound(bob.page, 'alice', 'video', (s) => s.frameWidth >= 640 && s.framesDecoded > 30, 20_000);
    console.log(`[e2e] default layer at bob: ${high.stats.frameWidth}x${high.stats.frameHeight}`);
    expect(high.stats.frameWidth).toBeGreaterThanOrEqual(640);

    // LOW: the forwarder switches at the next keyframe of layer q (it asks alice for one).
    const beforeLow = freezes(high.stats);
    await onRemoteCamera(bob.page, 'alice', 'pub.setVideoQuality(LK.VideoQuality.LOW);');
    const low = await waitInbound(bob.page, 'alice', 'video', (s) => s.frameWidth > 0 && s.frameWidth <= 400, 10_000);
    await sleep(1500); // frames after the switch: a freeze around it would show up now
    const afterLow = (await inbound(bob.page, 'alice', 'video'))!;
    const lowFreeze = afterLow.totalFreezesDuration - beforeLow.seconds;
    console.log(`[e2e] HIGH→LOW: ${low.stats.frameWidth}x${low.stats.frameHeight} after ${low.ms} ms (polled every 200 ms); freezes ${afterLow.freezeCount - beforeLow.count}, ${Math.round(lowFreeze * 1000)} ms`);
    expect(lowFreeze).toBeLessThan(0.5);

    const beforeHigh = freezes(afterLow);
    await onRemoteCamera(bob.page, 'alice', 'pub.setVideoQuality(LK.VideoQuality.HIGH);');
    const back = await waitInbound(bob.page, 'alice', 'video', (s) => s.frameWidth >= 640, 10_000);
    await sleep(1500);
    const afterHigh = (await inbound(bob.page, 'alice', 'video'))!;
    const highFreeze = afterHigh.totalFreezesDuration - beforeHigh.seconds;
    console.log(`[e2e] LOW→HIGH: ${back.stats.frameWidth}x${back.stats.frameHeight} after ${back.ms} ms; freezes ${afterHigh.freezeCount - beforeHigh.count}, ${Math.round(highFreeze * 1000)} ms`);
    expect(highFreeze).toBeLessThan(0.5);

    // setEnabled(false): nothing more arrives for the track after at most a second.
    await onRemoteCamera(bob.page, 'alice', 'pub.setEnabled(false);');
    await sleep(1000);
    const stopped = (await inbound(bob.page, 'alice', 'video'))!;
    await sleep(2000);
    const still = (await inbound(bob.page, 'alice', 'video'))!;
    console.log(`[e2e] disabled: ${still.bytesReceived - stopped.bytesReceived} bytes in the 2 s after the first second`);
    expect(still.bytesReceived - stopped.bytesReceived).toBe(0);

    // setEnabled(true): frames again within 2 s.
    const t0 = Date.now();
    await onRemoteCamera(bob.page, 'alice', 'pub.setEnabled(true);');
    const resumed = await waitInbound(bob.page, 'alice', 'video', (s) => s.framesDecoded > still.framesDecoded, 2_000);
    console.log(`[e2e] re-enabled: frames again after ${Date.now() - t0} ms`);
    expect(resumed.stats.framesDecoded).toBeGreaterThan(still.framesDecoded);

    // Connection quality on a clean loopback: excellent, for bob himself and for alice.
    await waitEvent(bob.page, 'ConnectionQualityChanged', { identity: 'alice', quality: 'excellent' }, 12_000);
    await waitEvent(bob.page, 'ConnectionQualityChanged', { identity: 'bob', quality: 'excellent' }, 12_000);
    for (const p of [alice, bob]) await p.context.close();
  });

  it('setVideoDimensions, adaptive stream (the video element size) and setVideoFPS pick what bob receives', async () => {
    const room = 'sim-5';
    const alice = await join('alice', room);
    const bob = await join('bob', room);
    const carol = await join('carol', room, { adaptiveStream: true });
    await publishCamera720(alice);
    await waitInbound(bob.page, 'alice', 'video', (s) => s.frameWidth >= 640 && s.framesDecoded > 30, 20_000);

    await onRemoteCamera(bob.page, 'alice', 'pub.setVideoDimensions({ width: 320, height: 180 });');
    const small = await waitInbound(bob.page, 'alice', 'video', (s) => s.frameWidth > 0 && s.frameWidth <= 400, 10_000);
    await onRemoteCamera(bob.page, 'alice', 'pub.setVideoDimensions({ width: 1280, height: 720 });');
    const large = await waitInbound(bob.page, 'alice', 'video', (s) => s.frameWidth >= 640, 10_000);
    console.log(`[e2e] setVideoDimensions 320x180 → ${small.stats.frameWidth} px in ${small.ms} ms; 1280x720 → ${large.stats.frameWidth} px in ${large.ms} ms`);

    // Frame rate: a cap drops temporal layers (the publisher's encoder sends three).
    await sleep(2000);
    const fullFps = (await inbound(bob.page, 'alice', 'video'))!.framesPerSecond;
    await onRemoteCamera(bob.page, 'alice', 'pub.setVideoFPS(8);');
    const capped = await waitInbound(bob.page, 'alice', 'video', (s) => s.framesPerSecond > 0 && s.framesPerSecond <= fullFps * 0.6, 10_000);
    await sleep(2000);
    const steady = (await inbound(bob.page, 'alice', 'video'))!;
    console.log(`[e2e] setVideoFPS(8): ${fullFps} → ${capped.stats.framesPerSecond} fps after ${capped.ms} ms, ${steady.framesPerSecond} fps 2 s later`);
    expect(steady.framesPerSecond).toBeLessThanOrEqual(fullFps * 0.6);
    expect(steady.framesPerSecond).toBeGreaterThan(0);
    await onRemoteCamera(bob.page, 'alice', 'pub.setVideoFPS(30);');
    await waitInbound(bob.page, 'alice', 'video', (s) => s.framesPerSecond >= fullFps * 0.8, 10_000);

    // Adaptive stream: carol's element size decides; a small element gets the low layer, a large one the top.
    await waitEvent(carol.page, 'TrackSubscribed', { identity: 'alice', kind: 'video' });
    const resize = (w: number, h: number) => carol.page.evaluate(([w, h]) => document.querySelectorAll('video').forEach((v) => ((v as HTMLVideoElement).style.width = `${w}px`, (v as HTMLVideoElement).style.height = `${h}px`)), [w, h]);
    await resize(160, 90);
    const tiny = await waitInbound(carol.page, 'alice', 'video', (s) => s.frameWidth > 0 && s.frameWidth <= 400 && s.framesDecoded > 5, 15_000);
    await resize(1280, 720);
    const big = await waitInbound(carol.page, 'alice', 'video', (s) => s.frameWidth >= 640, 15_000);
    console.log(`[e2e] adaptive stream: 160x90 element → ${tiny.stats.frameWidth} px; 1280x720 element → ${big.stats.frameWidth} px after ${big.ms} ms`);
    for (const p of [alice, bob, carol]) await p.context.close();
  });

  it("with dynacast, alice's top encoding goes inactive when only LOW is wanted and comes back on HIGH", async () => {
    const room = 'sim-2';
    const alice = await join('alice', room, { dynacast: true });
    const bob = await join('bob', room);
    await publishCamera720(alice);
    await waitEvent(bob.page, 'TrackSubscribed', { identity: 'alice', kind: 'video' });
    await waitInbound(bob.page, 'alice', 'video', (s) => s.framesDecoded > 10, 20_000);
    const initial = await waitFor('all encodings active', () => outbound(alice.page), (o) => !!o?.f?.active && !!o?.q?.active, 10_000);
    console.log(`[e2e] alice encodings: ${JSON.stringify(initial.value)}`);

    await onRemoteCamera(bob.page, 'alice', 'pub.setVideoQuality(LK.VideoQuality.LOW);');
    // Downgrades wait for Kite's grace period (5 s) so a subscriber flipping back does not restart encoders.
    const off = await waitFor('f inactive', () => outbound(alice.page), (o) => o?.f?.active === false && o?.h?.active === false && o?.q?.active === true, 15_000);
    console.log(`[e2e] dynacast: h and f off ${off.ms} ms after bob asked for LOW`);
    // bob keeps receiving the low layer meanwhile
    const lowFrames = (await inbound(bob.page, 'alice', 'video'))!.framesDecoded;
    await waitInbound(bob.page, 'alice', 'video', (s) => s.framesDecoded > lowFrames + 10 && s.frameWidth <= 400, 5_000);

    const t0 = Date.now();
    await onRemoteCamera(bob.page, 'alice', 'pub.setVideoQuality(LK.VideoQuality.HIGH);');
    const on = await waitFor('f active again', () => outbound(alice.page), (o) => o?.f?.active === true, 5_000);
    const hi = await waitInbound(bob.page, 'alice', 'video', (s) => s.frameWidth >= 640, 10_000);
    console.log(`[e2e] dynacast: f on ${on.ms} ms after bob asked for HIGH; bob at ${hi.stats.frameWidth} px after ${Date.now() - t0} ms`);
    for (const p of [alice, bob]) await p.context.close();
  });
});

describe('scalable video (SVC, one stream with spatial and temporal layers)', () => {
  for (const codec of ['vp9', 'av1']) {
    it(`${codec} L3T3_KEY: bob gets the top spatial layer by default, the lowest on LOW, and back on HIGH`, async () => {
      const room = `svc-${codec}`;
      const alice = await join('alice', room);
      const bob = await join('bob', room);
      await evalRoom(
        alice.page,
        `await room.localParticipant.setCameraEnabled(true, { resolution: LK.VideoPresets.h720.resolution }, { videoCodec: '${codec}', scalabilityMode: 'L3T3_KEY' });`,
      );
      await waitEvent(bob.page, 'TrackSubscribed', { identity: 'alice', kind: 'video' });
      const high = await waitInbound(bob.page, 'alice', 'video', (s) => s.frameWidth >= 640 && s.framesDecoded > 30, 25_000);
      console.log(`[e2e] ${codec} SVC default at bob: ${high.stats.frameWidth}x${high.stats.frameHeight} (${high.stats.mimeType})`);
      // The publisher really sends the codec it asked for (Kite's answer puts it first).
      expect(high.stats.mimeType.toLowerCase()).toBe(`video/${codec}`);

      await onRemoteCamera(bob.page, 'alice', 'pub.setVideoQuality(LK.VideoQuality.LOW);');
      const low = await waitInbound(bob.page, 'alice', 'video', (s) => s.frameWidth > 0 && s.frameWidth <= 400, 10_000);
      const lowBytes = low.stats.bytesReceived;
      await sleep(2000);
      const afterLow = (await inbound(bob.page, 'alice', 'video'))!;
      console.log(`[e2e] ${codec} SVC LOW: ${low.stats.frameWidth}x${low.stats.frameHeight} after ${low.ms} ms; ${afterLow.framesDecoded - low.stats.framesDecoded} frames and ${Math.round(((afterLow.bytesReceived - lowBytes) * 8) / 2000)} kbit/s in the next 2 s; freezes ${afterLow.freezeCount - high.stats.freezeCount}`);
      expect(afterLow.framesDecoded - low.stats.framesDecoded).toBeGreaterThan(20);
      expect(afterLow.frameWidth).toBeLessThanOrEqual(400);

      await onRemoteCamera(bob.page, 'alice', 'pub.setVideoQuality(LK.VideoQuality.HIGH);');
      const back = await waitInbound(bob.page, 'alice', 'video', (s) => s.frameWidth >= 640, 10_000);
      console.log(`[e2e] ${codec} SVC back to HIGH: ${back.stats.frameWidth}x${back.stats.frameHeight} after ${back.ms} ms`);
      for (const p of [alice, bob]) await p.context.close();
    });
  }
});

describe('selective subscription', () => {
  it('carol (autoSubscribe: false) receives nothing until she subscribes; the server can unsubscribe her; 20 cycles keep her SDP bounded', async () => {
    const room = 'sim-3';
    const alice = await join('alice', room);
    const carol = await join('carol', room, {}, { autoSubscribe: false });
    const since = await pageNow(carol.page);
    await evalRoom(alice.page, 'await room.localParticipant.setCameraEnabled(true); await room.localParticipant.setMicrophoneEnabled(true);');
    await waitEvent(carol.page, 'TrackPublished', { identity: 'alice', kind: 'video' }, 15_000, since);
    await waitEvent(carol.page, 'TrackPublished', { identity: 'alice', kind: 'audio' }, 15_000, since);
    await sleep(2000);
    const subscribedEarly = await evalRoom<number>(carol.page, `return window.t.events.filter((e) => e.name === 'TrackSubscribed').length;`);
    expect(subscribedEarly).toBe(0);
    expect(await inbound(carol.page, 'alice', 'video')).toBeUndefined();
    const mlinesBefore = await carol.page.evaluate(() => (window as never as { t: { subscriberMLines(): number } }).t.subscriberMLines());

    const t0 = await pageNow(carol.page);
    await onRemoteCamera(carol.page, 'alice', 'pub.setSubscribed(true);');
    await waitEvent(carol.page, 'TrackSubscribed', { identity: 'alice', kind: 'video' }, 10_000, t0);
    const v = await waitInbound(carol.page, 'alice', 'video', (s) => s.framesDecoded > 0, 10_000);
    expect(v.stats.framesDecoded).toBeGreaterThan(0);
    // Only what she asked for: no audio.
    expect(await evalRoom<number>(carol.page, `return window.t.events.filter((e) => e.name === 'TrackSubscribed' && e.kind === 'audio').length;`)).toBe(0);

    // The server unsubscribes her (RoomService.UpdateSubscriptions).
    const api = new RoomServiceClient(env.kite.httpUrl, API_KEY, API_SECRET);
    const sid = await cameraSid(alice);
    const t1 = await pageNow(carol.page);
    await api.updateSubscriptions(room, 'carol', [sid], false);
    await waitEvent(carol.page, 'TrackUnsubscribed', { identity: 'alice', kind: 'video' }, 10_000, t1);

    // 20 subscribe/unsubscribe cycles: transceivers are reused, so the m-line count stays put.
    let maxMLines = 0;
    for (let i = 0; i < 20; i++) {
      const a = await pageNow(carol.page);
      await onRemoteCamera(carol.page, 'alice', 'pub.setSubscribed(true);');
      await waitEvent(carol.page, 'TrackSubscribed', { identity: 'alice', kind: 'video' }, 10_000, a);
      const b = await pageNow(carol.page);
      await onRemoteCamera(carol.page, 'alice', 'pub.setSubscribed(false);');
      await waitEvent(carol.page, 'TrackUnsubscribed', { identity: 'alice', kind: 'video' }, 10_000, b);
      maxMLines = Math.max(maxMLines, await carol.page.evaluate(() => (window as never as { t: { subscriberMLines(): number } }).t.subscriberMLines()));
    }
    console.log(`[e2e] carol's subscriber SDP: ${mlinesBefore} m-lines before, at most ${maxMLines} over 20 cycles`);
    expect(maxMLines).toBeLessThanOrEqual(3); // data + one video m-line (+ one spare while a re-offer is in flight)

    // And the track still works after all that.
    const a = await pageNow(carol.page);
    await onRemoteCamera(carol.page, 'alice', 'pub.setSubscribed(true);');
    await waitEvent(carol.page, 'TrackSubscribed', { identity: 'alice', kind: 'video' }, 10_000, a);
    await waitInbound(carol.page, 'alice', 'video', (s) => s.framesDecoded > 5, 10_000);
    for (const p of [alice, carol]) await p.context.close();
  });
});

describe('speaker detection', () => {
  it('a steady tone as microphone makes alice an active speaker at bob within 2 s; muting clears it', async () => {
    const room = 'sim-4';
    const alice = await join('alice', room);
    const bob = await join('bob', room);
    const since = await pageNow(bob.page);
    await evalRoom(alice.page, PUBLISH_TONE);
    const sub = await waitEvent(bob.page, 'TrackSubscribed', { identity: 'alice', kind: 'audio' }, 15_000, since);
    const speaking = await waitEvent(bob.page, 'ActiveSpeakersChanged', { first: 'alice' }, 5_000, since);
    const delay = speaking.at - sub.at;
    console.log(`[e2e] alice speaking at bob ${Math.round(delay)} ms after bob subscribed; level ${JSON.stringify(speaking.levels)}`);
    expect(delay).toBeLessThan(2000);

    const muteAt = await pageNow(bob.page);
    await evalRoom(alice.page, `for (const pub of room.localParticipant.trackPublications.values()) if (pub.kind === 'audio') await pub.mute();`);
    const cleared = await waitEvent(bob.page, 'ActiveSpeakersChanged', { first: '' }, 5_000, muteAt);
    console.log(`[e2e] speaker cleared ${Math.round(cleared.at - muteAt)} ms after alice muted`);
    for (const p of [alice, bob]) await p.context.close();
  });
});
