// Participant-to-participant RPC, wire-compatible with livekit-client 2.x:
//   v1: RpcRequest → RpcAck + RpcResponse (payload or error) packets, payloads limited to 15 KiB;
//   v2 (peers with clientProtocol ≥ 1, livekit-client ≥ 2.23): the request / response payload travels as a text
//       stream on topic lk.rpc_request / lk.rpc_response (metadata in lk.* attributes); acks and errors stay packets.
import { DataPacket_Kind, type DataPacket, type PartialMessage, type RpcError as RpcErrorProto, type RpcRequest, type RpcResponse } from '@kite/protocol';
import type { StreamManager, TextStreamReader } from './streams.js';
import { CLIENT_PROTOCOL_DATA_STREAM_RPC, type DataLogger, type DataSender } from './types.js';
import { randomId } from './ids.js';

/** Parameters for initiating an RPC call. */
export interface PerformRpcParams {
  /** The `identity` of the destination participant. */
  destinationIdentity: string;
  /** The method name to call. */
  method: string;
  /** The method payload. */
  payload: string;
  /** Milliseconds to wait for the response (default 15000). The callee is told at least 8000. */
  responseTimeout?: number;
}

/** Data passed to a method handler for an incoming RPC invocation. */
export interface RpcInvocationData {
  /** The request id, the same on both sides of the call. */
  requestId: string;
  /** The identity of the caller. */
  callerIdentity: string;
  /** The request payload. */
  payload: string;
  /** The maximum time the caller will wait for a response (ms). */
  responseTimeout: number;
}

export type RpcMethodHandler = (data: RpcInvocationData) => Promise<string>;

type BuiltInError = keyof typeof RpcError.ErrorCode;

/**
 * An RPC failure. Thrown from a method handler, its code, message and data reach the caller unchanged;
 * codes 1001–1999 are reserved for the built-in errors.
 */
export class RpcError extends Error {
  static MAX_MESSAGE_BYTES = 256;
  static MAX_DATA_BYTES = 15360; // 15 KiB

  code: number;
  data?: string;

  constructor(code: number, message: string, data?: string, options?: { cause?: unknown }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'RpcError';
    this.code = code;
    this.message = truncateBytes(message, RpcError.MAX_MESSAGE_BYTES);
    this.data = data ? truncateBytes(data, RpcError.MAX_DATA_BYTES) : undefined;
  }

  static fromProto(proto: Pick<RpcErrorProto, 'code' | 'message' | 'data'>): RpcError {
    return new RpcError(proto.code, proto.message, proto.data);
  }

  toProto(): PartialMessage<RpcErrorProto> {
    return { code: this.code, message: this.message, data: this.data ?? '' };
  }

  static ErrorCode = {
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
  } as const;

  static ErrorMessage: Record<BuiltInError, string> = {
    APPLICATION_ERROR: 'Application error in method handler',
    CONNECTION_TIMEOUT: 'Connection timeout',
    RESPONSE_TIMEOUT: 'Response timeout',
    RECIPIENT_DISCONNECTED: 'Recipient disconnected',
    RESPONSE_PAYLOAD_TOO_LARGE: 'Response payload too large',
    SEND_FAILED: 'Failed to send',

    UNSUPPORTED_METHOD: 'Method not supported at destination',
    RECIPIENT_NOT_FOUND: 'Recipient not found',
    REQUEST_PAYLOAD_TOO_LARGE: 'Request payload too large',
    UNSUPPORTED_SERVER: 'RPC not supported by server',
    UNSUPPORTED_VERSION: 'Unsupported RPC version',
  };

  /** A built-in error with its standard message. */
  static builtIn(key: BuiltInError, data?: string, options?: { cause?: unknown }): RpcError {
    return new RpcError(RpcError.ErrorCode[key], RpcError.ErrorMessage[key], data, options);
  }
}

/** Largest payload of a v1 (packet) request or response. */
export const MAX_V1_PAYLOAD_BYTES = 15360;
export const RPC_REQUEST_DATA_STREAM_TOPIC = 'lk.rpc_request';
export const RPC_RESPONSE_DATA_STREAM_TOPIC = 'lk.rpc_response';
/** Attributes of a v2 request stream (the response stream carries only the id). */
export const RpcRequestAttrs = {
  RPC_REQUEST_ID: 'lk.rpc_request_id',
  RPC_REQUEST_METHOD: 'lk.rpc_request_method',
  RPC_REQUEST_RESPONSE_TIMEOUT_MS: 'lk.rpc_request_response_timeout_ms',
  RPC_REQUEST_VERSION: 'lk.rpc_request_version',
} as const;
const RPC_VERSION_V1 = 1;
const RPC_VERSION_V2 = 2;

