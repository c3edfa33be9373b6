// Data streams (text and byte), wire-compatible with livekit-client 2.x: a DataStream.Header, chunks of at most
// STREAM_CHUNK_SIZE_BYTES and a Trailer, all on the reliable channel; or, for peers that advertise data streams v2,
// a single header carrying the payload inline. Payloads may be deflate-raw compressed (header.compression).
import {
  ClientInfo_Capability,
  DataPacket,
  DataPacket_Kind,
  DataStream_CompressionType,
  DataStream_OperationType,
  Encryption_Type,
  type DataStream_Chunk,
  type DataStream_Header,
  type DataStream_Trailer,
  type PartialMessage,
} from '@kite/protocol';
import { CLIENT_PROTOCOL_DATA_STREAM_V2, type DataLogger, type DataSender } from './types.js';
import { randomId } from './ids.js';

/** Largest chunk content (and largest single-packet stream) livekit-client sends. */
export const STREAM_CHUNK_SIZE_BYTES = 15_000;
/** Default cap on what one compressed incoming stream may inflate to (decompression-bomb guard), as livekit-client. */
export const DEFAULT_MAX_PAYLOAD_BYTE_LENGTH = 5_000_000_000;

/** livekit-client's DataStreamErrorReason (values shared with the other LiveKit SDKs). */
export enum DataStreamErrorReason {
  AlreadyOpened = 0,
  AbnormalEnd = 1,
  DecodeFailed = 2,
  LengthExceeded = 3,
  Incomplete = 4,
  HandlerAlreadyRegistered = 7,
  EncryptionTypeMismatch = 8,
  HeaderTooLarge = 9,
  PayloadTooLarge = 10,
}

export class DataStreamError extends Error {
  override readonly name = 'DataStreamError';
  readonly reasonName: string;
  constructor(
    message: string,
    readonly reason: DataStreamErrorReason,
  ) {
    super(message);
    this.reasonName = DataStreamErrorReason[reason];
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Public types (livekit-client's names)

export interface BaseStreamInfo {
  id: string;
  mimeType: string;
  topic: string;
  timestamp: number;
  /** Total size in bytes for finite streams, undefined for streams of unknown size. */
  size?: number;
  attributes?: Record<string, string>;
  encryptionType: Encryption_Type;
}
export interface TextStreamInfo extends BaseStreamInfo {
  attachedStreamIds?: string[];
}
export interface ByteStreamInfo extends BaseStreamInfo {
  name: string;
}

/** What sendFile needs of a File (browser File and Node's File/Blob fit). */
export interface FileLike {
  readonly name: string;
  readonly type: string;
  readonly size: number;
  slice(start?: number, end?: number): { arrayBuffer(): Promise<ArrayBuffer> };
}

export interface SendTextOptions {
  topic?: string;
  destinationIdentities?: string[];
  attachments?: FileLike[];
  onProgress?: (progress: number) => void;
  attributes?: Record<string, string>;
  /** Deflate-raw the payload when every recipient can inflate it. Default true. */
  compress?: boolean;
}
export interface SendBytesOptions {
  topic?: string;
  destinationIdentities?: string[];
  attributes?: Record<string, string>;
  onProgress?: (progress: number) => void;
  compress?: boolean;
  name?: string;
  mimeType?: string;
}
export interface StreamTextOptions {
  topic?: string;
  destinationIdentities?: string[];
  type?: 'create' | 'update';
  streamId?: string;
  version?: number;
  attachedStreamIds?: string[];
  replyToStreamId?: string;
  totalSize?: number;
  attributes?: Record<string, string>;
}
export interface StreamBytesOptions {
  name?: string;
  topic?: string;
  attributes?: Record<string, string>;
  destinationIdentities?: string[];
  streamId?: string;
  mimeType?: string;
  totalSize?: number;
}
export interface SendFileOptions {
  topic?: string;
  mimeType?: string;
  destinationIdentities?: string[];
  onProgress?: (progress: number) => void;
  compress?: boolean;
}

export interface StreamReadAllOptions {
  /** Ends the read early (rejecting with the signal's reason). */
  signal?: AbortSignal;
}

export type TextStreamHandler = (reader: TextStreamReader, participantInfo: { identity: string }) => void;
export type ByteStreamHandler = (reader: ByteStreamReader, participantInfo: { identity: string }) => void;

// ---------------------------------------------------------------------------------------------------------------
// deflate-raw through the platform's CompressionStream / DecompressionStream (browsers, Node ≥ 18).
// Typed structurally so the module compiles with or without the DOM lib.

interface ByteTransform {
  readonly writable: {
    getWriter(): { write(chunk: Uint8Array): Promise<void>; close(): Promise<void>; abort(reason?: unknown): Promise<void> };
  };
  readonly readable: {
    getReader(): { read(): Promise<{ done: boolean; value?: Uint8Array }>; cancel(reason?: unknown): Promise<void> };
  };
}
type ByteTransformCtor = new (format: 'deflate-raw') => ByteTransform;
const platform = globalThis as unknown as { CompressionStream?: ByteTransformCtor; DecompressionStream?: ByteTransformCtor };

let deflateSupported: boolean | undefined;
/** Whether this runtime can deflate-raw both ways: advertise ClientInfo CAP_COMPRESSION_DEFLATE_RAW only if so. */
export function isDeflateRawSupported(): boolean {
  if (deflateSupported === undefined) {
    try {
      // Constructing with an unknown format throws: that is the only probe there is.
      new platform.CompressionStream!('deflate-raw');
      new platform.DecompressionStream!('deflate-raw');
      deflateSupported = true;
    } catch {
      deflateSupported = false;
    }
  }
  return deflateSupported;
}

interface BytePipe {
  /** Resolves once the transform has taken the bytes (rejects if the pipe failed). */
  write(bytes: Uint8Array): Promise<void>;
  /** Ends the input; `done` settles once every output piece has been handled. */
  close(): void;
  abort(reason: unknown): void;
  readonly done: Promise<void>;
}

/** Runs bytes through a (de)compressor, awaiting `onData` for each output piece in order. */
function pipeThrough(transform: ByteTransform, onData: (bytes: Uint8Array) => void | Promise<void>): BytePipe {
  const writer = transform.writable.getWriter();
  const reader = transform.readable.getReader();
  const done = (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      if (value && value.byteLength > 0) await onData(value);
    }
  })().catch(async (err: unknown) => {
    // Unblock writers waiting on back-pressure, then report.
    await writer.abort(err).catch(() => {});
    throw err;
  });
  done.catch(() => {}); // observed by whoever awaits `done`
  return {
    write: (bytes) => writer.write(bytes),
    close: () => void writer.close().catch(() => {}),
    abort: (reason) => {
      void writer.abort(reason).catch(() => {});
      void reader.cancel(reason).catch(() => {});
    },
    done,
  };
}

async function transformAll(ctor: ByteTransformCtor, bytes: Uint8Array, maxOutput = Infinity): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let total = 0;
  const pipe = pipeThrough(new ctor('deflate-raw'), (out) => {
    total += out.byteLength;
    if (total > maxOutput) throw payloadTooLarge(maxOutput);
    parts.push(out);
  });
  pipe.write(bytes).catch(() => {});
  pipe.close();
  await pipe.done;
  return concat(parts, total);
}

