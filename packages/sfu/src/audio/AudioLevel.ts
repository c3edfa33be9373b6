// Speaker detection from the RFC 6464 audio-level header extension, with LiveKit's algorithm and defaults
// (pkg/sfu/audio/audiolevel.go): per window of `updateInterval` ms, a track is speaking when at least
// `minPercentile` % of the window was louder than `activeLevel` −dBov; the level reported is the loudest level,
// corrected for how much of the window was active, smoothed exponentially over `smoothIntervals` windows.

export interface AudioLevelConfig {
  /** Level (0–127, −dBov; 0 is loudest) at or below which a packet counts as voice. LiveKit: 35. */
  activeLevel: number;
  /** Percentage of a window that must be voice. LiveKit: 40. */
  minPercentile: number;
  /** Window length and update period, ms. LiveKit: 400. */
  updateInterval: number;
  /** Exponential smoothing factor 2/(n+1). LiveKit: 2. */
  smoothIntervals: number;
}

export const DEFAULT_AUDIO_LEVEL_CONFIG: AudioLevelConfig = { activeLevel: 35, minPercentile: 40, updateInterval: 400, smoothIntervals: 2 };

export class AudioLevel {
  private readonly cfg: AudioLevelConfig;
  private readonly smoothFactor: number;
  private readonly minActiveDuration: number;
  /** Linear level threshold for "active": 10^(−activeLevel/20). */
  readonly activeThreshold: number;
  private observedDuration = 0;
  private activeDuration = 0;
  private loudest = 127;
  private smoothed = 0;
  private lastObservedAt = 0;

  constructor(cfg: Partial<AudioLevelConfig> = {}) {
    this.cfg = { ...DEFAULT_AUDIO_LEVEL_CONFIG, ...cfg };
    this.smoothFactor = this.cfg.smoothIntervals > 1 ? 2 / (this.cfg.smoothIntervals + 1) : 1;
    this.minActiveDuration = (this.cfg.minPercentile / 100) * this.cfg.updateInterval;
    this.activeThreshold = Math.pow(10, -this.cfg.activeLevel / 20);
  }

  /** One packet: its level (0–127, −dBov) and its duration in ms. No allocation: called per audio packet. */
  observe(level: number, durationMs: number, now: number): void {
    this.lastObservedAt = now;
    this.observedDuration += durationMs;
    if (level <= this.cfg.activeLevel) {
      this.activeDuration += durationMs;
      if (level < this.loudest) this.loudest = level;
    }
    if (this.observedDuration >= this.cfg.updateInterval) {
      if (this.activeDuration >= this.minActiveDuration) {
        // Quieter when only part of the window was voice: the level drops by 20·log10(active share).
        const adjusted = this.loudest - 20 * Math.log10(this.activeDuration / this.cfg.updateInterval);
        const linear = Math.pow(10, -adjusted / 20);
        this.smoothed += (linear - this.smoothed) * this.smoothFactor;
      } else {
        this.smoothed = 0;
      }
      this.observedDuration = 0;
      this.activeDuration = 0;
      this.loudest = 127;
    }
  }

  /** The smoothed linear level (0–1) and whether it counts as speaking. Silence for 2 windows resets it. */
  level(now: number): { level: number; active: boolean } {
    if (now - this.lastObservedAt > 2 * this.cfg.updateInterval) {
      this.smoothed = 0;
      this.observedDuration = 0;
      this.activeDuration = 0;
      this.loudest = 127;
    }
    return { level: this.smoothed, active: this.smoothed >= this.activeThreshold };
  }
}
