// Reconnection with the official livekit-client in Chromium: every room.simulateScenario(...) a server must answer
// ends with the client reconnected, frames flowing again within 5 s, and nobody else seeing the participant leave.
import { describe, expect, it } from 'vitest';
import { e2eEnv } from './harness/setup.js';
import type { Page } from 'playwright-core';
import { evalRoom, inbound, joinRoom, pageNow, waitEvent, waitInbound, type Participant } from './harness/lk.js';

const env = e2eEnv();

/** `kite`: the page runs Kite's own @kite/client instead of livekit-client. */
async function join(identity: string, room: string, roomOptions: object = {}, sdk: 'livekit' | 'kite' = 'livekit'): Promise<Participant> {
  return joinRoom(env.browser, `${env.web.url}/lk.html${sdk === 'kite' ? '?sdk=kite' : ''}`, env.kite.wsUrl, await env.kite.token(identity, { room }), identity, roomOptions);
}

/** Names of the events recorded in a page since `since`. */
function eventsSince(page: Page, since: number): Promise<{ name: string; identity?: string; at: number }[]> {
  return evalRoom(page, `return window.t.events.filter((e) => e.at >= ${since}).map((e) => ({ name: e.name, identity: e.identity, at: e.at }));`);
}

/** Frames decoded by `page` from `identity` grow by `n` within `ms`. */
async function framesFlow(page: Page, identity: string, n = 10, ms = 5000): Promise<number> {
  const start = (await inbound(page, identity, 'video'))?.framesDecoded ?? 0;
  const t0 = Date.now();
  await waitInbound(page, identity, 'video', (s) => s.framesDecoded > start + n, ms);
  return Date.now() - t0;
}

/**
 * alice publishes a camera and bob watches; `scenario` runs on `who`; then: the client reconnects (its events), bob
 * (and alice) decode frames again within 5 s, and bob never sees alice leave.
 */
async function scenario(room: string, who: 'alice' | 'bob', name: string, expectEvent: 'Reconnected' | 'SignalReconnecting' = 'Reconnected', sdk: 'livekit' | 'kite' = 'livekit') {
  // With `kite`, the subject runs @kite/client and the other side livekit-client.
  const alice = await join('alice', room, {}, who === 'alice' ? sdk : 'livekit');
  const bob = await join('bob', room, {}, who === 'bob' ? sdk : 'livekit');
  await evalRoom(alice.page, 'await room.localParticipant.setCameraEnabled(true);');
  await waitInbound(bob.page, 'alice', 'video', (s) => s.framesDecoded > 10, 15_000);
  const subject = who === 'alice' ? alice : bob;
  const since = await pageNow(subject.page);
  const bobSince = await pageNow(bob.page);
  const t0 = Date.now();
  await evalRoom(subject.page, `await room.simulateScenario('${name}');`);
  await waitEvent(subject.page, expectEvent, {}, 20_000, since);
  const reconnectedMs = Date.now() - t0;
  if (expectEvent !== 'Reconnected') await waitEvent(subject.page, 'Reconnected', {}, 20_000, since);
  let flowMs: number;
  try {
    flowMs = await framesFlow(bob.page, 'alice', 10, 5000);
  } catch (err) {
    console.log(`[e2e] ${name}: bob's events since: ${JSON.stringify(await evalRoom(bob.page, `return window.t.events.filter((e) => e.at >= ${bobSince});`))}`);
    throw err;
  }
  const events = await eventsSince(subject.page, since);
  const bobEvents = await eventsSince(bob.page, bobSince);
  console.log(`[e2e] ${name} on ${who} (${sdk}): reconnected after ${reconnectedMs} ms (${events.map((e) => e.name).filter((n) => /Reconnect|Disconnect|Restart/.test(n)).join(' → ')}); frames at bob again within ${flowMs} ms of that`);
  expect(bobEvents.filter((e) => e.name === 'ParticipantDisconnected' && e.identity === 'alice')).toEqual([]);
  expect(events.filter((e) => e.name === 'Disconnected')).toEqual([]);
  // alice still sees bob too, and still publishes: a newly subscribing view works.
  expect(await evalRoom<number>(alice.page, 'return room.remoteParticipants.size;')).toBe(1);
  for (const p of [alice, bob]) await p.context.close();
}

describe('reconnect scenarios (room.simulateScenario)', () => {
  it('signal-reconnect on the publisher: the signal resumes, media continues, bob sees no leave', () => scenario('rc-1', 'alice', 'signal-reconnect'));
  it('signal-reconnect on the subscriber: his subscriber connection restarts ICE and frames flow again', () => scenario('rc-2', 'bob', 'signal-reconnect'));
  it('resume-reconnect: the resume fails on purpose and the client rejoins (its new session takes the old one over)', () => scenario('rc-3', 'alice', 'resume-reconnect'));
  it('full-reconnect: a fresh join with the same identity takes the session over', () => scenario('rc-4', 'alice', 'full-reconnect'));
  it('node-failure: the session is dropped and its resume refused; the rejoin takes over', () => scenario('rc-5', 'alice', 'node-failure'));
  it('migration: like a node failure from this server’s point of view', () => scenario('rc-6', 'alice', 'migration'));
  it('leave-full-reconnect: the server asks for a full reconnect', () => scenario('rc-7', 'alice', 'leave-full-reconnect'));
  it('disconnect-signal-on-resume: the resumed signal drops again and the client still recovers', () => scenario('rc-8', 'alice', 'disconnect-signal-on-resume'));
  it('disconnect-signal-on-resume-no-messages: the resumed signal drops before any answer and the client still recovers', () =>
    scenario('rc-9', 'alice', 'disconnect-signal-on-resume-no-messages'));

  it('server-leave: the client is disconnected (no reconnect), bob sees alice leave', async () => {
    const alice = await join('alice', 'rc-10');
    const bob = await join('bob', 'rc-10');
    const since = await pageNow(alice.page);
    await evalRoom(alice.page, `await room.simulateScenario('server-leave');`);
    await waitEvent(alice.page, 'Disconnected', {}, 10_000, since);
    await waitEvent(bob.page, 'ParticipantDisconnected', { identity: 'alice' }, 10_000);
    for (const p of [alice, bob]) await p.context.close();
  });

  it('speaker: the server makes the participant an active speaker for a few seconds', async () => {
    const alice = await join('alice', 'rc-11');
    const bob = await join('bob', 'rc-11');
    const since = await pageNow(bob.page);
    await evalRoom(alice.page, `await room.simulateScenario('speaker');`);
    await waitEvent(bob.page, 'ActiveSpeakersChanged', { first: 'alice' }, 5000, since);
    await waitEvent(bob.page, 'ActiveSpeakersChanged', { first: '' }, 8000, since);
    for (const p of [alice, bob]) await p.context.close();
  });
  // The same scenarios with Kite's own client in the browser.
  it('@kite/client signal-reconnect on the publisher', () => scenario('rck-1', 'alice', 'signal-reconnect', 'Reconnected', 'kite'));
  it('@kite/client signal-reconnect on the subscriber', () => scenario('rck-2', 'bob', 'signal-reconnect', 'Reconnected', 'kite'));
  it('@kite/client node-failure: resume refused, the rejoin takes over', () => scenario('rck-3', 'alice', 'node-failure', 'Reconnected', 'kite'));
});
