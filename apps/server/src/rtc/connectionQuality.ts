// Connection quality as LiveKit reports it (ConnectionQualityUpdate every 5 s, only changes): each participant's
// quality is the worst of what Kite sees of its uplink (loss and jitter of what it publishes) and of its downlink
// (what its receiver reports about what Kite sends: loss, jitter, round-trip time).
import { ConnectionQuality, type ConnectionQualityInfo, type PartialMessage, type SignalResponse } from '@kite/protocol';
import type { DownTrack, Receiver, StreamBuffer } from '@kite/sfu';

export interface LinkSample {
  /** Packet loss, 0–1. */
  loss: number;
  jitterMs: number;
  rttMs: number;
  /** How much loss hurts this kind of media (LiveKit: video 10, Opus 8, Opus with FEC 8/1.5). */
  lossWeight: number;
}

export const LOSS_WEIGHT = { video: 10, opus: 8 / 1.5 } as const;

/**
 * LiveKit's simplified E-model (connectionquality/scorer.go), 0–100: delay from half the RTT plus twice the jitter,
 * loss in percent times the media's loss weight. With video, 2 % loss falls to GOOD and 6 % to POOR.
 */
export function packetScore(s: LinkSample): number {
  const delay = s.rttMs / 2 + s.jitterMs * 2;
  const delayEffect = delay > 160 ? (delay - 120) / 10 : delay / 40;
  return Math.max(0, 100 - delayEffect - s.loss * 100 * s.lossWeight);
}

/** Score (0–100) → level, LiveKit's thresholds. */
export function qualityOf(score: number): ConnectionQuality {
  if (score > 80) return ConnectionQuality.EXCELLENT;
  if (score > 40) return ConnectionQuality.GOOD;
  if (score > 20) return ConnectionQuality.POOR;
  return ConnectionQuality.LOST;
}

/** Score → the MOS (1–4.5) LiveKit reports in ConnectionQualityInfo.score. */
export function mosOf(score: number): number {
  if (score <= 0) return 1;
  if (score >= 100) return 4.5;
  return 1 + 0.035 * score + 0.000007 * score * (score - 60) * (100 - score);
}

/** Quality of one link sample on its own (no smoothing). */
export function rateLink(s: LinkSample): { quality: ConnectionQuality; score: number } {
  const score = packetScore(s);
  return { quality: qualityOf(score), score };
}

/**
 * A participant's smoothed score: drops fast (80 % of the new reading) and recovers slowly (40 %), never below 30
 * unless the link is dry or lost, as in LiveKit.
 */
export class QualityScore {
  score = 100;

  update(reading: number): number {
    const factor = reading < this.score ? 0.8 : 0.4;
    this.score = Math.max(30, factor * reading + (1 - factor) * this.score);
    return this.score;
  }

  /** No media where media was expected: straight to POOR (dry) or LOST, without smoothing. */
  set(score: number): number {
    this.score = score;
    return score;
  }
}

/** Loss between two readings of a receive-stats counter pair. */
export class LossWindow {
  private lastExpected = 0;
  private lastReceived = 0;

  /** Loss (0–1) since the previous call, from cumulative expected/received counts. */
  sample(expected: number, received: number): number {
    const e = expected - this.lastExpected;
    const r = received - this.lastReceived;
    this.lastExpected = expected;
    this.lastReceived = received;
    return e > 0 ? Math.max(0, Math.min(1, (e - r) / e)) : 0;
  }
}

/** LiveKit's interval between connection quality evaluations. */
export const CONNECTION_QUALITY_INTERVAL_MS = 5000;
/** A published, unmuted track silent this long means the publisher's uplink is gone. */
const UPLINK_SILENCE_LOST_MS = 5000;
const LOST_SCORE = 20;

/** The part of a participant the monitor reads (Participant implements it). */
export interface QualitySubject {
  readonly sid: string;
  readonly protocol: number;
  readonly isActive: boolean;
  /** Published tracks: their receivers and mute state. */
  publishedReceivers(): Iterable<{ receiver: Receiver; muted: boolean; paused: boolean }>;
  downTracks(): Iterable<DownTrack>;
  subscribedParticipantSids(): Set<string>;
  send(msg: PartialMessage<SignalResponse>): void;
}

