// Media through the real server, signalling included: Node clients (werift) publish generated VP8 and Opus RTP and
// receive what Kite forwards, checked packet by packet through the frame/packet markers the payloads carry.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from './helpers.js';
import { Clients, sleep, waitUntil } from './support/harness.js';
import type { LkClient, LocalTrack, RemoteTrack } from './support/lkClient.js';
import { OpusSource, Vp8Source, frameReport, pump, readMarker, type Pump } from './support/media.js';

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

/** The subscriber's copy of a published track, once its first packet arrived. */
async function remote(c: LkClient, t: LocalTrack, timeoutMs = 10_000): Promise<RemoteTrack> {
  await waitUntil(() => (c.remoteTracks.get(t.sid)?.count ?? 0) > 0, timeoutMs, `${c.identity} receiving ${t.kind} ${t.sid}`);
  return c.remoteTracks.get(t.sid)!;
}

/** Sequence-number steps (mod 2^16) between consecutive packets in arrival order. */
function seqSteps(seqs: number[]): number[] {
  const out: number[] = [];
  for (let i = 1; i < seqs.length; i++) out.push((seqs[i]! - seqs[i - 1]! + 0x10000) & 0xffff);
  return out;
}

/** VP8: S bit of the payload descriptor and P bit of the payload header (0 = keyframe). */
function startsKeyframe(payload: Buffer): boolean {
  return (payload[0]! & 0x10) !== 0 && (payload[4]! & 0x01) === 0;
}

