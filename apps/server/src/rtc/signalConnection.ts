// One signalling WebSocket: SignalRequest in, SignalResponse out. Binary protobuf by default; a client that sends
// a text frame is answered in proto3 JSON from then on (as LiveKit's wsprotocol does).
import type { RawData } from 'ws';
import { ProtocolError, SignalRequest, SignalResponse, type PartialMessage } from '@kite/protocol';
import type { Logger } from '../logger.js';

/** WebSocket close codes Kite uses. */
export const CloseCode = {
  normal: 1000,
  goingAway: 1001,
  protocolError: 1002,
  invalidPayload: 1007,
  policyViolation: 1008,
  tooBig: 1009,
  internalError: 1011,
} as const;

export interface SignalHandlers {
  onRequest(req: SignalRequest): void;
  /** A frame that is not a SignalRequest. */
  onMalformed(err: ProtocolError): void;
  onClose(code: number, reason: string): void;
}

/**
 * What a SignalConnection needs of its socket: a `ws` WebSocket satisfies it, and so does a relayed session whose
 * socket is on another node (routing/signalRelay.ts).
 */
export interface SignalSocket {
  /** WebSocket ready states: 0 connecting, 1 open, 2 closing, 3 closed. */
  readonly readyState: number;
  send(data: Uint8Array | string): void;
  close(code: number, reason: string): void;
  terminate(): void;
  on(event: 'message', listener: (data: RawData, isBinary: boolean) => void): unknown;
  on(event: 'close', listener: (code: number, reason: Buffer) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

export class SignalConnection {
  private json = false;
  private closed = false;
  private handlers: SignalHandlers | undefined;
  /** Messages that arrived before handlers were attached (the join may still be in progress). */
  private pending: RawData[] = [];
  /** When the last frame (any frame) arrived: drives the ping timeout. */
  lastSeen = Date.now();

  constructor(
    readonly socket: SignalSocket,
    private readonly log: Logger,
  ) {
    socket.on('message', (data, isBinary) => {
      this.lastSeen = Date.now();
      if (!isBinary) this.json = true;
      if (!this.handlers) this.pending.push(isBinary ? data : Buffer.from(data.toString()));
      else this.dispatch(data, isBinary);
    });
    socket.on('close', (code, reason) => {
      this.closed = true;
      this.handlers?.onClose(code, reason.toString());
    });
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'signal socket error'));
  }

  get isClosed(): boolean {
    return this.closed || this.socket.readyState > 1;
  }

  attach(handlers: SignalHandlers): void {
    this.handlers = handlers;
    const queued = this.pending;
    this.pending = [];
    for (const data of queued) this.dispatch(data, !this.json);
    if (this.closed) handlers.onClose(1006, 'closed before join completed');
  }

  private dispatch(data: RawData, isBinary: boolean): void {
    let req: SignalRequest;
    try {
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
      req = isBinary ? SignalRequest.decode(bytes) : SignalRequest.fromJson(JSON.parse(bytes.toString('utf8')));
    } catch (err) {
      // The participant prefixes the reason with "malformed signal message"; say only what was wrong here.
      this.handlers!.onMalformed(err instanceof ProtocolError ? err : new ProtocolError(`${isBinary ? 'undecodable frame' : 'invalid JSON'}: ${(err as Error).message}`));
      return;
    }
    this.handlers!.onRequest(req);
  }

  send(res: PartialMessage<SignalResponse>): void {
    if (this.isClosed) return;
    if (this.json) this.socket.send(JSON.stringify(SignalResponse.toJson(res)));
    else this.socket.send(SignalResponse.encode(res));
  }

  close(code: number = CloseCode.normal, reason = ''): void {
    if (this.isClosed) return;
    // Close reasons are limited to 123 bytes by the WebSocket protocol.
    this.socket.close(code, Buffer.from(reason).subarray(0, 123).toString());
    // A peer that never answers the close handshake is cut off.
    setTimeout(() => this.socket.terminate(), 2000).unref();
  }
}