/**
 * Evaluates every active participant each interval; when any quality changed (or someone new is rated), each
 * participant gets its own quality and that of the participants it subscribes to (LiveKit's connectionQualityWorker).
 */
export class ConnectionQualityMonitor {
  private readonly uplinkLoss = new WeakMap<StreamBuffer, LossWindow>();
  private readonly scores = new WeakMap<QualitySubject, QualityScore>();
  private previous = new Map<string, ConnectionQuality>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly participants: () => Iterable<QualitySubject>,
    intervalMs = CONNECTION_QUALITY_INTERVAL_MS,
  ) {
    this.timer = setInterval(() => this.tick(Date.now()), intervalMs);
    this.timer.unref();
  }

  /** Rates one participant: the worst of its uplink (what it publishes) and downlink (what it receives), smoothed. */
  rate(p: QualitySubject, now: number): ConnectionQualityInfo {
    let score = this.scores.get(p);
    if (!score) this.scores.set(p, (score = new QualityScore()));
    let worst = 100;
    let downRtt = 0;
    for (const dt of p.downTracks()) {
      if (dt.stats.packetsSent === 0) continue;
      downRtt = Math.max(downRtt, dt.stats.rttMs);
      const lossWeight = dt.isVideo ? LOSS_WEIGHT.video : LOSS_WEIGHT.opus;
      worst = Math.min(worst, packetScore({ loss: dt.stats.fractionLost, jitterMs: dt.stats.jitterMs, rttMs: dt.stats.rttMs, lossWeight }));
    }
    for (const { receiver, muted, paused } of p.publishedReceivers()) {
      const lossWeight = receiver.kind === 'video' ? LOSS_WEIGHT.video : LOSS_WEIGHT.opus;
      let flowing = false;
      for (const sb of receiver.layers) {
        if (!sb) continue;
        let w = this.uplinkLoss.get(sb);
        if (!w) this.uplinkLoss.set(sb, (w = new LossWindow()));
        // Loss as the link suffered it: a packet recovered by retransmission was still lost once.
        const loss = w.sample(sb.stats.expected, sb.stats.received - sb.stats.retransmitted);
        // Only the layers in use: a simulcast layer the publisher paused (dynacast) is not a lost uplink.
        if (now - sb.lastPacketAt > UPLINK_SILENCE_LOST_MS) continue;
        flowing = true;
        // The uplink's RTT is not measured (Kite only receives on it); the participant's downlink RTT stands in.
        worst = Math.min(worst, packetScore({ loss, jitterMs: sb.stats.jitter.ms, rttMs: downRtt, lossWeight }));
      }
      // Media stopped while the track is unmuted (and someone may be waiting for it): the uplink is gone.
      if (!flowing && !muted && !paused && receiver.packets > 0) {
        score.set(LOST_SCORE);
        return { participantSid: p.sid, quality: ConnectionQuality.LOST, score: mosOf(LOST_SCORE) };
      }
    }
    const s = score.update(worst);
    return { participantSid: p.sid, quality: qualityOf(s), score: Math.round(mosOf(s) * 100) / 100 };
  }

  private tick(now: number): void {
    const all = [...this.participants()].filter((p) => p.isActive);
    const infos = new Map<string, ConnectionQualityInfo>();
    for (const p of all) infos.set(p.sid, this.rate(p, now));
    let changed = false;
    for (const [sid, info] of infos) if (this.previous.get(sid) !== info.quality) changed = true;
    this.previous = new Map([...infos].map(([sid, i]) => [sid, i.quality]));
    if (!changed) return;
    for (const p of all) {
      if (p.protocol < 3) continue;
      const updates: ConnectionQualityInfo[] = [];
      const mine = infos.get(p.sid);
      if (mine) updates.push(mine);
      for (const sid of p.subscribedParticipantSids()) {
        const i = infos.get(sid);
        if (i) updates.push(i);
      }
      if (updates.length) p.send({ connectionQuality: { updates } });
    }
  }

  close(): void {
    clearInterval(this.timer);
  }
}
