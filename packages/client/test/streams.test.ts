// Data streams between two managers joined back to back through DataPacket.encode/decode, and against livekit-client.
import { describe, expect, it, vi } from 'vitest';
import { DataPacket, DataStream_CompressionType, DataStream_OperationType, type PartialMessage } from '@kite/protocol';
import {
  DataStreamError,
  DataStreamErrorReason,
  STREAM_CHUNK_SIZE_BYTES,
  StreamManager,
  splitUtf8,
  type ByteStreamReader,
  type TextStreamReader,
} from '../src/data/streams.js';
import type { DataLogger, DataSender } from '../src/data/types.js';

const quiet = (): DataLogger => ({ debug: vi.fn(), warn: vi.fn(), error: vi.fn() });
const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

interface LinkOptions {
  clientProtocol?: number;
  capabilities?: number[];
}

/** alice → bob (and back); every packet is encoded and decoded, then delivered on a later microtask, in order. */
function link(opts: LinkOptions = {}) {
  const wire: { from: string; packet: DataPacket }[] = [];
  const managers = new Map<string, StreamManager>();
  const logs = new Map<string, DataLogger>();
  const make = (identity: string, other: string) => {
    const sender: DataSender = {
      localIdentity: identity,
      remoteClientProtocol: () => opts.clientProtocol ?? 0,
      remoteCapabilities: () => opts.capabilities ?? [],
      remoteIdentities: () => [other],
      sendReliable: async (partial: PartialMessage<DataPacket>) => {
        const packet = DataPacket.decode(DataPacket.encode({ ...partial, participantIdentity: identity }));
        wire.push({ from: identity, packet });
        queueMicrotask(() => expect(managers.get(other)!.handlePacket(packet, identity)).toBe(true));
      },
    };
    const log = quiet();
    logs.set(identity, log);
    managers.set(identity, new StreamManager(sender, { log }));
  };
  make('alice', 'bob');
  make('bob', 'alice');
  const packets = () => wire.map((w) => w.packet);
  return { alice: managers.get('alice')!, bob: managers.get('bob')!, wire, packets, bobLog: logs.get('bob')! };
}

/** The next stream bob receives on `topic`, with the sender's identity. */
function nextText(m: StreamManager, topic: string): Promise<{ reader: TextStreamReader; identity: string }> {
  return new Promise((resolve) => m.registerTextStreamHandler(topic, (reader, { identity }) => resolve({ reader, identity })));
}
function nextBytes(m: StreamManager, topic: string): Promise<{ reader: ByteStreamReader; identity: string }> {
  return new Promise((resolve) => m.registerByteStreamHandler(topic, (reader, { identity }) => resolve({ reader, identity })));
}
const joined = (chunks: Uint8Array[]) => {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) (out.set(c, at), (at += c.byteLength));
  return out;
};
/** vitest's deep equality walks typed arrays element by element: far too slow for 100 KB. */
const expectBytes = (actual: Uint8Array, expected: Uint8Array) => {
  expect(actual.byteLength).toBe(expected.byteLength);
  expect(Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength).equals(Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength))).toBe(true);
};
const randomBytes = (n: number) => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, Math.min(n, i + 65536)));
  return b;
};
async function streamError(p: Promise<unknown>): Promise<DataStreamError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DataStreamError);
  return err as DataStreamError;
}

describe('splitUtf8', () => {
  it('never splits a character', () => {
    const text = 'a' + '€😀é'.repeat(10);
    for (const max of [4, 5, 6, 7, 13]) {
      const pieces = splitUtf8(text, max);
      for (const p of pieces) {
        expect(p.byteLength).toBeLessThanOrEqual(max);
        expect(() => strictUtf8.decode(p)).not.toThrow();
      }
      expect(pieces.map((p) => strictUtf8.decode(p)).join('')).toBe(text);
    }
  });
});

