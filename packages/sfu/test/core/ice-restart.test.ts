// ICE restart once DTLS is up: new ICE credentials (and possibly a new address) on both directions, the same DTLS
// session and SRTP keys, media keeps flowing. (werift restarts ICE on a changed ufrag; Kite must keep its media path.)
import { afterEach, describe, expect, it } from 'vitest';
import type { RTCDataChannel } from 'werift';
import { PublisherPeer, SubscriberPeer } from '@kite/sfu';
import { LOOPBACK_ICE, MediaStreamTrack, Vp8Generator, clientPc, waitFor } from './helpers.js';

const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

/** The ICE agent of a peer connection's (only, bundled) transport has a nominated pair. */
function nominated(pc: unknown): boolean {
  return !!(pc as { dtlsTransports: { iceTransport: { connection: { nominated?: unknown } } }[] }).dtlsTransports[0]?.iceTransport.connection.nominated;
}

const ufrag = (sdp: string) => /a=ice-ufrag:(\S+)/.exec(sdp)?.[1];

describe('ICE restart after DTLS', () => {
  it('publisher: the client restarts ICE; Kite answers with new credentials and media keeps arriving', async () => {
    const client = clientPc();
    const track = new MediaStreamTrack({ kind: 'video' });
    const gen = new Vp8Generator(96, 3, 30);
    const tr = client.addTransceiver(track, { direction: 'sendonly' });
    tr.sender.onPictureLossIndication.subscribe(() => gen.requestKeyframe());
    const publisher = new PublisherPeer({ media: {}, ice: LOOPBACK_ICE, name: 'pub' });
    cleanup.push(() => client.close(), () => publisher.close());
    await client.setLocalDescription(await client.createOffer());
    const answer1 = await publisher.answer(client.localDescription!.sdp);
    await client.setRemoteDescription({ type: 'answer', sdp: answer1 });
    const receiver = publisher.attachReceiver(publisher.publishedSections[0]!.mid, 'TR_x')!;
    await waitFor(() => publisher.transport.isConnected, 10_000, 'connected');
    const timer = setInterval(() => {
      for (const p of gen.nextFrame()) track.writeRtp(p);
    }, 20);
    cleanup.push(() => clearInterval(timer));
    await waitFor(() => receiver.packets > 30, 5000, 'media before restart');

    await client.setLocalDescription(await client.createOffer({ iceRestart: true }));
    const answer2 = await publisher.answer(client.localDescription!.sdp);
    expect(ufrag(answer2)).not.toBe(ufrag(answer1));
    console.log('DBGSDP offer2', client.localDescription!.sdp.split('\r\n').filter((l) => /candidate|ufrag|lite/.test(l)), 'answer2', answer2.split('\r\n').filter((l) => /candidate|ufrag|lite/.test(l)));
    await client.setRemoteDescription({ type: 'answer', sdp: answer2 });
    const before = receiver.packets;
    await waitFor(() => receiver.packets > before + 60, 10_000, 'media after restart');
    expect(publisher.transport.isConnected).toBe(true);
    // Both ICE agents nominated a pair with the new credentials.
    await waitFor(() => nominated(publisher.transport.pc) && nominated(client), 5000, 'nominated pairs');
  });

  it('subscriber: Kite restarts ICE with a new offer; media keeps arriving at the client', async () => {
    const pubClient = clientPc();
    const track = new MediaStreamTrack({ kind: 'video' });
    const gen = new Vp8Generator(96, 3, 30);
    const tr = pubClient.addTransceiver(track, { direction: 'sendonly' });
    tr.sender.onPictureLossIndication.subscribe(() => gen.requestKeyframe());
    const publisher = new PublisherPeer({ media: {}, ice: LOOPBACK_ICE, name: 'pub' });
    cleanup.push(() => pubClient.close(), () => publisher.close());
    await pubClient.setLocalDescription(await pubClient.createOffer());
    await pubClient.setRemoteDescription({ type: 'answer', sdp: await publisher.answer(pubClient.localDescription!.sdp) });
    const receiver = publisher.attachReceiver(publisher.publishedSections[0]!.mid, 'TR_x')!;

    const subClient = clientPc();
    let received = 0;
    subClient.onTrack.subscribe((t) => t.onReceiveRtp.subscribe(() => received++));
    const clientChannels: RTCDataChannel[] = [];
    subClient.onDataChannel.subscribe((ch) => clientChannels.push(ch));
    const offers: { sdp: string; id: number }[] = [];
    const subscriber = new SubscriberPeer({ media: {}, ice: LOOPBACK_ICE, name: 'sub', sendOffer: (sdp, id) => offers.push({ sdp, id }), dataChannels: [{ label: '_reliable', ordered: true }] });
    cleanup.push(() => subClient.close(), () => subscriber.close());
    subscriber.subscribe(receiver, { streamId: 'PA_x|camera', trackId: 'TR_x' });
    const negotiate = async (n: number) => {
      await waitFor(() => offers.length >= n, 5000, `offer ${n}`);
      const o = offers[n - 1]!;
      await subClient.setRemoteDescription({ type: 'offer', sdp: o.sdp });
      await subClient.setLocalDescription(await subClient.createAnswer());
      await subscriber.handleAnswer(subClient.localDescription!.sdp, o.id);
    };
    await negotiate(1);
    await waitFor(() => subscriber.transport.isConnected && publisher.transport.isConnected, 10_000, 'connected');
    const timer = setInterval(() => {
      for (const p of gen.nextFrame()) track.writeRtp(p);
    }, 20);
    cleanup.push(() => clearInterval(timer));
    await waitFor(() => received > 30, 5000, 'media before restart');

    subscriber.negotiate({ iceRestart: true });
    await negotiate(2);
    expect(ufrag(offers[1]!.sdp)).not.toBe(ufrag(offers[0]!.sdp));
    const before = received;
    await waitFor(() => received > before + 60, 10_000, 'media after restart');
    // Not just the old path still open: both agents nominated again, and the client's own sends (RTCP, data) work.
    await waitFor(() => nominated(subscriber.transport.pc) && nominated(subClient), 5000, 'nominated pairs');
    const ch = subscriber.dataChannels.get('_reliable')!;
    const got: string[] = [];
    ch.onMessage.subscribe((m) => got.push(m.toString()));
    const clientCh = clientChannels.find((c) => c.label === '_reliable')!;
    clientCh.send('after restart');
    await waitFor(() => got.includes('after restart'), 5000, 'data from the client after the restart');
  });
});
