// The raw ceiling, measured in the same run: what one core does when it only rewrites an RTP header, protects it
// with Kite's SRTP and writes it with dgram.send (the irreducible work of forwarding one packet), to a receiver in
// another process.
import { createSocket } from 'node:dgram';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { srtp } from '@kite/sfu';
import { cpuSeconds } from './common.js';

export interface CeilingResult {
  pktPerCore: number;
  usPerPacket: number;
  profile: number;
}

export async function runCeiling(profile: number, seconds: number): Promise<CeilingResult> {
  const sink = fork(fileURLToPath(new URL('./sinkChild.js', import.meta.url)), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((r) => sink.once('message', (m: { port: number }) => r(m.port)));
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const keys = { masterKey: Buffer.alloc(16, 7), masterSalt: Buffer.alloc(profile === 7 ? 12 : 14, 9) };
  const ctx = new srtp.SrtpContext(profile as srtp.SrtpProfile, keys);
  const pkt = Buffer.alloc(12 + 8 + 1200);
  pkt[0] = 0x90; // V=2, X=1
  pkt[1] = 96;
  pkt.writeUInt16BE(0xbede, 12);
  pkt.writeUInt16BE(1, 14);
  const ring = Buffer.allocUnsafe(1024 * 1500);
  let slot = 0;
  let seq = 0;
  let count = 0;
  const c0 = cpuSeconds();
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  await new Promise<void>((resolve) => {
    const burst = () => {
      for (let i = 0; i < 64; i++) {
        // header rewrite in place: seq, timestamp, ssrc
        seq = (seq + 1) & 0xffff;
        pkt.writeUInt16BE(seq, 2);
        pkt.writeUInt32BE((seq * 3000) >>> 0, 4);
        pkt.writeUInt32BE(0x12345678, 8);
        const out = ring.subarray(slot * 1500, slot * 1500 + 1500);
        slot = (slot + 1) & 1023;
        const n = ctx.protectInto(pkt, out);
        sock.send(out, 0, n, port, '127.0.0.1');
        count++;
      }
      if (performance.now() < deadline) setImmediate(burst);
      else resolve();
    };
    burst();
  });
  const cpu = cpuSeconds() - c0;
  sock.close();
  sink.kill();
  return { pktPerCore: count / cpu, usPerPacket: (cpu * 1e6) / count, profile };
}
