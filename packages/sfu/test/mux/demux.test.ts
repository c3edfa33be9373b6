// Routing rules of the muxes, with raw sockets and STUN built by werift's own codec.
import { afterEach, describe, expect, it } from 'vitest';
import { createSocket, type Socket as DgramSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Message, classes, methods } from 'werift';
import { TcpMux, UdpMux, parseBindingRequest, verifyIntegrity, type MuxAddress } from '../../src/transport/mux/index.js';
import { sleep, waitFor } from './helpers.js';

const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

function binding(localUfrag: string, password: string | undefined, opts: { remoteUfrag?: string; sha256?: boolean } = {}): Buffer {
  const m = new Message(methods.BINDING, classes.REQUEST);
  m.setAttribute('USERNAME', `${localUfrag}:${opts.remoteUfrag ?? 'cli1'}`).setAttribute('PRIORITY', 12345).setAttribute('ICE-CONTROLLING', 42n);
  if (password !== undefined) m.addMessageIntegrity(Buffer.from(password, 'utf8'));
  m.addFingerprint();
  return Buffer.from(m.bytes);
}

/** An RTP-looking datagram tagged with `tag` at offset 12. */
function rtpLike(tag: number): Buffer {
  const b = Buffer.alloc(100);
  b[0] = 0x80;
  b[1] = 96;
  b.writeUInt32BE(tag, 12);
  return b;
}

async function udpClient(): Promise<DgramSocket> {
  const s = createSocket('udp4');
  s.on('error', () => undefined);
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  cleanup.push(() => new Promise<void>((r) => s.close(() => r())));
  return s;
}

interface Recorder {
  packets: { data: Buffer; addr: MuxAddress }[];
  handler: { password: (u: string) => string | undefined; onPacket: (d: Buffer, a: MuxAddress) => void };
}
function recorder(passwords: Record<string, string>): Recorder {
  const r: Recorder = {
    packets: [],
    handler: { password: (u) => passwords[u], onPacket: (data, addr) => r.packets.push({ data, addr }) },
  };
  return r;
}

describe('STUN parsing', () => {
  it('parses USERNAME and verifies MESSAGE-INTEGRITY as werift writes them; rejects malformed input', () => {
    const msg = binding('srv1', 'pass-srv1-0123456789ab', { remoteUfrag: 'cli9' });
    const info = parseBindingRequest(msg)!;
    expect(info.localUfrag).toBe('srv1');
    expect(info.remoteUfrag).toBe('cli9');
    expect(verifyIntegrity(msg, info, 'pass-srv1-0123456789ab')).toBe(true);
    expect(verifyIntegrity(msg, info, 'wrong')).toBe(false);
    // Flip one byte inside USERNAME's value: still parses, integrity fails.
    const tampered = Buffer.from(msg);
    tampered[24] ^= 1;
    expect(verifyIntegrity(tampered, parseBindingRequest(tampered)!, 'pass-srv1-0123456789ab')).toBe(false);
    // Truncations, wrong lengths, responses, garbage.
    for (let n = 0; n < msg.length; n++) expect(parseBindingRequest(msg.subarray(0, n))).toBeUndefined();
    const badLen = Buffer.from(msg);
    badLen.writeUInt16BE(badLen.readUInt16BE(2) + 4, 2);
    expect(parseBindingRequest(badLen)).toBeUndefined();
    const response = Buffer.from(msg);
    response.writeUInt16BE(0x0101, 0);
    expect(parseBindingRequest(response)).toBeUndefined();
    const noIntegrity = binding('srv1', undefined);
    expect(verifyIntegrity(noIntegrity, parseBindingRequest(noIntegrity)!, 'x')).toBe(false);
    for (let i = 0; i < 20_000; i++) {
      const g = randomBytes(Math.floor(Math.random() * 120));
      if (g.length >= 8 && i % 2 === 0) {
        g.writeUInt16BE(0x0001, 0);
        g.writeUInt16BE((g.length - 20) & 0xfffc, 2);
        g.writeUInt32BE(0x2112a442, 4);
      }
      const parsed = parseBindingRequest(g);
      if (parsed) verifyIntegrity(g, parsed, 'pw');
    }
  });
});