/** The ack must arrive within this; the callee is given at least this plus a second to answer. */
const MAX_ROUND_TRIP_LATENCY_MS = 7000;
const MIN_EFFECTIVE_TIMEOUT_MS = MAX_ROUND_TRIP_LATENCY_MS + 1000;
/** livekit-client refuses RPC on servers older than this. */
const MIN_SERVER_VERSION = '1.8.0';

interface PendingCall {
  destinationIdentity: string;
  resolve(payload: string): void;
  reject(err: RpcError): void;
  ackTimer?: ReturnType<typeof setTimeout>;
  responseTimer?: ReturnType<typeof setTimeout>;
}

export interface RpcManagerOptions {
  log?: DataLogger;
}

export class RpcManager {
  private readonly handlers = new Map<string, RpcMethodHandler>();
  private readonly pending = new Map<string, PendingCall>();
  private readonly log: DataLogger;

  /**
   * @param streams enables RPC v2 (payloads of any size over data streams) for peers that advertise it; it claims
   *   the lk.rpc_request and lk.rpc_response text-stream topics. Without it every call uses v1 packets.
   */
  constructor(
    private readonly sender: DataSender,
    private readonly streams?: StreamManager,
    options: RpcManagerOptions = {},
  ) {
    this.log = options.log ?? console;
    streams?.registerTextStreamHandler(RPC_REQUEST_DATA_STREAM_TOPIC, (reader, { identity }) => {
      void this.handleRequestStream(reader, identity);
    });
    streams?.registerTextStreamHandler(RPC_RESPONSE_DATA_STREAM_TOPIC, (reader, { identity }) => {
      void this.handleResponseStream(reader, identity);
    });
  }

  // ---- caller side --------------------------------------------------------------------------------------------

  /** Calls `method` on `destinationIdentity`; resolves with the response payload or rejects with an RpcError. */
  async performRpc({ destinationIdentity, method, payload, responseTimeout = 15000 }: PerformRpcParams): Promise<string> {
    const viaStream = this.peerTakesStreams(destinationIdentity);
    if (!viaStream && byteLength(payload) > MAX_V1_PAYLOAD_BYTES) throw RpcError.builtIn('REQUEST_PAYLOAD_TOO_LARGE');
    const serverVersion = this.sender.serverVersion;
    if (serverVersion && compareVersions(serverVersion, MIN_SERVER_VERSION) < 0) throw RpcError.builtIn('UNSUPPORTED_SERVER');

    const id = randomId();
    const result = new Promise<string>((resolve, reject) => {
      this.pending.set(id, {
        destinationIdentity,
        resolve,
        reject,
        ackTimer: setTimeout(() => this.settle(id, RpcError.builtIn('CONNECTION_TIMEOUT')), MAX_ROUND_TRIP_LATENCY_MS),
      });
    });
    // The ack timer can fire while a slow send is still in progress, before the caller holds `result`.
    result.catch(() => {});

    const wireTimeout = Math.max(responseTimeout, MIN_EFFECTIVE_TIMEOUT_MS);
    try {
      if (viaStream) {
        await this.streams!.sendText(payload, {
          topic: RPC_REQUEST_DATA_STREAM_TOPIC,
          destinationIdentities: [destinationIdentity],
          attributes: {
            [RpcRequestAttrs.RPC_REQUEST_ID]: id,
            [RpcRequestAttrs.RPC_REQUEST_METHOD]: method,
            [RpcRequestAttrs.RPC_REQUEST_RESPONSE_TIMEOUT_MS]: `${wireTimeout}`,
            [RpcRequestAttrs.RPC_REQUEST_VERSION]: `${RPC_VERSION_V2}`,
          },
        });
      } else {
        await this.sender.sendReliable({
          kind: DataPacket_Kind.RELIABLE,
          destinationIdentities: [destinationIdentity],
          rpcRequest: { id, method, payload, responseTimeoutMs: wireTimeout, version: RPC_VERSION_V1 },
        });
      }
    } catch (err) {
      // The caller gets the send failure; no timer may reject a promise it never received.
      this.forget(id);
      throw err instanceof RpcError ? err : RpcError.builtIn('SEND_FAILED', undefined, { cause: err });
    }

    const call = this.pending.get(id);
    // As livekit-client: the local timer uses the caller's value (the callee was told at least 8 s).
    if (call) call.responseTimer = setTimeout(() => this.settle(id, RpcError.builtIn('RESPONSE_TIMEOUT')), responseTimeout);
    return result;
  }

  /** Fails the calls waiting on a participant that left. */
  participantDisconnected(identity: string): void {
    for (const [id, call] of this.pending) {
      if (call.destinationIdentity === identity) this.settle(id, RpcError.builtIn('RECIPIENT_DISCONNECTED'));
    }
  }

