// Packets per second through the UdpMux versus a plain dgram socket (printed, not asserted). The far end runs in a
// child process so that the measured side has the core to itself, like performance-anchors.md §4a.
import { afterEach, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { Message, StunProtocol, classes, methods } from 'werift';
import { UdpMux } from '../../src/transport/mux/index.js';
import { applyWeriftPatches } from '../../src/werift/patches.js';

const DURATION_MS = 1000;
const SIZE = 1200;
const BURST = 64;

const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

/** Child: sends the optional hello (a Binding request) then 1200-byte RTP-looking datagrams for DURATION_MS. */
const SENDER = `
const dgram = require('node:dgram');
const [port, helloHex, ms] = process.argv.slice(1);
const s = dgram.createSocket('udp4');
const buf = Buffer.alloc(${SIZE}); buf[0] = 0x80; buf[1] = 96;
s.bind(0, '127.0.0.1', () => {
  if (helloHex) s.send(Buffer.from(helloHex, 'hex'), +port, '127.0.0.1');
  setTimeout(() => {
    const end = Date.now() + (+ms);
    let sent = 0;
    const tick = () => {
      for (let i = 0; i < ${BURST}; i++) { s.send(buf, +port, '127.0.0.1'); sent++; }
      if (Date.now() < end) setImmediate(tick); else setTimeout(() => { process.stdout.write(String(sent)); s.close(); }, 50);
    };
    tick();
  }, 100);
});`;

/** Child: counts datagrams until stdin closes, prints its port first and the count last. */
const SINK = `
const dgram = require('node:dgram');
const s = dgram.createSocket('udp4');
let n = 0;
s.on('message', () => n++);
s.bind(0, '127.0.0.1', () => process.stdout.write('port ' + s.address().port + '\\n'));
process.stdin.on('data', () => { process.stdout.write('count ' + n + '\\n'); });
process.stdin.on('end', () => process.exit(0));`;

function runSender(port: number, hello?: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', SENDER, String(port), hello ? hello.toString('hex') : '', String(DURATION_MS)]);
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', () => resolve(Number(out)));
    child.on('error', reject);
  });
}

async function startSink(): Promise<{ port: number; count(): Promise<number>; child: ChildProcess }> {
  const child = spawn(process.execPath, ['-e', SINK], { stdio: ['pipe', 'pipe', 'inherit'] });
  cleanup.push(() => void child.stdin!.end());
  const lines: string[] = [];
  let waiters: (() => void)[] = [];
  let buf = '';
  child.stdout!.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
      waiters.forEach((w) => w());
      waiters = [];
    }
  });
  const next = async (prefix: string) => {
    for (;;) {
      const l = lines.find((x) => x.startsWith(prefix));
      if (l) {
        lines.splice(lines.indexOf(l), 1);
        return Number(l.slice(prefix.length));
      }
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  const port = await next('port ');
  return {
    port,
    child,
    count: async () => {
      child.stdin!.write('x');
      return next('count ');
    },
  };
}

function hello(ufrag: string, password: string): Buffer {
  const m = new Message(methods.BINDING, classes.REQUEST);
  m.setAttribute('USERNAME', `${ufrag}:perf`).setAttribute('PRIORITY', 1).setAttribute('ICE-CONTROLLING', 1n);
  m.addMessageIntegrity(Buffer.from(password, 'utf8'));
  m.addFingerprint();
  return Buffer.from(m.bytes);
}

const rate = (n: number) => Math.round(n / (DURATION_MS / 1000));

async function sendLoop(send: (buf: Buffer) => void): Promise<number> {
  const buf = Buffer.alloc(SIZE);
  buf[0] = 0x80;
  buf[1] = 96;
  const end = Date.now() + DURATION_MS;
  let sent = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      for (let i = 0; i < BURST; i++) send(buf);
      sent += BURST;
      if (Date.now() < end) setImmediate(tick);
      else resolve();
    };
    tick();
  });
  return sent;
}

const ROUNDS = 3;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

