// The media core without signalling: stock werift peers as clients, Kite's PublisherPeer/SubscriberPeer in between.
import { afterEach, describe, expect, it } from 'vitest';
import type { RTCPeerConnection } from 'werift';
import { PublisherPeer, SubscriberPeer, type DownTrack } from '@kite/sfu';
import { LOOPBACK_ICE, MediaStreamTrack, Vp8Generator, clientPc, waitFor } from './helpers.js';

const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

/** werift's debug loss knobs drop a packet when `value / 100 < Math.random()`: value 90 means 10 % loss. */
const weriftLoss = (percent: number) => 100 - percent;

async function setup(opts: { publisherLoss?: number; subscriberLoss?: number } = {}) {
  // Publisher side: the client offers a send-only video m-line; Kite answers.
  const pubClient = clientPc(opts.publisherLoss ? { debug: { outboundPacketLoss: weriftLoss(opts.publisherLoss) } } : {});
  const track = new MediaStreamTrack({ kind: 'video' });
  const gen = new Vp8Generator(96, 3, 1000);
  const transceiver = pubClient.addTransceiver(track, { direction: 'sendonly' });
  transceiver.sender.onPictureLossIndication.subscribe(() => gen.requestKeyframe());
  const publisher = new PublisherPeer({ media: {}, ice: LOOPBACK_ICE, name: 'pub' });
  cleanup.push(() => pubClient.close(), () => publisher.close());
  await pubClient.setLocalDescription(await pubClient.createOffer());
  const answer = await publisher.answer(pubClient.localDescription!.sdp);
  await pubClient.setRemoteDescription({ type: 'answer', sdp: answer });
  const section = publisher.publishedSections[0]!;
  expect(section.kind).toBe('video');
  const receiver = publisher.attachReceiver(section.mid, 'TR_test')!;

  // Subscriber side: Kite offers; the client answers.
  const subClient: RTCPeerConnection = clientPc(opts.subscriberLoss ? { debug: { inboundPacketLoss: weriftLoss(opts.subscriberLoss) } } : {});
  const received: { seq: number; frame: number; idx: number; pictureId: number }[] = [];
  let ssrcSeen = 0;
  subClient.onTrack.subscribe((t) => {
    t.onReceiveRtp.subscribe((rtp) => {
      ssrcSeen = rtp.header.ssrc;
      const p = rtp.payload;
      received.push({ seq: rtp.header.sequenceNumber, frame: p.readUInt32BE(8), idx: p.readUInt16BE(12), pictureId: ((p[2]! & 0x7f) << 8) | p[3]! });
    });
  });
  let offer: { sdp: string; id: number } | undefined;
  const subscriber = new SubscriberPeer({
    media: {},
    ice: LOOPBACK_ICE,
    name: 'sub',
    sendOffer: (sdp, id) => (offer = { sdp, id }),
    dataChannels: [{ label: '_reliable', ordered: true }],
  });
  cleanup.push(() => subClient.close(), () => subscriber.close());
  const dt: DownTrack = subscriber.subscribe(receiver, { streamId: 'PA_pub|camera', trackId: 'TR_test' });
  await waitFor(() => offer !== undefined, 5000, 'offer');
  await subClient.setRemoteDescription({ type: 'offer', sdp: offer!.sdp });
  await subClient.setLocalDescription(await subClient.createAnswer());
  await subscriber.handleAnswer(subClient.localDescription!.sdp, offer!.id);

  await waitFor(() => publisher.transport.isConnected && subscriber.transport.isConnected, 10_000, 'both transports connected');
  return { pubClient, track, gen, publisher, receiver, subscriber, subClient, dt, received, ssrc: () => ssrcSeen };
}

describe('forwarding through the media core', () => {
  it('forwards generated VP8 from a publisher to a subscriber with its own SSRC and continuous sequence numbers', async () => {
    const s = await setup();
    const gen = new Vp8Generator();
    // 3 s at 30 fps
    for (let i = 0; i < 90; i++) {
      for (const p of gen.nextFrame()) s.track.writeRtp(p);
      await new Promise((r) => setTimeout(r, 33));
    }
    await waitFor(() => s.received.length >= 80 * 3, 5000, 'packets at the subscriber');
    expect(s.ssrc()).toBe(s.dt.ssrc);
    // Starts at a keyframe (frame 0) and the outgoing sequence numbers are gap-free.
    const seqs = s.received.map((r) => r.seq);
    for (let i = 1; i < seqs.length; i++) expect((seqs[i]! - seqs[i - 1]! + 65536) % 65536).toBe(1);
    expect(s.received[0]!.idx).toBe(0);
    expect(s.dt.stats.packetsSent).toBeGreaterThanOrEqual(s.received.length);
    expect(s.receiver.layers[0]?.packets).toBeGreaterThan(200);
  });

  // Random loss on both sides: a packet whose retransmissions are all lost too outlasts the test subscriber's (werift's)
  // NACK budget now and then on a loaded machine. A broken repair fails every attempt; bad luck does not fail three.
  it('repairs publisher-side and subscriber-side loss with NACK (0 frames lost after repair)', { retry: 2 }, async () => {
    const s = await setup({ publisherLoss: 10, subscriberLoss: 10 });
    const gen = s.gen;
    const frames = 150;
    // Loss is only detectable when a later packet arrives: keep the stream going past the frames we count.
    for (let i = 0; i < frames + 15; i++) {
      for (const p of gen.nextFrame()) s.track.writeRtp(p);
      await new Promise((r) => setTimeout(r, 20));
    }
    // Unique (frame, packet) pairs received, retransmissions included.
    await waitFor(() => new Set(s.received.map((r) => r.frame * 16 + r.idx)).size >= (frames - 10) * 3, 10_000, 'packets after repair').catch(() => undefined);
    await new Promise((r) => setTimeout(r, 500));
    const got = new Set(s.received.map((r) => r.frame * 16 + r.idx));
    // The subscriber starts at the first keyframe Kite forwards. Every frame after that one must be complete (the very
    // first packets can't be NACKed by any RTP receiver: it does not know they exist).
    const firstFrame = Math.min(...s.received.map((r) => r.frame));
    expect(firstFrame).toBeLessThan(10);
    const missing: number[] = [];
    for (let f = firstFrame + 1; f < frames; f++) for (let i = 0; i < 3; i++) if (!got.has(f * 16 + i)) missing.push(f);
    const lostFrames = new Set(missing);
    if (lostFrames.size) {
      const sb = s.receiver.layers[0]!;
      const firstSeq = s.received.length ? Math.min(...s.received.map((r) => r.seq)) : 0;
      console.log(`[nack] missing frames ${[...lostFrames].join(',')} (packets ${missing.length}); upstream nack outstanding ${sb.nack?.outstanding} lostForGood ${sb.nack?.lostForGood}; first out seq ${firstSeq}`);
    }
    console.log(`[nack] received ${s.received.length} packets (retransmissions included), Kite sent ${s.dt.stats.packetsSent} and retransmitted ${s.dt.stats.retransmits} downstream, frames lost after repair ${lostFrames.size}`);
    expect(lostFrames.size).toBe(0);
    expect(s.dt.stats.retransmits).toBeGreaterThan(0);
  });
});
