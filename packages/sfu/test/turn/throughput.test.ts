// Relay throughput: ChannelData over UDP, 1200-byte payloads, ~2 s per direction. Prints figures; asserts no bound.
// The load (client + peer) runs in a separate node process, so the server-side CPU per relayed packet can be read
// from this process's cpuUsage().
import { describe, it, expect } from 'vitest';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { TestPeer, TestTurnClient } from './client.js';
import { serverEndpoint, sleep, startServer } from './helpers.js';

const LOAD_SCRIPT = `
const dgram = require('node:dgram');
const [mode, serverPort, clientPort, peerPort, relayPort, durationMs, size] = process.argv.slice(1).map(Number);
const client = dgram.createSocket('udp4');
const peer = dgram.createSocket('udp4');
let sent = 0, received = 0;
client.on('message', () => received++);
peer.on('message', () => received++);
let bound = 0;
const onBound = () => { if (++bound === 2) start(); };
client.bind(clientPort, '127.0.0.1', onBound);
peer.bind(peerPort, '127.0.0.1', onBound);
function start() {
  const payload = Buffer.alloc(size, 7);
  const channelData = Buffer.alloc(4 + size, 7);
  channelData.writeUInt16BE(0x4000, 0);
  channelData.writeUInt16BE(size, 2);
  const end = Date.now() + durationMs;
  const burst = () => {
    for (let i = 0; i < 32; i++) {
      if (mode === 0) client.send(channelData, serverPort, '127.0.0.1');
      else peer.send(payload, relayPort, '127.0.0.1');
      sent++;
    }
    if (Date.now() < end) setImmediate(burst);
    else setTimeout(() => { process.stdout.write(JSON.stringify({ sent, received })); process.exit(0); }, 300);
  };
  process.stdout.write('');
  burst();
}
`;

function runLoad(args: number[]): Promise<{ sent: number; received: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', LOAD_SCRIPT, ...args.map(String)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load process exited with ${code}`))));
  });
}

describe('relay throughput', () => {
  it('ChannelData over UDP, 1200-byte payloads', async () => {
    const server = await startServer({ udpBufferSize: 4 << 20 }, false);
    try {
      const c = await TestTurnClient.connect('udp', serverEndpoint(server, 'udp'));
      c.setCredentials('alice', 'alice-secret');
      const p = await TestPeer.create();
      const { relay } = await c.allocate();
      await c.channelBind(0x4000, p.address);
      const clientPort = c.localAddress.port;
      const peerPort = p.address.port;
      // Hand the 5-tuple and the peer port over to the load process.
      await c.close();
      await p.close();
      const serverPort = serverEndpoint(server, 'udp').port;
      const durationMs = 2000;
      const results: string[] = [];
      const measure = async (label: string, relayedNow: () => number, args: number[]): Promise<void> => {
        const before = relayedNow();
        const cpu0 = process.cpuUsage();
        const load = await runLoad(args);
        const cpu = process.cpuUsage(cpu0);
        const relayed = relayedNow() - before;
        results.push(
          `${label}: sent ${load.sent}, relayed ${relayed}, delivered ${load.received} → ` +
            `${Math.round(relayed / (durationMs / 1000))} pkt/s, ` +
            `${((cpu.user + cpu.system) / relayed).toFixed(2)} µs CPU/packet (user ${(cpu.user / relayed).toFixed(2)}, sys ${(cpu.system / relayed).toFixed(2)})`,
        );
        expect(relayed).toBeGreaterThan(0);
        await sleep(50);
      };

      // Reference: a bare node:dgram forwarder (receive, strip 4 bytes, send) in this process, same load.
      const fwdIn = createSocket({ type: 'udp4', recvBufferSize: 4 << 20, lookup: (a: string, _f: unknown, cb: (e: null, a: string, f: number) => void) => cb(null, a, 4) } as never);
      const fwdOut = createSocket({ type: 'udp4', lookup: (a: string, _f: unknown, cb: (e: null, a: string, f: number) => void) => cb(null, a, 4) } as never);
      await new Promise<void>((r) => fwdIn.bind(0, '127.0.0.1', () => r()));
      await new Promise<void>((r) => fwdOut.bind(0, '127.0.0.1', () => r()));
      let forwarded = 0;
      fwdIn.on('message', (m: Buffer) => {
        fwdOut.send(m, 4, m.length - 4, peerPort, '127.0.0.1');
        forwarded++;
      });
      await measure('bare dgram forwarder (reference)', () => forwarded, [0, fwdIn.address().port, clientPort, peerPort, 0, durationMs, 1200]);
      await new Promise<void>((r) => fwdIn.close(() => r()));
      await new Promise<void>((r) => fwdOut.close(() => r()));

      await measure('TURN ChannelData client→peer', () => server.counters.packetsToPeers, [0, serverPort, clientPort, peerPort, relay.port, durationMs, 1200]);
      await measure('TURN ChannelData peer→client', () => server.counters.packetsToClients, [1, serverPort, clientPort, peerPort, relay.port, durationMs, 1200]);
      console.log(`[turn throughput] ${results.join('\n[turn throughput] ')}`);
      expect(server.counters.internalErrors).toBe(0);
    } finally {
      await server.close();
    }
  });
});
