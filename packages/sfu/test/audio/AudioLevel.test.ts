import { describe, expect, it } from 'vitest';
import { AudioLevel } from '@kite/sfu';

/** Feeds 20 ms packets: `voiced` of every 25 packets (500 ms) at `level`, the rest silent (127). */
function feed(a: AudioLevel, ms: number, level: number, voicedPer25 = 25, start = 0): number {
  let t = start;
  for (; t < start + ms; t += 20) a.observe(Math.floor(t / 20) % 25 < voicedPer25 ? level : 127, 20, t);
  return t;
}

describe('AudioLevel (LiveKit speaker detection)', () => {
  it('a steady tone louder than −35 dBov is an active speaker within one window', () => {
    const a = new AudioLevel();
    const t = feed(a, 800, 20);
    const { level, active } = a.level(t);
    expect(active).toBe(true);
    expect(level).toBeGreaterThan(0.05);
  });

  it("Chromium's fake microphone (40 ms beep every 500 ms) is never a speaker: below the 40 % rule", () => {
    const a = new AudioLevel();
    let t = 0;
    for (let i = 0; i < 200; i++) t = feed(a, 20, 10, 2, t); // 2 of 25 packets voiced
    expect(a.level(t).active).toBe(false);
  });

  it('quiet speech (−50 dBov) does not count; muting clears the level after two silent windows', () => {
    const a = new AudioLevel();
    let t = feed(a, 2000, 50);
    expect(a.level(t).active).toBe(false);
    t = feed(a, 2000, 15, 25, t);
    expect(a.level(t).active).toBe(true);
    // no packets at all (muted track)
    expect(a.level(t + 1000).active).toBe(false);
    expect(a.level(t + 1000).level).toBe(0);
  });

  it('smoothing: the level rises over windows toward the steady value', () => {
    const a = new AudioLevel();
    const levels: number[] = [];
    let t = 0;
    for (let w = 0; w < 5; w++) {
      t = feed(a, 400, 10, 25, t);
      levels.push(a.level(t).level);
    }
    for (let i = 1; i < levels.length; i++) expect(levels[i]!).toBeGreaterThanOrEqual(levels[i - 1]!);
    expect(levels[4]!).toBeCloseTo(Math.pow(10, -10 / 20), 1);
  });
});