  /** Fails every call in flight (the room disconnected). Registered methods stay. */
  close(): void {
    for (const id of [...this.pending.keys()]) this.settle(id, RpcError.builtIn('RECIPIENT_DISCONNECTED'));
  }

  private settle(id: string, outcome: string | RpcError): void {
    const call = this.pending.get(id);
    if (!call) {
      this.log.error('Response received for unexpected RPC request', id);
      return;
    }
    this.forget(id);
    if (typeof outcome === 'string') call.resolve(outcome);
    else call.reject(outcome);
  }

  private forget(id: string): void {
    const call = this.pending.get(id);
    if (!call) return;
    clearTimeout(call.ackTimer);
    clearTimeout(call.responseTimer);
    this.pending.delete(id);
  }

  private handleAck(requestId: string): void {
    const call = this.pending.get(requestId);
    if (!call?.ackTimer) {
      this.log.error(`Ack received for unexpected RPC request: ${requestId}`);
      return;
    }
    clearTimeout(call.ackTimer);
    call.ackTimer = undefined;
  }

  private handleResponse(response: RpcResponse): void {
    if (response.value === 'payload') this.settle(response.requestId, response.payload ?? '');
    else if (response.value === 'error' && response.error) this.settle(response.requestId, RpcError.fromProto(response.error));
    else this.log.warn(`Unknown rpcResponse value: ${response.value}`);
  }

  private async handleResponseStream(reader: TextStreamReader, senderIdentity: string): Promise<void> {
    const requestId = reader.info.attributes?.[RpcRequestAttrs.RPC_REQUEST_ID];
    if (!requestId) {
      this.log.warn(`RPC data stream malformed: ${RpcRequestAttrs.RPC_REQUEST_ID} not set.`);
      return;
    }
    const call = this.pending.get(requestId);
    if (call && call.destinationIdentity !== senderIdentity) {
      this.log.warn(`RPC response stream for ${requestId} arrived from unexpected sender ${senderIdentity}. Ignoring.`);
      return;
    }
    let payload: string;
    try {
      payload = await reader.readAll();
    } catch (err) {
      this.settle(requestId, RpcError.builtIn('APPLICATION_ERROR', 'Error reading RPC response payload', { cause: err }));
      return;
    }
    this.settle(requestId, payload);
  }

  // ---- callee side --------------------------------------------------------------------------------------------

  /** Registers the handler for `method`; throws if one is registered already. */
  registerRpcMethod(method: string, handler: RpcMethodHandler): void {
    if (this.handlers.has(method)) {
      throw Error(`RPC handler already registered for method ${method}, unregisterRpcMethod before trying to register again`);
    }
    this.handlers.set(method, handler);
  }

  unregisterRpcMethod(method: string): void {
    this.handlers.delete(method);
  }

  /** Takes rpcRequest / rpcAck / rpcResponse packets; returns false for anything else. */
  handlePacket(packet: DataPacket, senderIdentity: string): boolean {
    if (packet.rpcRequest) void this.handleRequest(senderIdentity, packet.rpcRequest);
    else if (packet.rpcAck) this.handleAck(packet.rpcAck.requestId);
    else if (packet.rpcResponse) this.handleResponse(packet.rpcResponse);
    else return false;
    return true;
  }

  /** A v1 request. */
  private async handleRequest(callerIdentity: string, request: RpcRequest): Promise<void> {
    await this.sendAck(callerIdentity, request.id);
    if (request.version !== RPC_VERSION_V1) {
      return this.sendError(callerIdentity, request.id, RpcError.builtIn('UNSUPPORTED_VERSION'));
    }
    await this.invoke(callerIdentity, request.id, request.method, request.payload, request.responseTimeoutMs, (err) =>
      RpcError.builtIn('APPLICATION_ERROR', `Uncaught error: ${errorMessage(err)}`, { cause: err }),
    );
  }

  /** A v2 request: metadata in the stream's attributes, the payload its text. */
  private async handleRequestStream(reader: TextStreamReader, callerIdentity: string): Promise<void> {
    const attrs = reader.info.attributes ?? {};
    const requestId = attrs[RpcRequestAttrs.RPC_REQUEST_ID];
    const method = attrs[RpcRequestAttrs.RPC_REQUEST_METHOD];
    const responseTimeout = parseInt(attrs[RpcRequestAttrs.RPC_REQUEST_RESPONSE_TIMEOUT_MS] ?? '', 10);
    const version = parseInt(attrs[RpcRequestAttrs.RPC_REQUEST_VERSION] ?? '', 10);
    if (!requestId || !method || Number.isNaN(responseTimeout) || Number.isNaN(version)) {
      this.log.warn('RPC data stream malformed: request id / method / response timeout / version not set.');
      return this.sendError(callerIdentity, requestId ?? '', RpcError.builtIn('APPLICATION_ERROR', 'RPC data stream malformed'));
    }
    await this.sendAck(callerIdentity, requestId);
    if (version !== RPC_VERSION_V2) {
      return this.sendError(callerIdentity, requestId, RpcError.builtIn('UNSUPPORTED_VERSION'));
    }
    let payload: string;
    try {
      payload = await reader.readAll();
    } catch (err) {
      const error = RpcError.builtIn('APPLICATION_ERROR', 'Error reading RPC request payload', { cause: err });
      return this.sendError(callerIdentity, requestId, error);
    }
    await this.invoke(callerIdentity, requestId, method, payload, responseTimeout, () => RpcError.builtIn('APPLICATION_ERROR'));
  }

