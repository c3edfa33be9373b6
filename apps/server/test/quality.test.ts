// What the server tells participants about quality: SubscribedQualityUpdate (dynacast) to publishers, and
// ConnectionQualityUpdate to everyone, measured on real media through the server with Node clients.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionQuality, VideoQuality, type SubscribedQualityUpdate } from '@kite/protocol';
import { Dynacast } from '../src/rtc/dynacast.js';
import { LOSS_WEIGHT, QualityScore, qualityOf, rateLink } from '../src/rtc/connectionQuality.js';
import { startServer, type TestServer } from './helpers.js';
import { Clients, publishGeneratedVideo, sleep, waitUntil } from './support/harness.js';
import type { LkClient } from './support/lkClient.js';
import type { Pump } from './support/media.js';

let ts: TestServer;
const clients = new Clients(() => ts);
const pumps: Pump[] = [];
beforeAll(async () => {
  ts = await startServer();
});
afterEach(async () => {
  for (const p of pumps.splice(0)) p.stop();
  await clients.disposeAll();
});
afterAll(() => ts.server.close());

const publishVideo = (c: LkClient) => publishGeneratedVideo(c, pumps);

const enabledLayers = (u: SubscribedQualityUpdate) => u.subscribedCodecs[0]!.qualities.filter((q) => q.enabled).map((q) => VideoQuality[q.quality]);

describe('dynacast', () => {
  it('announces the highest wanted layer: upgrades at once, downgrades after the grace period, nothing wanted = all off', async () => {
    const sent: SubscribedQualityUpdate[] = [];
    const d = new Dynacast('TR_x', 'vp8', true, (u) => sent.push(u as SubscribedQualityUpdate), 100);
    d.update(2);
    expect(sent).toHaveLength(0); // the publisher starts with every layer on
    d.update(0);
    expect(sent).toHaveLength(0);
    d.update(2); // flipped back within the grace period: no change at all
    await sleep(150);
    expect(sent).toHaveLength(0);
    d.update(0);
    await sleep(150);
    expect(sent.map(enabledLayers)).toEqual([['LOW']]);
    expect(sent[0]!.subscribedCodecs[0]!.codec).toBe('vp8');
    expect(sent[0]!.subscribedQualities.map((q) => q.enabled)).toEqual([true, false, false]);
    d.update(1);
    expect(sent.map(enabledLayers)).toEqual([['LOW'], ['LOW', 'MEDIUM']]);
    d.update(-1);
    await sleep(150);
    expect(sent.at(-1)!.subscribedQualities.every((q) => !q.enabled)).toBe(true);
    d.close();
  });

  it('a publisher nobody subscribes to is told to stop; a subscription turns it back on at once', async () => {
    const room = 'dynacast-1';
    const alice = await clients.join('alice', room);
    const bob = await clients.join('bob', room, { autoSubscribe: false });
    const track = await publishVideo(alice);
    const off = await alice.waitFor('subscribedQualityUpdate', (u) => u.trackSid === track.sid, { timeoutMs: 10_000 });
    expect(off.subscribedCodecs[0]!.qualities.every((q) => !q.enabled)).toBe(true);
    const mark = alice.mark();
    const t0 = Date.now();
    bob.setSubscribed([track.sid], true);
    const on = await alice.waitFor('subscribedQualityUpdate', (u) => u.trackSid === track.sid, { since: mark, timeoutMs: 2_000 });
    console.log(`[quality] dynacast: publisher re-enabled ${Date.now() - t0} ms after a subscription`);
    expect(on.subscribedCodecs[0]!.qualities.every((q) => q.enabled)).toBe(true);
  });
});

