// Forwarding benchmark: 1 publisher → N subscriber down tracks through Kite's media core over loopback, SRTP
// included. The publisher and the subscribers run in child processes; this process runs only Kite, so its CPU time
// is Kite's cost. Prints forwarded packets/s per core of Kite's process.
import { PublisherPeer } from '@kite/sfu';
import { LOOPBACK_ICE, cpuSeconds } from './common.js';
import { child, connectSubscribers, once } from './subscribers.js';

export interface ForwardingResult {
  subscribers: number;
  publishPps: number;
  forwardedPps: number;
  kiteCpu: number;
  pktPerCore: number;
  usPerPacket: number;
  loss: number;
  srtpProfile: number | undefined;
}

export async function runForwarding(subscribers: number, publishPps: number, seconds: number): Promise<ForwardingResult> {
  const pubChild = child('./publisherChild.js');
  await once(pubChild, 'ready');
  const publisher = new PublisherPeer({ media: {}, ice: LOOPBACK_ICE, name: 'bench-pub' });
  pubChild.send({ type: 'offer' });
  const { sdp } = await once<{ sdp: string }>(pubChild, 'offer');
  const answer = await publisher.answer(sdp);
  pubChild.send({ type: 'answer', sdp: answer });
  await once(pubChild, 'connected');
  const receiver = publisher.attachReceiver(publisher.publishedSections[0]!.mid, 'TR_bench')!;
  const subs = await connectSubscribers(receiver, subscribers);

  pubChild.send({ type: 'start', pps: publishPps });
  await new Promise((r) => setTimeout(r, 2000)); // warm-up: keyframe, JIT
  const sent = subs.sent;
  const received = subs.received;
  const s0 = sent();
  const r0 = await received();
  const c0 = cpuSeconds();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const s1 = sent();
  const c1 = cpuSeconds();
  const t1 = performance.now();
  await new Promise((r) => setTimeout(r, 300)); // let in-flight datagrams land
  const r1 = await received();
  pubChild.send({ type: 'stop' });
  const srtpProfile = subs.peers[0]?.transport.srtpProfile;
  await subs.close();
  await publisher.close();

  const forwarded = s1 - s0;
  const elapsed = (t1 - t0) / 1000;
  const cpu = c1 - c0;
  return {
    subscribers,
    publishPps,
    forwardedPps: forwarded / elapsed,
    kiteCpu: cpu / elapsed,
    pktPerCore: forwarded / cpu,
    usPerPacket: (cpu * 1e6) / forwarded,
    loss: Math.max(0, 1 - (r1 - r0) / forwarded),
    srtpProfile,
  };
}
