// Makes a werift RTCPeerConnection's ICE agent use the shared muxes instead of opening its own sockets.
//
// Everything is per instance (no werift prototype is patched here):
//  - `pc.secureManager.createTransport` is wrapped so each ICE `Connection` it creates gets a MuxBinding;
//  - the binding gives the Connection a unique 64-bit ufrag (werift's are 4 hex characters: 65,536 values, so two
//    sessions on one mux would soon collide) through an accessor on `localUsername` that also re-registers the new
//    ufrag after an ICE restart;
//  - `connection.getCandidatePromises` (called by werift's own `gatherCandidates`) is replaced: instead of binding a
//    UDP socket / TCP server per host address, it adds one virtual protocol per mux with host candidates on the
//    advertised addresses and the mux's port (with `stockUdp`, werift's own per-connection UDP gathering runs too:
//    rtc.port_range_* mode, where only ICE-TCP is muxed);
//  - `connection.addRemoteCandidate` drops mDNS (.local) candidates (werift would open a multicast socket per PC and
//    wait up to 10 s; ICE-lite learns the peer-reflexive address from the client's checks anyway);
//  - `connection.close` also unregisters the sessions.
//
// UDP: the protocol is a real werift `StunProtocol` whose `transport` is a MuxUdpTransport: its `socket` is the mux's
// shared dgram socket (so Kite's fast path `nominated.protocol.transport.socket.send(buf, off, len, port, addr)` works
// unchanged) and the mux delivers datagrams through `protocol.datagramReceived`, exactly like werift's UdpTransport —
// including Kite's media tap on StunProtocol.prototype.datagramReceived.
// TCP: the protocol subclasses werift's `TcpPassiveProtocol` (type 'tcp', so Kite falls back to `connection.send`,
// which frames) but never listens: the TcpMux hands it identified connections. It honours `kiteSink` for RTP/RTCP
// frames like Kite's UDP tap does.
import { Candidate, StunProtocol, TcpPassiveProtocol, candidateFoundation, candidatePriority, type RTCPeerConnection } from 'werift';
import type { Socket as DgramSocket } from 'node:dgram';
import type { Socket } from 'node:net';
import { isIPv4, isIPv6 } from 'node:net';
import { uniqueUfrag, type MuxAddress } from './common.js';
import type { UdpMux, UdpMuxSession } from './UdpMux.js';
import type { TcpMux, TcpMuxSession } from './TcpMux.js';

export interface AttachMuxOptions {
  udp?: UdpMux;
  tcp?: TcpMux;
  /**
   * Addresses to advertise as host candidates (each with the mux's port). Default: the muxes' bound address when it
   * is a specific one. UDP candidates are advertised for addresses of the UDP socket's family (any for udp6); TCP
   * candidates for IPv4 addresses when the TCP mux listens on an IPv4 address, IPv6 ones when on an IPv6 address.
   */
  advertise?: string[];
  /**
   * Keep werift's own UDP gathering (one socket per peer connection, in its `icePortRange`) next to the mux
   * protocols: `rtc.port_range_*` mode, where only ICE-TCP goes through a mux. Ignored when `udp` is given.
   */
  stockUdp?: boolean;
}

type Sink = (data: Buffer, addr: MuxAddress) => void;

interface StunProtocolInternal {
  type: string;
  transport: unknown;
  localIp?: string;
  localCandidate?: Candidate;
  kiteSink?: Sink;
  datagramReceived(data: Buffer, addr: MuxAddress): void;
}

interface ConnectionInternal {
  localUsername: string;
  localPassword: string;
  userHistory: Record<string, string>;
  generation: number;
  state: string;
  protocols: object[];
  getCandidatePromises(addresses: string[], timeout?: number): Promise<unknown>[];
  ensureProtocol(protocol: object): void;
  pairLocalProtocol(protocol: object): void;
  appendLocalCandidate(candidate: Candidate): void;
  addRemoteCandidate(candidate: Candidate | undefined): Promise<void>;
  close(): Promise<void>;
  kiteMux?: MuxBinding;
}

interface IceTransportInternal {
  connection: ConnectionInternal;
  gatheringState: string;
}

interface DtlsTransportLike {
  iceTransport: IceTransportInternal;
}

interface SecureManagerInternal {
  allDtlsTransports: DtlsTransportLike[];
  createTransport(options?: unknown): DtlsTransportLike;
  kiteMuxAttached?: boolean;
}

// ------------------------------------------------------------------------------------------------------------------
// UDP: the stand-in for werift's UdpTransport

export class MuxUdpTransport {
  readonly type = 'udp';
  /** The mux's shared socket. Kite writes media straight onto it. */
  readonly socket: DgramSocket;
  closed = false;
  /** Unused (the mux delivers through the protocol), kept for shape compatibility with UdpTransport. */
  onData: (data: Buffer, addr: MuxAddress) => void = () => undefined;

