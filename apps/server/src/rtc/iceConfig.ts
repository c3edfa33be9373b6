// Which addresses Kite advertises in ICE candidates and which sockets carry ICE, from rtc.* configuration:
//   rtc.udp_port set     one UdpMux for every peer connection (LiveKit's single UDP port);
//   rtc.udp_port unset   werift's own UDP socket per peer connection, in rtc.port_range_start..end;
//   rtc.tcp_port         one TcpMux (ICE-TCP, passive candidates) in both cases.
// Advertised addresses: rtc.node_ip, else the STUN-discovered public address (rtc.use_external_ip), else this host's
// IPv4 addresses that pass rtc.interfaces / rtc.ips; 127.0.0.1 with enable_loopback_candidate.
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { BlockList, isIP } from 'node:net';
import { TcpMux, UdpMux, discoverExternalAddress, type IceOptions } from '@kite/sfu';
import type { KiteConfig, RtcConfig } from '../config/index.js';

/** LiveKit's default when rtc.use_external_ip is on and rtc.stun_servers is empty. */
export const DEFAULT_STUN_SERVERS = ['stun.l.google.com:19302', 'stun1.l.google.com:19302'];

export function isLoopback(ip: string): boolean {
  return ip === '::1' || ip.startsWith('127.');
}

/** A BlockList of CIDRs / addresses (`10.0.0.0/8`, `192.168.1.7`, `fd00::/8`), or undefined when `list` is empty. */
export function cidrList(list: string[]): BlockList | undefined {
  if (list.length === 0) return undefined;
  const bl = new BlockList();
  for (const entry of list) {
    const [net, bits] = entry.split('/');
    const type = isIP(net ?? '') === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) bl.addAddress(net!, type);
    else bl.addSubnet(net!, Number(bits), type);
  }
  return bl;
}

/**
 * This host's non-internal IPv4 addresses that pass the rtc.interfaces (names) and rtc.ips (CIDR) filters, in
 * interface order. Kite's ICE is IPv4 only for now.
 */
export function interfaceAddresses(rtc: Pick<RtcConfig, 'interfaces' | 'ips'>, ifaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): string[] {
  const ipIn = cidrList(rtc.ips.includes);
  const ipOut = cidrList(rtc.ips.excludes);
  const out: string[] = [];
  for (const [name, addrs] of Object.entries(ifaces)) {
    if (rtc.interfaces.includes.length > 0 && !rtc.interfaces.includes.includes(name)) continue;
    if (rtc.interfaces.excludes.includes(name)) continue;
    for (const a of addrs ?? []) {
      if (a.family !== 'IPv4' || a.internal) continue;
      if (ipIn && !ipIn.check(a.address, 'ipv4')) continue;
      if (ipOut?.check(a.address, 'ipv4')) continue;
      if (!out.includes(a.address)) out.push(a.address);
    }
  }
  return out;
}

/** The first address interfaceAddresses() finds (rtc.node_ip when it is not configured). */
export function detectNodeIp(rtc: Pick<RtcConfig, 'interfaces' | 'ips'> = { interfaces: { includes: [], excludes: [] }, ips: { includes: [], excludes: [] } }): string | undefined {
  return interfaceAddresses(rtc)[0];
}

interface WarnLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** The addresses Kite's candidates carry, in preference order. Runs STUN discovery when configured. */
export async function advertisedAddresses(cfg: KiteConfig, log: WarnLog): Promise<string[]> {
  const rtc = cfg.rtc;
  let addresses: string[] | undefined;
  if (rtc.node_ip) addresses = [rtc.node_ip];
  else if (rtc.use_external_ip) {
    const servers = rtc.stun_servers.length ? rtc.stun_servers : DEFAULT_STUN_SERVERS;
    try {
      const m = await discoverExternalAddress(servers);
      log.info({ address: m.address, server: m.server }, 'external IP discovered with STUN');
      addresses = [m.address];
    } catch (err) {
      // Starting with a local address beats not starting: clients on the same network still connect.
      log.warn({ err: (err as Error).message, servers }, 'rtc.use_external_ip: STUN discovery failed, advertising local addresses');
    }
  }
  if (!addresses && cfg.development) addresses = ['127.0.0.1'];
  if (!addresses) {
    addresses = interfaceAddresses(rtc);
    if (addresses.length === 0) {
      log.warn({ interfaces: rtc.interfaces, ips: rtc.ips }, 'no network address passes rtc.interfaces / rtc.ips: advertising 127.0.0.1 only');
      addresses = ['127.0.0.1'];
    }
  }
  if (rtc.enable_loopback_candidate && !addresses.includes('127.0.0.1')) addresses.push('127.0.0.1');
  return addresses;
}

