// Which addresses Kite's peer connections gather on and advertise, from rtc.* configuration.
import { networkInterfaces } from 'node:os';
import type { IceOptions } from '@kite/sfu';
import type { KiteConfig } from '../config/index.js';

function isLoopback(ip: string): boolean {
  return ip === '127.0.0.1' || ip === '::1' || ip.startsWith('127.');
}

/** The first non-internal IPv4 address, for rtc.node_ip when it is not configured. */
export function detectNodeIp(): string | undefined {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

export function iceOptions(cfg: KiteConfig): IceOptions {
  const rtc = cfg.rtc;
  const nodeIp = rtc.node_ip ?? (cfg.development ? '127.0.0.1' : detectNodeIp());
  const portRange: [number, number] | undefined =
    rtc.udp_port === undefined && rtc.port_range_start > 0 && rtc.port_range_end > rtc.port_range_start ? [rtc.port_range_start, rtc.port_range_end] : undefined;
  if (nodeIp && isLoopback(nodeIp)) {
    // Everything on this machine: gather and advertise loopback only.
    return { bindAddresses: [nodeIp], advertiseAddresses: [nodeIp], candidateAllowList: [nodeIp], portRange };
  }
  const advertise = [nodeIp, rtc.enable_loopback_candidate ? '127.0.0.1' : undefined].filter((x): x is string => !!x);
  return { advertiseAddresses: advertise, candidateAllowList: advertise.length ? advertise : undefined, portRange };
}
