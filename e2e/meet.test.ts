// Kite Meet (apps/meet, built) served by Kite itself at /meet/, in Debian's Chromium: people join from the pre-join
// screen, see and name each other, mute shows, chat crosses, a screen share takes the stage, a livekit-client page
// in the same room appears with video, and leaving returns to the pre-join screen. Screenshots of the pre-join
// screen, a 2-person and a 4-person room go to e2e/artifacts/.
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { e2eEnv } from './harness/setup.js';
import { evalRoom, joinRoom } from './harness/lk.js';

const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url));
const env = e2eEnv({ meet: { enabled: true } });
const contexts: BrowserContext[] = [];
mkdirSync(ARTIFACTS, { recursive: true });
afterAll(async () => {
  await Promise.allSettled(contexts.map((c) => c.close()));
});

const ROOM = 'e2e-meet';

async function openMeet(): Promise<Page> {
  const context = await env.browser.newContext({ permissions: ['camera', 'microphone', 'clipboard-read', 'clipboard-write'], viewport: { width: 1280, height: 800 } });
  contexts.push(context);
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error(`[meet page] ${err.message}`));
  await page.goto(`${env.kite.httpUrl}/meet/?room=${ROOM}`);
  await page.getByTestId('prejoin').waitFor();
  return page;
}

async function joinAs(page: Page, name: string): Promise<void> {
  await page.getByTestId('name-input').fill(name);
  expect(await page.getByTestId('room-input').inputValue()).toBe(ROOM);
  await page.getByTestId('join-button').click();
  await page.getByTestId('room').waitFor({ timeout: 20_000 });
}

const tile = (page: Page, name: string) => page.locator(`[data-testid="tile"][data-name="${name}"]`).first();

/** The <video> in `name`'s tile is decoding: it has a size and its playback time moves. */
async function videoPlaying(page: Page, name: string, source = 'camera', timeoutMs = 20_000): Promise<{ width: number; height: number }> {
  const sel = `[data-testid="tile"][data-name="${name}"][data-source="${source}"] video`;
  // Polled synchronously: each poll compares the playback time with the one the previous poll saw.
  const handle = await page.waitForFunction(
    (s) => {
      const v = document.querySelector<HTMLVideoElement>(s);
      if (!v || v.videoWidth === 0 || v.readyState < 2) return undefined;
      const prev = Number(v.dataset.e2eTime ?? -1);
      v.dataset.e2eTime = String(v.currentTime);
      return prev >= 0 && v.currentTime > prev ? { width: v.videoWidth, height: v.videoHeight } : undefined;
    },
    sel,
    { timeout: timeoutMs, polling: 300 },
  );
  return (await handle.jsonValue())!;
}

async function shot(page: Page, name: string): Promise<string> {
  const path = `${ARTIFACTS}meet-${name}.png`;
  await page.screenshot({ path });
  return path;
}

