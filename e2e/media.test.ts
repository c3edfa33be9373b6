// The official livekit-client in Debian's Chromium publishes and subscribes through Kite.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, newParticipantPage } from './harness/browser.js';
import { startStaticServer, type StaticServer } from './harness/static.js';
import { startKite, type E2eServer } from './harness/kite.js';

let kite: E2eServer;
let web: StaticServer;
let browser: Browser;

beforeAll(async () => {
  [kite, web, browser] = await Promise.all([startKite(), startStaticServer(), launchChromium()]);
});
afterAll(async () => {
  await browser?.close();
  await web?.close();
  await kite?.close();
});

async function join(identity: string, room = 'e2e', roomOptions: object = {}): Promise<Page> {
  const { page } = await newParticipantPage(browser, `${web.url}/lk.html`);
  await page.waitForFunction(() => (window as unknown as { ready?: boolean }).ready === true);
  const token = await kite.token(identity, { room });
  const ms = await page.evaluate(([url, t, o]) => (window as any).t.connect(url, t, o), [kite.wsUrl, token, roomOptions] as const);
  console.log(`[e2e] ${identity} joined in ${Math.round(ms as number)} ms`);
  return page;
}

const stats = (page: Page, identity: string, kind: 'video' | 'audio', source?: string) =>
  page.evaluate(([i, k, s]) => (window as any).t.inbound(i, k, s), [identity, kind, source] as const);

describe('camera and microphone through Kite', () => {
  it('alice publishes, bob receives decoded video and audio packets', async () => {
    const alice = await join('alice');
    const bob = await join('bob');
    const t0 = Date.now();
    await alice.evaluate(async () => {
      const room = (window as any).t.room;
      await room.localParticipant.setCameraEnabled(true);
      await room.localParticipant.setMicrophoneEnabled(true);
    });
    await bob.evaluate(() => (window as any).t.waitEvent('TrackSubscribed', { identity: 'alice', kind: 'video' }, 20000));
    await bob.evaluate(() => (window as any).t.waitEvent('TrackSubscribed', { identity: 'alice', kind: 'audio' }, 20000));
    let v: any;
    for (let i = 0; i < 60; i++) {
      v = await stats(bob, 'alice', 'video');
      if (v && v.framesDecoded > 30) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    console.log(`[e2e] bob video after ${Date.now() - t0} ms:`, v);
    if (!v || v.framesDecoded <= 30) {
      console.log('[e2e] bob events', JSON.stringify(await bob.evaluate(() => (window as any).t.events.map((e: any) => [e.name, e.identity, e.kind, Math.round(e.at)]))));
      console.log('[e2e] server', kite.logs().split('\n').filter((l) => /track|active|left|failed|refused|error|warn/i.test(l)).join('\n'));
    }
    expect(v.framesDecoded).toBeGreaterThan(30);
    let a: any;
    for (let i = 0; i < 20 && !(a?.packetsReceived > 10); i++) {
      a = await stats(bob, 'alice', 'audio');
      await new Promise((r) => setTimeout(r, 250));
    }
    console.log('[e2e] bob audio:', a);
    if (!a) {
      const room = kite.server.rooms.getRoom('e2e')!;
      for (const p of room.allParticipants()) {
        console.log('[diag]', p.identity, 'pub', JSON.stringify(p.publisher.transport.counters), 'sub', JSON.stringify(p.subscriber.transport.counters));
        for (const t of p.tracks.values()) console.log('[diag]  track', t.info.sid, t.info.type, 'mid', t.mid, 'pkts', t.receiver?.packets, 'sinks', t.receiver?.sinkCount);
        for (const dt of p.subscriber.downTracks) console.log('[diag]  dt', dt.receiver.kind, 'ready', dt.isReady, 'ssrc', dt.ssrc, JSON.stringify(dt.stats), 'mid', dt.transceiver.mid, dt.transceiver.direction);
      }
      console.log('[diag] bob sdp', await bob.evaluate(() => (window as any).t.room.engine.pcManager.subscriber._pc.currentRemoteDescription.sdp));
    }
    expect(a.packetsReceived).toBeGreaterThan(10);
  });
});
