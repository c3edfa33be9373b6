// Active speaker detection for a room, as LiveKit's room.go audioUpdateWorker: every `update_interval` ms take each
// participant's loudest microphone level (AudioLevel, LiveKit's smoothing and thresholds), and send only what
// changed — new speakers, changed (quantized) levels, and speakers who stopped (level 0, inactive) — to each
// participant, limited to the speakers it is subscribed to plus itself.
import { AudioLevel, type AudioLevelConfig } from '@kite/sfu';
import type { SpeakerInfo } from '@kite/protocol';
import type { Participant } from './participant.js';

/** LiveKit quantizes levels to eighths so tiny changes don't cause updates. */
const QUANTIZATION = 8;

export class SpeakerDetector {
  /** Microphone levels by track sid, with the participant that publishes it. */
  private readonly tracks = new Map<string, { participant: Participant; level: AudioLevel }>();
  /** Quantized level last announced per participant sid (active speakers only). */
  private announced = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly participants: () => Iterable<Participant>,
    private readonly cfg: AudioLevelConfig,
  ) {
    this.timer = setInterval(() => this.tick(Date.now()), cfg.updateInterval);
    this.timer.unref();
  }

  /** Starts observing a published microphone track. */
  observe(participant: Participant, trackSid: string, attach: (onLevel: (level: number, durationMs: number) => void) => void): void {
    const level = new AudioLevel(this.cfg);
    this.tracks.set(trackSid, { participant, level });
    attach((lvl, dur) => level.observe(lvl, dur, Date.now()));
  }

  forget(trackSid: string): void {
    this.tracks.delete(trackSid);
  }

  forgetParticipant(p: Participant): void {
    for (const [sid, t] of this.tracks) if (t.participant === p) this.tracks.delete(sid);
  }

  /** The current active speakers, loudest first. */
  activeSpeakers(now: number): SpeakerInfo[] {
    const best = new Map<Participant, number>();
    for (const [sid, { participant, level }] of this.tracks) {
      if (participant.isClosed || participant.tracks.get(sid)?.info.muted) continue;
      const l = level.level(now);
      if (!l.active) continue;
      if (l.level > (best.get(participant) ?? 0)) best.set(participant, l.level);
    }
    return [...best.entries()]
      .map(([p, l]) => ({ sid: p.sid, level: Math.ceil(l * QUANTIZATION) / QUANTIZATION, active: true }))
      .sort((a, b) => b.level - a.level);
  }

  /** The state of one speaker for a participant that just subscribed to it (LiveKit pushes it at once). */
  speakerState(sid: string, now: number): SpeakerInfo | undefined {
    return this.activeSpeakers(now).find((s) => s.sid === sid);
  }

  private tick(now: number): void {
    const speakers = this.activeSpeakers(now);
    const changes: SpeakerInfo[] = [];
    const next = new Map<string, number>();
    for (const s of speakers) {
      next.set(s.sid, s.level);
      if (this.announced.get(s.sid) !== s.level) changes.push(s);
    }
    for (const sid of this.announced.keys()) if (!next.has(sid)) changes.push({ sid, level: 0, active: false });
    this.announced = next;
    if (changes.length === 0) return;
    for (const p of this.participants()) {
      if (p.isClosed || p.protocol <= 2) continue;
      const mine = changes.filter((c) => c.sid === p.sid || p.isSubscribedToParticipant(c.sid));
      if (mine.length) p.send({ speakersChanged: { speakers: mine } });
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.tracks.clear();
  }
}