describe('text streams, chunked (peers without data streams v2)', () => {
  it('sendText: header, chunks split on UTF-8 boundaries, trailer; reassembled on the other side', async () => {
    const { alice, bob, packets } = link();
    // 14 999 ASCII bytes then 4-byte characters: the 15 000-byte boundary falls inside one.
    const text = 'a'.repeat(14_999) + '😀'.repeat(5000) + 'é€'.repeat(3000);
    const size = utf8.encode(text).byteLength;
    const received = nextText(bob, 'chat');
    const info = await alice.sendText(text, { topic: 'chat', attributes: { k: 'v', lang: 'fr' } });
    const { reader, identity } = await received;
    expect(identity).toBe('alice');
    expect(await reader.readAll()).toBe(text);

    expect(info).toMatchObject({ mimeType: 'text/plain', topic: 'chat', size, attributes: { k: 'v', lang: 'fr' } });
    expect(reader.info).toMatchObject({ id: info.id, mimeType: 'text/plain', topic: 'chat', size, attributes: { k: 'v', lang: 'fr' } });
    expect(Math.abs(reader.info.timestamp - Date.now())).toBeLessThan(5000);

    const [first, ...rest] = packets();
    const header = first.streamHeader!;
    expect(header).toMatchObject({
      streamId: info.id,
      topic: 'chat',
      mimeType: 'text/plain',
      totalLength: size,
      attributes: { k: 'v', lang: 'fr' },
      compression: DataStream_CompressionType.NONE,
      textHeader: { operationType: DataStream_OperationType.CREATE, version: 0, replyToStreamId: '', attachedStreamIds: [] },
    });
    expect(header.inlineContent).toBeUndefined();
    const chunks = rest.slice(0, -1).map((p) => p.streamChunk!);
    expect(chunks.map((c) => c.chunkIndex)).toEqual(chunks.map((_, i) => i));
    for (const c of chunks) {
      expect(c.streamId).toBe(info.id);
      expect(c.content.byteLength).toBeLessThanOrEqual(STREAM_CHUNK_SIZE_BYTES);
      expect(() => strictUtf8.decode(c.content)).not.toThrow(); // each chunk decodes on its own
    }
    expect(chunks[0].content.byteLength).toBe(14_999);
    expect(rest.at(-1)!.streamTrailer).toEqual({ streamId: info.id, reason: '', attributes: {} });
  });

  it('large text (1 MB) is split and reassembled; progress reaches 1', async () => {
    const { alice, bob, packets } = link();
    const text = Array.from({ length: 40_000 }, (_, i) => `line ${i} ünïcödé\n`).join('');
    const received = nextText(bob, 'big');
    await alice.sendText(text, { topic: 'big' });
    const { reader } = await received;
    const progress: (number | undefined)[] = [];
    reader.onProgress = (p) => progress.push(p);
    let deltas = 0;
    let all = '';
    for await (const piece of reader) {
      deltas++;
      all += piece;
    }
    expect(all).toBe(text);
    expect(deltas).toBe(Math.ceil(utf8.encode(text).byteLength / STREAM_CHUNK_SIZE_BYTES));
    expect(packets().length).toBe(deltas + 2);
    expect(progress.at(-1)).toBe(1);
  });

  it('streamText: incremental writes arrive as deltas; no total_length', async () => {
    const { alice, bob, packets } = link();
    const received = nextText(bob, 'tokens');
    const writer = await alice.streamText({ topic: 'tokens', attributes: { model: 'x' }, destinationIdentities: ['bob'] });
    const { reader } = await received;
    expect(reader.info.size).toBeUndefined();
    expect(packets()[0].streamHeader!.totalLength).toBeUndefined();
    expect(packets()[0].destinationIdentities).toEqual(['bob']);
    const iterator = reader[Symbol.asyncIterator]();
    for (const word of ['Hel', 'lo ', 'wörld']) {
      await writer.write(word);
      expect(await iterator.next()).toEqual({ done: false, value: word });
    }
    await writer.close();
    expect(await iterator.next()).toEqual({ done: true, value: undefined });
    await expect(writer.write('late')).rejects.toThrow(/closed/);
    expect(writer.info).toMatchObject({ topic: 'tokens', mimeType: 'text/plain', attributes: { model: 'x' } });
  });

  it('streamText header options: update, version, reply_to, attached ids', async () => {
    const { alice, bob, packets } = link();
    const received = nextText(bob, 't');
    const writer = await alice.streamText({ topic: 't', type: 'update', version: 3, replyToStreamId: 'r', attachedStreamIds: ['f1'], streamId: 'sid' });
    await writer.close();
    const { reader } = await received;
    expect(await reader.readAll()).toBe('');
    expect(reader.info).toMatchObject({ id: 'sid', attachedStreamIds: ['f1'] });
    expect(packets()[0].streamHeader!.textHeader).toMatchObject({ operationType: DataStream_OperationType.UPDATE, version: 3, replyToStreamId: 'r' });
  });

  it('trailer attributes are merged into the reader info; a trailer reason fails the stream', async () => {
    const { alice, bob } = link();
    const received = nextText(bob, 't');
    await alice.streamText({ topic: 't', streamId: 's1', attributes: { a: '1' } });
    const { reader } = await received;
    bob.handlePacket(DataPacket.create({ streamChunk: { streamId: 's1', chunkIndex: 0, content: utf8.encode('hi') } }), 'alice');
    bob.handlePacket(DataPacket.create({ streamTrailer: { streamId: 's1', attributes: { b: '2' } } }), 'alice');
    expect(await reader.readAll()).toBe('hi');
    expect(reader.info.attributes).toEqual({ a: '1', b: '2' });

    bob.unregisterTextStreamHandler('t');
    const again = nextText(bob, 't');
    await alice.streamText({ topic: 't', streamId: 's2' });
    const r2 = (await again).reader;
    bob.handlePacket(DataPacket.create({ streamTrailer: { streamId: 's2', reason: 'cancelled' } }), 'alice');
    const err = await streamError(r2.readAll());
    expect([err.reason, err.message]).toEqual([DataStreamErrorReason.AbnormalEnd, 'Data stream s2 closed abnormally: cancelled']);
  });

  it('drops duplicate chunks and fails on a gap or a length mismatch', async () => {
    const { bob, bobLog } = link();
    const readers: TextStreamReader[] = [];
    bob.registerTextStreamHandler('t', (r) => readers.push(r));
    const header = (streamId: string, totalLength?: number) =>
      bob.handlePacket(DataPacket.create({ streamHeader: { streamId, topic: 't', mimeType: 'text/plain', totalLength, textHeader: {} } }), 'x');
    const chunk = (streamId: string, chunkIndex: number, text: string) =>
      bob.handlePacket(DataPacket.create({ streamChunk: { streamId, chunkIndex, content: utf8.encode(text) } }), 'x');
    const end = (streamId: string) => bob.handlePacket(DataPacket.create({ streamTrailer: { streamId } }), 'x');

    header('dup');
    chunk('dup', 0, 'a');
    chunk('dup', 0, 'a');
    chunk('dup', 1, 'b');
    end('dup');
    expect(await readers[0].readAll()).toBe('ab');
    expect(bobLog.warn).toHaveBeenCalled();

    header('gap');
    chunk('gap', 0, 'a');
    chunk('gap', 2, 'c');
    expect((await streamError(readers[1].readAll())).reason).toBe(DataStreamErrorReason.Incomplete);

    header('short', 10);
    chunk('short', 0, 'abc');
    end('short');
    expect((await streamError(readers[2].readAll())).reason).toBe(DataStreamErrorReason.Incomplete);

    header('long', 2);
    chunk('long', 0, 'abc');
    end('long');
    expect((await streamError(readers[3].readAll())).reason).toBe(DataStreamErrorReason.LengthExceeded);
  });

  it('an unregistered topic is dropped (chunks and trailer ignored)', async () => {
    const { alice, bob, bobLog } = link();
    const handler = vi.fn();
    bob.registerTextStreamHandler('other', handler);
    await alice.sendText('x'.repeat(40_000), { topic: 'nobody' });
    await new Promise((r) => setTimeout(r, 0));
    expect(handler).not.toHaveBeenCalled();
    expect(bobLog.debug).toHaveBeenCalledWith(expect.stringContaining('no handler'), 'nobody');
  });

  it('registering a topic twice throws HandlerAlreadyRegistered', () => {
    const { bob } = link();
    bob.registerTextStreamHandler('t', () => {});
    bob.registerByteStreamHandler('t', () => {}); // text and byte handlers are separate
    let err: unknown;
    try {
      bob.registerTextStreamHandler('t', () => {});
    } catch (e) {
      err = e;
    }
    expect((err as DataStreamError).reason).toBe(DataStreamErrorReason.HandlerAlreadyRegistered);
  });

  it('the reader errors when the sender disconnects mid-stream; other senders are unaffected', async () => {
    const { alice, bob } = link();
    const received = nextText(bob, 't');
    const writer = await alice.streamText({ topic: 't' });
    await writer.write('partial ');
    const { reader } = await received;
    const iterator = reader[Symbol.asyncIterator]();
    expect(await iterator.next()).toEqual({ done: false, value: 'partial ' });
    bob.participantDisconnected('carol');
    bob.participantDisconnected('alice');
    const err = await streamError(iterator.next());
    expect([err.reason, err.message]).toEqual([DataStreamErrorReason.AbnormalEnd, 'Participant alice unexpectedly disconnected in the middle of sending data']);
  });

  it('close() errors every stream in flight', async () => {
    const { alice, bob } = link();
    const received = nextText(bob, 't');
    await alice.streamText({ topic: 't' });
    const { reader } = await received;
    bob.close();
    expect((await streamError(reader.readAll())).message).toBe('Room disconnected in the middle of receiving data');
  });

  it('readAll honours an abort signal', async () => {
    const { alice, bob } = link();
    const received = nextText(bob, 't');
    await alice.streamText({ topic: 't' });
    const { reader } = await received;
    const ac = new AbortController();
    const reading = reader.readAll({ signal: ac.signal });
    ac.abort(new Error('enough'));
    await expect(reading).rejects.toThrow('enough');
  });

  it('a handler that throws or rejects is logged, not fatal', async () => {
    const { alice, bob, bobLog } = link();
    bob.registerTextStreamHandler('t', async () => {
      throw new Error('handler bug');
    });
    await alice.sendText('x', { topic: 't' });
    await vi.waitFor(() => expect(bobLog.error).toHaveBeenCalled());
  });

  it('header too large (attributes) is refused before sending', async () => {
    const { alice, wire } = link();
    const err = await streamError(alice.sendText('x', { attributes: { big: 'y'.repeat(15_000) } }));
    expect(err.reason).toBe(DataStreamErrorReason.HeaderTooLarge);
    expect(wire).toHaveLength(0);
  });
});

