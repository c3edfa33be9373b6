// Signalling for a room hosted elsewhere: the node that accepted the client's WebSocket (the origin) pumps its frames,
// untouched, over the bus to the room's node (the host), and the host's frames back. On the host the session looks
// like any other: a SignalConnection over a RelayedSocket. Media never comes this way: the JoinResponse carries the
// host's ICE candidates, so the client's peer connections go straight to the host.
import { EventEmitter } from 'node:events';
import type { RawData, WebSocket } from 'ws';
import { randomId } from '@kite/protocol';
import type { Logger } from '../logger.js';
import { CloseCode, type SignalSocket } from '../rtc/signalConnection.js';
import type { Bus, BusHeader } from './bus.js';

/** What the origin hands the host so that it checks the connection itself (token, grants, room) as a direct one. */
export interface RelayedConnect {
  query: Record<string, string | undefined>;
  authorization?: string;
  userAgent?: string;
  /** /rtc/v1 (one peer connection). */
  v1: boolean;
}

export type RelayAcceptor = (socket: SignalSocket, connect: RelayedConnect) => void;

const toBuffer = (data: RawData): Buffer => (Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data));

/** The host's side of a relayed session: a WebSocket whose other end is on the origin node. */
export class RelayedSocket extends EventEmitter implements SignalSocket {
  readyState = 1;

  constructor(
    private readonly bus: Bus,
    readonly origin: string,
    readonly session: string,
    private readonly log: Logger,
  ) {
    super();
  }

  send(data: Uint8Array | string): void {
    if (this.readyState !== 1) return;
    const binary = typeof data !== 'string';
    this.bus.send(this.origin, { t: 'sm', s: this.session, b: binary }, binary ? data : Buffer.from(data)).catch((err: Error) => this.fail(err));
  }

  close(code: number, reason: string): void {
    if (this.readyState > 1) return;
    this.bus.send(this.origin, { t: 'sc', s: this.session, c: code, r: reason }).catch(() => {});
    this.closed(code, reason);
  }

  terminate(): void {
    this.close(1006, '');
  }

  /** The origin's frame for this session. */
  receive(data: Buffer, binary: boolean): void {
    if (this.readyState === 1) this.emit('message', data, binary);
  }

  /** The session ended (origin closed it, the origin node died, or we closed it). */
  closed(code: number, reason: string): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    // As a WebSocket: 'close' comes after the call that closed it returned.
    setImmediate(() => this.emit('close', code, Buffer.from(reason)));
  }

  private fail(err: Error): void {
    this.log.warn({ err: err.message, session: this.session }, 'relay: frame to the origin node lost; closing the session');
    this.closed(1011, 'relay failed');
  }
}

interface Outgoing {
  ws: WebSocket;
  host: string;
}

export class SignalRelay {
  /** Origin side: client sockets whose room is elsewhere, by session. */
  private readonly outgoing = new Map<string, Outgoing>();
  /** Host side: sessions relayed here, by session. */
  private readonly incoming = new Map<string, RelayedSocket>();
  /** The host's handler for new relayed sessions (rtc/rtcService.ts). */
  accept: RelayAcceptor | undefined;

  constructor(
    private readonly bus: Bus,
    private readonly log: Logger,
  ) {
    bus.on('signal', (h, payload) => this.onFrame(h, payload));
  }

  get stats(): { relayedOut: number; relayedIn: number } {
    return { relayedOut: this.outgoing.size, relayedIn: this.incoming.size };
  }

  /** Origin: relays the client's socket to `host`. Frames that arrive meanwhile are forwarded in order. */
  relay(ws: WebSocket, host: string, connect: RelayedConnect): void {
    const s = randomId('RS_', 12);
    this.outgoing.set(s, { ws, host });
    const lost = (err: Error) => {
      this.log.warn({ err: err.message, host }, 'relay: frame to the room node lost; closing the client socket');
      this.endOutgoing(s, CloseCode.internalError, 'relay failed');
    };
    // The bus publishes on one connection in call order: start, then the frames, then the close.
    this.bus.send(host, { t: 'ss', s }, Buffer.from(JSON.stringify(connect))).catch(lost);
    ws.on('message', (data, isBinary) => {
      if (this.outgoing.has(s)) this.bus.send(host, { t: 'sm', s, b: isBinary }, toBuffer(data)).catch(lost);
    });
    ws.on('close', (code, reason) => {
      if (!this.outgoing.delete(s)) return;
      this.bus.send(host, { t: 'sc', s, c: code, r: reason.toString() }).catch(() => {});
    });
    ws.on('error', (err) => this.log.debug({ err: err.message }, 'relayed client socket error'));
  }

  private onFrame(h: BusHeader, payload: Buffer): void {
    const s = h.s ?? '';
    if (h.t === 'ss') {
      if (!this.accept) return;
      const socket = new RelayedSocket(this.bus, h.from, s, this.log);
      this.incoming.set(s, socket);
      socket.on('close', () => this.incoming.delete(s));
      let connect: RelayedConnect;
      try {
        connect = JSON.parse(payload.toString()) as RelayedConnect;
      } catch {
        socket.close(CloseCode.protocolError, 'bad relayed session');
        return;
      }
      this.accept(socket, connect);
      return;
    }
    const inc = this.incoming.get(s);
    if (inc) {
      if (h.t === 'sm') inc.receive(payload, !!h.b);
      else if (h.t === 'sc') inc.closed(h.c ?? 1005, h.r ?? '');
      return;
    }
    const out = this.outgoing.get(s);
    if (!out) return;
    if (h.t === 'sm') out.ws.send(payload, { binary: !!h.b });
    else if (h.t === 'sc') this.endOutgoing(s, h.c ?? CloseCode.normal, h.r ?? '');
  }

  private endOutgoing(s: string, code: number, reason: string): void {
    const out = this.outgoing.get(s);
    if (!out) return;
    this.outgoing.delete(s);
    // 1005/1006 may not be sent in a close frame.
    const sendable = code === 1005 || code === 1006 ? CloseCode.goingAway : code;
    out.ws.close(sendable, Buffer.from(reason).subarray(0, 123).toString());
    setTimeout(() => out.ws.terminate(), 2000).unref();
  }

  /** A node died: sessions relayed to it lose their room (the clients resume, are refused, and rejoin elsewhere); sessions from it lose their client. */
  nodeDown(id: string): void {
    for (const [s, out] of this.outgoing) if (out.host === id) this.endOutgoing(s, CloseCode.goingAway, 'room node gone');
    for (const inc of this.incoming.values()) if (inc.origin === id) inc.closed(1006, 'relay node gone');
  }

  close(): void {
    for (const s of [...this.outgoing.keys()]) this.endOutgoing(s, CloseCode.goingAway, 'server shutdown');
    for (const inc of this.incoming.values()) inc.closed(1006, 'server shutdown');
  }
}
