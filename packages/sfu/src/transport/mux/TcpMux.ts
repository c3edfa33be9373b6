// One listening TCP socket for every server-side peer connection's ICE-TCP passive candidate (LiveKit's 7881).
// RFC 6544 / RFC 4571 framing: each packet is preceded by a 2-byte big-endian length.
//
// An accepted connection is anonymous until its first frame: that must be a STUN Binding request whose USERNAME names
// a registered session's ufrag (and whose MESSAGE-INTEGRITY checks out), within `identifyTimeoutMs`. The connection —
// socket plus the bytes read so far, unconsumed — is then handed to that session; anything else is closed.
import { createServer, type Server, type Socket } from 'node:net';
import { UfragTable, isWildcard, routeBinding, type MuxAddress, type MuxCredentials } from './common.js';

export interface TcpMuxOptions {
  /** TCP port; 0 (default) picks an ephemeral one. */
  port?: number;
  /** Address to listen on; default 0.0.0.0. */
  bindAddress?: string;
  /** A connection must deliver a valid Binding request for a known ufrag within this time. Default 5000 ms. */
  identifyTimeoutMs?: number;
  /** The first frame (a Binding request) may be at most this long. Default 1500 bytes. */
  maxFirstFrameBytes?: number;
  /** Connections accepted but not yet identified; more are refused. Default 1024. */
  maxPendingConnections?: number;
  /** Frames larger than this close the connection once identified (RFC 4571 allows 65535). Default 65535. */
  maxFrameBytes?: number;
  /** Bytes queued for writing on one connection beyond which outgoing packets are dropped. Default 1 MiB. */
  maxWriteBufferBytes?: number;
}

export interface TcpMuxHandler extends MuxCredentials {
  /**
   * An identified connection. `buffered` holds every byte read so far, starting with the first frame's length prefix.
   * The handler must attach its own 'data' listener synchronously (the mux removes its own before calling).
   */
  onConnection(socket: Socket, remote: MuxAddress, buffered: Buffer): void;
}

export interface TcpMuxStats {
  accepted: number;
  identified: number;
  /** Closed before identification: timeout, bad first frame, unknown ufrag, bad integrity, too many pending. */
  rejectedTimeout: number;
  rejectedBadFrame: number;
  rejectedUnknownUfrag: number;
  rejectedIntegrity: number;
  rejectedOverload: number;
}

export class TcpMuxSession {
  readonly ufrags: string[] = [];
  closed = false;

  constructor(
    readonly mux: TcpMux,
    readonly handler: TcpMuxHandler,
  ) {}

  addUfrag(ufrag: string): void {
    if (this.closed) return;
    this.mux.addUfrag(this, ufrag);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.mux.unregister(this);
  }
}

const EMPTY: Buffer = Buffer.alloc(0);

export class TcpMux {
  readonly server: Server;
  readonly stats: TcpMuxStats = {
    accepted: 0,
    identified: 0,
    rejectedTimeout: 0,
    rejectedBadFrame: 0,
    rejectedUnknownUfrag: 0,
    rejectedIntegrity: 0,
    rejectedOverload: 0,
  };
  readonly maxFrameBytes: number;
  readonly maxWriteBufferBytes: number;
  private readonly identifyTimeoutMs: number;
  private readonly maxFirstFrame: number;
  private readonly maxPending: number;
  private readonly ufrags = new UfragTable<TcpMuxSession>();
  private readonly sessions = new Set<TcpMuxSession>();
  private readonly pending = new Set<Socket>();
  /** Every open connection (pending or handed over), so close() can end them all. */
  private readonly open = new Set<Socket>();
  private closed = false;
  private closing?: Promise<void>;

  private constructor(server: Server, opts: TcpMuxOptions) {
    this.server = server;
    this.identifyTimeoutMs = opts.identifyTimeoutMs ?? 5000;
    this.maxFirstFrame = Math.min(65535, opts.maxFirstFrameBytes ?? 1500);
    this.maxPending = opts.maxPendingConnections ?? 1024;
    this.maxFrameBytes = Math.min(65535, opts.maxFrameBytes ?? 65535);
    this.maxWriteBufferBytes = opts.maxWriteBufferBytes ?? 1 << 20;
    server.on('connection', (socket) => this.onConnection(socket));
    server.on('error', () => {
      /* accept errors (EMFILE…) must not crash the process */
    });
  }

