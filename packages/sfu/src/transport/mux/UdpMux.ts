// One UDP socket for every server-side peer connection (LiveKit's single UDP port, pion's UDPMux).
//
// Routing, per datagram:
//  - from a remote address already bound to a session: to that session. A STUN Binding request from it must name one
//    of that session's ufrags; one naming another registered session's ufrag (with valid MESSAGE-INTEGRITY) moves the
//    address to that session (a client that restarted and reuses its port), anything else is dropped.
//  - from an unknown address: only a STUN Binding request is accepted. Its USERNAME is `<our ufrag>:<their ufrag>`;
//    the session registered under our ufrag gets it once MESSAGE-INTEGRITY checks out, and the address is bound to it.
//    Everything else is dropped.
import { createSocket, type RemoteInfo, type Socket, type SocketType } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { UfragTable, checkIntegrity, isWildcard, routeBinding, syncLookup, type MuxAddress, type MuxCredentials } from './common.js';
import { isBindingRequestHeader, maybeStun, parseBindingRequest } from './stun.js';

export interface UdpMuxOptions {
  /** UDP port; 0 (default) picks an ephemeral one. */
  port?: number;
  /** Address to bind; default 0.0.0.0 (or :: when `type` is udp6). */
  bindAddress?: string;
  /** Socket type; default udp6 when bindAddress is an IPv6 literal, else udp4. */
  type?: SocketType;
  /** Remote addresses one session may hold at once (a client's candidates); the oldest is forgotten. Default 16. */
  maxAddressesPerSession?: number;
  /** SO_RCVBUF / SO_SNDBUF, bytes. Default: the OS's. */
  recvBufferSize?: number;
  sendBufferSize?: number;
}

/** What a session does with what the mux receives for it. */
export interface UdpMuxHandler extends MuxCredentials {
  /** One datagram from `addr` (the same array object every time for a given remote address: do not mutate it). */
  onPacket(data: Buffer, addr: MuxAddress): void;
}

interface AddrEntry {
  session: UdpMuxSession;
  addr: MuxAddress;
}

export interface UdpMuxStats {
  packetsIn: number;
  delivered: number;
  packetsOut: number;
  sendErrors: number;
  handlerErrors: number;
  /** Dropped: from an unknown address and not a STUN Binding request (or malformed). */
  droppedUnknownAddress: number;
  /** Dropped: a Binding request naming no registered ufrag. */
  droppedUnknownUfrag: number;
  /** Dropped: MESSAGE-INTEGRITY missing or wrong. */
  droppedIntegrity: number;
  /** Addresses moved from one session to another by a valid Binding request. */
  rebinds: number;
}

export class UdpMuxSession {
  readonly ufrags: string[] = [];
  /** Remote addresses bound to this session, oldest first. */
  readonly entries: AddrEntry[] = [];
  closed = false;

  constructor(
    readonly mux: UdpMux,
    readonly handler: UdpMuxHandler,
  ) {}

  /** Makes `ufrag` route to this session too (ICE restart). The oldest ufrags beyond a few are dropped. */
  addUfrag(ufrag: string): void {
    if (this.closed) return;
    this.mux.addUfrag(this, ufrag);
  }

  /** Remote addresses currently bound to this session. */
  get remoteAddresses(): MuxAddress[] {
    return this.entries.map((e) => e.addr);
  }

  /**
   * Sends one datagram through the shared socket. A STUN Binding request sent to an address nobody holds binds that
   * address to this session (so a full-ICE/controlling agent gets its check responses).
   */
  send(data: Uint8Array, port: number, host: string): void {
    if (this.closed) return;
    this.mux.sendFor(this, data, port, host);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.mux.unregister(this);
  }
}

export class UdpMux {
  readonly socket: Socket;
  readonly stats: UdpMuxStats = {
    packetsIn: 0,
    delivered: 0,
    packetsOut: 0,
    sendErrors: 0,
    handlerErrors: 0,
    droppedUnknownAddress: 0,
    droppedUnknownUfrag: 0,
    droppedIntegrity: 0,
    rebinds: 0,
  };
  readonly family: 4 | 6;
  private readonly ufrags = new UfragTable<UdpMuxSession>();
  /** port → ip → entry: two lookups, no key string built per packet. */
  private readonly byPort = new Map<number, Map<string, AddrEntry>>();
  private readonly sessions = new Set<UdpMuxSession>();
  private readonly maxAddresses: number;
  private closed = false;
  private closing?: Promise<void>;

  private constructor(socket: Socket, family: 4 | 6, opts: UdpMuxOptions) {
    this.socket = socket;
    this.family = family;
    this.maxAddresses = Math.max(1, opts.maxAddressesPerSession ?? 16);
    socket.on('message', this.onMessage);
    // Without a listener, an ICMP-induced or send error would be thrown as an uncaught 'error' event.
    socket.on('error', () => {
      this.stats.sendErrors++;
    });
  }

  /** Binds the shared socket. */
  static async create(opts: UdpMuxOptions = {}): Promise<UdpMux> {
    const type: SocketType = opts.type ?? (opts.bindAddress && isIPv6(opts.bindAddress) ? 'udp6' : 'udp4');
    const bindAddress = opts.bindAddress ?? (type === 'udp6' ? '::' : '0.0.0.0');
    const socket = createSocket({
      type,
      lookup: syncLookup as never,
      ...(opts.recvBufferSize ? { recvBufferSize: opts.recvBufferSize } : {}),
      ...(opts.sendBufferSize ? { sendBufferSize: opts.sendBufferSize } : {}),
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      socket.once('error', onError);
      socket.bind({ port: opts.port ?? 0, address: bindAddress }, () => {
        socket.off('error', onError);
        resolve();
      });
    });
    return new UdpMux(socket, type === 'udp6' ? 6 : 4, opts);
  }