const deflateRaw = (bytes: Uint8Array) => transformAll(platform.CompressionStream!, bytes);
const inflateRaw = (bytes: Uint8Array, max: number) => transformAll(platform.DecompressionStream!, bytes, max);

const payloadTooLarge = (max: number) =>
  new DataStreamError(`Decompressed payload exceeds the maximum payload size of ${max} bytes`, DataStreamErrorReason.PayloadTooLarge);

function concat(parts: Uint8Array[], total = parts.reduce((n, p) => n + p.byteLength, 0)): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.byteLength;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Chunking

const encoder = new TextEncoder();

/** Encodes text as UTF-8 pieces of at most `max` bytes, never splitting a character (livekit-client's splitUtf8). */
export function splitUtf8(text: string, max: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let rest = encoder.encode(text);
  while (rest.byteLength > max) {
    let cut = max;
    while (cut > 0 && (rest[cut] & 0xc0) === 0x80) cut--; // back up to the first byte of a character
    if (cut === 0) cut = max; // not UTF-8 (cannot come from TextEncoder); never loop forever
    out.push(rest.subarray(0, cut));
    rest = rest.subarray(cut);
  }
  if (rest.byteLength > 0) out.push(rest);
  return out;
}

/** Collects bytes into STREAM_CHUNK_SIZE_BYTES pieces and sends each as the next chunk of a stream. */
class ChunkSender {
  private index = 0;
  private buffered: Uint8Array = new Uint8Array(0);

  constructor(
    private readonly send: (chunk: PartialMessage<DataStream_Chunk>) => Promise<void>,
    private readonly streamId: string,
  ) {}

  /** Sends `content` as one chunk as is (the caller sized it). */
  sendChunk(content: Uint8Array): Promise<void> {
    return this.send({ streamId: this.streamId, chunkIndex: this.index++, content });
  }

  async push(bytes: Uint8Array): Promise<void> {
    let data = this.buffered.byteLength ? concat([this.buffered, bytes]) : bytes;
    while (data.byteLength >= STREAM_CHUNK_SIZE_BYTES) {
      await this.sendChunk(data.subarray(0, STREAM_CHUNK_SIZE_BYTES));
      data = data.subarray(STREAM_CHUNK_SIZE_BYTES);
    }
    this.buffered = data;
  }