describe('UdpMux throughput (printed, not asserted)', () => {
  it('receive: plain socket vs mux vs mux → werift StunProtocol with Kite tap', async () => {
    applyWeriftPatches();
    const plain: Socket = createSocket('udp4');
    await new Promise<void>((r) => plain.bind(0, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise<void>((r) => plain.close(() => r())));
    let plainCount = 0;
    plain.on('message', () => plainCount++);

    const mux = await UdpMux.create({ bindAddress: '127.0.0.1' });
    cleanup.push(() => mux.close());
    let muxCount = 0;
    mux.register('perfufrag0000001', { password: () => 'perf-password-0123456789', onPacket: () => muxCount++ });
    // Through a real werift StunProtocol with Kite's tap (what a Kite transport sees).
    const proto = new StunProtocol() as unknown as { kiteSink?: () => void; datagramReceived(d: Buffer, a: [string, number]): void };
    let tapCount = 0;
    proto.kiteSink = () => tapCount++;
    mux.register('perfufrag0000002', { password: () => 'perf-password-0123456789', onPacket: (d, a) => proto.datagramReceived(d, a) });

    const variants: [string, () => Promise<[number, number]>][] = [
      ['plain dgram socket, count in handler', async () => {
        const n0 = plainCount;
        const sent = await runSender(plain.address().port);
        return [sent, plainCount - n0];
      }],
      ['UdpMux → session handler', async () => {
        const n0 = muxCount;
        const sent = await runSender(mux.port, hello('perfufrag0000001', 'perf-password-0123456789'));
        return [sent, muxCount - n0];
      }],
      ['UdpMux → StunProtocol → Kite tap', async () => {
        const n0 = tapCount;
        const sent = await runSender(mux.port, hello('perfufrag0000002', 'perf-password-0123456789'));
        return [sent, tapCount - n0];
      }],
    ];
    const got = variants.map(() => ({ sent: [] as number[], recv: [] as number[] }));
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < variants.length; i++) {
        const [sent, recv] = await variants[i]![1]();
        got[i]!.sent.push(rate(sent));
        got[i]!.recv.push(rate(recv));
      }
    }
    const lines = variants.map(([name], i) => `${name.padEnd(40)} received ${median(got[i]!.recv)}/s (runs ${got[i]!.recv.join(', ')}; sender ${median(got[i]!.sent)}/s)`);
    console.log(`[throughput] receive, ${SIZE} B, sender in a child process (${BURST}/turn), median of ${ROUNDS}:\n  ${lines.join('\n  ')}`);
    expect(muxCount).toBeGreaterThan(0);
    expect(tapCount).toBeGreaterThan(0);
  });

  it('routing cost per datagram, in process (no kernel): known-address lookup + handler call', async () => {
    const mux = await UdpMux.create({ bindAddress: '127.0.0.1' });
    cleanup.push(() => mux.close());
    let n = 0;
    mux.register('perfufrag0000009', { password: () => 'perf-password-0123456789', onPacket: () => n++ });
    const onMessage = (mux as unknown as { onMessage: (m: Buffer, r: { address: string; port: number; family: string; size: number }) => void }).onMessage;
    const rinfo = { address: '127.0.0.1', port: 40000, family: 'IPv4', size: SIZE };
    onMessage(hello('perfufrag0000009', 'perf-password-0123456789'), rinfo);
    // 100 other sessions/addresses in the tables.
    for (let i = 0; i < 100; i++) {
      const u = `other${String(i).padStart(11, '0')}`;
      mux.register(u, { onPacket: () => undefined });
      onMessage(hello(u, 'x'), { ...rinfo, port: 41000 + i });
    }
    const pkt = Buffer.alloc(SIZE);
    pkt[0] = 0x80;
    const N = 2_000_000;
    for (let i = 0; i < 100_000; i++) onMessage(pkt, rinfo); // warm-up
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) onMessage(pkt, rinfo);
    const ns = Number(process.hrtime.bigint() - t0) / N;
    console.log(`[throughput] mux routing: ${ns.toFixed(1)} ns/datagram in process (${Math.round(1e9 / ns / 1e6)}M/s); a dgram receive costs ~3,400 ns (performance-anchors §4a)`);
    expect(n).toBeGreaterThan(N);
  });

  it('send: plain socket (dns.lookup per send) vs the mux socket (sync lookup) vs session.send', async () => {
    const sink = await startSink();
    const plain = createSocket('udp4');
    await new Promise<void>((r) => plain.bind(0, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise<void>((r) => plain.close(() => r())));
    const mux = await UdpMux.create({ bindAddress: '127.0.0.1' });
    cleanup.push(() => mux.close());
    const session = mux.register('perfufrag0000003', { onPacket: () => undefined });
    const port = sink.port;
    const variants: [string, (b: Buffer) => void][] = [
      ['plain socket send(buf, 0, len, port, ip)', (b) => plain.send(b, 0, b.length, port, '127.0.0.1')],
      ['mux socket send(buf, 0, len, port, ip) [Kite fast path]', (b) => mux.socket.send(b, 0, b.length, port, '127.0.0.1')],
      ["session.send(buf, port, ip) [werift's path]", (b) => session.send(b, port, '127.0.0.1')],
    ];
    const got = variants.map(() => ({ sent: [] as number[], recv: [] as number[] }));
    let last = await sink.count();
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < variants.length; i++) {
        const sent = await sendLoop(variants[i]![1]);
        await new Promise((r) => setTimeout(r, 100));
        const now = await sink.count();
        got[i]!.sent.push(rate(sent));
        got[i]!.recv.push(rate(now - last));
        last = now;
      }
    }
    const lines = variants.map(([name], i) => `${name.padEnd(56)} sent ${median(got[i]!.sent)}/s (runs ${got[i]!.sent.join(', ')}; sink got ${median(got[i]!.recv)}/s)`);
    console.log(`[throughput] send, ${SIZE} B, receiver in a child process (${BURST}/turn), median of ${ROUNDS}:\n  ${lines.join('\n  ')}`);
    expect(median(got[2]!.recv)).toBeGreaterThan(0);
  });
});
