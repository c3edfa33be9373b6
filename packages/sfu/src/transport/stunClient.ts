// A tiny STUN Binding client (RFC 8489 §6.2): what address and port does a STUN server see us at? Used once at start
// for rtc.use_external_ip, so it favours clarity over speed: one throwaway UDP socket, a Binding request to every
// server at once, retransmitted until the first valid answer or the deadline.
import { createSocket, type RemoteInfo } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';

const MAGIC_COOKIE = 0x2112a442;
const BINDING_REQUEST = 0x0001;
const BINDING_SUCCESS = 0x0101;
const BINDING_ERROR = 0x0111;
const ATTR_MAPPED_ADDRESS = 0x0001;
const ATTR_XOR_MAPPED_ADDRESS = 0x0020;
/** The pre-RFC 5389 code point some old servers still send XOR-MAPPED-ADDRESS under. */
const ATTR_XOR_MAPPED_ADDRESS_OLD = 0x8020;
const ATTR_ERROR_CODE = 0x0009;
const DEFAULT_STUN_PORT = 3478;

export interface StunMapping {
  /** The reflexive (public) address the server saw. */
  address: string;
  port: number;
  /** The server that answered, as given. */
  server: string;
}

export interface StunDiscoveryOptions {
  /** Give up after this long overall. Default 3000 ms. */
  timeoutMs?: number;
  /** First retransmission after this long, doubling (RFC 8489's RTO). Default 250 ms. */
  rtoMs?: number;
  /** Local address for the throwaway socket. Default 0.0.0.0. */
  bindAddress?: string;
}

/** Parses `host`, `host:port`, `stun:host:port`, `[v6]:port`. */
export function parseStunServer(server: string): { host: string; port: number } {
  let s = server.trim().replace(/^stuns?:/i, '');
  s = s.replace(/^\/\//, '').replace(/\?.*$/, '');
  let host = s;
  let port = DEFAULT_STUN_PORT;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (v6) {
    host = v6[1]!;
    if (v6[2]) port = Number(v6[2]);
  } else if (isIP(s) !== 6) {
    const colon = s.lastIndexOf(':');
    if (colon >= 0) {
      host = s.slice(0, colon);
      port = Number(s.slice(colon + 1));
    }
  }
  if (!host || !Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`bad STUN server "${server}"`);
  return { host, port };
}

/** A Binding request with a fresh 96-bit transaction ID and no attributes. */
export function bindingRequest(transactionId: Buffer): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt16BE(BINDING_REQUEST, 0);
  b.writeUInt16BE(0, 2);
  b.writeUInt32BE(MAGIC_COOKIE, 4);
  transactionId.copy(b, 8, 0, 12);
  return b;
}

/**
 * The mapped address in a Binding response to `transactionId`: XOR-MAPPED-ADDRESS, else MAPPED-ADDRESS (RFC 3489
 * servers). `undefined` when `msg` is not a success response to that transaction; throws on an error response.
 */
export function parseBindingResponse(msg: Buffer, transactionId: Buffer): { address: string; port: number } | undefined {
  if (msg.length < 20 || msg.readUInt32BE(4) !== MAGIC_COOKIE || !msg.subarray(8, 20).equals(transactionId)) return undefined;
  const type = msg.readUInt16BE(0);
  const end = 20 + msg.readUInt16BE(2);
  if (end > msg.length) return undefined;
  if (type === BINDING_ERROR) {
    let reason = 'error response';
    for (let p = 20; p + 4 <= end; p += 4 + ((msg.readUInt16BE(p + 2) + 3) & ~3)) {
      if (msg.readUInt16BE(p) === ATTR_ERROR_CODE && msg.readUInt16BE(p + 2) >= 4) {
        const len = msg.readUInt16BE(p + 2);
        reason = `${(msg[p + 6]! & 7) * 100 + msg[p + 7]!} ${msg.toString('utf8', p + 8, p + 4 + len)}`;
      }
    }
    throw new Error(`STUN ${reason}`);
  }
  if (type !== BINDING_SUCCESS) return undefined;
  let mapped: { address: string; port: number } | undefined;
  for (let p = 20; p + 4 <= end; ) {
    const attr = msg.readUInt16BE(p);
    const len = msg.readUInt16BE(p + 2);
    const v = p + 4;
    if (v + len > end) return undefined;
    if (attr === ATTR_XOR_MAPPED_ADDRESS || attr === ATTR_XOR_MAPPED_ADDRESS_OLD) {
      const a = readAddress(msg, v, len, msg.subarray(4, 20));
      if (a) return a; // the XOR form wins: NATs that rewrite addresses in payloads cannot touch it
    } else if (attr === ATTR_MAPPED_ADDRESS) {
      mapped ??= readAddress(msg, v, len, undefined);
    }
    p = v + ((len + 3) & ~3);
  }
  return mapped;
}

