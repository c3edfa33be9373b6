// RPC between two managers joined back to back through DataPacket.encode/decode, and against livekit-client itself.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DataPacket, DataPacket_Kind, type PartialMessage } from '@kite/protocol';
import { RpcError, RpcManager, type RpcInvocationData } from '../src/data/rpc.js';
import { StreamManager } from '../src/data/streams.js';
import type { DataLogger, DataSender } from '../src/data/types.js';

const quiet = (): DataLogger => ({ debug: vi.fn(), warn: vi.fn(), error: vi.fn() });

interface Peer {
  identity: string;
  rpc: RpcManager;
  streams: StreamManager;
  log: DataLogger;
}

interface LinkOptions {
  /** What each side believes the other advertises as ParticipantInfo.clientProtocol. */
  clientProtocol?: number;
  capabilities?: number[];
  serverVersion?: string;
}

/** alice ⇄ bob; every packet is encoded and decoded, then delivered on a later microtask, in order. */
function link(opts: LinkOptions = {}) {
  const wire: { from: string; packet: DataPacket }[] = [];
  const peers = new Map<string, Peer>();
  const state = {
    /** Return true to lose a packet. */
    drop: (_from: string, _packet: DataPacket) => false,
    failSends: false,
  };
  const make = (identity: string, other: string): Peer => {
    const sender: DataSender = {
      localIdentity: identity,
      serverVersion: opts.serverVersion ?? '1.9.0',
      remoteClientProtocol: () => opts.clientProtocol ?? 0,
      remoteCapabilities: () => opts.capabilities ?? [],
      remoteIdentities: () => [other],
      sendReliable: async (partial: PartialMessage<DataPacket>) => {
        if (state.failSends) throw new Error('room disconnected');
        const packet = DataPacket.decode(DataPacket.encode({ ...partial, participantIdentity: identity }));
        wire.push({ from: identity, packet });
        if (state.drop(identity, packet)) return;
        queueMicrotask(() => {
          const to = peers.get(other)!;
          if (!to.rpc.handlePacket(packet, identity)) to.streams.handlePacket(packet, identity);
        });
      },
    };
    const log = quiet();
    const streams = new StreamManager(sender, { log });
    return { identity, rpc: new RpcManager(sender, streams, { log }), streams, log };
  };
  peers.set('alice', make('alice', 'bob'));
  peers.set('bob', make('bob', 'alice'));
  return { alice: peers.get('alice')!, bob: peers.get('bob')!, wire, state };
}

async function rejection(p: Promise<unknown>): Promise<RpcError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(RpcError);
    return err as RpcError;
  }
  throw new Error('expected a rejection');
}

afterEach(() => {
  vi.useRealTimers();
});

describe('RpcError', () => {
  it('has livekit-client codes and messages', () => {
    expect(RpcError.ErrorCode).toEqual({
      APPLICATION_ERROR: 1500,
      CONNECTION_TIMEOUT: 1501,
      RESPONSE_TIMEOUT: 1502,
      RECIPIENT_DISCONNECTED: 1503,
      RESPONSE_PAYLOAD_TOO_LARGE: 1504,
      SEND_FAILED: 1505,
      UNSUPPORTED_METHOD: 1400,
      RECIPIENT_NOT_FOUND: 1401,
      REQUEST_PAYLOAD_TOO_LARGE: 1402,
      UNSUPPORTED_SERVER: 1403,
      UNSUPPORTED_VERSION: 1404,
    });
    const e = RpcError.builtIn('UNSUPPORTED_METHOD');
    expect([e.code, e.message, e.data]).toEqual([1400, 'Method not supported at destination', undefined]);
  });

  it('truncates message to 256 bytes and data to 15 KiB on character boundaries', () => {
    const e = new RpcError(1, '€'.repeat(100), '😀'.repeat(5000));
    expect(new TextEncoder().encode(e.message).byteLength).toBe(255);
    expect(e.message).toBe('€'.repeat(85));
    expect(new TextEncoder().encode(e.data!).byteLength).toBe(15360);
    expect(e.data).toBe('😀'.repeat(3840));
  });
});

