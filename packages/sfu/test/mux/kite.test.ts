// Kite's own media path through the muxes: PublisherPeer and SubscriberPeer (PeerTransport's tap on
// StunProtocol.datagramReceived / MuxTcpProtocol.handleFrame, and its sends) with both server transports on one mux.
import { afterEach, describe, expect, it } from 'vitest';
import { PublisherPeer } from '../../src/session/PublisherPeer.js';
import { SubscriberPeer } from '../../src/session/SubscriberPeer.js';
import { TcpMux, UdpMux, attachMuxes } from '../../src/transport/mux/index.js';
import { MediaStreamTrack, Vp8Frames, clientPc, sleep, waitFor } from './helpers.js';

const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

const ICE = { bindAddresses: ['127.0.0.1'], advertiseAddresses: ['127.0.0.1'], candidateAllowList: ['127.0.0.1'] };

async function forward(muxes: { udp?: UdpMux; tcp?: TcpMux }, clientExtra: Record<string, unknown>) {
  const pubClient = clientPc(clientExtra);
  const track = new MediaStreamTrack({ kind: 'video' });
  pubClient.addTransceiver(track, { direction: 'sendonly' });
  const publisher = new PublisherPeer({ media: {}, ice: ICE, name: 'pub' });
  attachMuxes(publisher.transport.pc, { ...muxes, advertise: ['127.0.0.1'] });
  cleanup.push(() => pubClient.close(), () => publisher.close());
  await pubClient.setLocalDescription(await pubClient.createOffer());
  const answer = await publisher.answer(pubClient.localDescription!.sdp);
  await pubClient.setRemoteDescription({ type: 'answer', sdp: answer });
  const section = publisher.publishedSections[0]!;
  const receiver = publisher.attachReceiver(section.mid, 'TR_mux')!;

  const subClient = clientPc(clientExtra);
  const received: number[] = [];
  subClient.onTrack.subscribe((t) => t.onReceiveRtp.subscribe((rtp) => received.push(rtp.payload.readUInt32BE(8))));
  let offer: { sdp: string; id: number } | undefined;
  const subscriber = new SubscriberPeer({
    media: {},
    ice: ICE,
    name: 'sub',
    sendOffer: (sdp, id) => (offer = { sdp, id }),
    dataChannels: [{ label: '_reliable', ordered: true }],
  });
  attachMuxes(subscriber.transport.pc, { ...muxes, advertise: ['127.0.0.1'] });
  cleanup.push(() => subClient.close(), () => subscriber.close());
  subscriber.subscribe(receiver, { streamId: 'PA_pub|camera', trackId: 'TR_mux' });
  await waitFor(() => offer !== undefined, 5000, 'offer');
  await subClient.setRemoteDescription({ type: 'offer', sdp: offer!.sdp });
  await subClient.setLocalDescription(await subClient.createAnswer());
  await subscriber.handleAnswer(subClient.localDescription!.sdp, offer!.id);
  await waitFor(() => publisher.transport.isConnected && subscriber.transport.isConnected, 20_000, 'both transports connected');

  const gen = new Vp8Frames();
  for (let i = 0; i < 60; i++) {
    for (const p of gen.next()) track.writeRtp(p);
    await sleep(10);
  }
  await waitFor(() => received.length >= 150, 10_000, 'forwarded packets at the subscriber client');
  return { publisher, subscriber, received };
}

describe('Kite transports on the muxes', () => {
  it('forwards publisher → subscriber with both PeerTransports on one UdpMux (Kite tap + direct socket sends)', async () => {
    const udp = await UdpMux.create({ bindAddress: '127.0.0.1' });
    cleanup.push(() => udp.close());
    const { publisher, subscriber, received } = await forward({ udp }, {});
    expect(udp.sessionCount).toBe(2);
    // Kite's fast path writes straight onto the mux's shared socket.
    expect((subscriber.transport as unknown as { sendTo?: unknown }).sendTo).toBe(udp.socket);
    expect(publisher.transport.counters.rtpIn).toBeGreaterThanOrEqual(150);
    expect(subscriber.transport.counters.rtpOut).toBeGreaterThanOrEqual(150);
    console.log(`[kite-udp] pub rtpIn ${publisher.transport.counters.rtpIn}, sub rtpOut ${subscriber.transport.counters.rtpOut}, client received ${received.length}`);
  });

  it('forwards publisher → subscriber over ICE-TCP through one TcpMux (framed sends via connection.send)', async () => {
    const tcp = await TcpMux.create({ bindAddress: '127.0.0.1' });
    cleanup.push(() => tcp.close());
    const { publisher, subscriber, received } = await forward(
      { tcp },
      { iceUseTcp: true, iceFilterCandidatePair: (pair: { localCandidate: { transport: string } }) => pair.localCandidate.transport.toLowerCase() === 'tcp' },
    );
    expect(tcp.sessionCount).toBe(2);
    // Not a 'stun' protocol: Kite sends through connection.send, which frames.
    expect((subscriber.transport as unknown as { sendTo?: unknown }).sendTo).toBeUndefined();
    expect(publisher.transport.counters.rtpIn).toBeGreaterThanOrEqual(150);
    expect(subscriber.transport.counters.rtpOut).toBeGreaterThanOrEqual(150);
    console.log(`[kite-tcp] pub rtpIn ${publisher.transport.counters.rtpIn}, sub rtpOut ${subscriber.transport.counters.rtpOut}, client received ${received.length}`);
  });
});