/** MAPPED-ADDRESS body (family, port, address); XORed with cookie ‖ transaction ID when `xor` is given. */
function readAddress(msg: Buffer, at: number, len: number, xor: Buffer | undefined): { address: string; port: number } | undefined {
  const family = msg[at + 1];
  const size = family === 1 ? 4 : family === 2 ? 16 : 0;
  if (size === 0 || len < 4 + size) return undefined;
  const port = msg.readUInt16BE(at + 2) ^ (xor ? xor.readUInt16BE(0) : 0);
  const raw = Buffer.from(msg.subarray(at + 4, at + 4 + size));
  if (xor) for (let i = 0; i < size; i++) raw[i]! ^= xor[i]!;
  if (size === 4) return { address: `${raw[0]}.${raw[1]}.${raw[2]}.${raw[3]}`, port };
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(raw.readUInt16BE(i).toString(16));
  return { address: groups.join(':'), port }; // uncompressed, still a valid literal
}

/**
 * Asks every server in `servers` (at once) for our reflexive IPv4 address; resolves with the first valid answer.
 * Rejects when none answers within the timeout, naming each server's failure.
 */
export async function discoverExternalAddress(servers: string[], opts: StunDiscoveryOptions = {}): Promise<StunMapping> {
  if (servers.length === 0) throw new Error('no STUN servers configured');
  const timeoutMs = opts.timeoutMs ?? 3000;
  const failures = new Map<string, string>();
  const targets: { server: string; ip: string; port: number; tid: Buffer; request: Buffer }[] = [];
  await Promise.all(
    servers.map(async (server) => {
      try {
        const { host, port } = parseStunServer(server);
        const ip = isIP(host) === 4 ? host : (await lookup(host, { family: 4 })).address;
        const tid = randomBytes(12);
        targets.push({ server, ip, port, tid, request: bindingRequest(tid) });
      } catch (err) {
        failures.set(server, (err as Error).message);
      }
    }),
  );
  const describe = () => servers.map((s) => `${s}: ${failures.get(s) ?? 'no answer'}`).join('; ');
  if (targets.length === 0) throw new Error(`STUN discovery failed (${describe()})`);

  const socket = createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, opts.bindAddress ?? '0.0.0.0', () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return await new Promise<StunMapping>((resolve, reject) => {
      let rto = opts.rtoMs ?? 250;
      let retransmit: NodeJS.Timeout | undefined;
      const send = () => {
        for (const t of targets) if (!failures.has(t.server)) socket.send(t.request, t.port, t.ip);
        retransmit = setTimeout(send, rto);
        rto *= 2;
      };
      const deadline = setTimeout(() => finish(new Error(`STUN discovery timed out after ${timeoutMs} ms (${describe()})`)), timeoutMs);
      const finish = (result: StunMapping | Error) => {
        clearTimeout(deadline);
        clearTimeout(retransmit);
        socket.off('message', onMessage);
        if (result instanceof Error) reject(result);
        else resolve(result);
      };
      const onMessage = (msg: Buffer, from: RemoteInfo) => {
        const t = targets.find((x) => x.port === from.port && x.ip === from.address);
        if (!t) return;
        try {
          const mapped = parseBindingResponse(msg, t.tid);
          if (mapped) finish({ ...mapped, server: t.server });
        } catch (err) {
          failures.set(t.server, (err as Error).message);
          if (targets.every((x) => failures.has(x.server))) finish(new Error(`STUN discovery failed (${describe()})`));
        }
      };
      socket.on('message', onMessage);
      // ICMP port unreachable and the like surface here; the other servers may still answer.
      socket.on('error', () => undefined);
      send();
    });
  } finally {
    socket.close();
  }
}
