// Forwarding benchmark: 1 publisher → N subscriber down tracks through Kite's media core over loopback, SRTP
// included. The publisher and the subscribers run in child processes; this process runs only Kite, so its CPU time
// is Kite's cost. Prints forwarded packets/s per core of Kite's process.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PublisherPeer, SubscriberPeer } from '@kite/sfu';
import { LOOPBACK_ICE, cpuSeconds } from './common.js';

function child(file: string): ChildProcess {
  return fork(fileURLToPath(new URL(file, import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

function once<T = Record<string, unknown>>(cp: ChildProcess, type: string, match: (m: T & { type: string }) => boolean = () => true): Promise<T & { type: string }> {
  return new Promise((resolve) => {
    const on = (m: T & { type: string }) => {
      if (m.type === type && match(m)) {
        cp.off('message', on);
        resolve(m);
      }
    };
    cp.on('message', on);
  });
}

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
  const subChild = child('./subscriberChild.js');
  await Promise.all([once(pubChild, 'ready'), once(subChild, 'ready')]);

  const publisher = new PublisherPeer({ media: {}, ice: LOOPBACK_ICE, name: 'bench-pub' });
  pubChild.send({ type: 'offer' });
  const { sdp } = await once<{ sdp: string }>(pubChild, 'offer');
  const answer = await publisher.answer(sdp);
  pubChild.send({ type: 'answer', sdp: answer });
  await once(pubChild, 'connected');
  const receiver = publisher.attachReceiver(publisher.publishedSections[0]!.mid, 'TR_bench')!;

  const subs: SubscriberPeer[] = [];
  subChild.on('message', (m: { type: string; id: number; sdp: string }) => {
    if (m.type === 'answer') void subs[m.id]!.handleAnswer(m.sdp, 0);
  });
  for (let i = 0; i < subscribers; i++) {
    const id = i;
    const sp = new SubscriberPeer({ media: {}, ice: LOOPBACK_ICE, name: `bench-sub-${i}`, sendOffer: (offer) => subChild.send({ type: 'offer', id, sdp: offer }) });
    subs.push(sp);
    sp.subscribe(receiver, { streamId: 'PA_bench|camera', trackId: 'TR_bench' });
  }
  const connected = new Set<number>();
  await new Promise<void>((resolve) => {
    subChild.on('message', (m: { type: string; id: number }) => {
      if (m.type === 'connected') connected.add(m.id);
      if (connected.size === subscribers) resolve();
    });
  });
  const ready = () => subs.every((s) => s.transport.isConnected && s.downTracks[0]?.isReady);
  for (let i = 0; i < 200 && !ready(); i++) await new Promise((r) => setTimeout(r, 50));

  pubChild.send({ type: 'start', pps: publishPps });
  await new Promise((r) => setTimeout(r, 2000)); // warm-up: keyframe, JIT
  const sent = () => subs.reduce((n, s) => n + (s.downTracks[0]?.stats.packetsSent ?? 0), 0);
  const received = async () => {
    subChild.send({ type: 'stats' });
    return (await once<{ total: number }>(subChild, 'stats')).total;
  };
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
  subChild.send({ type: 'stop' });
  const srtpProfile = subs[0]?.transport.srtpProfile;
  for (const s of subs) await s.close();
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
