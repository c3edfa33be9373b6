// A browser whose network goes away: alice's Chromium runs in a network namespace whose link is taken down. Cut for
// 10 s she comes back on her own (the others never see her leave); cut for good she is removed within 20 s.
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { netnsEnv } from './harness/setup.js';
import { evalRoom, inbound, joinRoom, pageNow, waitEvent, waitInbound, type Participant } from './harness/lk.js';

const env = netnsEnv();

async function aliceAndBob(room: string): Promise<{ alice: Participant; bob: Participant }> {
  const alice = await joinRoom(env.inNamespace, `${env.web.url}/lk.html`, env.kite.wsUrl, await env.kite.token('alice', { room }), 'alice');
  const bob = await joinRoom(env.onHost, `${env.web.url}/lk.html`, env.kite.wsUrl, await env.kite.token('bob', { room }), 'bob');
  await evalRoom(alice.page, 'await room.localParticipant.setCameraEnabled(true);');
  await waitInbound(bob.page, 'alice', 'video', (s) => s.framesDecoded > 10, 15_000);
  return { alice, bob };
}

function events(page: Page, since: number): Promise<{ name: string; identity?: string; at: number }[]> {
  return evalRoom(page, `return window.t.events.filter((e) => e.at >= ${since}).map((e) => ({ name: e.name, identity: e.identity, at: e.at }));`);
}

describe('network cut (Chromium in a network namespace)', () => {
  it('cut for 10 s: alice comes back, bob decodes her again and never sees her leave', async () => {
    const { alice, bob } = await aliceAndBob('cut-10s');
    const [aliceSince, bobSince] = await Promise.all([pageNow(alice.page), pageNow(bob.page)]);
    env.net.cut();
    await new Promise((r) => setTimeout(r, 10_000));
    const before = (await inbound(bob.page, 'alice', 'video'))?.framesDecoded ?? 0;
    env.net.restore();
    const restoredAt = Date.now();
    await waitInbound(bob.page, 'alice', 'video', (s) => s.framesDecoded > before + 10, 30_000);
    const backMs = Date.now() - restoredAt;
    const aliceEvents = await events(alice.page, aliceSince);
    const bobEvents = await events(bob.page, bobSince);
    console.log(
      `[e2e] network cut 10 s: frames at bob again ${backMs} ms after the link came back; alice: ${aliceEvents.map((e) => e.name).filter((n) => /Reconnect|Disconnect/.test(n)).join(' → ') || 'no reconnect events'}`,
    );
    expect(aliceEvents.filter((e) => e.name === 'Disconnected')).toEqual([]);
    expect(bobEvents.filter((e) => e.name === 'ParticipantDisconnected' && e.identity === 'alice')).toEqual([]);
    // Both directions work: alice still sees bob.
    expect(await evalRoom<number>(alice.page, 'return room.remoteParticipants.size;')).toBe(1);
    for (const p of [alice, bob]) await p.context.close();
  });

  it('cut for good: alice is removed and bob told within 20 s', async () => {
    const { alice, bob } = await aliceAndBob('cut-for-good');
    const since = await pageNow(bob.page);
    env.net.cut();
    const cutAt = Date.now();
    try {
      await waitEvent(bob.page, 'ParticipantDisconnected', { identity: 'alice' }, 25_000, since);
      const goneMs = Date.now() - cutAt;
      console.log(`[e2e] network cut for good: bob saw alice leave ${goneMs} ms after the cut`);
      expect(goneMs).toBeLessThan(20_000);
      expect(env.kite.server.rooms.getRoom('cut-for-good')?.getParticipant('alice')).toBeUndefined();
    } finally {
      env.net.restore();
    }
    for (const p of [alice, bob]) await p.context.close();
  });
});
