// Kite's estimate of a subscriber's downlink, from the TWCC feedback Chrome sends about Kite's packets, on a real
// constrained link: bob's Chromium runs in a network namespace whose downlink a token bucket (`tc … tbf`) caps; alice
// publishes her camera from the host. When the cap drops below what Kite forwards, the estimate must follow it down
// within 3 s. (What Kite then forwards, and how it climbs back, is the stream allocator's: e2e/allocation.test.ts.)
import { describe, expect, it } from 'vitest';
import { netnsEnv } from './harness/setup.js';
import { evalRoom, joinRoom, waitInbound } from './harness/lk.js';

const env = netnsEnv();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("Kite's estimate of a subscriber's downlink (TWCC)", () => {
  it('follows a tbf cap down within 3 s', async () => {
    const room = 'downlink-1';
    const alice = await joinRoom(env.onHost, `${env.web.url}/lk.html`, env.kite.wsUrl, await env.kite.token('alice', { room }), 'alice', { dynacast: false });
    const bob = await joinRoom(env.inNamespace, `${env.web.url}/lk.html`, env.kite.wsUrl, await env.kite.token('bob', { room }), 'bob');
    await evalRoom(alice.page, 'await room.localParticipant.setCameraEnabled(true);');
    await waitInbound(bob.page, 'alice', 'video', (s) => s.framesDecoded > 30 && s.frameWidth >= 1280, 20_000);
    const twcc = env.kite.server.rooms.getRoom(room)!.getParticipant('bob')!.subscriber.transport.twcc!;
    const bwe = twcc.bwe;
    const kbps = (b: number) => Math.round(b / 1000);
    const sample = () => `${kbps(bwe.estimate)}/${kbps(bwe.ackedBps)}`;

    // Unconstrained: the estimate is at least what gets through (the top layer, ~1 Mbps of fake camera).
    await sleep(3000);
    const free = bwe.estimate;
    const freeAcked = bwe.ackedBps;
    expect(twcc.counters.feedbacks).toBeGreaterThan(20);
    expect(free).toBeGreaterThanOrEqual(freeAcked * 0.9);

    // Cap bob's downlink below what Kite forwards.
    const cap = 500;
    env.net.shape(cap);
    const t0 = Date.now();
    const down: string[] = [];
    let downAt = -1;
    while (Date.now() - t0 < 8000) {
      await sleep(250);
      down.push(sample());
      if (downAt < 0 && bwe.estimate <= cap * 1000 * 1.3) downAt = Date.now() - t0;
    }

    env.net.shape();
    console.log(
      `[e2e] downlink estimate (kbps estimate/acked): unconstrained ${kbps(free)}/${kbps(freeAcked)}; tbf ${cap} kbps → ≤ ${cap * 1.3} after ${downAt} ms ` +
        `[${down.filter((_, i) => i % 4 === 3).join(' ')}]; ` +
        `feedback ${twcc.counters.feedbacks} packets, unmatched statuses ${twcc.counters.unknown}`,
    );
    expect(downAt, 'the estimate never followed the cap down').toBeGreaterThanOrEqual(0);
    expect(downAt).toBeLessThan(3000);
    for (const p of [alice, bob]) await p.context.close();
  });
});
