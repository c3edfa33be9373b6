/** Test signals for bots and tests: a phase-continuous sine (or silence) as AudioFrames, and a real-time feeder. */
import { AudioFrame } from './AudioFrame.js';
import type { AudioSource } from './AudioSource.js';

export interface ToneOptions {
  /** Hz; 0 gives silence. */
  frequency?: number;
  /** Peak level as a fraction of full scale (0–1); 0 gives silence. */
  amplitude?: number;
  sampleRate?: number;
  channels?: number;
  /** Duration of each frame. */
  frameMs?: number;
}

export class ToneGenerator {
  readonly frequency: number;
  readonly amplitude: number;
  readonly sampleRate: number;
  readonly channels: number;
  readonly samplesPerFrame: number;
  private phase = 0;

  constructor(opts: ToneOptions = {}) {
    this.frequency = opts.frequency ?? 440;
    this.amplitude = Math.min(1, Math.max(0, opts.amplitude ?? 0.5));
    this.sampleRate = opts.sampleRate ?? 48000;
    this.channels = opts.channels ?? 1;
    this.samplesPerFrame = Math.round((this.sampleRate * (opts.frameMs ?? 10)) / 1000);
  }

  static silence(opts: Omit<ToneOptions, 'frequency' | 'amplitude'> = {}): ToneGenerator {
    return new ToneGenerator({ ...opts, frequency: 0, amplitude: 0 });
  }

  /** The next frame (a new one each call: a source may keep it queued). */
  nextFrame(): AudioFrame {
    const n = this.samplesPerFrame;
    const ch = this.channels;
    const frame = AudioFrame.create(this.sampleRate, ch, n);
    if (this.frequency > 0 && this.amplitude > 0) {
      const step = (2 * Math.PI * this.frequency) / this.sampleRate;
      const peak = this.amplitude * 32767;
      const d = frame.data;
      for (let i = 0; i < n; i++) {
        const v = Math.round(peak * Math.sin(this.phase));
        this.phase += step;
        for (let c = 0; c < ch; c++) d[i * ch + c] = v;
      }
      this.phase %= 2 * Math.PI;
    }
    return frame;
  }
}

export interface PlayToneOptions extends ToneOptions {
  /** Stops after this long; runs until `signal` aborts otherwise. */
  durationMs?: number;
  signal?: AbortSignal;
  /** How far ahead of real time to feed the source (small keeps latency low after an abort). */
  leadMs?: number;
}

/**
 * Feeds `source` a tone (or silence) in real time until `durationMs` or `signal`. Resolves when the last frame was
 * handed over (not played out: see `source.waitForPlayout()`).
 */
export async function playTone(source: AudioSource, opts: PlayToneOptions = {}): Promise<void> {
  const gen = new ToneGenerator({ sampleRate: source.sampleRate, channels: source.numChannels, ...opts });
  const frameMs = (gen.samplesPerFrame * 1000) / gen.sampleRate;
  const lead = opts.leadMs ?? 60;
  const start = performance.now();
  let fed = 0;
  while (!opts.signal?.aborted && (opts.durationMs === undefined || fed < opts.durationMs)) {
    await source.captureFrame(gen.nextFrame());
    fed += frameMs;
    const ahead = fed - (performance.now() - start);
    if (ahead > lead) await sleep(ahead - lead, opts.signal);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
