// Where Kite's TURN relay may send. A TURN server relays to whatever address a client names, so an unrestricted one
// is an open proxy into the host's network (its loopback services, the cloud metadata address, the private LAN).
// Kite's relay exists for one purpose: to carry a client's media to Kite itself. So by default a peer is allowed only
// when it is one of this node's addresses AND one of Kite's UDP media ports; `turn.relay_allow` adds CIDR blocks
// (any port) for deliberate exceptions.
import { BlockList, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { IceOptions } from '@kite/sfu';
import type { KiteConfig } from '../config/index.js';

/** Parses `turn.relay_allow` (already validated by the config layer). */
export function relayAllowList(cidrs: readonly string[]): BlockList | undefined {
  if (cidrs.length === 0) return undefined;
  const list = new BlockList();
  for (const c of cidrs) {
    const [addr, bits] = c.split('/') as [string, string | undefined];
    const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    list.addSubnet(addr, bits === undefined ? (type === 'ipv6' ? 128 : 32) : Number(bits), type);
  }
  return list;
}

/**
 * The addresses Kite's media can be reached at on this node: the ones it advertises and binds, plus, when its media
 * sockets listen on every interface, every local interface address (a client may have learnt any of them).
 */
export function nodeMediaAddresses(cfg: KiteConfig, ice: IceOptions): Set<string> {
  const out = new Set<string>();
  const add = (a: string | undefined): void => {
    if (a && isIP(a)) out.add(a);
  };
  add(cfg.rtc.node_ip);
  for (const a of ice.advertiseAddresses ?? []) add(a);
  for (const a of ice.candidateAllowList ?? []) add(a);
  if (ice.bindAddresses?.length) {
    for (const a of ice.bindAddresses) add(a);
  } else {
    for (const list of Object.values(networkInterfaces())) for (const ni of list ?? []) add(ni.address.split('%')[0]);
  }
  return out;
}

export interface MediaPorts {
  /** The UDP mux's bound port, when there is one (read per call: with `rtc.udp_port: 0` it is known only once bound). */
  muxPort?: () => number | undefined;
  /** rtc.udp_port when it names a port. */
  fixed?: number;
  /** rtc.port_range_start/end when peer connections bind their own ports in that range. */
  range?: [number, number];
}

/** Kite's UDP media ports as configured: the mux port, or the per-connection port range. */
export function mediaPortsFromConfig(cfg: KiteConfig, ice: IceOptions, muxPort?: () => number | undefined): MediaPorts {
  return {
    muxPort,
    fixed: cfg.rtc.udp_port !== undefined && cfg.rtc.udp_port > 0 ? cfg.rtc.udp_port : undefined,
    range: ice.portRange,
  };
}

export function isMediaPort(ports: MediaPorts, port: number): boolean {
  if (port === ports.fixed) return true;
  if (ports.range !== undefined && port >= ports.range[0] && port <= ports.range[1]) return true;
  const mux = ports.muxPort?.();
  return mux !== undefined && mux > 0 && port === mux;
}

/** The TurnServer `isPeerAllowed` policy. Called per packet for Send/Data indications: keep it allocation-free. */
export function relayPolicy(addresses: ReadonlySet<string>, ports: MediaPorts, allow: BlockList | undefined): (ip: string, port: number) => boolean {
  return (ip, port) => {
    if (addresses.has(ip) && isMediaPort(ports, port)) return true;
    if (allow === undefined) return false;
    const family = isIP(ip);
    return family !== 0 && allow.check(ip, family === 6 ? 'ipv6' : 'ipv4');
  };
}