describe('Kite Meet', () => {
  it('a meeting: join, see and name each other, mute, chat, screen share on stage, a livekit-client guest, 4 people, leave', async () => {
    const ada = await openMeet();
    // Pre-join: the camera preview plays before anyone joins.
    await ada.waitForFunction(() => {
      const v = document.querySelector<HTMLVideoElement>('[data-testid="preview-video"]');
      return !!v && v.videoWidth > 0;
    });
    await ada.getByTestId('name-input').fill('Ada Lovelace');
    console.log(`[e2e] screenshot ${await shot(ada, 'prejoin')}`);
    const t0 = Date.now();
    await joinAs(ada, 'Ada Lovelace');
    console.log(`[e2e] ada in the room ${Date.now() - t0} ms after clicking join`);

    const grace = await openMeet();
    await joinAs(grace, 'Grace Hopper');
    for (const [page, other] of [
      [ada, 'Grace Hopper'],
      [grace, 'Ada Lovelace'],
    ] as const) {
      await tile(page, other).waitFor({ timeout: 15_000 });
      expect(await tile(page, other).getByTestId('tile-name').textContent()).toContain(other);
      const size = await videoPlaying(page, other);
      console.log(`[e2e] ${other} plays at ${size.width}x${size.height} on the other side`);
    }

    // Mute shows on the other side.
    await ada.getByTestId('toggle-mic').click();
    await grace.waitForSelector('[data-testid="tile"][data-name="Ada Lovelace"][data-mic-muted="true"]', { timeout: 10_000 });
    await ada.getByTestId('toggle-mic').click();
    await grace.waitForSelector('[data-testid="tile"][data-name="Ada Lovelace"][data-mic-muted="false"]', { timeout: 10_000 });

    // Chat crosses both ways.
    await ada.getByTestId('toggle-chat').click();
    await grace.getByTestId('toggle-chat').click();
    await ada.getByTestId('chat-input').fill('Hello Grace, welcome!');
    await ada.getByTestId('chat-send').click();
    await grace.locator('[data-testid="chat-message"]', { hasText: 'Hello Grace, welcome!' }).waitFor({ timeout: 10_000 });
    await grace.getByTestId('chat-input').fill('Hi Ada!');
    await grace.getByTestId('chat-input').press('Enter');
    await ada.locator('[data-testid="chat-message"]', { hasText: 'Hi Ada!' }).waitFor({ timeout: 10_000 });
    console.log(`[e2e] screenshot ${await shot(grace, 'two-people-chat')}`);
    await ada.getByTestId('toggle-chat').click();
    await grace.getByTestId('toggle-chat').click();
    await ada.waitForTimeout(500);
    console.log(`[e2e] screenshot ${await shot(ada, 'two-people')}`);

    // Screen share takes the stage at the other side.
    await ada.getByTestId('toggle-screen').click();
    await grace.waitForSelector('[data-testid="stage"] [data-testid="tile"][data-name="Ada Lovelace"][data-source="screen_share"]', { timeout: 15_000 });
    await videoPlaying(grace, 'Ada Lovelace', 'screen_share');
    console.log(`[e2e] screenshot ${await shot(grace, 'screen-share')}`);
    await ada.getByTestId('toggle-screen').click();
    await grace.waitForSelector('[data-testid="tile"][data-source="screen_share"]', { state: 'detached', timeout: 10_000 });

    // A livekit-client page in the same room shows up in the app with video.
    const lk = await joinRoom(env.browser, `${env.web.url}/lk.html`, env.kite.wsUrl, await env.kite.token('lk-guest', { room: ROOM }, { name: 'LiveKit Guest' }), 'lk-guest');
    contexts.push(lk.context);
    await evalRoom(lk.page, 'await room.localParticipant.setCameraEnabled(true); await room.localParticipant.setMicrophoneEnabled(true);');
    await tile(ada, 'LiveKit Guest').waitFor({ timeout: 15_000 });
    await videoPlaying(ada, 'LiveKit Guest');
    // …and the guest sees the app's people.
    expect(await evalRoom<string[]>(lk.page, 'return [...room.remoteParticipants.values()].map((p) => p.name).sort();')).toEqual(['Ada Lovelace', 'Grace Hopper']);

    // Four people.
    const kat = await openMeet();
    await joinAs(kat, 'Katherine Johnson');
    for (const name of ['Grace Hopper', 'LiveKit Guest', 'Katherine Johnson']) await videoPlaying(ada, name);
    expect(await ada.locator('[data-testid="tile"]').count()).toBe(4);
    await ada.waitForTimeout(800);
    console.log(`[e2e] screenshot ${await shot(ada, 'four-people')}`);

    // Leaving returns to the pre-join screen; the others see Ada go.
    await ada.getByTestId('leave').click();
    await ada.getByTestId('prejoin').waitFor({ timeout: 10_000 });
    await tile(grace, 'Ada Lovelace').waitFor({ state: 'detached', timeout: 10_000 });
    expect(await evalRoom<number>(lk.page, 'return room.remoteParticipants.size;')).toBe(2);
  });

  it('a refused token and an unreachable server each get a clear screen with a way back', async () => {
    const page = await openMeet();
    // The app fetches its token from api/token; hand it a bad one.
    await page.route('**/api/token**', (route) => route.fulfill({ contentType: 'application/json', body: JSON.stringify({ token: 'not-a-token', url: env.kite.wsUrl }) }));
    await page.getByTestId('name-input').fill('Eve');
    await page.getByTestId('join-button').click();
    await page.waitForSelector('[data-testid="error-screen"][data-reason="token"]', { timeout: 15_000 });
    await page.getByTestId('back-to-prejoin').click();
    await page.getByTestId('prejoin').waitFor();
    await page.unroute('**/api/token**');
    await page.route('**/api/token**', (route) => route.fulfill({ contentType: 'application/json', body: JSON.stringify({ token: 'x', url: 'ws://127.0.0.1:9' }) }));
    await page.getByTestId('join-button').click();
    await page.waitForSelector('[data-testid="error-screen"][data-reason="unreachable"]', { timeout: 30_000 });
  });
});
