// Bandwidth estimation with Chromium publishers: the camera's three simulcast layers must all be sending, the top one at
// full resolution, within 10 s of publishing, as against LiveKit. Publishers estimate with Kite's REMB and their own
// loss (transport/sdp.ts says why not TWCC); when the encoder's targets reach the layers' maxima is printed too.
import { describe, expect, it } from 'vitest';
import { e2eEnv } from './harness/setup.js';
import { evalRoom, joinRoom } from './harness/lk.js';

const env = e2eEnv();

interface Layer {
  bytesSent: number;
  framesEncoded: number;
  frameWidth: number;
  targetBitrate: number;
  limitation: string;
}
interface Sample {
  at: number;
  available: number;
  layers: Record<string, Layer>;
}

describe('publisher bandwidth estimation', () => {
  it('a Chromium camera (simulcast q/h/f) reaches all three layers at full resolution within 10 s of publishing', async () => {
    const alice = await joinRoom(env.browser, `${env.web.url}/lk.html`, env.kite.wsUrl, await env.kite.token('alice', { room: 'bwe-1' }), 'alice', { dynacast: false });
    // A subscriber that wants the top layer, as a meeting would.
    const bob = await joinRoom(env.browser, `${env.web.url}/lk.html`, env.kite.wsUrl, await env.kite.token('bob', { room: 'bwe-1' }), 'bob');
    await evalRoom(alice.page, 'await room.localParticipant.setCameraEnabled(true);');
    const samples: Sample[] = [];
    const t0 = Date.now();
    let fullAt = -1;
    let maxTargetsAt = -1;
    const rate = (rid: string, i: number) => {
      // bits/s over the last second of samples
      const now = samples[i]!;
      let j = i;
      while (j > 0 && now.at - samples[j - 1]!.at <= 1000) j--;
      const then = samples[j]!;
      const dt = (now.at - then.at) / 1000;
      return dt > 0 ? ((now.layers[rid]?.bytesSent ?? 0) - (then.layers[rid]?.bytesSent ?? 0)) * 8 / dt : 0;
    };
    while (Date.now() - t0 < 15_000) {
      const s = (await alice.page.evaluate(() => (window as never as { t: { publisherBwe(): Promise<Sample> } }).t.publisherBwe())) as Sample;
      samples.push(s);
      const i = samples.length - 1;
      const l = s.layers;
      // All three layers active: each encoding and sending, the top one at 1280 px.
      const full = ['q', 'h', 'f'].every((rid) => (l[rid]?.frameWidth ?? 0) > 0 && rate(rid, i) > 20_000) && l.f!.frameWidth >= 1280;
      if (full && fullAt < 0) fullAt = Date.now() - t0;
      // The encoder's targets at the layers' configured maxima (livekit-client: 150 / 450 / 1700 kbps).
      const target = ['q', 'h', 'f'].reduce((a, rid) => a + (l[rid]?.targetBitrate ?? 0), 0);
      if (target >= 0.95 * 2_300_000 && maxTargetsAt < 0) maxTargetsAt = Date.now() - t0;
      if (fullAt >= 0 && Date.now() - t0 > Math.max(fullAt, maxTargetsAt < 0 ? 10_000 : maxTargetsAt) + 2000) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const at = (ms: number) => samples.find((s) => s.at - samples[0]!.at >= ms) ?? samples[samples.length - 1]!;
    const curve = [1000, 2000, 3000, 5000, 8000].map((ms) => `${ms / 1000}s ${(at(ms).available / 1e6).toFixed(2)}`).join(', ');
    const last = samples[samples.length - 1]!;
    const i = samples.length - 1;
    console.log(
      `[e2e] publisher BWE: all three layers active (f at ${last.layers.f?.frameWidth}px) ${fullAt} ms after publishing; encoder targets at their maxima after ${maxTargetsAt < 0 ? 'never (in the run)' : `${maxTargetsAt} ms`}; ` +
        `estimate (Mbps) ${curve}; sending q ${(rate('q', i) / 1e3).toFixed(0)} / h ${(rate('h', i) / 1e3).toFixed(0)} / f ${(rate('f', i) / 1e3).toFixed(0)} kbps ` +
        `(targets ${['q', 'h', 'f'].map((r) => ((last.layers[r]?.targetBitrate ?? 0) / 1e3).toFixed(0)).join('/')} kbps)`,
    );
    expect(fullAt, `layers never all active: ${JSON.stringify(last)}`).toBeGreaterThanOrEqual(0);
    expect(fullAt).toBeLessThan(10_000);
    for (const p of [alice, bob]) await p.context.close();
  });
});
