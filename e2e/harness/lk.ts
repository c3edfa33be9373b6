// Helpers to drive the livekit-client test page (pages/lk-driver.js) from tests.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { newParticipantPage } from './browser.js';

export interface Participant {
  identity: string;
  page: Page;
  context: BrowserContext;
  /** Milliseconds room.connect() took. */
  joinMs: number;
}

/* eslint-disable @typescript-eslint/no-explicit-any */
type W = any;

export async function joinRoom(
  browser: Browser,
  pageUrl: string,
  wsUrl: string,
  token: string,
  identity: string,
  roomOptions: object = {},
  connectOptions: object = {},
): Promise<Participant> {
  const { page, context } = await newParticipantPage(browser, pageUrl);
  await page.waitForFunction(() => (window as W).ready === true);
  const joinMs = (await page.evaluate(([url, t, ro, co]) => (window as W).t.connect(url, t, ro, co), [wsUrl, token, roomOptions, connectOptions] as const)) as number;
  return { identity, page, context, joinMs };
}

export function waitEvent(page: Page, name: string, match: Record<string, unknown> = {}, timeoutMs = 15_000, since = 0): Promise<{ at: number } & Record<string, unknown>> {
  return page.evaluate(([n, m, t, s]) => (window as W).t.waitEvent(n, m, t, s), [name, match, timeoutMs, since] as const);
}

/** The page's performance.now(): use as `since` so a wait only matches events after this moment. */
export function pageNow(page: Page): Promise<number> {
  return page.evaluate(() => performance.now());
}

export interface Inbound {
  framesDecoded: number;
  frameWidth: number;
  frameHeight: number;
  bytesReceived: number;
  packetsReceived: number;
  packetsLost: number;
  freezeCount: number;
  totalFreezesDuration: number;
  nackCount: number;
  pliCount: number;
  framesPerSecond: number;
  /** The decoded codec, e.g. video/VP9. */
  mimeType: string;
  /** Audio only: the last played level, 0..1. */
  audioLevel?: number;
}

export function inbound(page: Page, identity: string, kind: 'video' | 'audio', source?: string): Promise<Inbound | undefined> {
  return page.evaluate(([i, k, s]) => (window as W).t.inbound(i, k, s), [identity, kind, source] as const);
}

/** Polls inbound stats until `pred` holds; returns the last stats and how long it took. */
export async function waitInbound(
  page: Page,
  identity: string,
  kind: 'video' | 'audio',
  pred: (s: Inbound) => boolean,
  timeoutMs = 15_000,
  source?: string,
): Promise<{ stats: Inbound; ms: number }> {
  const start = Date.now();
  let last: Inbound | undefined;
  while (Date.now() - start < timeoutMs) {
    last = await inbound(page, identity, kind, source);
    if (last && pred(last)) return { stats: last, ms: Date.now() - start };
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`inbound ${kind} from ${identity} never satisfied the condition; last: ${JSON.stringify(last)}`);
}

/**
 * evalRoom body: a steady 440 Hz tone (WebAudio) published as the microphone — a level speaker detection can rely
 * on (Chromium's fake microphone only beeps).
 */
export const PUBLISH_TONE = `const ctx = new AudioContext();
  await ctx.resume();
  const osc = ctx.createOscillator();
  osc.frequency.value = 440;
  const gain = ctx.createGain();
  gain.gain.value = 0.5;
  const dest = ctx.createMediaStreamDestination();
  osc.connect(gain).connect(dest);
  osc.start();
  window.tone = { ctx, osc };
  await room.localParticipant.publishTrack(dest.stream.getAudioTracks()[0], { source: LK.Track.Source.Microphone, name: 'tone' });`;

export function evalRoom<T>(page: Page, fn: string): Promise<T> {
  // Runs `fn` (the body of an async function with `room` and `LK` in scope) in the page.
  return page.evaluate(([body]) => new Function('room', 'LK', `return (async () => { ${body} })()`)((window as W).t.room, (window as W).LK), [fn] as const) as Promise<T>;
}