describe('connection quality', () => {
  it('maps loss, jitter and RTT to LiveKit’s levels', () => {
    const video = LOSS_WEIGHT.video;
    expect(rateLink({ loss: 0, jitterMs: 2, rttMs: 5, lossWeight: video }).quality).toBe(ConnectionQuality.EXCELLENT);
    // video: 2 % loss falls to GOOD, 6 % to POOR
    expect(rateLink({ loss: 0.03, jitterMs: 10, rttMs: 50, lossWeight: video }).quality).toBe(ConnectionQuality.GOOD);
    expect(rateLink({ loss: 0.07, jitterMs: 10, rttMs: 50, lossWeight: video }).quality).toBe(ConnectionQuality.POOR);
    // Opus with FEC tolerates more
    expect(rateLink({ loss: 0.03, jitterMs: 10, rttMs: 50, lossWeight: LOSS_WEIGHT.opus }).quality).toBe(ConnectionQuality.EXCELLENT);
    // delay: 600 ms RTT + 30 ms jitter is GOOD, 1.5 s RTT is POOR
    expect(rateLink({ loss: 0, jitterMs: 30, rttMs: 600, lossWeight: video }).quality).toBe(ConnectionQuality.GOOD);
    expect(rateLink({ loss: 0, jitterMs: 30, rttMs: 1500, lossWeight: video }).quality).toBe(ConnectionQuality.POOR);
    // smoothing: one bad reading drops fast, recovery takes a few intervals
    const q = new QualityScore();
    expect(qualityOf(q.update(0))).toBe(ConnectionQuality.POOR);
    expect(qualityOf(q.update(100))).toBe(ConnectionQuality.GOOD);
    q.update(100);
    q.update(100);
    expect(qualityOf(q.update(100))).toBe(ConnectionQuality.EXCELLENT);
  });

  it('a publisher with a lossy uplink is POOR for itself and for its subscribers; a clean one is EXCELLENT', async () => {
    const room = 'quality-1';
    const alice = await clients.join('alice', room);
    const bob = await clients.join('bob', room);
    const carol = await clients.join('carol', room);
    await publishVideo(alice);
    await publishVideo(carol);
    alice.setLoss({ uplink: 20 });
    const quality = (c: LkClient, sid: string) => {
      const all = c.messages('connectionQuality').flatMap((u) => u.updates);
      return all.filter((u) => u.participantSid === sid).at(-1)?.quality;
    };
    const t0 = Date.now();
    await waitUntil(() => quality(bob, alice.sid) === ConnectionQuality.POOR, 20_000, 'alice POOR at bob');
    console.log(`[quality] 20 % uplink loss rated POOR after ${Date.now() - t0} ms`);
    expect(quality(alice, alice.sid)).toBe(ConnectionQuality.POOR);
    await waitUntil(() => quality(bob, carol.sid) === ConnectionQuality.EXCELLENT, 10_000, 'carol EXCELLENT at bob');
    // bob receives over a clean link
    expect(quality(bob, bob.sid)).toBe(ConnectionQuality.EXCELLENT);

    // The loss goes away: alice recovers.
    alice.setLoss({ uplink: 0 });
    await waitUntil(() => quality(bob, alice.sid) === ConnectionQuality.EXCELLENT, 15_000, 'alice EXCELLENT again');
  });

  it('a subscriber with a lossy downlink is POOR (from its receiver reports)', async () => {
    const room = 'quality-3';
    const alice = await clients.join('alice', room);
    const bob = await clients.join('bob', room);
    await publishVideo(alice);
    bob.setLoss({ downlink: 20 });
    const quality = (c: LkClient, sid: string) => c.messages('connectionQuality').flatMap((u) => u.updates).filter((u) => u.participantSid === sid).at(-1)?.quality;
    await waitUntil(() => quality(bob, bob.sid) === ConnectionQuality.POOR, 20_000, 'bob POOR');
    // alice's uplink is clean
    expect(quality(bob, alice.sid)).toBe(ConnectionQuality.EXCELLENT);
  });

  it('a publisher whose media stops while its track is unmuted is LOST', async () => {
    const room = 'quality-2';
    const alice = await clients.join('alice', room);
    const bob = await clients.join('bob', room);
    await publishVideo(alice);
    const quality = () => bob.messages('connectionQuality').flatMap((u) => u.updates).filter((u) => u.participantSid === alice.sid).at(-1)?.quality;
    await waitUntil(() => quality() === ConnectionQuality.EXCELLENT, 10_000, 'alice EXCELLENT');
    for (const p of pumps) p.stop();
    await waitUntil(() => quality() === ConnectionQuality.LOST, 15_000, 'alice LOST');
  });
});