  get port(): number {
    return this.socket.address().port;
  }

  get address(): string {
    return this.socket.address().address;
  }

  /** The bound address if it is a specific one (not 0.0.0.0 / ::). */
  get specificAddress(): string | undefined {
    const a = this.address;
    return isWildcard(a) ? undefined : a;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  hasUfrag(ufrag: string): boolean {
    return this.ufrags.has(ufrag);
  }

  /** Registers a session under `ufrag` (our local ICE ufrag). Throws if the ufrag is taken or the mux is closed. */
  register(ufrag: string, handler: UdpMuxHandler): UdpMuxSession {
    if (this.closed) throw new Error('UdpMux is closed');
    const session = new UdpMuxSession(this, handler);
    this.ufrags.add(session, ufrag);
    this.sessions.add(session);
    return session;
  }

  /** @internal use session.addUfrag */
  addUfrag(session: UdpMuxSession, ufrag: string): void {
    this.ufrags.add(session, ufrag);
  }

  /** @internal use session.close */
  unregister(session: UdpMuxSession): void {
    session.closed = true;
    this.sessions.delete(session);
    this.ufrags.removeAll(session);
    for (const e of session.entries) this.unbind(e);
    session.entries.length = 0;
  }

  /** @internal use session.send */
  sendFor(session: UdpMuxSession, data: Uint8Array, port: number, host: string): void {
    if (this.closed) return;
    if (data.length >= 20 && data[0] === 0 && data[1] === 1 && this.lookup(host, port) === undefined && isBindingRequestHeader(data)) {
      this.bind(session, host, port);
    }
    try {
      this.socket.send(data, port, host);
      this.stats.packetsOut++;
    } catch {
      this.stats.sendErrors++;
    }
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    for (const s of [...this.sessions]) s.close();
    this.closing = new Promise<void>((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
    return this.closing;
  }

  private lookup(host: string, port: number): AddrEntry | undefined {
    return this.byPort.get(port)?.get(host);
  }

  private bind(session: UdpMuxSession, host: string, port: number): AddrEntry {
    const existing = this.lookup(host, port);
    if (existing) {
      if (existing.session === session) return existing;
      this.stats.rebinds++;
      this.unbind(existing);
      const list = existing.session.entries;
      const i = list.indexOf(existing);
      if (i >= 0) list.splice(i, 1);
    }
    const entry: AddrEntry = { session, addr: [host, port] };
    let byIp = this.byPort.get(port);
    if (!byIp) this.byPort.set(port, (byIp = new Map()));
    byIp.set(host, entry);
    session.entries.push(entry);
    while (session.entries.length > this.maxAddresses) this.unbind(session.entries.shift()!);
    return entry;
  }

  private unbind(entry: AddrEntry): void {
    const [host, port] = entry.addr;
    const byIp = this.byPort.get(port);
    if (byIp?.get(host) !== entry) return;
    byIp.delete(host);
    if (byIp.size === 0) this.byPort.delete(port);
  }

  private readonly onMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
    this.stats.packetsIn++;
    if (msg.length === 0) return;
    let host = rinfo.address;
    const port = rinfo.port;
    if (this.family === 6) {
      const pct = host.indexOf('%');
      if (pct >= 0) host = host.slice(0, pct);
    }
    let entry = this.byPort.get(port)?.get(host);
    if (entry !== undefined) {
      // Known address. Only a Binding request can change where it goes.
      if (maybeStun(msg[0]!) && msg.length >= 20 && msg[0] === 0 && msg[1] === 1) {
        entry = this.rebindOnRequest(entry, msg);
        if (entry === undefined) return;
      }
      this.deliver(entry, msg);
      return;
    }
    if (!maybeStun(msg[0]!)) {
      this.stats.droppedUnknownAddress++;
      return;
    }
    const route = routeBinding(msg, this.ufrags);
    if (!route.ok) {
      if (route.reason === 'unknown-ufrag') this.stats.droppedUnknownUfrag++;
      else if (route.reason === 'integrity') this.stats.droppedIntegrity++;
      else this.stats.droppedUnknownAddress++;
      return;
    }
    this.deliver(this.bind(route.session, host, port), msg);
  };

  /** A Binding request from a known address: same session, another session (rebind), or drop (undefined). */
  private rebindOnRequest(entry: AddrEntry, msg: Buffer): AddrEntry | undefined {
    const info = parseBindingRequest(msg);
    if (!info) return entry; // not a well-formed request: let the session's ICE agent deal with it
    const current = entry.session;
    if (current.ufrags.includes(info.localUfrag)) return entry;
    const other = this.ufrags.get(info.localUfrag);
    if (!other) {
      this.stats.droppedUnknownUfrag++;
      return undefined;
    }
    if (!checkIntegrity(msg, info, other.handler)) {
      this.stats.droppedIntegrity++;
      return undefined;
    }
    const [host, port] = entry.addr;
    return this.bind(other, host, port);
  }

  private deliver(entry: AddrEntry, msg: Buffer): void {
    this.stats.delivered++;
    try {
      entry.session.handler.onPacket(msg, entry.addr);
    } catch {
      this.stats.handlerErrors++;
    }
  }
}