  constructor(
    private readonly session: UdpMuxSession,
    private readonly mux: UdpMux,
  ) {
    this.socket = mux.socket;
  }

  send = async (data: Buffer, addr?: MuxAddress): Promise<void> => {
    if (this.closed) return;
    const to = addr ?? this.session.entries[this.session.entries.length - 1]?.addr;
    if (!to) return;
    this.session.send(data, to[1], to[0]);
  };

  get address(): { address: string; port: number; family: string } {
    return this.socket.address();
  }

  get addressFamily(): 4 | 6 {
    return this.mux.family;
  }

  get host(): string {
    return this.socket.address().address;
  }

  get port(): number {
    return this.socket.address().port;
  }

  close = async (): Promise<void> => {
    this.closed = true;
    this.session.close();
  };
}

// ------------------------------------------------------------------------------------------------------------------
// TCP: a passive protocol fed by the TcpMux

interface SocketEntry {
  socket: Socket;
  buffer: Buffer;
  remoteAddr?: MuxAddress;
}

/** The members of werift's BaseTcpProtocol/TcpPassiveProtocol this file uses (several are private in the .d.ts). */
interface TcpProtocolInternal {
  readonly type: string;
  localCandidate?: Candidate;
  localIp?: string;
  readonly onConnectionClosed: { execute(addr: MuxAddress): void };
  readonly sockets: Map<string, SocketEntry>;
  rememberSocket(entry: SocketEntry): void;
  forgetSocket(entry: SocketEntry): boolean;
  getOpenSocket(addr: MuxAddress): SocketEntry | undefined;
  handleFrame(data: Buffer, addr: MuxAddress): void;
  sendFrame(data: Buffer, addr: MuxAddress): Promise<void>;
  connectionMade(...args: unknown[]): Promise<void>;
  pruneForSelection(remoteAddr?: MuxAddress): Promise<void>;
  close(): Promise<void>;
}

const TcpPassiveBase = TcpPassiveProtocol as unknown as new () => TcpProtocolInternal;
const EMPTY = Buffer.alloc(0);

export class MuxTcpProtocol extends TcpPassiveBase {
  /** Set by Kite (PeerTransport.hookSockets): RTP/RTCP frames go there instead of to werift. */
  kiteSink?: Sink;
  /** Last non-media frame (STUN, DTLS/SCTP), for PeerTransport.lastActivityAt; media is timed by the sink. */
  kiteActivity = 0;
  droppedWrites = 0;
  private isClosed = false;

  constructor(
    private readonly session: TcpMuxSession,
    private readonly mux: TcpMux,
  ) {
    super();
  }

  /** Never listens: the TcpMux's server accepts for every session. */
  override async connectionMade(): Promise<void> {}

  get listeningPort(): number {
    return this.mux.port;
  }

  /** Takes over an identified connection; `buffered` starts at a frame boundary. */
  adopt(socket: Socket, remoteAddr: MuxAddress, buffered: Buffer): void {
    if (this.isClosed) {
      socket.destroy();
      return;
    }
    const entry: SocketEntry = { socket, buffer: EMPTY, remoteAddr };
    const previous = this.sockets.get(`${remoteAddr[0]}:${remoteAddr[1]}`);
    if (previous && previous.socket !== socket) previous.socket.destroy();
    this.rememberSocket(entry);
    const maxFrame = this.mux.maxFrameBytes;
    const onData = (chunk: Buffer) => {
      const buf = entry.buffer.length === 0 ? chunk : Buffer.concat([entry.buffer, chunk]);
      let off = 0;
      while (buf.length - off >= 2) {
        const len = buf.readUInt16BE(off);
        if (len > maxFrame) {
          entry.buffer = EMPTY;
          socket.destroy();
          return;
        }
        if (buf.length - off < 2 + len) break;
        const frame = buf.subarray(off + 2, off + 2 + len);
        off += 2 + len;
        if (len > 0) this.handleFrame(frame, remoteAddr);
        if (socket.destroyed) return;
      }
      // Bounded by one frame (≤ 65,537 bytes): complete frames are always consumed.
      entry.buffer = off === buf.length ? EMPTY : buf.subarray(off);
    };
    socket.on('data', onData);
    socket.on('close', () => {
      if (this.forgetSocket(entry)) this.onConnectionClosed.execute(remoteAddr);
    });
    socket.on('error', () => undefined);
    if (buffered.length > 0) onData(buffered);
  }

  override handleFrame(data: Buffer, addr: MuxAddress): void {
    const sink = this.kiteSink;
    if (sink !== undefined) {
      const b0 = data[0]!;
      if (b0 > 127 && b0 < 192) {
        try {
          sink(data, addr);
        } catch {
          /* one packet lost, never the connection */
        }
        return;
      }
    }
    this.kiteActivity = Date.now();
    super.handleFrame(data, addr);
  }

