/** Allocation state (RFC 8656 §2.2): relay socket, permissions and channel bindings of one client 5-tuple. */

import type { Socket as UdpSocket } from 'node:dgram';
import type { IpFamily, StunAddress } from './stun/address.js';

export type TurnTransport = 'udp' | 'tcp' | 'tls';

/** A channel binding. `active` is false during the cool-down after expiry (RFC 8656 §12: 5 min before re-use). */
export class ChannelBinding {
  constructor(
    readonly number: number,
    readonly peerAddress: string,
    readonly peerPort: number,
    public expiresAt: number,
    public active = true,
  ) {}
}

/**
 * The client side of a 5-tuple: a UDP listener (many clients, keyed by address) or one TCP/TLS connection.
 * Internal to the server; exported for typing only.
 */
export interface ClientLink {
  readonly transport: TurnTransport;
  /** Sends a STUN message to the client. `droppable` data may be dropped under back-pressure (returns false). */
  sendToClient(buf: Buffer, address: string, port: number, droppable: boolean): boolean;
  /** Sends a ChannelData message (`channel` + `payload`; padded to 4 bytes over streams). False if dropped. */
  sendChannelData(channel: number, payload: Buffer, address: string, port: number): boolean;
  getAllocation(address: string, port: number): Allocation | undefined;
  setAllocation(address: string, port: number, allocation: Allocation): void;
  removeAllocation(address: string, port: number, allocation: Allocation): void;
  /** Transaction id (hex) of an Allocate whose relay socket is being bound for this 5-tuple. */
  getPending(address: string, port: number): string | undefined;
  setPending(address: string, port: number, transactionId: string | undefined): void;
  /** True once the link can no longer carry traffic (connection closed / server closed). */
  readonly closed: boolean;
}

export interface AllocationStats {
  packetsToPeers: number;
  bytesToPeers: number;
  packetsToClients: number;
  bytesToClients: number;
  /** Peer datagrams dropped for lack of a permission (or by the peer policy). */
  droppedFromPeers: number;
}

/** Read-only snapshot passed to events and returned by `TurnServer.allocations()`. */
export interface AllocationInfo {
  id: string;
  username: string;
  transport: TurnTransport;
  /** The client's address as seen by the server (its reflexive address for UDP). */
  client: StunAddress;
  /** The relayed transport address given to the client. */
  relay: StunAddress;
  createdAt: number;
  expiresAt: number;
  permissions: number;
  channels: number;
  stats: AllocationStats;
}

export class Allocation {
  readonly permissions = new Map<string, number>();
  readonly channelsByNumber = new Map<number, ChannelBinding>();
  /** peer ip -> peer port -> binding (no string building on the hot path). */
  readonly channelsByPeer = new Map<string, Map<number, ChannelBinding>>();
  readonly stats: AllocationStats = {
    packetsToPeers: 0,
    bytesToPeers: 0,
    packetsToClients: 0,
    bytesToClients: 0,
    droppedFromPeers: 0,
  };
  deleted = false;
  /** Bound once per allocation; the relay socket's 'message' listener. */
  onPeerMessage: ((msg: Buffer, rinfo: { address: string; port: number }) => void) | null = null;

  constructor(
    readonly id: string,
    readonly username: string,
    readonly realm: string,
    public key: Buffer,
    readonly link: ClientLink,
    /** Client address exactly as the listener reports it (may be IPv4-mapped IPv6); used to send to it. */
    readonly clientRawAddress: string,
    readonly clientPort: number,
    /** Client address for display / XOR-MAPPED-ADDRESS (unmapped). */
    readonly client: StunAddress,
    readonly relaySocket: UdpSocket,
    readonly relay: StunAddress,
    readonly family: IpFamily,
    readonly createdAt: number,
    public expiresAt: number,
    /** Transaction id (hex) of the Allocate request that created it, and the response, for retransmissions. */
    readonly createTransactionId: string,
    readonly createResponse: Buffer,
  ) {}

  hasPermission(ip: string): boolean {
    return this.permissions.has(ip);
  }

  getChannelForPeer(ip: string, port: number): ChannelBinding | undefined {
    const byPort = this.channelsByPeer.get(ip);
    return byPort === undefined ? undefined : byPort.get(port);
  }

  addChannel(ch: ChannelBinding): void {
    this.channelsByNumber.set(ch.number, ch);
    let byPort = this.channelsByPeer.get(ch.peerAddress);
    if (!byPort) this.channelsByPeer.set(ch.peerAddress, (byPort = new Map()));
    byPort.set(ch.peerPort, ch);
  }

  removeChannel(ch: ChannelBinding): void {
    this.channelsByNumber.delete(ch.number);
    const byPort = this.channelsByPeer.get(ch.peerAddress);
    if (byPort) {
      byPort.delete(ch.peerPort);
      if (byPort.size === 0) this.channelsByPeer.delete(ch.peerAddress);
    }
  }

  /** Expires permissions and channel bindings; returns nothing. */
  sweep(now: number, channelCooldownMs: number): void {
    for (const [ip, exp] of this.permissions) if (exp <= now) this.permissions.delete(ip);
    for (const ch of this.channelsByNumber.values()) {
      if (ch.expiresAt > now) continue;
      if (ch.active) {
        ch.active = false;
        ch.expiresAt = now + channelCooldownMs;
      } else {
        this.removeChannel(ch);
      }
    }
  }

  info(): AllocationInfo {
    let channels = 0;
    for (const ch of this.channelsByNumber.values()) if (ch.active) channels++;
    return {
      id: this.id,
      username: this.username,
      transport: this.link.transport,
      client: { ...this.client },
      relay: { ...this.relay },
      createdAt: this.createdAt,
      expiresAt: this.expiresAt,
      permissions: this.permissions.size,
      channels,
      stats: { ...this.stats },
    };
  }
}
