/**
 * Kite's built-in TURN server (RFC 8656 over UDP, TCP and TLS; STUN per RFC 8489; long-term credentials).
 *
 * Data path notes: ChannelData is relayed without parsing a STUN message, without per-packet closures, promises,
 * string building or logging. Sockets use a synchronous `lookup` so `send()` to an IP literal skips dns.lookup's
 * process.nextTick round trip.
 */

import { EventEmitter } from 'node:events';
import { createSocket } from 'node:dgram';
import type { Socket as UdpSocket, SocketType } from 'node:dgram';
import { createServer as createTcpServer, isIP } from 'node:net';
import type { AddressInfo, Server as TcpServer, Socket as TcpSocket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Server as TlsServer, TlsOptions } from 'node:tls';
import { randomFillSync, randomInt } from 'node:crypto';
import { networkInterfaces } from 'node:os';

import { Allocation, ChannelBinding } from './allocation.js';
import type { AllocationInfo, ClientLink, TurnTransport } from './allocation.js';
import { NonceManager, longTermKey } from './credentials.js';
import {
  CHANNEL_DATA_HEADER_LENGTH,
  CHANNEL_NUMBER_MAX,
  CHANNEL_NUMBER_MIN,
  STUN_HEADER_LENGTH,
  STUN_MAGIC_COOKIE,
  StunAttr,
  StunClass,
  StunErrorCode,
  StunMethod,
  REQUESTED_TRANSPORT_UDP,
  stunMessageType,
} from './stun/constants.js';
import { unmapIPv4, writeIPv4, writeIPv6 } from './stun/address.js';
import type { IpFamily, StunAddress } from './stun/address.js';
import {
  StunMessageBuilder,
  decodeXorAddress,
  encodeUnknownAttributes,
  getAttribute,
  getAttributes,
  getChannelNumber,
  getRequestedAddressFamily,
  getRequestedTransport,
  getStringAttribute,
  getUint32Attribute,
  getXorAddress,
  hasAttribute,
  parseStunMessage,
  unknownComprehensionRequired,
  verifyMessageIntegrity,
  verifyMessageIntegritySha256,
} from './stun/message.js';
import type { StunMessage } from './stun/message.js';
import { StreamFramer } from './stun/channel-data.js';
import type { StreamFrameSink } from './stun/channel-data.js';

// ---------------------------------------------------------------------------------------------------------------
// Options, events
// ---------------------------------------------------------------------------------------------------------------

export interface TurnTlsOptions {
  port: number;
  /** PEM certificate chain. */
  cert: string;
  /** PEM private key. */
  key: string;
  /** Extra node:tls server options (ciphers, minVersion...). */
  options?: Omit<TlsOptions, 'cert' | 'key'>;
}

export interface TurnServerOptions {
  /** Realm for the long-term credential mechanism. */
  realm: string;
  /** Password for a username, or undefined when unknown / no longer valid. See `turnRestPasswordLookup`. */
  getPassword(username: string): string | undefined;
  /**
   * When getPassword no longer knows a username (time-limited credentials that expired), still accept requests on an
   * allocation that username created, with the key it was created with (coturn's behaviour: credentials are checked
   * when an allocation is made, so a call does not break when they expire). Revoke with deleteAllocations(). Default
   * false: every request needs currently valid credentials.
   */
  allocationsOutliveCredentials?: boolean;
  /**
   * Relay policy: may the relay exchange data with peer `ip:port`? Checked on CreatePermission / ChannelBind (403)
   * and per packet for Send indications and Data indications (channel bindings are checked once, at bind time).
   */
  isPeerAllowed(ip: string, port: number): boolean;
  /** IP literals to listen on. Default ['0.0.0.0']. */
  listenAddresses?: string[];
  /** UDP port; 0 = ephemeral; null disables UDP. Default 3478. */
  udpPort?: number | null;
  /** TCP port; default the (bound) UDP port, or 3478 without UDP; null disables TCP. */
  tcpPort?: number | null;
  /** More plain TCP listeners, e.g. the port a TLS-terminating load balancer forwards to. */
  extraTcpPorts?: number[];
  /** TURN over TLS listener; disabled when absent. */
  tls?: TurnTlsOptions | null;
  /** IPv4 address advertised in XOR-RELAYED-ADDRESS. Default: first concrete IPv4 listen address, else first external interface address. */
  relayAddress?: string;
  /** Address relay sockets bind to. Default `relayAddress` (use '0.0.0.0' behind 1:1 NAT). */
  relayBindAddress?: string;
  /** IPv6 relay address; IPv6 allocations (REQUESTED-ADDRESS-FAMILY) are refused with 440 when absent. */
  relayAddressV6?: string;
  relayBindAddressV6?: string;
  /** Inclusive relay port range. Default [49152, 65535]. */
  relayPortRange?: [number, number];
  /** Allocation limits. Defaults: 10 per username, 10 000 total, 1 000 permissions per allocation. */
  maxAllocationsPerUser?: number;
  maxAllocations?: number;
  maxPermissionsPerAllocation?: number;
  /** Lifetimes in seconds (fractions allowed, for tests). Defaults per RFC 8656: 600 / 3600 / 300 / 600. */
  defaultLifetime?: number;
  maxLifetime?: number;
  permissionLifetime?: number;
  channelLifetime?: number;
  /** Time an expired channel number / peer stays reserved (RFC 8656 §12). Default 300 s. */
  channelCooldown?: number;
  /** Nonce validity in seconds. Default 600. */
  nonceLifetime?: number;
  /** Secret for the stateless nonces; random by default. */
  nonceSecret?: Buffer;
  /** SOFTWARE attribute added to responses; none by default. */
  software?: string;
  /** Clock in ms (injectable for tests). Default Date.now. */
  now?: () => number;
  /** Expiry sweep period in ms. Default 1000. */
  sweepIntervalMs?: number;
  /** Largest STUN/ChannelData frame accepted on TCP/TLS (also the per-connection buffer cap). Default 65 555. */
  maxStreamFrameSize?: number;
  /** Data to a TCP/TLS client is dropped while more than this many bytes are queued. Default 1 MiB. */
  maxStreamWriteBuffer?: number;
  /** Max concurrent TCP+TLS connections per listener. Default 10 000. */
  maxConnections?: number;
  /** A TCP/TLS connection without an allocation is closed after this much idle time (ms). Default 30 000. */
  streamIdleTimeoutMs?: number;
  /** SO_RCVBUF / SO_SNDBUF for UDP listener and relay sockets (bytes). OS default when absent. */
  udpBufferSize?: number;
}

export type AllocationDeleteReason = 'refresh' | 'expired' | 'connection-closed' | 'server-closed' | 'revoked';

