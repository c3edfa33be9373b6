// N subscribers of one Receiver: Kite's SubscriberPeers in this process, their werift clients in a child process
// (which only counts what arrives, so this process's CPU time is Kite's).
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SubscriberPeer, type Receiver } from '@kite/sfu';
import { LOOPBACK_ICE } from './common.js';

export function child(file: string): ChildProcess {
  return fork(fileURLToPath(new URL(file, import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

export function once<T = Record<string, unknown>>(cp: ChildProcess, type: string, match: (m: T & { type: string }) => boolean = () => true): Promise<T & { type: string }> {
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

export interface Subscribers {
  peers: SubscriberPeer[];
  /** RTP packets Kite's down tracks sent so far. */
  sent(): number;
  /** RTP packets the clients received so far. */
  received(): Promise<number>;
  close(): Promise<void>;
}

export async function connectSubscribers(receiver: Receiver, n: number): Promise<Subscribers> {
  const subChild = child('./subscriberChild.js');
  await once(subChild, 'ready');
  const peers: SubscriberPeer[] = [];
  subChild.on('message', (m: { type: string; id: number; sdp: string }) => {
    if (m.type === 'answer') void peers[m.id]!.handleAnswer(m.sdp, 0);
  });
  const connected = new Set<number>();
  const allConnected = new Promise<void>((resolve) => {
    if (n === 0) resolve();
    subChild.on('message', (m: { type: string; id: number }) => {
      if (m.type === 'connected') connected.add(m.id);
      if (connected.size === n) resolve();
    });
  });
  for (let i = 0; i < n; i++) {
    const id = i;
    const sp = new SubscriberPeer({ media: {}, ice: LOOPBACK_ICE, name: `bench-sub-${i}`, sendOffer: (offer) => subChild.send({ type: 'offer', id, sdp: offer }) });
    peers.push(sp);
    sp.subscribe(receiver, { streamId: 'PA_bench|camera', trackId: 'TR_bench' });
  }
  await allConnected;
  const ready = () => peers.every((s) => s.transport.isConnected && s.downTracks[0]?.isReady);
  for (let i = 0; i < 200 && !ready(); i++) await new Promise((r) => setTimeout(r, 50));
  return {
    peers,
    sent: () => peers.reduce((t, s) => t + (s.downTracks[0]?.stats.packetsSent ?? 0), 0),
    async received() {
      subChild.send({ type: 'stats' });
      return (await once<{ total: number }>(subChild, 'stats')).total;
    },
    async close() {
      subChild.send({ type: 'stop' });
      for (const s of peers) await s.close();
    },
  };
}
