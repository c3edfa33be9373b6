// `pnpm bench`: prints the forwarding figures and their ratio to the raw ceiling measured in the same run.
import { runCeiling } from './ceiling.js';
import { runForwarding } from './forwarding.js';
import { runSimulcastCost } from './simulcastCost.js';

const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 25);
const PUBLISH_PPS = Number(process.env.BENCH_PPS ?? 2000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function main() {
  console.log(`Kite forwarding benchmark — 1 publisher × ${SUBSCRIBERS} subscribers, ${PUBLISH_PPS} pkt/s of 1,200-byte VP8-like RTP, ${SECONDS} s`);
  const fwd = await runForwarding(SUBSCRIBERS, PUBLISH_PPS, SECONDS);
  const ceiling = await runCeiling(fwd.srtpProfile ?? 1, SECONDS);
  const profileName = (p: number | undefined) => (p === 7 ? 'AEAD_AES_128_GCM' : 'AES_CM_128_HMAC_SHA1_80');
  const rows: [string, string][] = [
    ['SRTP profile negotiated', profileName(fwd.srtpProfile)],
    ['forwarded packets/s', fmt(fwd.forwardedPps)],
    ["Kite process CPU (cores)", fwd.kiteCpu.toFixed(2)],
    ['forwarded packets/s per core', fmt(fwd.pktPerCore)],
    ['CPU per forwarded packet', `${fwd.usPerPacket.toFixed(2)} µs`],
    ['loss at the subscribers', `${(fwd.loss * 100).toFixed(2)} %`],
    ['raw ceiling (rewrite + SRTP + dgram.send) packets/s per core', fmt(ceiling.pktPerCore)],
    ['raw ceiling per packet', `${ceiling.usPerPacket.toFixed(2)} µs`],
    ['forwarding / ceiling', `${((fwd.pktPerCore / ceiling.pktPerCore) * 100).toFixed(0)} %`],
    ['targets', '≥ 80,000 pkt/s per core, ≥ 65 % of the ceiling'],
  ];
  const w = Math.max(...rows.map((r) => r[0].length));
  for (const [k, v] of rows) console.log(`  ${k.padEnd(w)}  ${v}`);

  const n = Math.min(SUBSCRIBERS, 10);
  console.log(`\nSubscriber cost on a simulcast track (q/h/f in, f forwarded) vs a plain one — ${n} subscribers, ${SECONDS} s each`);
  const sim = await runSimulcastCost(n, SECONDS);
  const rows2: [string, string][] = [
    ['plain: CPU per subscriber', `${(sim.plainUsPerSecond / 1e4).toFixed(2)} % of a core (${sim.plainUsPerForwarded.toFixed(2)} µs per forwarded packet)`],
    ['simulcast: CPU per subscriber', `${(sim.simulcastUsPerSecond / 1e4).toFixed(2)} % of a core (${sim.simulcastUsPerForwarded.toFixed(2)} µs per forwarded packet)`],
    ['simulcast / plain', `${((sim.simulcastUsPerSecond / sim.plainUsPerSecond) * 100).toFixed(0)} %`],
  ];
  const w2 = Math.max(...rows2.map((r) => r[0].length));
  for (const [k, v] of rows2) console.log(`  ${k.padEnd(w2)}  ${v}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