describe('UdpMux routing', () => {
  it('drops unknown ufrags, non-STUN and bad integrity from unknown addresses; routes valid requests', async () => {
    const mux = await UdpMux.create({ bindAddress: '127.0.0.1' });
    cleanup.push(() => mux.close());
    const a = recorder({ ufragA: 'passwordA-0123456789012' });
    mux.register('ufragA', a.handler);
    const x = await udpClient();
    const send = (s: DgramSocket, b: Buffer) => s.send(b, mux.port, '127.0.0.1');

    send(x, binding('nobody', 'passwordA-0123456789012'));
    send(x, rtpLike(1));
    send(x, Buffer.from([0x16, 0xfe, 0xfd, 0, 0, 0])); // DTLS-looking
    send(x, Buffer.from([0x00, 0x01, 0x00])); // truncated STUN
    send(x, Buffer.alloc(0));
    send(x, binding('ufragA', 'not-the-password'));
    send(x, binding('ufragA', undefined)); // no MESSAGE-INTEGRITY
    await waitFor(() => mux.stats.packetsIn >= 7, 2000, 'packets in');
    expect(a.packets).toHaveLength(0);
    expect(mux.stats.droppedUnknownUfrag).toBe(1);
    expect(mux.stats.droppedIntegrity).toBe(2);
    expect(mux.stats.droppedUnknownAddress).toBe(3);

    send(x, binding('ufragA', 'passwordA-0123456789012'));
    send(x, rtpLike(7));
    await waitFor(() => a.packets.length === 2, 2000, 'routed');
    expect(a.packets[1]!.data.readUInt32BE(12)).toBe(7);
    expect(a.packets[0]!.addr).toEqual(['127.0.0.1', x.address().port]);
    // The same address tuple object every time (no allocation per packet).
    expect(a.packets[1]!.addr).toBe(a.packets[0]!.addr);
  });

  it('keeps two sessions with interleaved traffic apart', async () => {
    const mux = await UdpMux.create({ bindAddress: '127.0.0.1' });
    cleanup.push(() => mux.close());
    const a = recorder({ ufragA: 'passwordA-0123456789012' });
    const b = recorder({ ufragB: 'passwordB-0123456789012' });
    mux.register('ufragA', a.handler);
    mux.register('ufragB', b.handler);
    const xs = [await udpClient(), await udpClient()];
    const ys = [await udpClient(), await udpClient()]; // two candidates of client B
    for (const x of xs) x.send(binding('ufragA', 'passwordA-0123456789012'), mux.port, '127.0.0.1');
    for (const y of ys) y.send(binding('ufragB', 'passwordB-0123456789012'), mux.port, '127.0.0.1');
    await waitFor(() => a.packets.length === 2 && b.packets.length === 2, 2000, 'bound');
    const N = 500;
    for (let i = 0; i < N; i++) {
      xs[i % 2]!.send(rtpLike(1_000_000 + i), mux.port, '127.0.0.1');
      ys[i % 2]!.send(rtpLike(2_000_000 + i), mux.port, '127.0.0.1');
      if (i % 20 === 0) await sleep(1);
    }
    await waitFor(() => a.packets.length + b.packets.length >= 2 * N + 4, 3000, 'interleaved traffic').catch(() => undefined);
    const tagsA = a.packets.slice(2).map((p) => p.data.readUInt32BE(12));
    const tagsB = b.packets.slice(2).map((p) => p.data.readUInt32BE(12));
    expect(tagsA.every((t) => t >= 1_000_000 && t < 2_000_000)).toBe(true);
    expect(tagsB.every((t) => t >= 2_000_000)).toBe(true);
    console.log(`[demux] A got ${tagsA.length}, B got ${tagsB.length} of ${N} each (loopback loss allowed)`);
    expect(tagsA.length).toBeGreaterThan(N * 0.9);
    expect(tagsB.length).toBeGreaterThan(N * 0.9);
  });

  it('re-routes a known address to another session only after a valid Binding request for it', async () => {
    const mux = await UdpMux.create({ bindAddress: '127.0.0.1' });
    cleanup.push(() => mux.close());
    const a = recorder({ ufragA: 'passwordA-0123456789012' });
    const b = recorder({ ufragB: 'passwordB-0123456789012' });
    mux.register('ufragA', a.handler);
    mux.register('ufragB', b.handler);
    const x = await udpClient();
    const send = (buf: Buffer) => x.send(buf, mux.port, '127.0.0.1');
    send(binding('ufragA', 'passwordA-0123456789012'));
    await waitFor(() => a.packets.length === 1, 2000, 'bound to A');
    // Client restarts on the same port: a forged/invalid request for B does not move it; unknown ufrags are dropped.
    send(binding('ufragB', 'wrong-password'));
    send(binding('ghost', 'whatever'));
    send(rtpLike(1));
    await waitFor(() => a.packets.length === 2, 2000, 'still A');
    expect(b.packets).toHaveLength(0);
    expect(a.packets[1]!.data[0]).toBe(0x80);
    // A valid request for B moves it.
    send(binding('ufragB', 'passwordB-0123456789012'));
    send(rtpLike(2));
    await waitFor(() => b.packets.length === 2, 2000, 'moved to B');
    expect(b.packets[1]!.data.readUInt32BE(12)).toBe(2);
    expect(a.packets).toHaveLength(2);
    expect(mux.stats.rebinds).toBe(1);
  });

  it('survives sessions closing while packets arrive, garbage floods and throwing handlers', async () => {
    const mux = await UdpMux.create({ bindAddress: '127.0.0.1' });
    cleanup.push(() => mux.close());
    const a = recorder({ ufragA: 'passwordA-0123456789012' });
    const sa = mux.register('ufragA', a.handler);
    const thrower = mux.register('ufragT', {
      onPacket: () => {
        throw new Error('handler bug');
      },
    });
    const x = await udpClient();
    const t = await udpClient();
    x.send(binding('ufragA', 'passwordA-0123456789012'), mux.port, '127.0.0.1');
    t.send(binding('ufragT', undefined), mux.port, '127.0.0.1'); // no password: routed by ufrag alone
    await waitFor(() => a.packets.length === 1 && mux.stats.handlerErrors === 1, 2000, 'bound');
    let closedAt = -1;
    for (let i = 0; i < 2000; i++) {
      x.send(i % 3 === 0 ? randomBytes(1 + (i % 200)) : rtpLike(i), mux.port, '127.0.0.1');
      t.send(rtpLike(i), mux.port, '127.0.0.1');
      if (i === 1000) {
        await sleep(20);
        closedAt = a.packets.length;
        sa.close();
      }
      if (i % 100 === 0) await sleep(1);
    }
    await sleep(100);
    expect(a.packets.length).toBe(closedAt); // nothing after close
    expect(mux.hasUfrag('ufragA')).toBe(false);
    expect(mux.stats.handlerErrors).toBeGreaterThan(100);
    thrower.close();
    expect(mux.sessionCount).toBe(0);
    // The mux still works.
    const c = recorder({ ufragC: 'passwordC-0123456789012' });
    mux.register('ufragC', c.handler);
    x.send(binding('ufragC', 'passwordC-0123456789012'), mux.port, '127.0.0.1');
    await waitFor(() => c.packets.length === 1, 2000, 'new session after flood');
  });

  it('binds an address a session sends a Binding request to (responses to a full-ICE agent)', async () => {
    const mux = await UdpMux.create({ bindAddress: '127.0.0.1' });
    cleanup.push(() => mux.close());
    const a = recorder({ ufragA: 'passwordA-0123456789012' });
    const sa = mux.register('ufragA', a.handler);
    const peer = await udpClient();
    const got: Buffer[] = [];
    peer.on('message', (m) => got.push(m));
    sa.send(binding('peerUfrag', 'peer-password-0123456789'), peer.address().port, '127.0.0.1');
    await waitFor(() => got.length === 1, 2000, 'request at peer');
    // The peer answers (a response, not a request) from the address we sent to: it reaches the session.
    const response = Buffer.from(got[0]!);
    response.writeUInt16BE(0x0101, 0);
    peer.send(response, mux.port, '127.0.0.1');
    await waitFor(() => a.packets.length === 1, 2000, 'response routed');
    expect(sa.remoteAddresses).toEqual([['127.0.0.1', peer.address().port]]);
  });

  it('rejects a second registration of the same ufrag and limits remote addresses per session', async () => {
    const mux = await UdpMux.create({ bindAddress: '127.0.0.1', maxAddressesPerSession: 2 });
    cleanup.push(() => mux.close());
    const a = recorder({ ufragA: 'passwordA-0123456789012' });
    const sa = mux.register('ufragA', a.handler);
    expect(() => mux.register('ufragA', a.handler)).toThrow(/already registered/);
    const socks = [await udpClient(), await udpClient(), await udpClient()];
    for (const s of socks) {
      s.send(binding('ufragA', 'passwordA-0123456789012'), mux.port, '127.0.0.1');
      await waitFor(() => a.packets.length > 0 && a.packets[a.packets.length - 1]!.addr[1] === s.address().port, 2000, 'bound');
    }
    expect(sa.remoteAddresses.map((x) => x[1])).toEqual([socks[1]!.address().port, socks[2]!.address().port]);
  });
});