export interface AuthFailureEvent {
  transport: TurnTransport;
  client: StunAddress;
  username: string | undefined;
  /** 401 (bad/unknown credentials), 438 (stale nonce), 441 (wrong credentials for the allocation). */
  code: number;
}

export interface TurnServerEvents {
  'allocation-created': [info: AllocationInfo];
  'allocation-deleted': [info: AllocationInfo, reason: AllocationDeleteReason];
  'auth-failure': [event: AuthFailureEvent];
  /** Non-fatal socket problems (a listener error, a failed bind); the server keeps running. */
  warning: [error: Error];
}

export interface TurnServerCounters {
  packetsToPeers: number;
  bytesToPeers: number;
  packetsToClients: number;
  bytesToClients: number;
  /** Datagrams from peers without permission / refused by policy. */
  droppedFromPeers: number;
  /** Client data for which there was no allocation, channel or permission, or refused by policy. */
  droppedFromClients: number;
  /** Unparseable input (UDP datagrams and stream frames) and streams closed for garbage. */
  malformed: number;
  /** Exceptions caught in socket handlers (should stay 0). */
  internalErrors: number;
  allocationsCreated: number;
  allocationsDeleted: number;
}

export interface TurnServerAddresses {
  udp: AddressInfo[];
  tcp: AddressInfo[];
  tls: AddressInfo[];
}

interface AuthOk {
  username: string;
  key: Buffer;
  sha1: boolean;
  sha256: boolean;
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string, family: number) => void;

/** dgram lookup for IP literals: answers synchronously (all addresses we send to / bind are literals). */
function literalLookup(address: string, family: unknown, callback: LookupCallback): void {
  callback(null, address, typeof family === 'number' ? family : isIP(address));
}

function isWildcard(ip: string): boolean {
  return ip === '0.0.0.0' || ip === '::';
}

function isUnspecifiedIp(ip: string): boolean {
  return ip === '0.0.0.0' || ip === '::';
}

function isValidPort(port: number): boolean {
  return port > 0 && port <= 65535;
}

const noop = (): void => {};
const ZERO_PAD = Buffer.alloc(4);
const DATA_INDICATION_TYPE = stunMessageType(StunMethod.Data, StunClass.Indication);