  /** RFC 4571 framing, one write per packet; drops instead of queueing without bound when the peer does not read. */
  override async sendFrame(data: Buffer, addr: MuxAddress): Promise<void> {
    const entry = this.getOpenSocket(addr);
    if (!entry) throw new Error('tcp passive connection not established');
    if (data.length > 65535 || entry.socket.writableLength > this.mux.maxWriteBufferBytes) {
      this.droppedWrites++;
      return;
    }
    const frame = Buffer.allocUnsafe(2 + data.length);
    frame.writeUInt16BE(data.length, 0);
    frame.set(data, 2);
    entry.socket.write(frame);
  }

  override async close(): Promise<void> {
    this.isClosed = true;
    this.session.close();
    await super.close();
  }
}

// ------------------------------------------------------------------------------------------------------------------
// Per-connection binding

class MuxBinding {
  udpSession?: UdpMuxSession;
  tcpSession?: TcpMuxSession;
  udpProtocol?: StunProtocolInternal;
  tcpProtocol?: MuxTcpProtocol;
  /** Host candidates on the 2nd+ advertised addresses: SDP only, the first address's protocol carries the traffic. */
  readonly extras: Candidate[] = [];
  gathered = false;
  disposed = false;

  constructor(
    readonly conn: ConnectionInternal,
    readonly udp: UdpMux | undefined,
    readonly tcp: TcpMux | undefined,
    readonly advertise: string[],
    readonly stockUdp: boolean,
  ) {}

  private taken = (u: string): boolean => (this.udp?.hasUfrag(u) ?? false) || (this.tcp?.hasUfrag(u) ?? false);

  passwordFor(ufrag: string): string | undefined {
    const c = this.conn;
    return ufrag === c.localUsername ? c.localPassword : c.userHistory[ufrag];
  }

  install(): void {
    const conn = this.conn;
    let ufrag = uniqueUfrag(this.taken);
    conn.localUsername = ufrag;
    conn.userHistory[ufrag] = conn.localPassword;
    if (this.udp) {
      this.udpSession = this.udp.register(ufrag, {
        password: (u) => this.passwordFor(u),
        onPacket: (data, addr) => this.udpProtocol?.datagramReceived(data, addr),
      });
    }
    if (this.tcp) {
      try {
        this.tcpSession = this.tcp.register(ufrag, {
          password: (u) => this.passwordFor(u),
          onConnection: (socket, remote, buffered) => {
            if (this.tcpProtocol) this.tcpProtocol.adopt(socket, remote, buffered);
            else socket.destroy();
          },
        });
      } catch (err) {
        this.udpSession?.close();
        throw err;
      }
    }
    // ICE restart assigns a new random 4-character ufrag: replace it with a unique one and route it.
    Object.defineProperty(conn, 'localUsername', {
      configurable: true,
      enumerable: true,
      get: () => ufrag,
      set: (value: string) => {
        if (value === ufrag) return;
        if (this.disposed) {
          ufrag = value;
          return;
        }
        ufrag = uniqueUfrag(this.taken);
        this.udpSession?.addUfrag(ufrag);
        this.tcpSession?.addUfrag(ufrag);
      },
    });
    conn.kiteMux = this;

    const stockGather = conn.getCandidatePromises;
    conn.getCandidatePromises = (addresses: string[], timeout?: number) => {
      if (this.disposed) return stockGather.call(conn, addresses, timeout);
      // Stock first: it skips addresses that already have a protocol (by localIp), and the TCP mux protocol about
      // to be created has the same address.
      const stock = this.stockUdp ? stockGather.call(conn, addresses, timeout) : [];
      this.gather();
      return stock;
    };
    const stockAddRemote = conn.addRemoteCandidate;
    conn.addRemoteCandidate = (candidate: Candidate | undefined) => {
      if (candidate && candidate.host.includes('.local')) return Promise.resolve();
      return stockAddRemote.call(conn, candidate);
    };
    const stockClose = conn.close;
    conn.close = async () => {
      try {
        await stockClose.call(conn);
      } finally {
        this.dispose();
      }
    };
  }

  private candidate(transport: 'udp' | 'tcp', host: string, port: number, index: number): Candidate {
    const conn = this.conn;
    const tcp = transport === 'tcp';
    return new Candidate(
      candidateFoundation('host', transport, host),
      1,
      transport,
      candidatePriority('host', { transport, tcptype: tcp ? 'passive' : undefined, otherPreference: 8191 - index }),
      host,
      port,
      'host',
      undefined,
      undefined,
      tcp ? 'passive' : undefined,
      conn.generation,
      conn.localUsername,
    );
  }