describe('RPC v1 (packets)', () => {
  it('round trip: request, ack, response on the wire as livekit-client sends them', async () => {
    const { alice, bob, wire } = link();
    const seen: RpcInvocationData[] = [];
    bob.rpc.registerRpcMethod('greet', async (data) => {
      seen.push(data);
      return `hello ${data.payload}`;
    });
    await expect(alice.rpc.performRpc({ destinationIdentity: 'bob', method: 'greet', payload: 'alice' })).resolves.toBe('hello alice');

    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ callerIdentity: 'alice', payload: 'alice', responseTimeout: 15000 });
    const [req, ack, res] = wire.map((w) => w.packet);
    expect(req.value).toBe('rpcRequest');
    expect(req.kind).toBe(DataPacket_Kind.RELIABLE);
    expect(req.destinationIdentities).toEqual(['bob']);
    expect(req.rpcRequest).toMatchObject({ method: 'greet', payload: 'alice', responseTimeoutMs: 15000, version: 1 });
    expect(req.rpcRequest!.id).toBe(seen[0].requestId);
    expect(ack.rpcAck).toEqual({ requestId: seen[0].requestId });
    expect(ack.destinationIdentities).toEqual(['alice']);
    expect(res.rpcResponse).toMatchObject({ requestId: seen[0].requestId, value: 'payload', payload: 'hello alice' });
  });

  it('tells the callee at least 8 s, as livekit-client', async () => {
    const { alice, bob, wire } = link();
    bob.rpc.registerRpcMethod('m', async (d) => String(d.responseTimeout));
    await expect(alice.rpc.performRpc({ destinationIdentity: 'bob', method: 'm', payload: '', responseTimeout: 2000 })).resolves.toBe('8000');
    expect(wire[0].packet.rpcRequest!.responseTimeoutMs).toBe(8000);
  });

  it('an empty response payload is a success', async () => {
    const { alice, bob } = link();
    bob.rpc.registerRpcMethod('m', async () => '');
    await expect(alice.rpc.performRpc({ destinationIdentity: 'bob', method: 'm', payload: 'x' })).resolves.toBe('');
  });

  it('an RpcError thrown by the handler reaches the caller unchanged', async () => {
    const { alice, bob } = link();
    bob.rpc.registerRpcMethod('fail', async () => {
      throw new RpcError(42, 'custom failure', '{"why":"because"}');
    });
    const err = await rejection(alice.rpc.performRpc({ destinationIdentity: 'bob', method: 'fail', payload: '' }));
    expect([err.code, err.message, err.data]).toEqual([42, 'custom failure', '{"why":"because"}']);
  });

  it('any other handler error becomes APPLICATION_ERROR', async () => {
    const { alice, bob } = link();
    bob.rpc.registerRpcMethod('boom', async () => {
      throw new Error('kaput');
    });
    const err = await rejection(alice.rpc.performRpc({ destinationIdentity: 'bob', method: 'boom', payload: '' }));
    expect([err.code, err.message, err.data]).toEqual([1500, 'Application error in method handler', 'Uncaught error: kaput']);
    expect(bob.log.warn).toHaveBeenCalled();
  });

  it('an unregistered method answers UNSUPPORTED_METHOD; register twice throws; unregister works', async () => {
    const { alice, bob } = link();
    let err = await rejection(alice.rpc.performRpc({ destinationIdentity: 'bob', method: 'nope', payload: '' }));
    expect([err.code, err.message]).toEqual([1400, 'Method not supported at destination']);

    bob.rpc.registerRpcMethod('m', async () => 'ok');
    expect(() => bob.rpc.registerRpcMethod('m', async () => 'again')).toThrow(/already registered/);
    await expect(alice.rpc.performRpc({ destinationIdentity: 'bob', method: 'm', payload: '' })).resolves.toBe('ok');
    bob.rpc.unregisterRpcMethod('m');
    err = await rejection(alice.rpc.performRpc({ destinationIdentity: 'bob', method: 'm', payload: '' }));
    expect(err.code).toBe(1400);
  });

  it('refuses a request payload over 15 KiB without sending anything', async () => {
    const { alice, bob, wire } = link();
    bob.rpc.registerRpcMethod('m', async (d) => String(d.payload.length));
    const err = await rejection(alice.rpc.performRpc({ destinationIdentity: 'bob', method: 'm', payload: 'x'.repeat(15361) }));
    expect([err.code, err.message]).toEqual([1402, 'Request payload too large']);
    expect(wire).toHaveLength(0);
    // Bytes, not characters, count.
    expect((await rejection(alice.rpc.performRpc({ destinationIdentity: 'bob', method: 'm', payload: 'é'.repeat(7681) }))).code).toBe(1402);
    await expect(alice.rpc.performRpc({ destinationIdentity: 'bob', method: 'm', payload: 'x'.repeat(15360) })).resolves.toBe('15360');
  });

  it('answers RESPONSE_PAYLOAD_TOO_LARGE for a response over 15 KiB', async () => {
    const { alice, bob } = link();
    bob.rpc.registerRpcMethod('big', async () => 'y'.repeat(15361));
    const err = await rejection(alice.rpc.performRpc({ destinationIdentity: 'bob', method: 'big', payload: '' }));
    expect([err.code, err.message]).toEqual([1504, 'Response payload too large']);
  });

  it('answers UNSUPPORTED_VERSION to a request of another version (after acking it)', async () => {
    const { alice, bob, wire } = link();
    bob.rpc.registerRpcMethod('m', async () => 'ok');
    bob.rpc.handlePacket(DataPacket.create({ rpcRequest: { id: 'r1', method: 'm', payload: '', responseTimeoutMs: 8000, version: 7 } }), 'alice');
    await vi.waitFor(() => expect(wire).toHaveLength(2));
    expect(wire[0].packet.rpcAck).toEqual({ requestId: 'r1' });
    expect(wire[1].packet.rpcResponse).toMatchObject({ requestId: 'r1', error: { code: 1404, message: 'Unsupported RPC version' } });
    expect(alice.log.error).toHaveBeenCalled(); // alice never asked: she logs the unexpected ack and response
  });

  it('RESPONSE_TIMEOUT when the handler takes longer than the caller waits', async () => {
    vi.useFakeTimers();
    const { alice, bob } = link();
    bob.rpc.registerRpcMethod('slow', () => new Promise<string>(() => {}));
    const call = rejection(alice.rpc.performRpc({ destinationIdentity: 'bob', method: 'slow', payload: '', responseTimeout: 9000 }));
    await vi.advanceTimersByTimeAsync(8999);
    let settled = false;
    void call.then(() => (settled = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(settled).toBe(false); // acked, so no CONNECTION_TIMEOUT at 7 s
    await vi.advanceTimersByTimeAsync(1);
    const err = await call;
    expect([err.code, err.message]).toEqual([1502, 'Response timeout']);
  });

  it('CONNECTION_TIMEOUT when no ack arrives within 7 s', async () => {
    vi.useFakeTimers();
    const { alice, state } = link();
    state.drop = (from) => from === 'alice'; // bob never hears of it
    const call = rejection(alice.rpc.performRpc({ destinationIdentity: 'bob', method: 'm', payload: '' }));
    await vi.advanceTimersByTimeAsync(7000);
    const err = await call;
    expect([err.code, err.message]).toEqual([1501, 'Connection timeout']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('RECIPIENT_DISCONNECTED when the callee leaves mid-call', async () => {
    const { alice, bob } = link();
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    bob.rpc.registerRpcMethod('hang', () => {
      started();
      return new Promise<string>(() => {});
    });
    const call = rejection(alice.rpc.performRpc({ destinationIdentity: 'bob', method: 'hang', payload: '' }));
    await running;
    alice.rpc.participantDisconnected('carol'); // someone else: no effect
    alice.rpc.participantDisconnected('bob');
    const err = await call;
    expect([err.code, err.message]).toEqual([1503, 'Recipient disconnected']);
  });

  it('close() fails every call in flight', async () => {
    const { alice, state } = link();
    state.drop = () => true;
    const calls = [1, 2].map(() => rejection(alice.rpc.performRpc({ destinationIdentity: 'bob', method: 'm', payload: '' })));
    await new Promise((r) => setTimeout(r, 0));
    alice.rpc.close();
    for (const err of await Promise.all(calls)) expect(err.code).toBe(1503);
  });

  it('UNSUPPORTED_SERVER below LiveKit 1.8.0', async () => {
    const { alice, wire } = link({ serverVersion: '1.7.2' });
    const err = await rejection(alice.rpc.performRpc({ destinationIdentity: 'bob', method: 'm', payload: '' }));
    expect([err.code, err.message]).toEqual([1403, 'RPC not supported by server']);
    expect(wire).toHaveLength(0);
  });

  it('SEND_FAILED when the packet cannot be sent, leaving no timer behind', async () => {
    vi.useFakeTimers();
    const { alice, state } = link();
    state.failSends = true;
    const err = await rejection(alice.rpc.performRpc({ destinationIdentity: 'bob', method: 'm', payload: '' }));
    expect([err.code, err.message]).toEqual([1505, 'Failed to send']);
    expect((err.cause as Error).message).toBe('room disconnected');
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('RPC v2 (payloads over data streams, peers with clientProtocol ≥ 1)', () => {
  it('carries payloads far over 15 KiB both ways', async () => {
    const { alice, bob, wire } = link({ clientProtocol: 1 });
    bob.rpc.registerRpcMethod('rev', async (d) => [...d.payload].reverse().join(''));
    const payload = 'ab€😀'.repeat(20_000); // 220 KB
    await expect(alice.rpc.performRpc({ destinationIdentity: 'bob', method: 'rev', payload })).resolves.toBe([...payload].reverse().join(''));

    const header = wire.find((w) => w.from === 'alice' && w.packet.streamHeader)!.packet.streamHeader!;
    expect(header.topic).toBe('lk.rpc_request');
    expect(header.attributes).toMatchObject({
      'lk.rpc_request_method': 'rev',
      'lk.rpc_request_response_timeout_ms': '15000',
      'lk.rpc_request_version': '2',
    });
    const requestId = header.attributes['lk.rpc_request_id'];
    expect(wire.find((w) => w.from === 'bob' && w.packet.rpcAck)!.packet.rpcAck!.requestId).toBe(requestId);
    const response = wire.find((w) => w.from === 'bob' && w.packet.streamHeader)!.packet.streamHeader!;
    expect(response.topic).toBe('lk.rpc_response');
    expect(response.attributes).toEqual({ 'lk.rpc_request_id': requestId });
    expect(wire.some((w) => w.packet.rpcRequest || w.packet.rpcResponse)).toBe(false);
  });

  it('errors still travel as RpcResponse packets', async () => {
    const { alice, bob, wire } = link({ clientProtocol: 2, capabilities: [2] });
    bob.rpc.registerRpcMethod('boom', async () => {
      throw new Error('kaput');
    });
    let err = await rejection(alice.rpc.performRpc({ destinationIdentity: 'bob', method: 'boom', payload: 'x' }));
    expect([err.code, err.data]).toEqual([1500, undefined]); // v2 sends the bare built-in
    err = await rejection(alice.rpc.performRpc({ destinationIdentity: 'bob', method: 'none', payload: 'x' }));
    expect(err.code).toBe(1400);
    expect(wire.filter((w) => w.packet.rpcResponse)).toHaveLength(2);
  });

  it('RECIPIENT_DISCONNECTED and timeouts behave as in v1', async () => {
    vi.useFakeTimers();
    const { alice, bob, state } = link({ clientProtocol: 2 });
    bob.rpc.registerRpcMethod('slow', () => new Promise<string>(() => {}));
    const slow = rejection(alice.rpc.performRpc({ destinationIdentity: 'bob', method: 'slow', payload: '', responseTimeout: 10_000 }));
    await vi.advanceTimersByTimeAsync(10_000);
    expect((await slow).code).toBe(1502);
    state.drop = () => true;
    const lost = rejection(alice.rpc.performRpc({ destinationIdentity: 'bob', method: 'slow', payload: '' }));
    await vi.advanceTimersByTimeAsync(7000);
    expect((await lost).code).toBe(1501);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Against livekit-client 2.x itself (the e2e package's copy), run in Node: its Room's data path is plain JS.

const LK_CLIENT = '../../../e2e/node_modules/livekit-client/dist/livekit-client.esm.mjs';

interface LkPacket {
  toBinary(): Uint8Array;
}
interface LkRoom {
  engine: { sendDataPacket(packet: LkPacket, kind: number): Promise<void> };
  localParticipant: {
    identity: string;
    performRpc(p: { destinationIdentity: string; method: string; payload: string; responseTimeout?: number }): Promise<string>;
  };
  remoteParticipants: Map<string, unknown>;
  registerRpcMethod(method: string, handler: (d: RpcInvocationData) => Promise<string>): void;
  incomingDataStreamManager: { setConnected(c: boolean): void };
  handleDataPacket(packet: unknown, encryptionType: number): void;
}
interface LkModule {
  Room: new () => LkRoom;
  RpcError: new (code: number, message: string, data?: string) => Error & { code: number; data?: string };
}
interface LkProtocol {
  DataPacket: { fromBinary(bytes: Uint8Array): { participantIdentity: string } };
}

/** kite (our managers) ⇄ lk (a livekit-client Room); `protocol` is what each advertises to the other. */
async function lkLink(protocol: number) {
  const lk = (await import(/* @vite-ignore */ LK_CLIENT)) as LkModule;
  const lkProto = (await import(/* @vite-ignore */ '../../protocol/node_modules/@livekit/protocol/dist/index.mjs')) as LkProtocol;
  const room = new lk.Room();
  room.incomingDataStreamManager.setConnected(true);
  room.remoteParticipants.set('kite', { identity: 'kite', clientProtocol: protocol, capabilities: protocol >= 2 ? [2] : [] });
  const fromLk: DataPacket[] = [];
  const fromKite: DataPacket[] = [];
  const log = quiet();
  const sender: DataSender = {
    localIdentity: 'kite',
    serverVersion: '1.9.0',
    remoteClientProtocol: () => protocol,
    remoteCapabilities: () => (protocol >= 2 ? [2] : []),
    remoteIdentities: () => ['lk'],
    sendReliable: async (partial) => {
      const bytes = DataPacket.encode({ ...partial, participantIdentity: 'kite' });
      fromKite.push(DataPacket.decode(bytes));
      const packet = lkProto.DataPacket.fromBinary(bytes);
      queueMicrotask(() => room.handleDataPacket(packet, 0));
    },
  };
  const streams = new StreamManager(sender, { log });
  const rpc = new RpcManager(sender, streams, { log });
  room.engine.sendDataPacket = async (packet) => {
    const decoded = DataPacket.decode(packet.toBinary());
    fromLk.push(decoded);
    queueMicrotask(() => {
      if (!rpc.handlePacket(decoded, 'lk')) streams.handlePacket(decoded, 'lk');
    });
  };
  return { lk, room, rpc, streams, fromLk, fromKite };
}

describe.each([
  ['v1 (clientProtocol 0)', 0],
  ['v2 (clientProtocol 2)', 2],
])('interop with livekit-client, %s', (_name, protocol) => {
  it('kite calls livekit-client', async () => {
    const { room, rpc, fromLk, fromKite } = await lkLink(protocol);
    const seen: RpcInvocationData[] = [];
    room.registerRpcMethod('upper', async (d) => {
      seen.push(d);
      return d.payload.toUpperCase();
    });
    const payload = protocol ? 'é'.repeat(20_000) : 'hello';
    await expect(rpc.performRpc({ destinationIdentity: 'lk', method: 'upper', payload })).resolves.toBe(payload.toUpperCase());
    expect(seen[0]).toMatchObject({ callerIdentity: 'kite', payload, responseTimeout: 15000 });
    expect(fromLk[0].rpcAck?.requestId).toBe(seen[0].requestId);
    expect(fromKite.some((p) => p.rpcRequest)).toBe(protocol === 0);
    // v2: our request went as a (compressed, single-packet) stream; livekit-client answered with one too.
    expect(fromKite[0].streamHeader?.topic).toBe(protocol ? 'lk.rpc_request' : undefined);
    expect(fromLk.find((p) => p.streamHeader)?.streamHeader?.topic).toBe(protocol ? 'lk.rpc_response' : undefined);
  });

  it('livekit-client calls kite', async () => {
    const { room, rpc, fromLk } = await lkLink(protocol);
    rpc.registerRpcMethod('len', async (d) => `${d.callerIdentity}:${d.payload.length}:${d.responseTimeout}`);
    const payload = protocol ? 'x'.repeat(50_000) : 'xyz';
    await expect(room.localParticipant.performRpc({ destinationIdentity: 'kite', method: 'len', payload })).resolves.toBe(
      `lk:${payload.length}:15000`,
    );
    if (protocol) {
      // livekit-client deflated 50 KB of 'x' into the header itself: a single-packet, compressed stream.
      const header = fromLk[0].streamHeader!;
      expect([header.topic, header.compression, header.inlineContent!.byteLength < 1000]).toEqual(['lk.rpc_request', 1, true]);
    } else expect(fromLk[0].rpcRequest?.version).toBe(1);
  });

  it('errors cross both ways with code, message and data', async () => {
    const { lk, room, rpc } = await lkLink(protocol);
    rpc.registerRpcMethod('fail', async () => {
      throw new RpcError(7, 'seven', 'details');
    });
    room.registerRpcMethod('fail', async () => {
      throw new lk.RpcError(8, 'eight', 'more');
    });
    const fromKite = await room.localParticipant
      .performRpc({ destinationIdentity: 'kite', method: 'fail', payload: '' })
      .catch((e: { code: number; message: string; data?: string }) => e);
    expect(fromKite).toMatchObject({ code: 7, message: 'seven', data: 'details' });
    const fromLk = await rejection(rpc.performRpc({ destinationIdentity: 'lk', method: 'fail', payload: '' }));
    expect([fromLk.code, fromLk.message, fromLk.data]).toEqual([8, 'eight', 'more']);
    expect((await rejection(rpc.performRpc({ destinationIdentity: 'lk', method: 'nope', payload: '' }))).code).toBe(1400);
  });
});