/** Transaction ids for Data indications, taken from a pool refilled by randomFillSync (no crypto call per packet). */
class TxIdPool {
  private pool = Buffer.allocUnsafe(12 * 512);
  private pos = this.pool.length;
  next(out: Buffer, offset: number): void {
    if (this.pos + 12 > this.pool.length) {
      randomFillSync(this.pool);
      this.pos = 0;
    }
    this.pool.copy(out, offset, this.pos, this.pos + 12);
    this.pos += 12;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Client links
// ---------------------------------------------------------------------------------------------------------------

class UdpListener implements ClientLink {
  readonly transport = 'udp' as const;
  readonly allocations = new Map<string, Map<number, Allocation>>();
  private readonly pending = new Map<string, string>();
  closed = false;

  constructor(readonly socket: UdpSocket) {}

  sendToClient(buf: Buffer, address: string, port: number): boolean {
    if (this.closed) return false;
    this.socket.send(buf, port, address);
    return true;
  }

  sendChannelData(channel: number, payload: Buffer, address: string, port: number): boolean {
    if (this.closed) return false;
    const len = payload.length;
    const buf = Buffer.allocUnsafe(CHANNEL_DATA_HEADER_LENGTH + len);
    buf[0] = channel >>> 8;
    buf[1] = channel & 0xff;
    buf[2] = len >>> 8;
    buf[3] = len & 0xff;
    payload.copy(buf, CHANNEL_DATA_HEADER_LENGTH);
    this.socket.send(buf, port, address);
    return true;
  }

  getAllocation(address: string, port: number): Allocation | undefined {
    const byPort = this.allocations.get(address);
    return byPort === undefined ? undefined : byPort.get(port);
  }

  setAllocation(address: string, port: number, allocation: Allocation): void {
    let byPort = this.allocations.get(address);
    if (!byPort) this.allocations.set(address, (byPort = new Map()));
    byPort.set(port, allocation);
  }

  removeAllocation(address: string, port: number, allocation: Allocation): void {
    const byPort = this.allocations.get(address);
    if (byPort && byPort.get(port) === allocation) {
      byPort.delete(port);
      if (byPort.size === 0) this.allocations.delete(address);
    }
  }

  getPending(address: string, port: number): string | undefined {
    return this.pending.size === 0 ? undefined : this.pending.get(`${address}|${port}`);
  }

  setPending(address: string, port: number, transactionId: string | undefined): void {
    if (transactionId === undefined) this.pending.delete(`${address}|${port}`);
    else this.pending.set(`${address}|${port}`, transactionId);
  }
}

/** What a stream connection needs from the server (kept off the server's public surface). */
interface StreamHooks {
  frame(conn: StreamConnection, frame: Buffer): void;
  garbage(): void;
  internalError(): void;
  armIdleTimeout(conn: StreamConnection): void;
}

class StreamConnection implements ClientLink, StreamFrameSink {
  allocation: Allocation | undefined = undefined;
  pendingTransaction: string | undefined = undefined;
  closed = false;
  readonly framer: StreamFramer;
  readonly remoteRaw: string;
  readonly remotePort: number;
  /** Bound once per connection. */
  readonly onData: (chunk: Buffer) => void;

  constructor(
    private readonly hooks: StreamHooks,
    readonly socket: TcpSocket,
    readonly transport: 'tcp' | 'tls',
    maxFrameSize: number,
    private readonly maxWriteBuffer: number,
  ) {
    this.framer = new StreamFramer(this, maxFrameSize);
    this.remoteRaw = socket.remoteAddress ?? '0.0.0.0';
    this.remotePort = socket.remotePort ?? 0;
    this.onData = (chunk) => {
      try {
        this.framer.push(chunk);
      } catch {
        this.hooks.internalError();
        this.socket.destroy();
      }
    };
  }

  onFrame(frame: Buffer): void {
    this.hooks.frame(this, frame);
  }

  onFrameError(): void {
    this.hooks.garbage();
    this.socket.destroy();
  }

  sendToClient(buf: Buffer, _address: string, _port: number, droppable: boolean): boolean {
    const s = this.socket;
    if (this.closed || s.destroyed || (droppable && s.writableLength > this.maxWriteBuffer)) return false;
    s.write(buf);
    return true;
  }

  sendChannelData(channel: number, payload: Buffer): boolean {
    const s = this.socket;
    if (this.closed || s.destroyed || s.writableLength > this.maxWriteBuffer) return false;
    const len = payload.length;
    const buf = Buffer.allocUnsafe(CHANNEL_DATA_HEADER_LENGTH + ((len + 3) & ~3));
    buf[0] = channel >>> 8;
    buf[1] = channel & 0xff;
    buf[2] = len >>> 8;
    buf[3] = len & 0xff;
    payload.copy(buf, CHANNEL_DATA_HEADER_LENGTH);
    ZERO_PAD.copy(buf, CHANNEL_DATA_HEADER_LENGTH + len, 0, buf.length - CHANNEL_DATA_HEADER_LENGTH - len);
    s.write(buf);
    return true;
  }

  getAllocation(): Allocation | undefined {
    return this.allocation;
  }

  setAllocation(_a: string, _p: number, allocation: Allocation): void {
    this.allocation = allocation;
    this.socket.setTimeout(0);
  }

  removeAllocation(_a: string, _p: number, allocation: Allocation): void {
    if (this.allocation === allocation) {
      this.allocation = undefined;
      if (!this.closed) this.hooks.armIdleTimeout(this);
    }
  }

  getPending(): string | undefined {
    return this.pendingTransaction;
  }

  setPending(_a: string, _p: number, transactionId: string | undefined): void {
    this.pendingTransaction = transactionId;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------------------------

export class TurnServer extends EventEmitter<TurnServerEvents> {
  readonly realm: string;
  readonly counters: TurnServerCounters = {
    packetsToPeers: 0,
    bytesToPeers: 0,
    packetsToClients: 0,
    bytesToClients: 0,
    droppedFromPeers: 0,
    droppedFromClients: 0,
    malformed: 0,
    internalErrors: 0,
    allocationsCreated: 0,
    allocationsDeleted: 0,
  };

  private readonly opts: TurnServerOptions;
  private readonly getPassword: (username: string) => string | undefined;
  private readonly isPeerAllowed: (ip: string, port: number) => boolean;
  private readonly now: () => number;
  private readonly nonces: NonceManager;
  private readonly listenAddresses: string[];
  private readonly relayAddress: string;
  private readonly relayBindAddress: string;
  private readonly relayAddressV6: string | undefined;
  private readonly relayBindAddressV6: string | undefined;
  private readonly portMin: number;
  private readonly portMax: number;
  private readonly maxPerUser: number;
  private readonly maxTotal: number;
  private readonly maxPermissions: number;
  private readonly defaultLifetimeS: number;
  private readonly maxLifetimeS: number;
  private readonly permissionLifetimeMs: number;
  private readonly channelLifetimeMs: number;
  private readonly channelCooldownMs: number;
  private readonly maxFrameSize: number;
  private readonly maxWriteBuffer: number;
  private readonly idleTimeoutMs: number;

  private readonly udpListeners: UdpListener[] = [];
  private readonly tcpServers: TcpServer[] = [];
  private readonly tlsServers: TlsServer[] = [];
  private readonly connections = new Set<StreamConnection>();
  /** Every accepted raw socket (TLS ones too, before their handshake), to destroy on close. */
  private readonly rawSockets = new Set<TcpSocket>();
  private readonly allocationsById = new Map<string, Allocation>();
  private readonly perUser = new Map<string, number>();
  private readonly usedPorts: Record<IpFamily, Set<number>> = { 4: new Set(), 6: new Set() };
  private readonly pendingBinds = new Set<Promise<unknown>>();
  private pendingCount = 0;
  private nextId = 1;
  private sweepTimer: NodeJS.Timeout | undefined;
  private state: 'new' | 'starting' | 'running' | 'closing' | 'closed' = 'new';
  private readonly txIds = new TxIdPool();
  private readonly onRelaySocketError = (err: Error): void => {
    this.emit('warning', err);
  };
  private readonly streamHooks: StreamHooks = {
    frame: (conn, frame) => this.onStreamFrame(conn, frame),
    garbage: () => void this.counters.malformed++,
    internalError: () => void this.counters.internalErrors++,
    armIdleTimeout: (conn) => this.armIdleTimeout(conn),
  };

  constructor(options: TurnServerOptions) {
    super();
    this.opts = options;
    this.realm = options.realm;
    this.getPassword = options.getPassword;
    this.isPeerAllowed = options.isPeerAllowed;
    this.now = options.now ?? Date.now;
    this.nonces = new NonceManager({
      secret: options.nonceSecret,
      lifetimeMs: (options.nonceLifetime ?? 600) * 1000,
      now: this.now,
    });
    this.listenAddresses = options.listenAddresses ?? ['0.0.0.0'];
    for (const a of this.listenAddresses) if (!isIP(a)) throw new TypeError(`listen address must be an IP literal: ${a}`);
    this.relayAddress = options.relayAddress ?? defaultRelayAddress(this.listenAddresses);
    this.relayBindAddress = options.relayBindAddress ?? this.relayAddress;
    if (isIP(this.relayAddress) !== 4 || isIP(this.relayBindAddress) !== 4) throw new TypeError('relayAddress / relayBindAddress must be IPv4 literals');
    this.relayAddressV6 = options.relayAddressV6;
    this.relayBindAddressV6 = options.relayBindAddressV6 ?? options.relayAddressV6;
    if (this.relayAddressV6 !== undefined && (isIP(this.relayAddressV6) !== 6 || isIP(this.relayBindAddressV6 ?? '') !== 6)) {
      throw new TypeError('relayAddressV6 / relayBindAddressV6 must be IPv6 literals');
    }
    const [pmin, pmax] = options.relayPortRange ?? [49152, 65535];
    if (!(Number.isInteger(pmin) && Number.isInteger(pmax) && pmin >= 1 && pmax <= 65535 && pmin <= pmax)) {
      throw new RangeError(`bad relayPortRange [${pmin}, ${pmax}]`);
    }
    this.portMin = pmin;
    this.portMax = pmax;
    this.maxPerUser = options.maxAllocationsPerUser ?? 10;
    this.maxTotal = options.maxAllocations ?? 10_000;
    this.maxPermissions = options.maxPermissionsPerAllocation ?? 1000;
    this.defaultLifetimeS = options.defaultLifetime ?? 600;
    this.maxLifetimeS = Math.max(options.maxLifetime ?? 3600, this.defaultLifetimeS);
    this.permissionLifetimeMs = (options.permissionLifetime ?? 300) * 1000;
    this.channelLifetimeMs = (options.channelLifetime ?? 600) * 1000;
    this.channelCooldownMs = (options.channelCooldown ?? 300) * 1000;
    this.maxFrameSize = options.maxStreamFrameSize ?? STUN_HEADER_LENGTH + 0xffff;
    this.maxWriteBuffer = options.maxStreamWriteBuffer ?? 1 << 20;
    this.idleTimeoutMs = options.streamIdleTimeoutMs ?? 30_000;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Lifecycle
  // -------------------------------------------------------------------------------------------------------------

  /** Binds every listener. Rejects (after closing what was opened) if any bind fails. */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error(`TurnServer cannot start in state ${this.state}`);
    this.state = 'starting';
    try {
      const o = this.opts;
      const udpPort = o.udpPort === undefined ? 3478 : o.udpPort;
      for (const addr of this.listenAddresses) {
        if (udpPort !== null) this.udpListeners.push(await this.bindUdpListener(addr, udpPort));
      }
      let tcpPort = o.tcpPort;
      if (tcpPort === undefined) tcpPort = this.udpListeners.length > 0 ? (this.udpListeners[0].socket.address().port) : udpPort ?? 3478;
      for (const addr of this.listenAddresses) {
        if (tcpPort !== null) this.tcpServers.push(await this.listenStream(createTcpServer(), addr, tcpPort, 'tcp'));
        for (const extra of o.extraTcpPorts ?? []) this.tcpServers.push(await this.listenStream(createTcpServer(), addr, extra, 'tcp'));
        if (o.tls) {
          const srv = createTlsServer({ ...o.tls.options, cert: o.tls.cert, key: o.tls.key, handshakeTimeout: o.tls.options?.handshakeTimeout ?? 10_000 });
          this.tlsServers.push(await this.listenStream(srv, addr, o.tls.port, 'tls'));
        }
      }
    } catch (err) {
      this.state = 'running';
      await this.close();
      throw err;
    }
    this.state = 'running';
    this.sweepTimer = setInterval(() => this.sweep(), this.opts.sweepIntervalMs ?? 1000);
    this.sweepTimer.unref();
  }

  /** Deletes every allocation and closes every socket, connection and timer. Idempotent. */
  async close(): Promise<void> {
    if (this.state === 'closed' || this.state === 'closing') return;
    this.state = 'closing';
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    const waits: Promise<unknown>[] = [];
    for (const l of this.udpListeners) {
      l.closed = true;
      waits.push(
        new Promise<void>((resolve) => {
          try {
            l.socket.close(() => resolve());
          } catch {
            resolve(); // already closed
          }
        }),
      );
    }
    for (const srv of [...this.tcpServers, ...this.tlsServers]) {
      waits.push(new Promise<void>((resolve) => srv.close(() => resolve())));
    }
    for (const alloc of [...this.allocationsById.values()]) this.deleteAllocation(alloc, 'server-closed');
    for (const conn of this.connections) {
      conn.closed = true;
      conn.socket.destroy();
    }
    for (const s of this.rawSockets) s.destroy();
    // Relay sockets still being bound are closed by finishAllocate once their bind settles.
    waits.push(...this.pendingBinds);
    await Promise.all(waits);
    this.udpListeners.length = 0;
    this.tcpServers.length = 0;
    this.tlsServers.length = 0;
    this.state = 'closed';
  }

  get listening(): boolean {
    return this.state === 'running';
  }

  /** Actual bound addresses (ports resolved when 0 was configured). */
  addresses(): TurnServerAddresses {
    return {
      udp: this.udpListeners.map((l) => l.socket.address()),
      tcp: this.tcpServers.map((s) => s.address() as AddressInfo),
      tls: this.tlsServers.map((s) => s.address() as AddressInfo),
    };
  }

  /** Snapshots of the live allocations. */
  allocations(): AllocationInfo[] {
    return [...this.allocationsById.values()].map((a) => a.info());
  }

  get allocationCount(): number {
    return this.allocationsById.size;
  }

  /**
   * Deletes the allocations `filter` selects (reason 'revoked'), e.g. every allocation of a user who left: their relay
   * ports close at once instead of when the client stops refreshing. A TCP/TLS connection stays open (RFC 8656 lets the
   * client allocate again on it, with valid credentials). Returns how many were deleted.
   */
  deleteAllocations(filter: (info: AllocationInfo) => boolean): number {
    let n = 0;
    for (const alloc of [...this.allocationsById.values()]) {
      if (filter(alloc.info())) {
        this.deleteAllocation(alloc, 'revoked');
        n++;
      }
    }
    return n;
  }

  /** Expires allocations, permissions and channel bindings. Runs on a timer; public so tests can force it. */
  sweep(): void {
    const now = this.now();
    for (const alloc of this.allocationsById.values()) {
      if (alloc.expiresAt <= now) this.deleteAllocation(alloc, 'expired');
      else alloc.sweep(now, this.channelCooldownMs);
    }
  }

  private bindUdpListener(address: string, port: number): Promise<UdpListener> {
    const type: SocketType = isIP(address) === 6 ? 'udp6' : 'udp4';
    const socket = createSocket({
      type,
      lookup: literalLookup as never,
      recvBufferSize: this.opts.udpBufferSize,
      sendBufferSize: this.opts.udpBufferSize,
    });
    const listener = new UdpListener(socket);
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        socket.removeListener('listening', onListening);
        try {
          socket.close();
        } catch {
          /* already closed */
        }
        reject(err);
      };
      const onListening = (): void => {
        socket.removeListener('error', onError);
        socket.on('error', (err) => this.emit('warning', err));
        socket.on('message', (msg, rinfo) => this.onUdpMessage(listener, msg, rinfo.address, rinfo.port));
        resolve(listener);
      };
      socket.once('error', onError);
      socket.once('listening', onListening);
      socket.bind({ port, address });
    });
  }

  private listenStream<S extends TcpServer>(server: S, address: string, port: number, transport: 'tcp' | 'tls'): Promise<S> {
    server.maxConnections = this.opts.maxConnections ?? 10_000;
    server.on('connection', (raw: TcpSocket) => {
      this.rawSockets.add(raw);
      raw.once('close', () => this.rawSockets.delete(raw));
      raw.on('error', noop);
      if (transport === 'tcp') this.onStreamConnection(raw, 'tcp');
    });
    if (transport === 'tls') {
      server.on('secureConnection', (sock: TcpSocket) => this.onStreamConnection(sock, 'tls'));
      server.on('tlsClientError', noop);
    }
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      server.once('error', onError);
      server.listen({ port, host: address, exclusive: true }, () => {
        server.removeListener('error', onError);
        server.on('error', (err) => this.emit('warning', err));
        resolve(server);
      });
    });
  }

  private onStreamConnection(socket: TcpSocket, transport: 'tcp' | 'tls'): void {
    if (this.state !== 'running' && this.state !== 'starting') {
      socket.destroy();
      return;
    }
    const conn = new StreamConnection(this.streamHooks, socket, transport, this.maxFrameSize, this.maxWriteBuffer);
    this.connections.add(conn);
    socket.setNoDelay(true);
    socket.on('data', conn.onData);
    socket.on('error', noop);
    socket.on('timeout', () => {
      if (conn.allocation === undefined && conn.pendingTransaction === undefined) socket.destroy();
    });
    socket.once('close', () => {
      conn.closed = true;
      this.connections.delete(conn);
      if (conn.allocation) this.deleteAllocation(conn.allocation, 'connection-closed');
    });
    this.armIdleTimeout(conn);
  }

  private armIdleTimeout(conn: StreamConnection): void {
    if (this.idleTimeoutMs > 0) conn.socket.setTimeout(this.idleTimeoutMs);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Ingress from clients
  // -------------------------------------------------------------------------------------------------------------

  private onUdpMessage(listener: UdpListener, msg: Buffer, address: string, port: number): void {
    try {
      if (msg.length < CHANNEL_DATA_HEADER_LENGTH) {
        this.counters.malformed++;
        return;
      }
      const top = msg[0] & 0xc0;
      if (top === 0x40) {
        const byPort = listener.allocations.get(address);
        const alloc = byPort === undefined ? undefined : byPort.get(port);
        if (alloc === undefined) this.counters.droppedFromClients++;
        else this.relayChannelDataToPeer(alloc, msg);
      } else if (top === 0) {
        this.handleStun(listener, msg, address, port);
      } else {
        this.counters.malformed++;
      }
    } catch {
      this.counters.internalErrors++;
    }
  }

  private onStreamFrame(conn: StreamConnection, frame: Buffer): void {
    if ((frame[0] & 0xc0) === 0x40) {
      const alloc = conn.allocation;
      if (alloc === undefined) this.counters.droppedFromClients++;
      else this.relayChannelDataToPeer(alloc, frame);
    } else {
      this.handleStun(conn, frame, conn.remoteRaw, conn.remotePort);
    }
  }

  /** Hot path: ChannelData from a client to its peer. */
  private relayChannelDataToPeer(alloc: Allocation, frame: Buffer): void {
    const channel = (frame[0] << 8) | frame[1];
    const len = (frame[2] << 8) | frame[3];
    const ch = alloc.channelsByNumber.get(channel);
    if (CHANNEL_DATA_HEADER_LENGTH + len > frame.length || ch === undefined || !ch.active || !alloc.permissions.has(ch.peerAddress)) {
      this.counters.droppedFromClients++;
      return;
    }
    alloc.relaySocket.send(frame, CHANNEL_DATA_HEADER_LENGTH, len, ch.peerPort, ch.peerAddress);
    alloc.stats.packetsToPeers++;
    alloc.stats.bytesToPeers += len;
    this.counters.packetsToPeers++;
    this.counters.bytesToPeers += len;
  }

  /** Hot path: a datagram from a peer arriving at a relay socket. */
  private relayFromPeer(alloc: Allocation, msg: Buffer, ip: string, port: number): void {
    try {
      if (!alloc.permissions.has(ip)) {
        alloc.stats.droppedFromPeers++;
        this.counters.droppedFromPeers++;
        return;
      }
      const len = msg.length;
      const ch = alloc.getChannelForPeer(ip, port);
      let sent: boolean;
      if (ch !== undefined && ch.active) {
        sent = alloc.link.sendChannelData(ch.number, msg, alloc.clientRawAddress, alloc.clientPort);
      } else {
        if (!this.peerAllowed(ip, port) || len > 0xffff - 24 - 4 - 3) {
          alloc.stats.droppedFromPeers++;
          this.counters.droppedFromPeers++;
          return;
        }
        sent = alloc.link.sendToClient(this.buildDataIndication(alloc.family, ip, port, msg), alloc.clientRawAddress, alloc.clientPort, true);
      }
      if (sent) {
        alloc.stats.packetsToClients++;
        alloc.stats.bytesToClients += len;
        this.counters.packetsToClients++;
        this.counters.bytesToClients += len;
      } else {
        this.counters.droppedFromPeers++;
      }
    } catch {
      this.counters.internalErrors++;
    }
  }

  private buildDataIndication(family: IpFamily, ip: string, port: number, data: Buffer): Buffer {
    const addrLen = family === 4 ? 8 : 20;
    const padded = (data.length + 3) & ~3;
    const bodyLen = 4 + addrLen + 4 + padded;
    const buf = Buffer.allocUnsafe(STUN_HEADER_LENGTH + bodyLen);
    buf.writeUInt16BE(DATA_INDICATION_TYPE, 0);
    buf.writeUInt16BE(bodyLen, 2);
    buf.writeUInt32BE(STUN_MAGIC_COOKIE, 4);
    this.txIds.next(buf, 8);
    let p = STUN_HEADER_LENGTH;
    buf.writeUInt16BE(StunAttr.XorPeerAddress, p);
    buf.writeUInt16BE(addrLen, p + 2);
    buf[p + 4] = 0;
    buf[p + 5] = family === 4 ? 1 : 2;
    buf.writeUInt16BE(port ^ 0x2112, p + 6);
    if (family === 4) writeIPv4(ip, buf, p + 8);
    else writeIPv6(ip, buf, p + 8);
    buf[p + 8] ^= 0x21;
    buf[p + 9] ^= 0x12;
    buf[p + 10] ^= 0xa4;
    buf[p + 11] ^= 0x42;
    if (family === 6) for (let i = 0; i < 12; i++) buf[p + 12 + i] ^= buf[8 + i];
    p += 4 + addrLen;
    buf.writeUInt16BE(StunAttr.Data, p);
    buf.writeUInt16BE(data.length, p + 2);
    data.copy(buf, p + 4);
    p += 4 + data.length;
    if (padded !== data.length) ZERO_PAD.copy(buf, p, 0, padded - data.length);
    return buf;
  }

  /** The caller's relay policy (a throwing policy counts as a refusal); unspecified addresses are always refused. */
  private peerAllowed(ip: string, port: number): boolean {
    if (isUnspecifiedIp(ip)) return false;
    try {
      return this.isPeerAllowed(ip, port) === true;
    } catch {
      return false;
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // STUN processing
  // -------------------------------------------------------------------------------------------------------------

  private handleStun(link: ClientLink, buf: Buffer, raw: string, port: number): void {
    const parsed = parseStunMessage(buf);
    if (!parsed.ok) {
      this.counters.malformed++;
      return;
    }
    const msg = parsed.message;
    if (msg.cls === StunClass.Request) this.handleRequest(link, msg, raw, port);
    else if (msg.cls === StunClass.Indication && msg.method === StunMethod.Send) this.handleSend(link, msg, raw, port);
    // Other indications and any responses are ignored.
  }

  private handleSend(link: ClientLink, msg: StunMessage, raw: string, port: number): void {
    const alloc = link.getAllocation(raw, port);
    const peer = alloc && getXorAddress(msg, StunAttr.XorPeerAddress);
    const data = peer && getAttribute(msg, StunAttr.Data);
    if (
      alloc === undefined ||
      peer === undefined ||
      data === undefined ||
      peer.family !== alloc.family ||
      !isValidPort(peer.port) ||
      !alloc.permissions.has(peer.address) ||
      !this.peerAllowed(peer.address, peer.port) ||
      unknownComprehensionRequired(msg).length > 0
    ) {
      this.counters.droppedFromClients++;
      return;
    }
    alloc.relaySocket.send(data.value, peer.port, peer.address);
    alloc.stats.packetsToPeers++;
    alloc.stats.bytesToPeers += data.value.length;
    this.counters.packetsToPeers++;
    this.counters.bytesToPeers += data.value.length;
  }

  private handleRequest(link: ClientLink, msg: StunMessage, raw: string, port: number): void {
    const clientIp = unmapIPv4(raw);
    const client: StunAddress = { address: clientIp, port, family: isIP(clientIp) === 6 ? 6 : 4 };
    const unknown = unknownComprehensionRequired(msg);
    if (unknown.length > 0) {
      this.sendError(link, raw, port, msg, StunErrorCode.UnknownAttribute, undefined, (b) =>
        b.add(StunAttr.UnknownAttributes, encodeUnknownAttributes(unknown)),
      );
      return;
    }
    switch (msg.method) {
      case StunMethod.Binding:
        this.respond(link, raw, port, msg, undefined, (b) => b.addXorAddress(StunAttr.XorMappedAddress, client.address, client.port));
        return;
      case StunMethod.Allocate:
      case StunMethod.Refresh:
      case StunMethod.CreatePermission:
      case StunMethod.ChannelBind:
        break;
      default:
        this.sendError(link, raw, port, msg, StunErrorCode.BadRequest);
        return;
    }
    const auth = this.authenticate(link, msg, raw, port, client);
    if (auth === undefined) return;
    if (msg.method === StunMethod.Allocate) {
      this.handleAllocate(link, msg, raw, port, client, auth);
      return;
    }
    const alloc = link.getAllocation(raw, port);
    if (alloc === undefined) {
      this.sendError(link, raw, port, msg, StunErrorCode.AllocationMismatch, auth);
      return;
    }
    if (alloc.username !== auth.username) {
      this.emit('auth-failure', { transport: link.transport, client, username: auth.username, code: 441 });
      this.sendError(link, raw, port, msg, StunErrorCode.WrongCredentials, auth);
      return;
    }
    if (msg.method === StunMethod.Refresh) this.handleRefresh(link, msg, raw, port, alloc, auth);
    else if (msg.method === StunMethod.CreatePermission) this.handleCreatePermission(link, msg, raw, port, alloc, auth);
    else this.handleChannelBind(link, msg, raw, port, alloc, auth);
  }

  /** Long-term credential check (RFC 8489 §9.2.4). Sends the error response itself and returns undefined on failure. */
  private authenticate(link: ClientLink, msg: StunMessage, raw: string, port: number, client: StunAddress): AuthOk | undefined {
    const mi = getAttribute(msg, StunAttr.MessageIntegrity);
    const mi256 = getAttribute(msg, StunAttr.MessageIntegritySha256);
    if (mi === undefined && mi256 === undefined) {
      this.challenge(link, raw, port, msg, StunErrorCode.Unauthorized, client.address);
      return undefined;
    }
    const username = getStringAttribute(msg, StunAttr.Username);
    const realm = getStringAttribute(msg, StunAttr.Realm);
    const nonce = getStringAttribute(msg, StunAttr.Nonce);
    if (username === undefined || realm === undefined || nonce === undefined || username.length > 512) {
      this.sendError(link, raw, port, msg, StunErrorCode.BadRequest);
      return undefined;
    }
    const fail = (code: number): undefined => {
      this.emit('auth-failure', { transport: link.transport, client, username, code });
      this.challenge(link, raw, port, msg, code, client.address);
      return undefined;
    };
    if (this.nonces.check(nonce, client.address) !== 'valid') return fail(StunErrorCode.StaleNonce);
    if (realm !== this.realm) return fail(StunErrorCode.Unauthorized);
    let password: string | undefined;
    try {
      password = this.getPassword(username);
    } catch {
      password = undefined;
    }
    let key: Buffer;
    if (typeof password === 'string') {
      key = longTermKey(username, this.realm, password);
    } else {
      // allocationsOutliveCredentials: see the option.
      const existing = msg.method === StunMethod.Allocate || !this.opts.allocationsOutliveCredentials ? undefined : link.getAllocation(raw, port);
      if (existing === undefined || existing.username !== username) return fail(StunErrorCode.Unauthorized);
      key = existing.key;
    }
    if (mi !== undefined && !verifyMessageIntegrity(msg, key)) return fail(StunErrorCode.Unauthorized);
    if (mi256 !== undefined && !verifyMessageIntegritySha256(msg, key)) return fail(StunErrorCode.Unauthorized);
    return { username, key, sha1: mi !== undefined, sha256: mi256 !== undefined };
  }

  private challenge(link: ClientLink, raw: string, port: number, msg: StunMessage, code: number, clientIp: string): void {
    this.sendError(link, raw, port, msg, code, undefined, (b) =>
      b.addString(StunAttr.Realm, this.realm).addString(StunAttr.Nonce, this.nonces.issue(clientIp)),
    );
  }

  private handleAllocate(link: ClientLink, msg: StunMessage, raw: string, port: number, client: StunAddress, auth: AuthOk): void {
    const txId = msg.transactionId.toString('hex');
    const existing = link.getAllocation(raw, port);
    if (existing !== undefined) {
      if (existing.createTransactionId === txId && existing.username === auth.username) {
        link.sendToClient(existing.createResponse, raw, port, false);
      } else {
        this.sendError(link, raw, port, msg, StunErrorCode.AllocationMismatch, auth);
      }
      return;
    }
    if (link.getPending(raw, port) !== undefined) return; // a retransmission while the relay socket is being bound
    const transport = getRequestedTransport(msg);
    if (transport === undefined) return this.sendError(link, raw, port, msg, StunErrorCode.BadRequest, auth);
    if (transport !== REQUESTED_TRANSPORT_UDP) return this.sendError(link, raw, port, msg, StunErrorCode.UnsupportedTransportProtocol, auth);
    const evenPortAttr = getAttribute(msg, StunAttr.EvenPort);
    const hasToken = hasAttribute(msg, StunAttr.ReservationToken);
    const requestedFamily = getRequestedAddressFamily(msg);
    if (hasToken && (evenPortAttr !== undefined || requestedFamily !== undefined)) {
      return this.sendError(link, raw, port, msg, StunErrorCode.BadRequest, auth);
    }
    if (requestedFamily !== undefined && hasAttribute(msg, StunAttr.AdditionalAddressFamily)) {
      return this.sendError(link, raw, port, msg, StunErrorCode.BadRequest, auth);
    }
    // No port reservations are kept, so every token is unknown.
    if (hasToken) return this.sendError(link, raw, port, msg, StunErrorCode.InsufficientCapacity, auth);
    if (requestedFamily === 0) return this.sendError(link, raw, port, msg, StunErrorCode.AddressFamilyNotSupported, auth);
    const family: IpFamily = requestedFamily ?? 4;
    if (family === 6 && this.relayAddressV6 === undefined) {
      return this.sendError(link, raw, port, msg, StunErrorCode.AddressFamilyNotSupported, auth);
    }
    const userCount = this.perUser.get(auth.username) ?? 0;
    if (userCount >= this.maxPerUser) return this.sendError(link, raw, port, msg, StunErrorCode.AllocationQuotaReached, auth);
    if (this.allocationsById.size + this.pendingCount >= this.maxTotal || this.state !== 'running') {
      return this.sendError(link, raw, port, msg, StunErrorCode.InsufficientCapacity, auth);
    }
    const lifetimeS = this.grantLifetime(getUint32Attribute(msg, StunAttr.Lifetime));
    const even = evenPortAttr !== undefined;

    link.setPending(raw, port, txId);
    this.perUser.set(auth.username, userCount + 1);
    this.pendingCount++;
    const p: Promise<void> = this.bindRelay(family, even).then(
      (bound) => this.finishAllocate(link, msg, raw, port, client, auth, family, lifetimeS, bound),
      () => this.finishAllocate(link, msg, raw, port, client, auth, family, lifetimeS, undefined),
    );
    this.pendingBinds.add(p);
    void p.finally(() => this.pendingBinds.delete(p));
  }

  private finishAllocate(
    link: ClientLink,
    msg: StunMessage,
    raw: string,
    port: number,
    client: StunAddress,
    auth: AuthOk,
    family: IpFamily,
    lifetimeS: number,
    bound: { socket: UdpSocket; port: number } | undefined,
  ): void {
    try {
      link.setPending(raw, port, undefined);
      this.pendingCount--;
      if (bound === undefined || this.state !== 'running' || link.closed) {
        this.releaseUser(auth.username);
        if (bound !== undefined) {
          this.usedPorts[family].delete(bound.port);
          bound.socket.close();
        }
        if (!link.closed && this.state === 'running') this.sendError(link, raw, port, msg, StunErrorCode.InsufficientCapacity, auth);
        return;
      }
      const relay: StunAddress = {
        address: family === 4 ? this.relayAddress : (this.relayAddressV6 as string),
        port: bound.port,
        family,
      };
      const response = this.respond(link, raw, port, msg, auth, (b) =>
        b
          .addXorAddress(StunAttr.XorRelayedAddress, relay.address, relay.port)
          .addUint32(StunAttr.Lifetime, Math.max(1, Math.round(lifetimeS)))
          .addXorAddress(StunAttr.XorMappedAddress, client.address, client.port),
        false,
      );
      const now = this.now();
      const alloc = new Allocation(
        String(this.nextId++),
        auth.username,
        this.realm,
        auth.key,
        link,
        raw,
        port,
        client,
        bound.socket,
        relay,
        family,
        now,
        now + lifetimeS * 1000,
        msg.transactionId.toString('hex'),
        response,
      );
      alloc.onPeerMessage = (data, rinfo) => this.relayFromPeer(alloc, data, rinfo.address, rinfo.port);
      bound.socket.on('message', alloc.onPeerMessage);
      this.allocationsById.set(alloc.id, alloc);
      link.setAllocation(raw, port, alloc);
      this.counters.allocationsCreated++;
      link.sendToClient(response, raw, port, false);
      this.emit('allocation-created', alloc.info());
    } catch (err) {
      this.counters.internalErrors++;
      this.emit('warning', err instanceof Error ? err : new Error(String(err)));
    }
  }

  private releaseUser(username: string): void {
    const n = (this.perUser.get(username) ?? 1) - 1;
    if (n <= 0) this.perUser.delete(username);
    else this.perUser.set(username, n);
  }

  private grantLifetime(requested: number | undefined): number {
    if (requested === undefined) return this.defaultLifetimeS;
    const desired = Math.min(requested, this.maxLifetimeS);
    return desired > this.defaultLifetimeS ? desired : this.defaultLifetimeS;
  }

  private handleRefresh(link: ClientLink, msg: StunMessage, raw: string, port: number, alloc: Allocation, auth: AuthOk): void {
    const fam = getRequestedAddressFamily(msg);
    if (fam !== undefined && fam !== alloc.family) {
      return this.sendError(link, raw, port, msg, StunErrorCode.PeerAddressFamilyMismatch, auth);
    }
    const requested = getUint32Attribute(msg, StunAttr.Lifetime);
    if (requested === 0) {
      this.deleteAllocation(alloc, 'refresh');
      this.respond(link, raw, port, msg, auth, (b) => b.addUint32(StunAttr.Lifetime, 0));
      return;
    }
    const lifetimeS = this.grantLifetime(requested);
    alloc.expiresAt = this.now() + lifetimeS * 1000;
    alloc.key = auth.key;
    this.respond(link, raw, port, msg, auth, (b) => b.addUint32(StunAttr.Lifetime, Math.max(1, Math.round(lifetimeS))));
  }

  /** Validates a XOR-PEER-ADDRESS for `alloc`: returns the peer, or the error code to answer with. */
  private checkPeer(alloc: Allocation, msg: StunMessage, value: Buffer): StunAddress | number {
    const peer = decodeXorAddress(value, msg.transactionId);
    if (peer === undefined) return StunErrorCode.BadRequest;
    if (peer.family !== alloc.family) return StunErrorCode.PeerAddressFamilyMismatch;
    if (!this.peerAllowed(peer.address, peer.port)) return StunErrorCode.Forbidden;
    return peer;
  }

  private handleCreatePermission(link: ClientLink, msg: StunMessage, raw: string, port: number, alloc: Allocation, auth: AuthOk): void {
    const attrs = getAttributes(msg, StunAttr.XorPeerAddress);
    if (attrs.length === 0) return this.sendError(link, raw, port, msg, StunErrorCode.BadRequest, auth);
    const peers: StunAddress[] = [];
    for (const a of attrs) {
      const r = this.checkPeer(alloc, msg, a.value);
      if (typeof r === 'number') return this.sendError(link, raw, port, msg, r, auth);
      peers.push(r);
    }
    let added = 0;
    for (const p of peers) if (!alloc.permissions.has(p.address)) added++;
    if (alloc.permissions.size + added > this.maxPermissions) {
      return this.sendError(link, raw, port, msg, StunErrorCode.InsufficientCapacity, auth);
    }
    const expires = this.now() + this.permissionLifetimeMs;
    for (const p of peers) alloc.permissions.set(p.address, expires);
    this.respond(link, raw, port, msg, auth, undefined);
  }

  private handleChannelBind(link: ClientLink, msg: StunMessage, raw: string, port: number, alloc: Allocation, auth: AuthOk): void {
    const number = getChannelNumber(msg);
    const peerAttr = getAttribute(msg, StunAttr.XorPeerAddress);
    if (number === undefined || number < CHANNEL_NUMBER_MIN || number > CHANNEL_NUMBER_MAX || peerAttr === undefined) {
      return this.sendError(link, raw, port, msg, StunErrorCode.BadRequest, auth);
    }
    const r = this.checkPeer(alloc, msg, peerAttr.value);
    if (typeof r === 'number') return this.sendError(link, raw, port, msg, r, auth);
    const peer = r;
    if (!isValidPort(peer.port)) return this.sendError(link, raw, port, msg, StunErrorCode.BadRequest, auth);
    const byNumber = alloc.channelsByNumber.get(number);
    const byPeer = alloc.getChannelForPeer(peer.address, peer.port);
    if ((byNumber !== undefined && byNumber !== byPeer) || (byPeer !== undefined && byPeer !== byNumber)) {
      // The number is bound to another peer, or the peer to another number (including during the cool-down).
      return this.sendError(link, raw, port, msg, StunErrorCode.BadRequest, auth);
    }
    if (!alloc.permissions.has(peer.address) && alloc.permissions.size >= this.maxPermissions) {
      return this.sendError(link, raw, port, msg, StunErrorCode.InsufficientCapacity, auth);
    }
    const now = this.now();
    if (byNumber !== undefined) {
      byNumber.active = true;
      byNumber.expiresAt = now + this.channelLifetimeMs;
    } else {
      alloc.addChannel(new ChannelBinding(number, peer.address, peer.port, now + this.channelLifetimeMs));
    }
    const permExpires = now + this.permissionLifetimeMs;
    if ((alloc.permissions.get(peer.address) ?? 0) < permExpires) alloc.permissions.set(peer.address, permExpires);
    this.respond(link, raw, port, msg, auth, undefined);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Responses
  // -------------------------------------------------------------------------------------------------------------

  private respond(
    link: ClientLink,
    raw: string,
    port: number,
    req: StunMessage,
    auth: AuthOk | undefined,
    fill: ((b: StunMessageBuilder) => void) | undefined,
    send = true,
  ): Buffer {
    return this.reply(link, raw, port, req, StunClass.SuccessResponse, auth, fill, send);
  }

  private sendError(
    link: ClientLink,
    raw: string,
    port: number,
    req: StunMessage,
    code: number,
    auth?: AuthOk,
    fill?: (b: StunMessageBuilder) => void,
  ): void {
    this.reply(link, raw, port, req, StunClass.ErrorResponse, auth, (b) => {
      b.addErrorCode(code);
      if (fill) fill(b);
    });
  }

  private reply(
    link: ClientLink,
    raw: string,
    port: number,
    req: StunMessage,
    cls: StunClass,
    auth: AuthOk | undefined,
    fill: ((b: StunMessageBuilder) => void) | undefined,
    send = true,
  ): Buffer {
    const b = new StunMessageBuilder(req.method, cls, req.transactionId);
    if (fill) fill(b);
    if (this.opts.software) b.addString(StunAttr.Software, this.opts.software);
    const buf = b.build({
      integrityKey: auth && auth.sha1 ? auth.key : undefined,
      integritySha256Key: auth && auth.sha256 ? auth.key : undefined,
      fingerprint: req.hasFingerprint,
    });
    if (send) link.sendToClient(buf, raw, port, false);
    return buf;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Relay sockets
  // -------------------------------------------------------------------------------------------------------------

  private async bindRelay(family: IpFamily, even: boolean): Promise<{ socket: UdpSocket; port: number } | undefined> {
    const used = this.usedPorts[family];
    const size = this.portMax - this.portMin + 1;
    let candidate = this.portMin + randomInt(size);
    let attempts = 0;
    for (let scanned = 0; scanned < size && attempts < 64; scanned++, candidate = candidate === this.portMax ? this.portMin : candidate + 1) {
      if (used.has(candidate) || (even && (candidate & 1) === 1)) continue;
      attempts++;
      used.add(candidate);
      const r = await this.tryBindRelay(family, candidate);
      if (typeof r !== 'string') return { socket: r, port: candidate };
      used.delete(candidate);
      if (this.state !== 'running') return undefined;
      if (r !== 'EADDRINUSE' && r !== 'EACCES') {
        this.emit('warning', new Error(`relay bind failed: ${r}`));
        return undefined;
      }
    }
    return undefined;
  }

  private tryBindRelay(family: IpFamily, port: number): Promise<UdpSocket | string> {
    return new Promise((resolve) => {
      const socket = createSocket({
        type: family === 4 ? 'udp4' : 'udp6',
        ipv6Only: family === 6,
        lookup: literalLookup as never,
        recvBufferSize: this.opts.udpBufferSize,
        sendBufferSize: this.opts.udpBufferSize,
      });
      const onError = (err: NodeJS.ErrnoException): void => {
        socket.removeListener('listening', onListening);
        try {
          socket.close();
        } catch {
          /* not running */
        }
        resolve(err.code ?? 'EUNKNOWN');
      };
      const onListening = (): void => {
        socket.removeListener('error', onError);
        socket.on('error', this.onRelaySocketError);
        resolve(socket);
      };
      socket.once('error', onError);
      socket.once('listening', onListening);
      try {
        socket.bind({ port, address: family === 4 ? this.relayBindAddress : this.relayBindAddressV6, exclusive: true });
      } catch (err) {
        onError(err as NodeJS.ErrnoException);
      }
    });
  }

  private deleteAllocation(alloc: Allocation, reason: AllocationDeleteReason): void {
    if (alloc.deleted) return;
    alloc.deleted = true;
    this.allocationsById.delete(alloc.id);
    alloc.link.removeAllocation(alloc.clientRawAddress, alloc.clientPort, alloc);
    this.usedPorts[alloc.family].delete(alloc.relay.port);
    this.releaseUser(alloc.username);
    try {
      alloc.relaySocket.close();
    } catch {
      /* already closed */
    }
    this.counters.allocationsDeleted++;
    this.emit('allocation-deleted', alloc.info(), reason);
  }
}

function defaultRelayAddress(listen: string[]): string {
  for (const a of listen) if (isIP(a) === 4 && !isWildcard(a)) return a;
  for (const list of Object.values(networkInterfaces())) {
    for (const ni of list ?? []) if (ni.family === 'IPv4' && !ni.internal) return ni.address;
  }
  return '127.0.0.1';
}