  private async invoke(
    callerIdentity: string,
    requestId: string,
    method: string,
    payload: string,
    responseTimeout: number,
    wrapError: (err: unknown) => RpcError,
  ): Promise<void> {
    const handler = this.handlers.get(method);
    if (!handler) return this.sendError(callerIdentity, requestId, RpcError.builtIn('UNSUPPORTED_METHOD'));
    let response: string;
    try {
      response = await handler({ requestId, callerIdentity, payload, responseTimeout });
    } catch (err) {
      if (!(err instanceof RpcError)) {
        this.log.warn(`Uncaught error returned by RPC handler for ${method}. Returning APPLICATION_ERROR instead.`, err);
      }
      return this.sendError(callerIdentity, requestId, err instanceof RpcError ? err : wrapError(err));
    }
    await this.sendResult(callerIdentity, requestId, response ?? '');
  }

  private async sendResult(callerIdentity: string, requestId: string, payload: string): Promise<void> {
    if (this.peerTakesStreams(callerIdentity)) {
      await this.streams!.sendText(payload, {
        topic: RPC_RESPONSE_DATA_STREAM_TOPIC,
        destinationIdentities: [callerIdentity],
        attributes: { [RpcRequestAttrs.RPC_REQUEST_ID]: requestId },
      }).catch((err: unknown) => this.log.warn(`RPC response for ${requestId} could not be sent`, err));
      return;
    }
    if (byteLength(payload) > MAX_V1_PAYLOAD_BYTES) {
      this.log.warn(`RPC Response payload too large for request ${requestId}.`);
      return this.sendError(callerIdentity, requestId, RpcError.builtIn('RESPONSE_PAYLOAD_TOO_LARGE'));
    }
    await this.sendResponse(callerIdentity, { requestId, payload });
  }

  private sendError(callerIdentity: string, requestId: string, error: RpcError): Promise<void> {
    return this.sendResponse(callerIdentity, { requestId, error: error.toProto() });
  }

  private sendResponse(callerIdentity: string, rpcResponse: PartialMessage<RpcResponse>): Promise<void> {
    return this.send(callerIdentity, { rpcResponse });
  }

  private sendAck(callerIdentity: string, requestId: string): Promise<void> {
    return this.send(callerIdentity, { rpcAck: { requestId } });
  }

  /** Callee-side sends are fire-and-forget for the caller's sake: failures are logged. */
  private async send(destination: string, value: PartialMessage<DataPacket>): Promise<void> {
    try {
      await this.sender.sendReliable({ kind: DataPacket_Kind.RELIABLE, destinationIdentities: [destination], ...value });
    } catch (err) {
      this.log.warn('RPC packet could not be sent', err);
    }
  }

  private peerTakesStreams(identity: string): boolean {
    return this.streams !== undefined && (this.sender.remoteClientProtocol?.(identity) ?? 0) >= CLIENT_PROTOCOL_DATA_STREAM_RPC;
  }
}

const encoder = new TextEncoder();
function byteLength(text: string): number {
  return encoder.encode(text).byteLength;
}

/** The longest prefix of `text` that fits `maxBytes` of UTF-8, never ending inside a surrogate pair. */
export function truncateBytes(text: string, maxBytes: number): string {
  if (byteLength(text) <= maxBytes) return text;
  let low = 0;
  let high = text.length;
  while (low < high) {
    const mid = Math.floor((low + high + 1) / 2);
    if (byteLength(text.slice(0, mid)) <= maxBytes) low = mid;
    else high = mid - 1;
  }
  const last = low > 0 ? text.charCodeAt(low - 1) : 0;
  if (last >= 0xd800 && last <= 0xdbff) low -= 1;
  return text.slice(0, low);
}

/** Compares dotted numeric versions ("1.8.0" vs "1.9"); missing parts count as 0, suffixes are ignored. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((p) => parseInt(p, 10) || 0);
  const pb = b.split('.').map((p) => parseInt(p, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d > 0 ? 1 : -1;
  }
  return 0;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