describe('TcpMux routing', () => {
  function frame(b: Buffer): Buffer {
    const h = Buffer.alloc(2);
    h.writeUInt16BE(b.length, 0);
    return Buffer.concat([h, b]);
  }
  async function open(port: number): Promise<{ socket: Socket; closed: Promise<number> }> {
    const socket = connect({ host: '127.0.0.1', port });
    socket.on('error', () => undefined);
    const t0 = Date.now();
    const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now() - t0)));
    await new Promise<void>((r) => socket.once('connect', () => r()));
    cleanup.push(() => void socket.destroy());
    return { socket, closed };
  }

  it('closes connections that do not identify: garbage, oversized first frame, unknown ufrag, bad integrity, silence, half a frame', async () => {
    const tcp = await TcpMux.create({ bindAddress: '127.0.0.1', identifyTimeoutMs: 300 });
    cleanup.push(() => tcp.close());
    const handed: Socket[] = [];
    tcp.register('ufragA', { password: () => 'passwordA-0123456789012', onConnection: (s) => handed.push(s) });

    const garbage = await open(tcp.port);
    garbage.socket.write(Buffer.from([0x00, 0x30, 0x16, 0xfe, ...randomBytes(46)]));
    const oversized = await open(tcp.port);
    oversized.socket.write(Buffer.from([0xff, 0xff, 0, 1, 0, 0]));
    const unknown = await open(tcp.port);
    unknown.socket.write(frame(binding('nobody', 'x')));
    const badMac = await open(tcp.port);
    badMac.socket.write(frame(binding('ufragA', 'wrong')));
    const silent = await open(tcp.port);
    const half = await open(tcp.port);
    const full = frame(binding('ufragA', 'passwordA-0123456789012'));
    half.socket.write(full.subarray(0, 30));

    expect(await garbage.closed).toBeLessThan(250);
    expect(await oversized.closed).toBeLessThan(250);
    expect(await unknown.closed).toBeLessThan(250);
    expect(await badMac.closed).toBeLessThan(250);
    expect(await silent.closed).toBeGreaterThanOrEqual(250);
    expect(await half.closed).toBeGreaterThanOrEqual(250);
    expect(handed).toHaveLength(0);
    expect(tcp.stats).toMatchObject({ rejectedBadFrame: 2, rejectedUnknownUfrag: 1, rejectedIntegrity: 1, rejectedTimeout: 2, identified: 0 });
    await waitFor(() => tcp.pendingCount === 0 && tcp.connectionCount === 0, 1000, 'nothing pending');
  });

  it('hands an identified connection over with its buffered bytes, split across writes', async () => {
    const tcp = await TcpMux.create({ bindAddress: '127.0.0.1' });
    cleanup.push(() => tcp.close());
    const got: { remote: MuxAddress; buffered: Buffer; later: Buffer[] }[] = [];
    tcp.register('ufragB', {
      password: () => 'passwordB-0123456789012',
      onConnection: (s, remote, buffered) => {
        const entry = { remote, buffered, later: [] as Buffer[] };
        got.push(entry);
        s.on('data', (d) => entry.later.push(d));
      },
    });
    const c = await open(tcp.port);
    const first = frame(binding('ufragB', 'passwordB-0123456789012'));
    const extra = frame(Buffer.from('after-the-binding'));
    // First frame in three pieces, the next frame glued to its end.
    c.socket.write(first.subarray(0, 1));
    await sleep(20);
    c.socket.write(first.subarray(1, 25));
    await sleep(20);
    c.socket.write(Buffer.concat([first.subarray(25), extra.subarray(0, 5)]));
    await waitFor(() => got.length === 1, 2000, 'handed over');
    c.socket.write(extra.subarray(5));
    await waitFor(() => Buffer.concat([got[0]!.buffered, ...got[0]!.later]).length === first.length + extra.length, 2000, 'all bytes');
    expect(Buffer.concat([got[0]!.buffered, ...got[0]!.later])).toEqual(Buffer.concat([first, extra]));
    expect(got[0]!.remote).toEqual(['127.0.0.1', c.socket.localPort]);
  });

  it('refuses connections beyond maxPendingConnections', async () => {
    const tcp = await TcpMux.create({ bindAddress: '127.0.0.1', maxPendingConnections: 3, identifyTimeoutMs: 2000 });
    cleanup.push(() => tcp.close());
    const conns = [];
    for (let i = 0; i < 5; i++) conns.push(await open(tcp.port));
    await waitFor(() => tcp.stats.rejectedOverload === 2, 2000, 'overload rejections');
    expect(tcp.pendingCount).toBe(3);
    await tcp.close();
    await Promise.all(conns.map((c) => c.closed));
  });
});