  /** Called from werift's gatherCandidates: first time, create the protocols; after an ICE restart, re-announce. */
  private gather(): void {
    const conn = this.conn;
    if (this.gathered) {
      for (const c of this.extras) {
        c.refreshId();
        c.generation = conn.generation;
        c.ufrag = conn.localUsername;
        conn.appendLocalCandidate(c);
      }
      return;
    }
    this.gathered = true;
    if (this.udp && this.udpSession && !this.udpSession.closed) {
      const v6 = this.udp.family === 6;
      const hosts = this.advertise.filter((a) => isIPv4(a) || (v6 && isIPv6(a)));
      if (hosts.length > 0) {
        const p = new StunProtocol() as unknown as StunProtocolInternal;
        conn.ensureProtocol(p);
        p.transport = new MuxUdpTransport(this.udpSession, this.udp);
        p.localIp = hosts[0]!;
        p.localCandidate = this.candidate('udp', hosts[0]!, this.udp.port, 0);
        this.udpProtocol = p;
        conn.protocols.push(p);
        conn.pairLocalProtocol(p);
        conn.appendLocalCandidate(p.localCandidate);
        hosts.slice(1).forEach((h, i) => {
          const c = this.candidate('udp', h, this.udp!.port, i + 1);
          this.extras.push(c);
          conn.appendLocalCandidate(c);
        });
      }
    }
    if (this.tcp && this.tcpSession && !this.tcpSession.closed) {
      const v6 = isIPv6(this.tcp.address);
      const hosts = this.advertise.filter((a) => (v6 ? isIPv6(a) || this.tcp!.address === '::' : isIPv4(a)));
      if (hosts.length > 0) {
        const p = new MuxTcpProtocol(this.tcpSession, this.tcp);
        conn.ensureProtocol(p);
        p.localIp = hosts[0]!;
        p.localCandidate = this.candidate('tcp', hosts[0]!, this.tcp.port, 0);
        this.tcpProtocol = p;
        conn.protocols.push(p);
        conn.appendLocalCandidate(p.localCandidate);
        hosts.slice(1).forEach((h, i) => {
          const c = this.candidate('tcp', h, this.tcp!.port, i + 1);
          this.extras.push(c);
          conn.appendLocalCandidate(c);
        });
      }
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.udpSession?.close();
    this.tcpSession?.close();
  }
}

function bindConnection(conn: ConnectionInternal, opts: { udp?: UdpMux; tcp?: TcpMux; advertise: string[]; stockUdp: boolean }): void {
  if (conn.kiteMux) return;
  new MuxBinding(conn, opts.udp, opts.tcp, opts.advertise, opts.stockUdp).install();
}

/**
 * Routes `pc`'s ICE through the shared muxes. Call right after constructing the peer connection, before
 * createOffer/createAnswer/setRemoteDescription. Meant for server-side (ICE-lite, max-bundle) connections.
 */
export function attachMuxes(pc: RTCPeerConnection, opts: AttachMuxOptions): void {
  const { udp, tcp } = opts;
  if (!udp && !tcp) throw new Error('attachMuxes: give a UdpMux and/or a TcpMux');
  if (udp?.isClosed || tcp?.isClosed) throw new Error('attachMuxes: mux is closed');
  const advertise = opts.advertise?.length ? [...opts.advertise] : [...new Set([udp?.specificAddress, tcp?.specificAddress].filter((a): a is string => !!a))];
  if (advertise.length === 0) throw new Error('attachMuxes: no address to advertise (the muxes are bound to a wildcard address)');
  const sm = (pc as unknown as { secureManager: SecureManagerInternal }).secureManager;
  if (sm.kiteMuxAttached) throw new Error('attachMuxes: already attached');
  for (const d of sm.allDtlsTransports) {
    if (d.iceTransport.gatheringState !== 'new') throw new Error('attachMuxes: call it before negotiation starts');
  }
  sm.kiteMuxAttached = true;
  const binding = { udp, tcp, advertise, stockUdp: !udp && opts.stockUdp === true };
  for (const d of sm.allDtlsTransports) bindConnection(d.iceTransport.connection, binding);
  const stockCreate = sm.createTransport;
  sm.createTransport = function (this: SecureManagerInternal, options?: unknown) {
    const dtls = stockCreate.call(this, options);
    bindConnection(dtls.iceTransport.connection, binding);
    return dtls;
  };
}

/** The mux protocols of a connection attached with attachMuxes (for stats and tests). */
export function muxProtocolsOf(pc: RTCPeerConnection): { udp?: object; tcp?: MuxTcpProtocol }[] {
  const sm = (pc as unknown as { secureManager: SecureManagerInternal }).secureManager;
  return sm.allDtlsTransports.map((d) => {
    const b = d.iceTransport.connection.kiteMux;
    return { udp: b?.udpProtocol, tcp: b?.tcpProtocol };
  });
}