  static async create(opts: TcpMuxOptions = {}): Promise<TcpMux> {
    const server = createServer({ noDelay: true, keepAlive: true, keepAliveInitialDelay: 10_000 });
    const host = opts.bindAddress ?? '0.0.0.0';
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      server.once('error', onError);
      server.listen({ port: opts.port ?? 0, host, exclusive: true }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    return new TcpMux(server, opts);
  }

  get port(): number {
    const a = this.server.address();
    if (!a || typeof a === 'string') throw new Error('TcpMux is not listening');
    return a.port;
  }

  get address(): string {
    const a = this.server.address();
    if (!a || typeof a === 'string') throw new Error('TcpMux is not listening');
    return a.address;
  }

  get specificAddress(): string | undefined {
    const a = this.address;
    return isWildcard(a) ? undefined : a;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  get connectionCount(): number {
    return this.open.size;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  hasUfrag(ufrag: string): boolean {
    return this.ufrags.has(ufrag);
  }

  register(ufrag: string, handler: TcpMuxHandler): TcpMuxSession {
    if (this.closed) throw new Error('TcpMux is closed');
    const session = new TcpMuxSession(this, handler);
    this.ufrags.add(session, ufrag);
    this.sessions.add(session);
    return session;
  }

  /** @internal */
  addUfrag(session: TcpMuxSession, ufrag: string): void {
    this.ufrags.add(session, ufrag);
  }

  /** @internal Connections already handed to the session stay with it (its ICE agent closes them). */
  unregister(session: TcpMuxSession): void {
    session.closed = true;
    this.sessions.delete(session);
    this.ufrags.removeAll(session);
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    for (const s of [...this.sessions]) s.close();
    this.closing = new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const socket of this.open) socket.destroy();
    });
    return this.closing;
  }

  private onConnection(socket: Socket): void {
    this.stats.accepted++;
    // Before anything else: an 'error' without a listener would crash the process.
    socket.on('error', () => undefined);
    if (this.closed || this.pending.size >= this.maxPending) {
      this.stats.rejectedOverload++;
      socket.destroy();
      return;
    }
    const remoteAddress = socket.remoteAddress;
    const remotePort = socket.remotePort;
    if (!remoteAddress || !remotePort) {
      socket.destroy();
      return;
    }
    const remote: MuxAddress = [remoteAddress, remotePort];
    this.open.add(socket);
    this.pending.add(socket);
    socket.once('close', () => {
      this.open.delete(socket);
      this.pending.delete(socket);
      clearTimeout(timer);
    });
    let buffered: Buffer = EMPTY;
    const reject = (counter: keyof TcpMuxStats) => {
      this.stats[counter]++;
      clearTimeout(timer);
      socket.off('data', onData);
      this.pending.delete(socket);
      socket.destroy();
    };
    const timer = setTimeout(() => reject('rejectedTimeout'), this.identifyTimeoutMs);
    const onData = (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      if (buffered.length < 2) return;
      const frameLength = buffered.readUInt16BE(0);
      if (frameLength < 20 || frameLength > this.maxFirstFrame) return reject('rejectedBadFrame');
      if (buffered.length < 2 + frameLength) return; // bounded: at most maxFirstFrame + 2 bytes are buffered
      const route = routeBinding(buffered.subarray(2, 2 + frameLength), this.ufrags);
      if (!route.ok) {
        return reject(route.reason === 'unknown-ufrag' ? 'rejectedUnknownUfrag' : route.reason === 'integrity' ? 'rejectedIntegrity' : 'rejectedBadFrame');
      }
      clearTimeout(timer);
      socket.off('data', onData);
      this.pending.delete(socket);
      this.stats.identified++;
      try {
        route.session.handler.onConnection(socket, remote, buffered);
      } catch {
        socket.destroy();
      }
    };
    socket.on('data', onData);
  }
}