describe('byte streams', () => {
  it('streamBytes: name, mime type, total size; writes split into 15 000-byte chunks', async () => {
    const { alice, bob, packets } = link();
    const data = randomBytes(40_000);
    const received = nextBytes(bob, 'files');
    const writer = await alice.streamBytes({ name: 'blob.bin', topic: 'files', mimeType: 'application/x-test', totalSize: data.byteLength, attributes: { a: 'b' } });
    await writer.write(data.subarray(0, 1000));
    await writer.write(data.subarray(1000));
    await writer.close();
    const { reader, identity } = await received;
    expect(identity).toBe('alice');
    expect(reader.info).toMatchObject({ name: 'blob.bin', mimeType: 'application/x-test', size: 40_000, topic: 'files', attributes: { a: 'b' } });
    expectBytes(joined(await reader.readAll()), data);
    expect(packets()[0].streamHeader).toMatchObject({ byteHeader: { name: 'blob.bin' }, totalLength: 40_000 });
    expect(packets().slice(1, -1).map((p) => p.streamChunk!.content.byteLength)).toEqual([1000, 15_000, 15_000, 9000]);
  });

  it('sendBytes and sendFile (any Blob) with livekit-client defaults', async () => {
    const { alice, bob } = link();
    const data = randomBytes(33_333);
    const first = nextBytes(bob, 'b');
    const info = await alice.sendBytes(data, { topic: 'b' });
    expect(info).toMatchObject({ name: 'unknown', mimeType: 'application/octet-stream', size: 33_333 });
    expectBytes(joined(await (await first).reader.readAll()), data);

    bob.unregisterByteStreamHandler('b');
    const second = nextBytes(bob, 'b');
    const progress: number[] = [];
    const { id } = await alice.sendFile(new File([data], 'photo.jpg', { type: 'image/jpeg' }), { topic: 'b', onProgress: (p) => progress.push(p) });
    const { reader } = await second;
    expect(reader.info).toMatchObject({ id, name: 'photo.jpg', mimeType: 'image/jpeg', size: 33_333 });
    expectBytes(joined(await reader.readAll()), data);
    expect(progress.at(-1)).toBe(1);
  });
});