  async flush(): Promise<void> {
    if (this.buffered.byteLength > 0) await this.sendChunk(this.buffered);
    this.buffered = new Uint8Array(0);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Writers

/** Serialises writes like livekit-client's WritableStream-backed writers: one failure fails the rest. */
class BaseStreamWriter<T, I extends BaseStreamInfo> {
  private chain: Promise<void> = Promise.resolve();
  private failure: unknown;
  private closed = false;

  constructor(
    readonly info: I,
    private readonly sink: { write(chunk: T): Promise<void>; close(): Promise<void> },
  ) {}

  write(chunk: T): Promise<void> {
    if (this.closed) return Promise.reject(new TypeError('Cannot write to a closed stream writer'));
    return this.enqueue(() => this.sink.write(chunk));
  }

  close(): Promise<void> {
    if (this.closed) return Promise.reject(new TypeError('Stream writer is already closed'));
    this.closed = true;
    return this.enqueue(() => this.sink.close());
  }

  private enqueue(op: () => Promise<void>): Promise<void> {
    const run = this.chain.then(() => {
      if (this.failure !== undefined) throw this.failure;
      return op().catch((err: unknown) => {
        this.failure = err;
        throw err;
      });
    });
    this.chain = run.catch(() => {});
    return run;
  }
}

export class TextStreamWriter extends BaseStreamWriter<string, TextStreamInfo> {}
export class ByteStreamWriter extends BaseStreamWriter<Uint8Array, ByteStreamInfo> {}

// ---------------------------------------------------------------------------------------------------------------
// Readers

/** Single-consumer queue of received (decompressed) byte pieces. */
class Inbox {
  private readonly queue: Uint8Array[] = [];
  private state: 'open' | 'ended' | 'failed' = 'open';
  private failure: unknown;
  private wake?: () => void;

  get open(): boolean {
    return this.state === 'open';
  }
  push(bytes: Uint8Array): void {
    if (this.state !== 'open') return;
    this.queue.push(bytes);
    this.notify();
  }
  end(): void {
    if (this.state !== 'open') return;
    this.state = 'ended';
    this.notify();
  }
  fail(err: unknown): void {
    if (this.state !== 'open') return;
    this.state = 'failed';
    this.failure = err;
    this.notify();
  }
  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** The next piece, or undefined at the end. Throws the stream's error once queued pieces are consumed. */
  async take(signal?: AbortSignal): Promise<Uint8Array | undefined> {
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      if (this.queue.length > 0) return this.queue.shift();
      if (this.state === 'ended') return undefined;
      if (this.state === 'failed') throw this.failure;
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => reject(signal!.reason);
        signal?.addEventListener('abort', onAbort, { once: true });
        this.wake = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
      });
    }
  }
}

abstract class BaseStreamReader<I extends BaseStreamInfo> {
  /** Progress between 0 and 1 as chunks are read; undefined for streams of unknown size. */
  onProgress?: (progress: number | undefined) => void;
  signal?: AbortSignal;
  protected bytesReceived = 0;

  /** @internal */
  constructor(
    protected readonly _info: I,
    protected readonly inbox: Inbox,
    protected readonly totalByteSize?: number,
  ) {}

  get info(): I {
    return this._info;
  }

  /** Makes the next iteration (or readAll) end with the signal's reason when it is aborted. */
  withAbortSignal(signal: AbortSignal): this {
    this.signal = signal;
    return this;
  }

  /** The next piece, checked against the header's total_length as livekit-client does. */
  protected async nextBytes(signal: AbortSignal | undefined): Promise<Uint8Array | undefined> {
    const bytes = await this.inbox.take(signal);
    const total = this.totalByteSize;
    if (bytes === undefined) {
      if (total && this.bytesReceived < total) {
        throw new DataStreamError(
          `Not enough chunk(s) received - expected ${total} bytes of data total, only received ${this.bytesReceived} bytes`,
          DataStreamErrorReason.Incomplete,
        );
      }
      if (typeof total === 'number') this.onProgress?.(1);
      return undefined;
    }
    this.bytesReceived += bytes.byteLength;
    if (total && this.bytesReceived > total) {
      throw new DataStreamError(
        `Extra chunk(s) received - expected ${total} bytes of data total, received ${this.bytesReceived} bytes`,
        DataStreamErrorReason.LengthExceeded,
      );
    }
    this.onProgress?.(total ? this.bytesReceived / total : undefined);
    return bytes;
  }