describe('media through the server', () => {
  it('bob receives alice’s VP8 and Opus with his own SSRCs and continuous sequence numbers', async () => {
    const room = 'media-basic';
    const alice = await clients.join('alice', room);
    const bob = await clients.join('bob', room);
    const t0 = Date.now();
    const video = await alice.publishVideo();
    const audio = await alice.publishAudio();
    const vsrc = new Vp8Source();
    video.onKeyframeRequest = () => vsrc.requestKeyframe();
    const vp = pump(vsrc, (p) => video.writeRtp(p), 1000 / 30, 120);
    const ap = pump(new OpusSource(), (p) => audio.writeRtp(p), 20, 200);

    const rv = await remote(bob, video);
    const firstVideoMs = Date.now() - t0;
    const ra = await remote(bob, audio);
    await Promise.all([vp.until(120), ap.until(200)]);
    const sent = { video: vp.frames, audio: ap.frames };
    // Everything sent after the subscription started is delivered.
    await waitUntil(() => readMarker(rv.packets[rv.packets.length - 1]!.payload)?.frame === sent.video - 1 && readMarker(ra.packets[ra.packets.length - 1]!.payload)?.frame === sent.audio - 1, 5000, 'last frames at bob');

    const vr = frameReport(rv.packets.map((p) => p.payload));
    const ar = frameReport(ra.packets.map((p) => p.payload));
    console.log(
      `[media] publish → first video packet at bob ${firstVideoMs} ms; video: ${rv.count} packets, frames ${vr.first}..${vr.last} of ${sent.video} (lost ${vr.lost}), ` +
        `ssrc alice ${video.ssrc} → bob ${[...rv.ssrcs]}; audio: ${ra.count} packets, frames ${ar.first}..${ar.last} of ${sent.audio} (lost ${ar.lost}), ssrc alice ${audio.ssrc} → bob ${[...ra.ssrcs]}; keyframe requests ${video.keyframeRequests}`,
    );

    // The tracks are alice's, announced as LiveKit does: stream id PA_xxx|camera, msid track id = the track sid.
    expect(rv.participantSid).toBe(alice.sid);
    expect(ra.participantSid).toBe(alice.sid);
    expect(rv.kind).toBe('video');
    expect(ra.kind).toBe('audio');
    // Bob's own SSRCs: one per track, different from alice's.
    expect(rv.ssrcs.size).toBe(1);
    expect(ra.ssrcs.size).toBe(1);
    expect([...rv.ssrcs][0]).not.toBe(video.ssrc);
    expect([...ra.ssrcs][0]).not.toBe(audio.ssrc);
    expect([...rv.ssrcs][0]).not.toBe([...ra.ssrcs][0]);
    // Continuous sequence numbers, no duplicates, video starting on a keyframe.
    expect(seqSteps(rv.seqs).every((d) => d === 1)).toBe(true);
    expect(seqSteps(ra.seqs).every((d) => d === 1)).toBe(true);
    expect(rv.duplicates + ra.duplicates).toBe(0);
    expect(startsKeyframe(rv.packets[0]!.payload)).toBe(true);
    // Every frame from the first forwarded one on arrived complete, the payloads untouched past the descriptor.
    expect(vr.lost).toBe(0);
    expect(ar.lost).toBe(0);
    expect(vr.received).toBeGreaterThan(90);
    expect(ar.received).toBeGreaterThan(150);
    expect(rv.packets.every((p) => p.payloadType === rv.packets[0]!.payloadType)).toBe(true);
    expect(alice.errors).toEqual([]);
    expect(bob.errors).toEqual([]);
  });

  it('publishing the moment the JoinResponse arrives works (re-offer during the first DTLS handshake)', async () => {
    const room = 'media-early';
    const bob = await clients.join('bob', room);
    // livekit-client negotiates the publisher PC (data channels only) right after join; a track published at once
    // re-offers while that first handshake is still running.
    const alice = await clients.join('alice', room);
    const mic = await alice.publishAudio();
    pumps.push(pump(new OpusSource(), (p) => mic.writeRtp(p), 20));
    const r = await remote(bob, mic);
    const kite = ts.server.rooms.getRoom(room)!.getParticipant('alice')!;
    console.log(`[media/early] alice publisher ${alice.publisher.connectionState}, Kite side connected ${kite.publisher.transport.isConnected}, bob got ${r.count} packets`);
    expect(kite.publisher.transport.isConnected).toBe(true);
    expect(ts.logs()).not.toMatch(new RegExp(`"sid":"${alice.sid}"[^\\n]*"which":"publisher"[^\\n]*transport failed`));
  });

  // Packets of the keyframe a down track starts on may reach Kite before that keyframe's first packet (reordered, or the
  // first packet lost and repaired by NACK). The down track sends them from history right after the first packet, so
  // the first keyframe is complete.
  it('the first keyframe reaches bob complete even when its first packet reached Kite last', async () => {
    const room = 'media-keyframe-order';
    const alice = await clients.join('alice', room);
    const bob = await clients.join('bob', room);
    const video = await alice.publishVideo();
    const vsrc = new Vp8Source({ gop: 0 });
    video.onKeyframeRequest = () => vsrc.requestKeyframe();
    // Every keyframe after the very first leaves alice with its first packet last (Kite sees packets 1, 2, then 0).
    const reordering = {
      nextFrame() {
        const f = vsrc.nextFrame();
        if (f.keyframe && f.frame > 0) f.packets.push(f.packets.shift()!);
        return f;
      },
    };
    const vp = pump(reordering, (p) => video.writeRtp(p), 1000 / 30, 90);
    pumps.push(vp);
    const rv = await remote(bob, video);
    await vp.until(90);
    await sleep(500);
    const first = frameReport([rv.packets[0]!.payload]).first!;
    const firstFrame = frameReport(rv.packets.map((p) => p.payload), { from: first, to: first });
    const down = ts.server.rooms.getRoom(room)!.getParticipant('bob')!.downTrackFor(video.sid)!;
    console.log(
      `[media/keyframe-order] bob's first frame ${first} (keyframe ${startsKeyframe(rv.packets[0]!.payload)}): ${firstFrame.lost ? 'INCOMPLETE' : 'complete'}; ` +
        `bob sent ${rv.nacksSent} NACK packets, ${rv.plisSent} PLIs; Kite retransmitted ${down.stats.retransmits}; first complete keyframe at seq ${rv.firstKeyframeSeq} (first packet ${rv.packets[0]!.seq})`,
    );
    expect(startsKeyframe(rv.packets[0]!.payload)).toBe(true);
    expect(firstFrame.lost).toBe(0);
    expect(rv.plisSent).toBe(0);
  });

  it('NACK/RTX repair ≈10 % loss on alice’s uplink and ≈10 % on bob’s downlink: 0 frames lost', async () => {
    const room = 'media-loss';
    const alice = await clients.join('alice', room);
    const bob = await clients.join('bob', room);
    const video = await alice.publishVideo();
    // Keyframes only when asked (PLI), as an encoder does.
    const vsrc = new Vp8Source({ packetsPerFrame: 3, gop: 0 });
    video.onKeyframeRequest = () => vsrc.requestKeyframe();
    const vp = pump(vsrc, (p) => video.writeRtp(p), 1000 / 30);
    pumps.push(vp);
    const rv = await remote(bob, video);
    // The loss starts once bob's picture is up (how a stream starts under loss is the keyframe tests' business).
    await waitUntil(() => rv.firstKeyframeSeq !== undefined, 5000, 'a complete keyframe at bob');
    alice.setLoss({ uplink: 10 });
    bob.setLoss({ downlink: 10 });
    const from = vp.frames;
    const measured = 180; // 6 s at 30 fps
    const tail = 30; // the stream goes on: losses at the very end are detectable too
    await vp.until(from + measured + tail);
    const to = from + measured - 1;
    const complete = () => frameReport(rv.packets.map((p) => p.payload), { from, to }).lost === 0;
    await waitUntil(complete, 5000, 'repair').catch(() => undefined);
    vp.stop();
    const report = frameReport(rv.packets.map((p) => p.payload), { from, to });

    const kite = ts.server.rooms.getRoom(room)!;
    const uplink = kite.getParticipant('alice')!.tracks.get(video.sid)!.receiver!.layers[0]!;
    const down = kite.getParticipant('bob')!.downTrackFor(video.sid)!;
    const inRange = rv.packets.filter((p) => {
      const f = readMarker(p.payload)!.frame;
      return f >= from && f <= to;
    });
    const gaps = seqSteps(inRange.map((p) => p.seq)).filter((d) => d !== 1).length;
    console.log(
      `[media/loss] frames ${from}..${to} (${measured}) at bob: lost after repair ${report.lost} (missing ${report.missing.length}, incomplete ${report.incomplete.length}); ` +
        `uplink: Kite NACKs recovered ${uplink.nack?.recovered} packets (gave up on ${uplink.nack?.lostForGood}), alice retransmitted ${video.retransmits}; ` +
        `downlink: ${gaps} out-of-order steps at bob, ${rv.nacksSent} NACK packets from bob, Kite retransmitted ${down.stats.retransmits} over RTX; ` +
        `bob received ${inRange.length} packets (${rv.duplicates} duplicates) for ${measured * 3}`,
    );
    expect(bob.subscriber.localDescription!.sdp).toMatch(/a=fmtp:\d+ apt=96/); // RTX negotiated
    expect(report.lost).toBe(0);
    expect(video.retransmits).toBeGreaterThan(0);
    expect(down.stats.retransmits).toBeGreaterThan(0);
  });

  // A subscriber that lost its picture sends a PLI; Kite forwards it (throttled) to the publisher.
  it('a PLI from bob makes alice send a keyframe', async () => {
    const room = 'media-pli';
    const alice = await clients.join('alice', room);
    const bob = await clients.join('bob', room);
    const video = await alice.publishVideo();
    const vsrc = new Vp8Source({ gop: 0 });
    video.onKeyframeRequest = () => vsrc.requestKeyframe();
    pumps.push(pump(vsrc, (p) => video.writeRtp(p), 1000 / 30));
    const rv = await remote(bob, video);
    await waitUntil(() => rv.firstKeyframeSeq !== undefined, 5000, 'picture up at bob');
    await sleep(700); // past Kite's PLI throttle
    const before = video.keyframeRequests;
    rv.requestKeyframe();
    await waitUntil(() => video.keyframeRequests > before, 2000, 'keyframe request at alice').catch(() => undefined);
    const down = ts.server.rooms.getRoom(room)!.getParticipant('bob')!.downTrackFor(video.sid)!;
    console.log(`[media/pli] bob sent a PLI: alice got ${video.keyframeRequests - before} keyframe requests (Kite counted ${down.stats.keyframeRequests} on bob's down track)`);
    expect(video.keyframeRequests).toBeGreaterThan(before);
  });
});