describe('data streams v2 (peers with clientProtocol ≥ 2)', () => {
  it('a small text rides inline in the header (one packet)', async () => {
    const { alice, bob, packets } = link({ clientProtocol: 2 });
    const received = nextText(bob, 't');
    await alice.sendText('hé 😀', { topic: 't', attributes: { x: 'y' } });
    expect(await (await received).reader.readAll()).toBe('hé 😀');
    expect(packets()).toHaveLength(1);
    expect(packets()[0].streamHeader).toMatchObject({ compression: DataStream_CompressionType.NONE, totalLength: 8 });
    expect(new Uint8Array(packets()[0].streamHeader!.inlineContent!)).toEqual(utf8.encode('hé 😀'));
  });

  it('an empty text is one inline packet too', async () => {
    const { alice, bob, packets } = link({ clientProtocol: 2 });
    const received = nextText(bob, 't');
    await alice.sendText('', { topic: 't' });
    expect(await (await received).reader.readAll()).toBe('');
    expect(packets()[0].streamHeader!.inlineContent!.byteLength).toBe(0);
  });

  it('compresses for peers with CAP_COMPRESSION_DEFLATE_RAW: inline when it fits, chunked otherwise', async () => {
    const { alice, bob, packets } = link({ clientProtocol: 2, capabilities: [2] });
    const readers: TextStreamReader[] = [];
    bob.registerTextStreamHandler('t', (r) => readers.push(r));

    const repetitive = 'all work and no play makes jack a dull boy. '.repeat(5000); // 225 KB → ~1 KB
    await alice.sendText(repetitive, { topic: 't' });
    expect(packets()).toHaveLength(1);
    expect(packets()[0].streamHeader!.compression).toBe(DataStream_CompressionType.DEFLATE_RAW);
    await vi.waitFor(() => expect(readers).toHaveLength(1));
    expect(await readers[0].readAll()).toBe(repetitive);

    // Random base64 barely compresses: the deflated bytes are chunked (not on character boundaries) and inflated as one stream.
    const noisy = Buffer.from(randomBytes(60_000)).toString('base64') + '€😀'.repeat(1000);
    await alice.sendText(noisy, { topic: 't' });
    const sent = packets().slice(1);
    expect(sent[0].streamHeader).toMatchObject({ compression: DataStream_CompressionType.DEFLATE_RAW, totalLength: utf8.encode(noisy).byteLength });
    expect(sent[0].streamHeader!.inlineContent).toBeUndefined();
    expect(sent.length).toBeGreaterThan(4);
    await vi.waitFor(() => expect(readers).toHaveLength(2));
    expect(await readers[1].readAll()).toBe(noisy);
    expect(readers[1].info.size).toBe(utf8.encode(noisy).byteLength);
  });

  it('tiny payloads are not compressed (deflate would make them bigger)', async () => {
    const { alice, packets } = link({ clientProtocol: 2, capabilities: [2] });
    await alice.sendText('ok');
    expect(packets()[0].streamHeader!.compression).toBe(DataStream_CompressionType.NONE);
    expect(new Uint8Array(packets()[0].streamHeader!.inlineContent!)).toEqual(utf8.encode('ok'));
  });

  it('bytes and files are compressed too; compress: false opts out', async () => {
    const { alice, bob, packets } = link({ clientProtocol: 2, capabilities: [2] });
    const readers: ByteStreamReader[] = [];
    bob.registerByteStreamHandler('b', (r) => readers.push(r));
    const zeros = new Uint8Array(100_000);
    await alice.sendBytes(zeros, { topic: 'b', name: 'zeros' });
    const file = new Uint8Array(200_000).map((_, i) => i % 7);
    await alice.sendFile(new Blob([file]) as unknown as File, { topic: 'b' });
    await alice.sendBytes(zeros.subarray(0, 20_000), { topic: 'b', compress: false });
    await vi.waitFor(() => expect(readers).toHaveLength(3));
    expectBytes(joined(await readers[0].readAll()), zeros);
    expectBytes(joined(await readers[1].readAll()), file);
    expectBytes(joined(await readers[2].readAll()), zeros.subarray(0, 20_000));
    const headers = packets().filter((p) => p.streamHeader).map((p) => p.streamHeader!);
    expect(headers.map((h) => [h.compression, h.inlineContent !== undefined])).toEqual([
      [DataStream_CompressionType.DEFLATE_RAW, true],
      [DataStream_CompressionType.DEFLATE_RAW, false], // files are never inline
      [DataStream_CompressionType.NONE, false], // 20 KB uncompressed does not fit one packet
    ]);
  });

  it('a broadcast goes inline only if every remote participant supports it', async () => {
    const { alice, packets } = link({ clientProtocol: 1 });
    await alice.sendText('hi');
    expect(packets()[0].streamHeader!.inlineContent).toBeUndefined();
    expect(packets()).toHaveLength(3);
  });

  it('a corrupt compressed stream fails the reader with DecodeFailed', async () => {
    const { bob } = link();
    const received = nextBytes(bob, 'b');
    bob.handlePacket(
      DataPacket.create({ streamHeader: { streamId: 'z', topic: 'b', byteHeader: { name: 'n' }, compression: DataStream_CompressionType.DEFLATE_RAW } }),
      'x',
    );
    bob.handlePacket(DataPacket.create({ streamChunk: { streamId: 'z', chunkIndex: 0, content: new Uint8Array([0xff, 0xff, 0xff, 0xff]) } }), 'x');
    bob.handlePacket(DataPacket.create({ streamTrailer: { streamId: 'z' } }), 'x');
    expect((await streamError((await received).reader.readAll())).reason).toBe(DataStreamErrorReason.DecodeFailed);
  });

  it('the inflated size is capped', async () => {
    const sink = new StreamManager({ localIdentity: 'c', sendReliable: async () => {} }, { log: quiet(), maxPayloadByteLength: 1000 });
    const readers: ByteStreamReader[] = [];
    sink.registerByteStreamHandler('b', (r) => readers.push(r));
    const source = new StreamManager(
      {
        localIdentity: 'alice',
        remoteClientProtocol: () => 2,
        remoteCapabilities: () => [2],
        remoteIdentities: () => ['c'],
        sendReliable: async (p) => void sink.handlePacket(DataPacket.decode(DataPacket.encode(p)), 'alice'),
      },
      { log: quiet() },
    );
    await source.sendBytes(new Uint8Array(5000), { topic: 'b' }); // deflates to a few bytes, inline
    expect((await streamError(readers[0].readAll())).reason).toBe(DataStreamErrorReason.PayloadTooLarge);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Against livekit-client 2.x itself (the e2e package's copy) and its protobuf classes.

const LK_CLIENT = '../../../e2e/node_modules/livekit-client/dist/livekit-client.esm.mjs';
const LK_PROTOCOL = '../../protocol/node_modules/@livekit/protocol/dist/index.mjs';

interface LkReader {
  info: { id: string; topic: string; size?: number; attributes?: Record<string, string>; mimeType: string; name?: string };
  readAll(): Promise<string | Uint8Array[]>;
}
type LkHandler = (reader: LkReader, p: { identity: string }) => void;
interface LkWriter<T> {
  write(chunk: T): Promise<void>;
  close(): Promise<void>;
}
interface LkRoom {
  engine: { sendDataPacket(packet: { toBinary(): Uint8Array }, kind: number): Promise<void> };
  remoteParticipants: Map<string, unknown>;
  registerTextStreamHandler(topic: string, h: LkHandler): void;
  registerByteStreamHandler(topic: string, h: LkHandler): void;
  incomingDataStreamManager: { setConnected(c: boolean): void };
  handleDataPacket(packet: unknown, encryptionType: number): void;
  localParticipant: {
    sendText(text: string, o?: object): Promise<{ id: string }>;
    streamText(o?: object): Promise<LkWriter<string>>;
    sendBytes(b: Uint8Array, o?: object): Promise<{ id: string }>;
    streamBytes(o?: object): Promise<LkWriter<Uint8Array>>;
    sendFile(f: File, o?: object): Promise<{ id: string }>;
  };
}
interface LkDataPacket {
  participantIdentity: string;
  destinationIdentities: string[];
  value: { case: string; value: Record<string, unknown> & { contentHeader?: { case: string; value: Record<string, unknown> } } };
}
interface LkProtocol {
  DataPacket: { fromBinary(bytes: Uint8Array): LkDataPacket };
}

async function lkLink(protocol: number) {
  const lk = (await import(/* @vite-ignore */ LK_CLIENT)) as { Room: new () => LkRoom };
  const lkProto = (await import(/* @vite-ignore */ LK_PROTOCOL)) as LkProtocol;
  const room = new lk.Room();
  room.incomingDataStreamManager.setConnected(true);
  room.remoteParticipants.set('kite', { identity: 'kite', clientProtocol: protocol, capabilities: protocol >= 2 ? [2] : [] });
  const fromLk: DataPacket[] = [];
  const kite = new StreamManager(
    {
      localIdentity: 'kite',
      remoteClientProtocol: () => protocol,
      remoteCapabilities: () => (protocol >= 2 ? [2] : []),
      remoteIdentities: () => ['lk'],
      sendReliable: async (partial) => {
        const packet = lkProto.DataPacket.fromBinary(DataPacket.encode({ ...partial, participantIdentity: 'kite' }));
        queueMicrotask(() => room.handleDataPacket(packet, 0));
      },
    },
    { log: quiet() },
  );
  room.engine.sendDataPacket = async (packet) => {
    const decoded = DataPacket.decode(packet.toBinary());
    fromLk.push(decoded);
    queueMicrotask(() => kite.handlePacket(decoded, 'lk'));
  };
  const lkNext = (kind: 'text' | 'byte', topic: string) =>
    new Promise<{ reader: LkReader; identity: string }>((resolve) =>
      (kind === 'text' ? room.registerTextStreamHandler : room.registerByteStreamHandler).call(room, topic, (reader, { identity }) =>
        resolve({ reader, identity }),
      ),
    );
  return { room, kite, fromLk, lkNext, lkProto };
}

describe('wire format as @livekit/protocol decodes it', () => {
  it('header, chunk and trailer fields match what livekit-client sends', async () => {
    const lkProto = (await import(/* @vite-ignore */ LK_PROTOCOL)) as LkProtocol;
    const sent: Uint8Array[] = [];
    const m = new StreamManager({ localIdentity: 'kite', sendReliable: async (p) => void sent.push(DataPacket.encode(p)) }, { log: quiet() });
    const info = await m.sendText('x'.repeat(20_000), { topic: 'chat', destinationIdentities: ['bob'], attributes: { a: 'b' } });
    const [h, c0, c1, t] = sent.map((b) => lkProto.DataPacket.fromBinary(b));
    expect(h.destinationIdentities).toEqual(['bob']);
    expect(h.value.case).toBe('streamHeader');
    const header = h.value.value;
    expect(header).toMatchObject({ streamId: info.id, topic: 'chat', mimeType: 'text/plain', totalLength: 20_000n, attributes: { a: 'b' }, compression: 0 });
    expect(header.timestamp).toBe(BigInt(info.timestamp));
    expect(header.contentHeader).toMatchObject({ case: 'textHeader', value: { operationType: 0, attachedStreamIds: [] } });
    expect([c0.value.case, c0.value.value.chunkIndex, (c0.value.value.content as Uint8Array).byteLength]).toEqual(['streamChunk', 0n, 15_000]);
    expect([c1.value.value.chunkIndex, (c1.value.value.content as Uint8Array).byteLength]).toEqual([1n, 5000]);
    expect(t.value).toMatchObject({ case: 'streamTrailer', value: { streamId: info.id, reason: '' } });
  });
});

describe.each([
  ['v1 peers (clientProtocol 0)', 0],
  ['v2 peers (clientProtocol 2, deflate-raw)', 2],
])('interop with livekit-client, %s', (_name, protocol) => {
  const bigText = 'a'.repeat(14_999) + '😀é'.repeat(20_000) + Buffer.from(randomBytes(30_000)).toString('base64');

  it('kite sendText → livekit-client', async () => {
    const { kite, lkNext } = await lkLink(protocol);
    for (const [topic, text] of [['short', 'short'], ['big', bigText]]) {
      const received = lkNext('text', topic);
      const info = await kite.sendText(text, { topic, attributes: { k: 'v' } });
      const { reader, identity } = await received;
      expect(identity).toBe('kite');
      expect(await reader.readAll()).toBe(text);
      expect(reader.info).toMatchObject({ id: info.id, topic, mimeType: 'text/plain', size: utf8.encode(text).byteLength, attributes: { k: 'v' } });
    }
  });

  it('livekit-client sendText → kite', async () => {
    const { room, kite, fromLk } = await lkLink(protocol);
    const readers: TextStreamReader[] = [];
    kite.registerTextStreamHandler('chat', (r) => readers.push(r));
    await room.localParticipant.sendText('short', { topic: 'chat', attributes: { k: 'v' } });
    await room.localParticipant.sendText(bigText, { topic: 'chat' });
    await vi.waitFor(() => expect(readers).toHaveLength(2));
    expect(await readers[0].readAll()).toBe('short');
    expect(readers[0].info).toMatchObject({ topic: 'chat', attributes: { k: 'v' }, size: 5 });
    expect(await readers[1].readAll()).toBe(bigText);
    const compressions = fromLk.filter((p) => p.streamHeader).map((p) => p.streamHeader!.compression);
    expect(compressions).toEqual(protocol ? [0, 1] : [0, 0]); // livekit-client deflates the big one for v2 peers
  });

  it('streamText both ways', async () => {
    const { room, kite, lkNext } = await lkLink(protocol);
    const toLk = lkNext('text', 'tok');
    const w = await kite.streamText({ topic: 'tok' });
    for (const t of ['a', 'b€', '😀'.repeat(5000)]) await w.write(t);
    await w.close();
    expect(await (await toLk).reader.readAll()).toBe('ab€' + '😀'.repeat(5000));

    const toKite = nextText(kite, 'tok');
    const lw = await room.localParticipant.streamText({ topic: 'tok' });
    for (const t of ['x', 'y€', 'é'.repeat(10_000)]) await lw.write(t);
    await lw.close();
    expect(await (await toKite).reader.readAll()).toBe('xy€' + 'é'.repeat(10_000));
  });

  it('bytes and files both ways', async () => {
    const { room, kite, lkNext } = await lkLink(protocol);
    const data = randomBytes(50_000);
    const zeros = new Uint8Array(80_000);

    const a = lkNext('byte', 'b');
    const w = await kite.streamBytes({ topic: 'b', name: 'n.bin', totalSize: data.byteLength });
    await w.write(data);
    await w.close();
    const ra = (await a).reader;
    expectBytes(joined((await ra.readAll()) as Uint8Array[]), data);
    expect(ra.info).toMatchObject({ name: 'n.bin', size: 50_000, mimeType: 'application/octet-stream' });

    const readers: ByteStreamReader[] = [];
    kite.registerByteStreamHandler('b', (r) => readers.push(r));
    await room.localParticipant.sendBytes(zeros, { topic: 'b', name: 'zeros' });
    await room.localParticipant.sendFile(new File([data], 'f.bin', { type: 'application/x-f' }), { topic: 'b' });
    const lw = await room.localParticipant.streamBytes({ topic: 'b', name: 's', totalSize: 3 });
    await lw.write(new Uint8Array([1, 2, 3]));
    await lw.close();
    await vi.waitFor(() => expect(readers).toHaveLength(3));
    expectBytes(joined(await readers[0].readAll()), zeros);
    expect(readers[1].info).toMatchObject({ name: 'f.bin', mimeType: 'application/x-f', size: 50_000 });
    expectBytes(joined(await readers[1].readAll()), data);
    expectBytes(joined(await readers[2].readAll()), new Uint8Array([1, 2, 3]));
  });
});