export interface RtcSockets {
  udpMux?: UdpMux;
  tcpMux?: TcpMux;
}

/** IceOptions for every participant's transports from the advertised addresses and the shared sockets. */
export function iceOptions(cfg: KiteConfig, addresses: string[], sockets: RtcSockets = {}): IceOptions {
  const rtc = cfg.rtc;
  const { udpMux, tcpMux } = sockets;
  const muxes = { ...(udpMux ? { udpMux } : {}), ...(tcpMux ? { tcpMux } : {}) };
  if (udpMux) return { advertiseAddresses: addresses, candidateAllowList: addresses, ...muxes };
  const portRange: [number, number] | undefined =
    rtc.port_range_start > 0 && rtc.port_range_end > rtc.port_range_start ? [rtc.port_range_start, rtc.port_range_end] : undefined;
  if (addresses.every(isLoopback)) {
    // Everything on this machine: werift gathers and advertises loopback only.
    return { bindAddresses: [addresses[0]!], advertiseAddresses: addresses, candidateAllowList: addresses, portRange, ...muxes };
  }
  return { advertiseAddresses: addresses, candidateAllowList: addresses, portRange, ...muxes };
}

/**
 * Where the muxes listen: a loopback-only deployment stays on loopback; one advertised address that belongs to this
 * host is bound itself, so that replies leave from the address the client sent to (a socket on 0.0.0.0 answers from
 * whatever address the route picks, and a client checking from a second interface discards those answers); anything
 * else on every interface.
 */
export function muxBindAddress(addresses: string[], local: (ip: string) => boolean = isLocalAddress): string {
  if (addresses.every(isLoopback)) return addresses[0]!;
  if (addresses.length === 1 && local(addresses[0]!)) return addresses[0]!;
  return '0.0.0.0';
}

function isLocalAddress(ip: string): boolean {
  return Object.values(networkInterfaces()).some((list) => list?.some((a) => a.address === ip));
}

export interface RtcNetwork {
  ice: IceOptions;
  addresses: string[];
  udpMux?: UdpMux;
  tcpMux: TcpMux;
  close(): Promise<void>;
}

/** Resolves the advertised addresses and opens the shared ICE sockets. Throws naming the key when a port is taken. */
export async function startRtcNetwork(cfg: KiteConfig, log: WarnLog): Promise<RtcNetwork> {
  const addresses = await advertisedAddresses(cfg, log);
  const bindAddress = muxBindAddress(addresses);
  let udpMux: UdpMux | undefined;
  if (cfg.rtc.udp_port !== undefined) {
    try {
      // Large buffers: one socket carries every participant's media, and bursts (keyframes × subscribers) are the norm.
      udpMux = await UdpMux.create({ port: cfg.rtc.udp_port, bindAddress, recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
    } catch (err) {
      throw new Error(`rtc.udp_port ${cfg.rtc.udp_port} on ${bindAddress}: ${(err as Error).message}`);
    }
  }
  let tcpMux: TcpMux;
  try {
    tcpMux = await TcpMux.create({ port: cfg.rtc.tcp_port, bindAddress });
  } catch (err) {
    await udpMux?.close();
    throw new Error(`rtc.tcp_port ${cfg.rtc.tcp_port} on ${bindAddress}: ${(err as Error).message}`);
  }
  return {
    ice: iceOptions(cfg, addresses, { udpMux, tcpMux }),
    addresses,
    udpMux,
    tcpMux,
    async close() {
      await Promise.all([udpMux?.close(), tcpMux.close()]);
    },
  };
}