  /** An iterator over pieces mapped by `map`, with `tail` appended at the end. */
  protected iterate<T>(map: (bytes: Uint8Array) => T | undefined, tail?: () => T | undefined): AsyncIterator<T> {
    const signal = this.signal;
    let finished = false;
    const finish = () => {
      finished = true;
      this.signal = undefined;
    };
    return {
      next: async (): Promise<IteratorResult<T>> => {
        while (!finished) {
          let bytes: Uint8Array | undefined;
          try {
            bytes = await this.nextBytes(signal);
          } catch (err) {
            finish();
            throw err;
          }
          if (bytes === undefined) {
            finish();
            const last = tail?.();
            if (last !== undefined) return { done: false, value: last };
            break;
          }
          const value = map(bytes);
          if (value !== undefined) return { done: false, value };
        }
        return { done: true, value: undefined };
      },
      return: async (): Promise<IteratorResult<T>> => {
        finish();
        return { done: true, value: undefined };
      },
    };
  }
}

export class TextStreamReader extends BaseStreamReader<TextStreamInfo> {
  /** Yields text as it arrives (each value is a delta, not the text so far). */
  [Symbol.asyncIterator](): AsyncIterator<string> {
    // A streaming decoder also copes with senders that split a character across chunks (compressed output does).
    const decoder = new TextDecoder('utf-8');
    return this.iterate(
      (bytes) => decoder.decode(bytes, { stream: true }) || undefined,
      () => decoder.decode() || undefined,
    );
  }

  async readAll(opts: StreamReadAllOptions = {}): Promise<string> {
    if (opts.signal) this.withAbortSignal(opts.signal);
    let text = '';
    for await (const piece of this) text += piece;
    return text;
  }
}

