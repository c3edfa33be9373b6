// Data packets through the server with the Node test client: size limits and a hostile sender.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from './helpers.js';
import { ParticipantInfo_State } from '@kite/protocol';
import { Clients, waitUntil } from './support/harness.js';

let ts: TestServer;
const clients = new Clients(() => ts);
beforeAll(async () => {
  ts = await startServer();
});
afterEach(() => clients.disposeAll());
afterAll(() => ts.server.close());

const payload = (n: number, fill: number) => new Uint8Array(n).fill(fill);

/** Data is delivered on a participant's subscriber connection: wait until it is up. */
const active = (room: string, identity: string) =>
  waitUntil(() => ts.server.rooms.getRoom(room)?.getParticipant(identity)?.state === ParticipantInfo_State.ACTIVE, 10_000, `${identity} active`);

describe('data packet sizes', () => {
  it('a 60 KB message (within livekit-client’s 64,000-byte limit) arrives whole', async () => {
    const alice = await clients.join('alice', 'data-size');
    const bob = await clients.join('bob', 'data-size');
    await active('data-size', 'bob');
    await alice.publishData(payload(60_000, 7), { topic: 'big' });
    await bob.until(() => bob.data.some((d) => d.packet.user?.topic === 'big'), 10_000, 'the big message');
    const got = bob.data.find((d) => d.packet.user?.topic === 'big')!.packet;
    expect(got.user!.payload.length).toBe(60_000);
    expect(got.user!.payload.every((b) => b === 7)).toBe(true);
    expect(got.participantIdentity).toBe('alice');
  });

  it('an oversized packet from a client that ignores the advertised max-message-size is dropped; the room carries on', async () => {
    const mallory = await clients.join('mallory', 'data-hostile');
    const bob = await clients.join('bob', 'data-hostile');
    await active('data-hostile', 'bob');
    await mallory.publishData(new TextEncoder().encode('warm-up'), { topic: 'ok' }); // opens the channels
    await bob.until(() => bob.data.some((d) => d.packet.user?.topic === 'ok'), 10_000, 'warm-up');
    // Lift werift's own check of Kite's a=max-message-size (65536) on mallory's side.
    const sctp = (mallory as unknown as { publisher: { sctpTransport: { remoteMaxMessageSize: number } } }).publisher.sctpTransport;
    sctp.remoteMaxMessageSize = 0;
    await mallory.publishData(payload(200_000, 1), { topic: 'huge' });
    await mallory.publishData(new TextEncoder().encode('after'), { topic: 'after' });
    await bob.until(() => bob.data.some((d) => d.packet.user?.topic === 'after'), 15_000, 'the message after the oversized one');
    expect(bob.data.some((d) => d.packet.user?.topic === 'huge')).toBe(false);
    expect(ts.server.rooms.getRoom('data-hostile')!.data.dropped.tooLarge).toBe(1);
  });
});
