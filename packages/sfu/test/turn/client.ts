/**
 * A small TURN client for the tests (UDP, TCP, TLS). It reuses the STUN codec (itself checked against the RFC 5769
 * vectors in codec.test.ts) but frames streams and handles the auth dance on its own.
 */

import { createSocket } from 'node:dgram';
import type { Socket as UdpSocket } from 'node:dgram';
import { connect as tcpConnect } from 'node:net';
import type { Socket as TcpSocket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { createHash } from 'node:crypto';
import {
  StunAttr,
  StunClass,
  StunMethod,
  StunMessageBuilder,
  encodeChannelNumber,
  encodeRequestedTransport,
  getErrorCode,
  getStringAttribute,
  getUint32Attribute,
  getXorAddress,
  getAttribute,
  newTransactionId,
  parseStunMessage,
} from '../../src/turn/index.js';
import type { StunMessage, StunAddress } from '../../src/turn/index.js';

export type ClientTransport = 'udp' | 'tcp' | 'tls';

export interface ReceivedData {
  peer?: StunAddress;
  channel?: number;
  data: Buffer;
}

export class TurnError extends Error {
  constructor(
    readonly code: number,
    readonly response: StunMessage,
  ) {
    super(`TURN error ${code} ${getErrorCode(response)?.reason ?? ''}`);
  }
}

export class TestTurnClient {
  username?: string;
  password?: string;
  realm?: string;
  nonce?: string;
  private readonly waiters = new Map<string, (m: StunMessage) => void>();
  private readonly received: ReceivedData[] = [];
  private dataWaiter: (() => void) | undefined;
  private streamBuf: Buffer = Buffer.alloc(0);
  closed = false;
  /** Every STUN message received, in order. */
  readonly messages: StunMessage[] = [];

  private constructor(
    readonly transport: ClientTransport,
    readonly server: { address: string; port: number },
    private readonly udp: UdpSocket | undefined,
    private readonly stream: TcpSocket | undefined,
  ) {}

  static async connect(
    transport: ClientTransport,
    server: { address: string; port: number },
    opts: { localPort?: number; ca?: string } = {},
  ): Promise<TestTurnClient> {
    if (transport === 'udp') {
      const v6 = server.address.includes(':');
      const s = createSocket(v6 ? 'udp6' : 'udp4');
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.bind(opts.localPort ?? 0, v6 ? '::1' : '127.0.0.1', () => {
          s.removeListener('error', reject);
          resolve();
        });
      });
      const c = new TestTurnClient('udp', server, s, undefined);
      s.on('message', (msg) => c.onDatagram(msg));
      return c;
    }
    const sock: TcpSocket = await new Promise((resolve, reject) => {
      const s =
        transport === 'tcp'
          ? tcpConnect({ host: server.address, port: server.port }, () => resolve(s))
          : tlsConnect({ host: server.address, port: server.port, ca: opts.ca, servername: 'localhost' }, () => resolve(s));
      s.once('error', reject);
    });
    sock.on('error', () => {});
    const c = new TestTurnClient(transport, server, undefined, sock);
    sock.on('data', (chunk: Buffer) => c.onStreamData(chunk));
    sock.on('close', () => (c.closed = true));
    return c;
  }

  get localAddress(): { address: string; port: number } {
    if (this.udp) {
      const a = this.udp.address();
      return { address: a.address, port: a.port };
    }
    return { address: this.stream!.localAddress!, port: this.stream!.localPort! };
  }

  setCredentials(username: string, password: string): this {
    this.username = username;
    this.password = password;
    return this;
  }

  get key(): Buffer {
    return createHash('md5').update(`${this.username}:${this.realm}:${this.password}`).digest();
  }

  sendRaw(buf: Buffer): void {
    if (this.udp) this.udp.send(buf, this.server.port, this.server.address);
    else this.stream!.write(buf);
  }

  /** Sends one request and waits for the response with the same transaction id (retransmits over UDP). */
  async transact(
    method: number,
    fill?: (b: StunMessageBuilder) => void,
    opts: { auth?: boolean; fingerprint?: boolean; timeoutMs?: number; transactionId?: Buffer } = {},
  ): Promise<StunMessage> {
    const txId = opts.transactionId ?? newTransactionId();
    const b = new StunMessageBuilder(method, StunClass.Request, txId);
    if (fill) fill(b);
    const auth = opts.auth !== false && this.nonce !== undefined && this.username !== undefined;
    if (auth) {
      b.addString(StunAttr.Username, this.username!).addString(StunAttr.Realm, this.realm!).addString(StunAttr.Nonce, this.nonce!);
    }
    const buf = b.build({ integrityKey: auth ? this.key : undefined, fingerprint: opts.fingerprint ?? true });
    const hex = txId.toString('hex');
    const timeoutMs = opts.timeoutMs ?? 3000;
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let retx: NodeJS.Timeout | undefined;
      const done = (m: StunMessage): void => {
        clearTimeout(timer);
        clearInterval(retx);
        this.waiters.delete(hex);
        resolve(m);
      };
      this.waiters.set(hex, done);
      timer = setTimeout(() => {
        clearInterval(retx);
        this.waiters.delete(hex);
        reject(new Error(`timeout waiting for response to method ${method}`));
      }, timeoutMs);
      this.sendRaw(buf);
      if (this.udp) retx = setInterval(() => this.sendRaw(buf), 500);
    });
  }

  /** Like transact, but follows 401 / 438 challenges (at most twice); throws TurnError on an error response. */
  async request(method: number, fill?: (b: StunMessageBuilder) => void): Promise<StunMessage> {
    for (let attempt = 0; ; attempt++) {
      const res = await this.transact(method, fill);
      if (res.cls === StunClass.SuccessResponse) return res;
      const err = getErrorCode(res)?.code ?? 0;
      const nonce = getStringAttribute(res, StunAttr.Nonce);
      if ((err === 401 || err === 438) && attempt < 2 && this.username !== undefined && nonce !== undefined) {
        const realm = getStringAttribute(res, StunAttr.Realm);
        if (realm !== undefined) this.realm = realm;
        this.nonce = nonce;
        continue;
      }
      throw new TurnError(err, res);
    }
  }

  async allocate(lifetime?: number, family?: 4 | 6): Promise<{ relay: StunAddress; mapped: StunAddress; lifetime: number; response: StunMessage }> {
    const res = await this.request(StunMethod.Allocate, (b) => {
      b.add(StunAttr.RequestedTransport, encodeRequestedTransport(17));
      if (lifetime !== undefined) b.addUint32(StunAttr.Lifetime, lifetime);
      if (family !== undefined) b.add(StunAttr.RequestedAddressFamily, Buffer.from([family === 4 ? 1 : 2, 0, 0, 0]));
    });
    return {
      relay: getXorAddress(res, StunAttr.XorRelayedAddress)!,
      mapped: getXorAddress(res, StunAttr.XorMappedAddress)!,
      lifetime: getUint32Attribute(res, StunAttr.Lifetime)!,
      response: res,
    };
  }

  async refresh(lifetime?: number): Promise<number> {
    const res = await this.request(StunMethod.Refresh, (b) => {
      if (lifetime !== undefined) b.addUint32(StunAttr.Lifetime, lifetime);
    });
    return getUint32Attribute(res, StunAttr.Lifetime)!;
  }

  async createPermission(...peers: Array<{ address: string; port: number }>): Promise<void> {
    await this.request(StunMethod.CreatePermission, (b) => {
      for (const p of peers) b.addXorAddress(StunAttr.XorPeerAddress, p.address, p.port);
    });
  }

  async channelBind(channel: number, peer: { address: string; port: number }): Promise<void> {
    await this.request(StunMethod.ChannelBind, (b) => {
      b.add(StunAttr.ChannelNumber, encodeChannelNumber(channel)).addXorAddress(StunAttr.XorPeerAddress, peer.address, peer.port);
    });
  }

  sendIndication(peer: { address: string; port: number }, data: Buffer): void {
    const b = new StunMessageBuilder(StunMethod.Send, StunClass.Indication, newTransactionId());
    b.addXorAddress(StunAttr.XorPeerAddress, peer.address, peer.port).add(StunAttr.Data, data);
    this.sendRaw(b.build({ fingerprint: true }));
  }

  sendChannelData(channel: number, data: Buffer): void {
    const pad = this.udp ? 0 : (4 - (data.length % 4)) % 4;
    const buf = Buffer.alloc(4 + data.length + pad);
    buf.writeUInt16BE(channel, 0);
    buf.writeUInt16BE(data.length, 2);
    data.copy(buf, 4);
    this.sendRaw(buf);
  }

  /** Next Data indication or ChannelData, or undefined after `timeoutMs`. */
  async nextData(timeoutMs = 2000): Promise<ReceivedData | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.dataWaiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.dataWaiter = undefined;
    }
    return this.received.shift();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.udp) await new Promise<void>((resolve) => this.udp!.close(() => resolve()));
    else
      await new Promise<void>((resolve) => {
        if (this.stream!.destroyed) return resolve();
        this.stream!.once('close', () => resolve());
        this.stream!.destroy();
      });
  }

  // ------------------------------------------------------------------------------------------------------------

  private onDatagram(msg: Buffer): void {
    this.onFrame(msg);
  }

  /** Independent stream framing: STUN = 20 + length, ChannelData = 4 + length padded to 4. */
  private onStreamData(chunk: Buffer): void {
    this.streamBuf = this.streamBuf.length ? Buffer.concat([this.streamBuf, chunk]) : chunk;
    for (;;) {
      if (this.streamBuf.length < 4) return;
      const len = this.streamBuf.readUInt16BE(2);
      const isChannel = (this.streamBuf[0] & 0xc0) === 0x40;
      const total = isChannel ? 4 + Math.ceil(len / 4) * 4 : 20 + len;
      if (this.streamBuf.length < total) return;
      this.onFrame(this.streamBuf.subarray(0, total));
      this.streamBuf = this.streamBuf.subarray(total);
    }
  }

  private onFrame(buf: Buffer): void {
    if (buf.length >= 4 && (buf[0] & 0xc0) === 0x40) {
      const len = buf.readUInt16BE(2);
      this.push({ channel: buf.readUInt16BE(0), data: Buffer.from(buf.subarray(4, 4 + len)) });
      return;
    }
    const parsed = parseStunMessage(Buffer.from(buf));
    if (!parsed.ok) return;
    const m = parsed.message;
    this.messages.push(m);
    if (m.cls === StunClass.Indication && m.method === StunMethod.Data) {
      const data = getAttribute(m, StunAttr.Data);
      this.push({ peer: getXorAddress(m, StunAttr.XorPeerAddress), data: Buffer.from(data?.value ?? Buffer.alloc(0)) });
      return;
    }
    const w = this.waiters.get(m.transactionId.toString('hex'));
    if (w) w(m);
  }

  private push(d: ReceivedData): void {
    this.received.push(d);
    if (this.dataWaiter) this.dataWaiter();
  }
}

/** A plain UDP socket acting as the remote peer. */
export class TestPeer {
  private readonly queue: Array<{ data: Buffer; from: { address: string; port: number } }> = [];
  private waiter: (() => void) | undefined;

  private constructor(readonly socket: UdpSocket) {
    socket.on('message', (data, rinfo) => {
      this.queue.push({ data, from: { address: rinfo.address, port: rinfo.port } });
      if (this.waiter) this.waiter();
    });
  }

  static async create(address = '127.0.0.1', port = 0): Promise<TestPeer> {
    const s = createSocket(address.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(port, address, () => resolve());
    });
    return new TestPeer(s);
  }

  get address(): { address: string; port: number } {
    const a = this.socket.address();
    return { address: a.address, port: a.port };
  }

  send(data: Buffer, to: { address: string; port: number }): void {
    this.socket.send(data, to.port, to.address);
  }

  async next(timeoutMs = 2000): Promise<{ data: Buffer; from: { address: string; port: number } } | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return this.queue.shift();
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