export class ByteStreamReader extends BaseStreamReader<ByteStreamInfo> {
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this.iterate((bytes) => bytes);
  }

  async readAll(opts: StreamReadAllOptions = {}): Promise<Uint8Array[]> {
    if (opts.signal) this.withAbortSignal(opts.signal);
    const chunks: Uint8Array[] = [];
    for await (const chunk of this) chunks.push(chunk);
    return chunks;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The manager

interface IncomingStream {
  info: BaseStreamInfo;
  inbox: Inbox;
  senderIdentity: string;
  nextIndex: number;
  inflater?: BytePipe;
}

export interface StreamManagerOptions {
  log?: DataLogger;
  /** Cap on a compressed incoming stream's inflated size. */
  maxPayloadByteLength?: number;
}

export class StreamManager {
  private readonly textHandlers = new Map<string, TextStreamHandler>();
  private readonly byteHandlers = new Map<string, ByteStreamHandler>();
  private readonly incoming = new Map<string, IncomingStream>();
  private readonly log: DataLogger;
  private readonly maxPayloadByteLength: number;

  constructor(
    private readonly sender: DataSender,
    options: StreamManagerOptions = {},
  ) {
    this.log = options.log ?? console;
    this.maxPayloadByteLength = options.maxPayloadByteLength ?? DEFAULT_MAX_PAYLOAD_BYTE_LENGTH;
  }

  // ---- receiving ----------------------------------------------------------------------------------------------

  registerTextStreamHandler(topic: string, handler: TextStreamHandler): void {
    if (this.textHandlers.has(topic)) {
      throw new DataStreamError(
        `A text stream handler for topic "${topic}" has already been set.`,
        DataStreamErrorReason.HandlerAlreadyRegistered,
      );
    }
    this.textHandlers.set(topic, handler);
  }

  unregisterTextStreamHandler(topic: string): void {
    this.textHandlers.delete(topic);
  }

  registerByteStreamHandler(topic: string, handler: ByteStreamHandler): void {
    if (this.byteHandlers.has(topic)) {
      throw new DataStreamError(
        `A byte stream handler for topic "${topic}" has already been set.`,
        DataStreamErrorReason.HandlerAlreadyRegistered,
      );
    }
    this.byteHandlers.set(topic, handler);
  }

  unregisterByteStreamHandler(topic: string): void {
    this.byteHandlers.delete(topic);
  }

  /** Takes streamHeader / streamChunk / streamTrailer packets; returns false for anything else. */
  handlePacket(packet: DataPacket, senderIdentity: string, encryptionType: Encryption_Type = Encryption_Type.NONE): boolean {
    if (packet.streamHeader) this.handleHeader(packet.streamHeader, senderIdentity, encryptionType);
    else if (packet.streamChunk) this.handleChunk(packet.streamChunk, encryptionType);
    else if (packet.streamTrailer) this.handleTrailer(packet.streamTrailer, encryptionType);
    else return false;
    return true;
  }

  /** Errors the streams a departed participant was still sending. */
  participantDisconnected(identity: string): void {
    for (const [id, stream] of this.incoming) {
      if (stream.senderIdentity !== identity) continue;
      this.fail(
        id,
        new DataStreamError(
          `Participant ${identity} unexpectedly disconnected in the middle of sending data`,
          DataStreamErrorReason.AbnormalEnd,
        ),
      );
    }
  }

  /** Errors every stream still being received (the room disconnected). Handlers stay registered. */
  close(): void {
    for (const id of [...this.incoming.keys()]) {
      this.fail(id, new DataStreamError('Room disconnected in the middle of receiving data', DataStreamErrorReason.AbnormalEnd));
    }
  }

  private handleHeader(header: DataStream_Header, senderIdentity: string, encryptionType: Encryption_Type): void {
    const text = header.textHeader;
    const bytes = header.byteHeader;
    if (!text && !bytes) return;
    const handler = text ? this.textHandlers.get(header.topic) : this.byteHandlers.get(header.topic);
    if (!handler) {
      this.log.debug(`ignoring incoming ${text ? 'text' : 'byte'} stream due to no handler for topic`, header.topic);
      return;
    }

    let compressed: boolean;
    if (header.compression === DataStream_CompressionType.NONE) compressed = false;
    else if (header.compression === DataStream_CompressionType.DEFLATE_RAW && isDeflateRawSupported()) compressed = true;
    else {
      this.log.warn(`Data stream ${header.streamId} received with unsupported compression ${header.compression}, dropping`);
      return;
    }
    if (this.incoming.has(header.streamId)) {
      this.log.warn(`A data stream read is already in progress for a stream with id ${header.streamId}, dropping the new header`);
      return;
    }

    const base: BaseStreamInfo = {
      id: header.streamId,
      mimeType: header.mimeType,
      topic: header.topic,
      timestamp: header.timestamp,
      size: header.totalLength || undefined,
      attributes: header.attributes,
      encryptionType,
    };
    // One info object shared by the reader and the manager, so trailer attributes reach the reader.
    const info: TextStreamInfo | ByteStreamInfo = text
      ? { ...base, attachedStreamIds: text.attachedStreamIds }
      : { ...base, name: bytes!.name };
    const inbox = new Inbox();

    if (header.inlineContent !== undefined) {
      // Single-packet stream (data streams v2): the whole payload is in the header.
      if (!compressed) {
        inbox.push(header.inlineContent);
        inbox.end();
      } else {
        inflateRaw(header.inlineContent, this.maxPayloadByteLength).then(
          (payload) => {
            inbox.push(payload);
            inbox.end();
          },
          (err: unknown) => inbox.fail(asStreamError(err, header.streamId)),
        );
      }
    } else {
      const stream: IncomingStream = { info, inbox, senderIdentity, nextIndex: 0 };
      if (compressed) stream.inflater = this.inflater(header.streamId, inbox);
      this.incoming.set(header.streamId, stream);
    }

    const participant = { identity: senderIdentity };
    const total = header.totalLength;
    try {
      const result: unknown = text
        ? (handler as TextStreamHandler)(new TextStreamReader(info as TextStreamInfo, inbox, total), participant)
        : (handler as ByteStreamHandler)(new ByteStreamReader(info as ByteStreamInfo, inbox, total), participant);
      // Handlers are typed as returning void, but async ones are common: do not leave their failures unhandled.
      if (result instanceof Promise) result.catch((err: unknown) => this.log.error('data stream handler failed', err));
    } catch (err) {
      this.log.error('data stream handler failed', err);
    }
  }

  /** One inflater per compressed stream: chunks are consecutive pieces of a single deflate-raw stream. */
  private inflater(streamId: string, inbox: Inbox): BytePipe {
    let total = 0;
    const pipe = pipeThrough(new platform.DecompressionStream!('deflate-raw'), (out) => {
      total += out.byteLength;
      if (total > this.maxPayloadByteLength) throw payloadTooLarge(this.maxPayloadByteLength);
      inbox.push(out);
    });
    pipe.done.then(
      () => inbox.end(),
      (err: unknown) => inbox.fail(asStreamError(err, streamId)),
    );
    return pipe;
  }

  private handleChunk(chunk: DataStream_Chunk, encryptionType: Encryption_Type): void {
    const stream = this.incoming.get(chunk.streamId);
    if (!stream) return;
    if (stream.info.encryptionType !== encryptionType) {
      this.fail(chunk.streamId, encryptionMismatch(chunk.streamId, encryptionType, stream.info.encryptionType));
      return;
    }
    // Reassembly (and a stateful inflater) cannot survive reordering: drop replays, fail on gaps.
    if (chunk.chunkIndex < stream.nextIndex) {
      this.log.warn(`ignoring duplicate chunk ${chunk.chunkIndex} for data stream ${chunk.streamId}`);
      return;
    }
    if (chunk.chunkIndex > stream.nextIndex) {
      this.fail(
        chunk.streamId,
        new DataStreamError(
          `Missing chunk(s) ${stream.nextIndex}..${chunk.chunkIndex - 1} for data stream ${chunk.streamId} - cannot reassemble payload`,
          DataStreamErrorReason.Incomplete,
        ),
      );
      return;
    }
    stream.nextIndex++;
    if (chunk.content.byteLength === 0) return;
    if (stream.inflater) stream.inflater.write(chunk.content).catch(() => {}); // failures surface through `done`
    else stream.inbox.push(chunk.content);
  }

  private handleTrailer(trailer: DataStream_Trailer, encryptionType: Encryption_Type): void {
    const stream = this.incoming.get(trailer.streamId);
    if (!stream) return;
    if (stream.info.encryptionType !== encryptionType) {
      this.fail(trailer.streamId, encryptionMismatch(trailer.streamId, encryptionType, stream.info.encryptionType));
      return;
    }
    this.incoming.delete(trailer.streamId);
    stream.info.attributes = { ...stream.info.attributes, ...trailer.attributes };
    if (trailer.reason) {
      // A non-empty reason marks an abnormal close by the sender.
      const err = new DataStreamError(`Data stream ${trailer.streamId} closed abnormally: ${trailer.reason}`, DataStreamErrorReason.AbnormalEnd);
      stream.inbox.fail(err);
      stream.inflater?.abort(err);
    } else if (stream.inflater) stream.inflater.close(); // the inbox ends once the inflater has drained
    else stream.inbox.end();
  }

  private fail(streamId: string, err: DataStreamError): void {
    const stream = this.incoming.get(streamId);
    if (!stream) return;
    this.incoming.delete(streamId);
    stream.inbox.fail(err);
    stream.inflater?.abort(err);
  }

  // ---- sending ------------------------------------------------------------------------------------------------

  /** Sends a whole text; resolves with its info once every packet is sent. */
  async sendText(text: string, options: SendTextOptions = {}): Promise<TextStreamInfo> {
    const streamId = randomId();
    const payload = encoder.encode(text);
    const dest = options.destinationIdentities;
    const attachments = options.attachments ?? [];
    let info: TextStreamInfo = {
      id: streamId,
      mimeType: 'text/plain',
      timestamp: Date.now(),
      topic: options.topic ?? '',
      size: payload.byteLength, // always the uncompressed length
      attributes: options.attributes,
      encryptionType: Encryption_Type.NONE,
    };
    const v2 = this.allRecipientsSupportV2(dest);
    const deflated = (options.compress ?? true) && v2 && this.allRecipientsInflate(dest) ? await deflateRaw(payload) : undefined;

    if (attachments.length === 0 && v2 && (await this.trySendInline(textHeader(info), payload, deflated, dest))) {
      options.onProgress?.(1);
      return info;
    }

    const fileIds = attachments.map(() => randomId());
    const progress = new Array<number>(fileIds.length + 1).fill(0);
    const report = (value: number, part: number) => {
      progress[part] = value;
      options.onProgress?.(progress.reduce((a, b) => a + b, 0) / progress.length);
    };

    if (deflated) {
      if (fileIds.length > 0) info.attachedStreamIds = fileIds;
      await this.sendChunked(textHeader(info, {}, DataStream_CompressionType.DEFLATE_RAW), dest, deflated);
      report(1, 0);
    } else {
      const writer = await this.streamText({
        streamId,
        totalSize: payload.byteLength,
        destinationIdentities: dest,
        topic: options.topic,
        attachedStreamIds: fileIds.length > 0 ? fileIds : undefined,
        attributes: options.attributes,
      });
      await writer.write(text);
      report(1, 0);
      await writer.close();
      info = writer.info;
    }

    await Promise.all(
      attachments.map((file, i) =>
        this.sendFileAs(fileIds[i], file, {
          topic: options.topic,
          mimeType: file.type,
          destinationIdentities: dest,
          compress: options.compress,
          onProgress: (p) => report(p, i + 1),
        }),
      ),
    );
    return info;
  }

  /** Opens a text stream; each write is sent as chunks split on character boundaries. */
  async streamText(options: StreamTextOptions = {}): Promise<TextStreamWriter> {
    const streamId = options.streamId ?? randomId();
    const dest = options.destinationIdentities;
    const info: TextStreamInfo = {
      id: streamId,
      mimeType: 'text/plain',
      timestamp: Date.now(),
      topic: options.topic ?? '',
      size: options.totalSize,
      attributes: options.attributes,
      encryptionType: Encryption_Type.NONE,
      attachedStreamIds: options.attachedStreamIds,
    };
    await this.sendHeader(textHeader(info, options), dest);
    // Incremental streams are never compressed (CompressionStream cannot flush mid-stream), as in livekit-client.
    const chunks = this.chunkSender(streamId, dest);
    return new TextStreamWriter(info, {
      write: async (text) => {
        for (const piece of splitUtf8(text, STREAM_CHUNK_SIZE_BYTES)) await chunks.sendChunk(piece);
      },
      close: () => this.sendTrailer(streamId, dest),
    });
  }

  /** Sends bytes held in memory (livekit-client's sendBytes). */
  async sendBytes(bytes: Uint8Array, options: SendBytesOptions = {}): Promise<ByteStreamInfo> {
    const dest = options.destinationIdentities;
    const info: ByteStreamInfo = {
      id: randomId(),
      name: options.name ?? 'unknown',
      mimeType: options.mimeType ?? 'application/octet-stream',
      timestamp: Date.now(),
      topic: options.topic ?? '',
      size: bytes.byteLength,
      attributes: options.attributes,
      encryptionType: Encryption_Type.NONE,
    };
    const v2 = this.allRecipientsSupportV2(dest);
    const deflated = (options.compress ?? true) && v2 && this.allRecipientsInflate(dest) ? await deflateRaw(bytes) : undefined;
    if (!(v2 && (await this.trySendInline(byteHeader(info), bytes, deflated, dest)))) {
      const compression = deflated ? DataStream_CompressionType.DEFLATE_RAW : DataStream_CompressionType.NONE;
      await this.sendChunked(byteHeader(info, compression), dest, deflated ?? bytes);
    }
    options.onProgress?.(1);
    return info;
  }

  /** Opens a byte stream; each write is sent as chunks of at most STREAM_CHUNK_SIZE_BYTES. */
  async streamBytes(options: StreamBytesOptions = {}): Promise<ByteStreamWriter> {
    const streamId = options.streamId ?? randomId();
    const dest = options.destinationIdentities;
    const info: ByteStreamInfo = {
      id: streamId,
      mimeType: options.mimeType ?? 'application/octet-stream',
      topic: options.topic ?? '',
      timestamp: Date.now(),
      attributes: options.attributes,
      size: options.totalSize,
      name: options.name ?? 'unknown',
      encryptionType: Encryption_Type.NONE,
    };
    await this.sendHeader(byteHeader(info), dest);
    const chunks = this.chunkSender(streamId, dest);
    return new ByteStreamWriter(info, {
      write: async (bytes) => {
        for (let at = 0; at < bytes.byteLength; at += STREAM_CHUNK_SIZE_BYTES) {
          await chunks.sendChunk(bytes.slice(at, at + STREAM_CHUNK_SIZE_BYTES));
        }
      },
      close: () => this.sendTrailer(streamId, dest),
    });
  }

  /** Sends a File (or Blob-like) as a byte stream, reading it piece by piece. */
  async sendFile(file: FileLike, options: SendFileOptions = {}): Promise<{ id: string }> {
    const id = randomId();
    await this.sendFileAs(id, file, options);
    return { id };
  }

  private async sendFileAs(streamId: string, file: FileLike, options: SendFileOptions): Promise<ByteStreamInfo> {
    const dest = options.destinationIdentities;
    const compress =
      (options.compress ?? true) && this.allRecipientsSupportV2(dest) && this.allRecipientsInflate(dest);
    const info: ByteStreamInfo = {
      id: streamId,
      name: file.name,
      mimeType: options.mimeType ?? file.type,
      topic: options.topic ?? '',
      timestamp: Date.now(),
      size: file.size,
      encryptionType: Encryption_Type.NONE,
    };
    const header = byteHeader(info, compress ? DataStream_CompressionType.DEFLATE_RAW : DataStream_CompressionType.NONE);
    await this.sendHeader(header, dest);
    const chunks = this.chunkSender(streamId, dest);
    // Files are streamed, never held whole: compression goes through one streaming deflater.
    const pipe = compress ? pipeThrough(new platform.CompressionStream!('deflate-raw'), (out) => chunks.push(out)) : undefined;
    try {
      for (let at = 0; at < file.size; at += STREAM_CHUNK_SIZE_BYTES) {
        const piece = new Uint8Array(await file.slice(at, at + STREAM_CHUNK_SIZE_BYTES).arrayBuffer());
        if (pipe) await pipe.write(piece);
        else await chunks.push(piece);
        options.onProgress?.(Math.min((at + piece.byteLength) / file.size, 1));
      }
      if (pipe) {
        pipe.close();
        await pipe.done;
      }
    } catch (err) {
      pipe?.abort(err);
      throw err;
    }
    await chunks.flush();
    await this.sendTrailer(streamId, dest);
    if (file.size === 0) options.onProgress?.(1);
    return info;
  }

  /** Sends the payload inside the header if the packet fits; false if it does not. */
  private async trySendInline(
    header: PartialMessage<DataStream_Header>,
    payload: Uint8Array,
    deflated: Uint8Array | undefined,
    dest: string[] | undefined,
  ): Promise<boolean> {
    // Deflate framing makes tiny payloads larger: keep the compressed form only if it is smaller.
    const useDeflated = deflated !== undefined && deflated.byteLength < payload.byteLength;
    const packet = streamPacket(dest, {
      streamHeader: {
        ...header,
        compression: useDeflated ? DataStream_CompressionType.DEFLATE_RAW : DataStream_CompressionType.NONE,
        inlineContent: useDeflated ? deflated : payload,
      },
    });
    if (DataPacket.encode(packet).byteLength > STREAM_CHUNK_SIZE_BYTES) return false;
    await this.sender.sendReliable(packet);
    return true;
  }

  /** Header, the (already compressed, if at all) payload in chunks, trailer. */
  private async sendChunked(header: PartialMessage<DataStream_Header>, dest: string[] | undefined, payload: Uint8Array): Promise<void> {
    await this.sendHeader(header, dest);
    const chunks = this.chunkSender(header.streamId!, dest);
    await chunks.push(payload);
    await chunks.flush();
    await this.sendTrailer(header.streamId!, dest);
  }

  private async sendHeader(header: PartialMessage<DataStream_Header>, dest: string[] | undefined): Promise<void> {
    const packet = streamPacket(dest, { streamHeader: header });
    // A packet over the data channel's budget cannot be sent reliably; it is almost always big attributes.
    if (DataPacket.encode(packet).byteLength > STREAM_CHUNK_SIZE_BYTES) {
      throw new DataStreamError(
        `data stream header exceeds the ${STREAM_CHUNK_SIZE_BYTES}-byte limit; reduce attribute size`,
        DataStreamErrorReason.HeaderTooLarge,
      );
    }
    await this.sender.sendReliable(packet);
  }

  private sendTrailer(streamId: string, dest: string[] | undefined): Promise<void> {
    return this.sender.sendReliable(streamPacket(dest, { streamTrailer: { streamId } }));
  }

  private chunkSender(streamId: string, dest: string[] | undefined): ChunkSender {
    return new ChunkSender((chunk) => this.sender.sendReliable(streamPacket(dest, { streamChunk: chunk })), streamId);
  }

  /** Named destinations, or everyone for a broadcast; undefined when the room cannot tell. */
  private recipients(dest: string[] | undefined): readonly string[] | undefined {
    return dest && dest.length > 0 ? dest : this.sender.remoteIdentities?.();
  }

  /** Every recipient accepts single-packet streams (an empty room qualifies, as in livekit-client). */
  private allRecipientsSupportV2(dest: string[] | undefined): boolean {
    const ids = this.recipients(dest);
    if (!ids || !this.sender.remoteClientProtocol) return false;
    return ids.every((id) => this.sender.remoteClientProtocol!(id) >= CLIENT_PROTOCOL_DATA_STREAM_V2);
  }

  private allRecipientsInflate(dest: string[] | undefined): boolean {
    const ids = this.recipients(dest);
    if (!ids || !this.sender.remoteCapabilities || !isDeflateRawSupported()) return false;
    return ids.every((id) => this.sender.remoteCapabilities!(id).includes(ClientInfo_Capability.CAP_COMPRESSION_DEFLATE_RAW));
  }
}

function textHeader(
  info: TextStreamInfo,
  options: Pick<StreamTextOptions, 'version' | 'replyToStreamId' | 'type'> = {},
  compression = DataStream_CompressionType.NONE,
): PartialMessage<DataStream_Header> {
  return {
    ...commonHeader(info, compression),
    textHeader: {
      operationType: options.type === 'update' ? DataStream_OperationType.UPDATE : DataStream_OperationType.CREATE,
      version: options.version ?? 0,
      replyToStreamId: options.replyToStreamId ?? '',
      attachedStreamIds: info.attachedStreamIds ?? [],
    },
  };
}

function byteHeader(info: ByteStreamInfo, compression = DataStream_CompressionType.NONE): PartialMessage<DataStream_Header> {
  return { ...commonHeader(info, compression), byteHeader: { name: info.name } };
}

function commonHeader(info: BaseStreamInfo, compression: DataStream_CompressionType): PartialMessage<DataStream_Header> {
  return {
    streamId: info.id,
    timestamp: info.timestamp,
    topic: info.topic,
    mimeType: info.mimeType,
    totalLength: info.size, // unset (not 0) for streams of unknown size
    attributes: info.attributes ?? {},
    compression,
  };
}

function streamPacket(dest: string[] | undefined, value: PartialMessage<DataPacket>): PartialMessage<DataPacket> {
  return { kind: DataPacket_Kind.RELIABLE, destinationIdentities: dest ?? [], ...value };
}

function encryptionMismatch(streamId: string, got: Encryption_Type, expected: Encryption_Type): DataStreamError {
  return new DataStreamError(
    `Encryption type mismatch for stream ${streamId}. Expected ${got}, got ${expected}`,
    DataStreamErrorReason.EncryptionTypeMismatch,
  );
}

function asStreamError(err: unknown, streamId: string): DataStreamError {
  if (err instanceof DataStreamError) return err;
  return new DataStreamError(`Cannot decompress data stream ${streamId}: ${String(err)}`, DataStreamErrorReason.DecodeFailed);
}
