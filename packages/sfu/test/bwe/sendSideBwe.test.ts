// The send-side estimator against a simulated bottleneck: packets leave at a chosen rate, a FIFO link of a given
// capacity (20 ms base delay, drop-tail queue of 300 ms) delays or drops them, feedback comes back every 50 ms. The
// estimate must fall to the capacity when the sender overshoots it, stay up when it does not, survive random loss, and
// probe clusters must measure the link.
import { describe, expect, it } from 'vitest';
import { FeedbackBatch, SendSideBwe } from '../../src/bwe/SendSideBwe.js';

interface Link {
  capacityBps: number;
  baseDelayUs: number;
  queueLimitUs: number;
  loss: number;
  /** When the link is free again (µs). */
  busyUntil: number;
}

const link = (capacityBps: number, loss = 0): Link => ({ capacityBps, baseDelayUs: 20_000, queueLimitUs: 300_000, loss, busyUntil: 0 });

/** Arrival time of a packet sent at `sendUs`, or −1 if the link drops it. Deterministic pseudo-random loss. */
let seed = 1;
const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
function transmit(l: Link, sendUs: number, size: number): number {
  if (l.loss > 0 && rand() < l.loss) return -1;
  const start = Math.max(sendUs, l.busyUntil);
  if (start - sendUs > l.queueLimitUs) return -1;
  const done = start + (size * 8 * 1e6) / l.capacityBps;
  l.busyUntil = done;
  return done + l.baseDelayUs;
}

/**
 * Sends at `rateBps` (1200-byte packets) for `ms` from `t0Us` over `l`, feeding the estimator every 50 ms. `rate` may
 * be a function of time to follow the estimate (as an allocator would). Returns the estimate every 500 ms.
 */
function run(bwe: SendSideBwe, l: Link, ms: number, rate: (tUs: number) => number, t0Us = 0): number[] {
  const batch = new FeedbackBatch();
  const trace: number[] = [];
  let t = t0Us;
  let nextFeedback = t0Us + 50_000;
  let nextTrace = t0Us + 500_000;
  while (t < t0Us + ms * 1000) {
    const size = 1200;
    batch.push(t, transmit(l, t, size), size, -1);
    t += (size * 8 * 1e6) / rate(t);
    if (t >= nextFeedback) {
      bwe.onFeedback(batch, nextFeedback / 1000);
      batch.count = 0;
      nextFeedback += 50_000;
    }
    if (t >= nextTrace) {
      trace.push(Math.round(bwe.estimate / 1000));
      nextTrace += 500_000;
    }
  }
  return trace;
}

describe('send-side bandwidth estimation', () => {
  it('sending 2 Mbps into a 1 Mbps link: the estimate falls to the capacity within 2 s', () => {
    const bwe = new SendSideBwe({ initialBps: 2_000_000 });
    const trace = run(bwe, link(1_000_000), 4000, () => 2_000_000);
    console.log(`[bwe] 2 Mbps into 1 Mbps, estimate every 0.5 s (kbps): ${trace.join(' ')}`);
    expect(trace[3]!).toBeLessThanOrEqual(1_100);
    expect(Math.min(...trace.slice(4))).toBeGreaterThanOrEqual(500);
  });

  it('following its own estimate into a 300 kbps link: it settles near 300 kbps, without collapsing', () => {
    const bwe = new SendSideBwe({ initialBps: 1_500_000 });
    const trace = run(bwe, link(300_000), 15_000, () => bwe.estimate);
    console.log(`[bwe] adaptive sender on 300 kbps (kbps): ${trace.join(' ')}`);
    const late = trace.slice(10);
    expect(Math.max(...late)).toBeLessThan(450);
    expect(Math.min(...late)).toBeGreaterThan(150);
  });

  it('no congestion: sending 1 Mbps on a 5 Mbps link keeps the estimate above what is sent (capped at 1.5×)', () => {
    const bwe = new SendSideBwe({ initialBps: 1_000_000 });
    const trace = run(bwe, link(5_000_000), 6000, () => 1_000_000);
    console.log(`[bwe] 1 Mbps on 5 Mbps (kbps): ${trace.join(' ')}`);
    expect(Math.min(...trace)).toBeGreaterThanOrEqual(1_000);
    expect(Math.max(...trace)).toBeLessThanOrEqual(1_520);
  });

  it('3 % random loss without congestion: the estimate does not collapse', () => {
    const bwe = new SendSideBwe({ initialBps: 1_000_000 });
    const trace = run(bwe, link(5_000_000, 0.03), 10_000, () => 1_000_000);
    console.log(`[bwe] 1 Mbps on 5 Mbps with 3 % loss (kbps): ${trace.join(' ')}`);
    expect(bwe.lossRate).toBeGreaterThan(0.005);
    expect(Math.min(...trace.slice(4))).toBeGreaterThanOrEqual(900);
  });

  it('a probe cluster measures the link: 3 Mbps of padding through 5 Mbps reads ~3 Mbps, through 1 Mbps ~1 Mbps', () => {
    for (const [capacity, expected] of [
      [5_000_000, 3_000_000],
      [1_000_000, 1_000_000],
    ] as const) {
      const bwe = new SendSideBwe({ initialBps: 300_000 });
      const l = link(capacity);
      const batch = new FeedbackBatch();
      let t = 1_000_000;
      for (let i = 0; i < 30; i++) {
        const size = 1000;
        batch.push(t, transmit(l, t, size), size, 7);
        t += (size * 8 * 1e6) / 3_000_000;
      }
      bwe.onFeedback(batch, t / 1000 + 100);
      const result = bwe.probeResult(7);
      console.log(`[bwe] probe at 3 Mbps through ${capacity / 1e6} Mbps: ${(result / 1e6).toFixed(2)} Mbps`);
      expect(result).toBeGreaterThan(expected * 0.85);
      expect(result).toBeLessThan(expected * 1.15);
      bwe.applyProbe(result, t / 1000 + 100);
      expect(bwe.estimate).toBeGreaterThan(expected * 0.8);
    }
  });
});
