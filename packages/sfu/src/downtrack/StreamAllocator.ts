// Fits one subscriber's video into its downlink (LiveKit's StreamAllocator, simplified). Every 250 ms, with Kite's
// estimate of the subscriber's bandwidth (TWCC, bwe/): audio is taken off the top (never starved), then each video
// track by priority gets its lowest layer, then upgrades, each only if it fits; a track whose lowest layer does not fit
// is paused for bandwidth (the owner tells the client: StreamStateUpdate). The subscriber's own choice (quality,
// dimensions, disabled) stays the ceiling. When a track is held below what it wants, a probe cluster — padding at the
// rate the upgrade needs — finds out whether the link has room, and a successful probe raises the estimate at once.
import type { TwccSender } from '../bwe/TwccSender.js';
import type { DownTrack } from './DownTrack.js';

const TICK_MS = 250;
/** Headroom kept off the estimate. */
const USABLE = 0.95;
/** Going up needs this much more than the layer costs (no flapping around a boundary). */
const UPGRADE_MARGIN = 1.1;
const PROBE_MS = 300;
const PROBE_STEP_MS = 20;
/** After a probe that found room: soon again; after one that did not (or whose upgrade did not hold): back off, doubling. */
const PROBE_AFTER_SUCCESS_MS = 1000;
const PROBE_AFTER_FAILURE_MS = 5000;
const PROBE_BACKOFF_MAX_MS = 10_000;
/** An upgrade a probe allowed that is undone within this long counts as a failed probe. */
const PROBE_HOLD_MS = 4000;
/** A probe that got through but bought no layer (the next step still does not fit): the wait before the next. */
const PROBE_AFTER_NO_GAIN_MS = 2500;
/** A layer not heard from for this long does not count as available. */
const LAYER_STALE_MS = 2000;

export interface StreamAllocatorEvents {
  /** A track was paused for bandwidth (true) or resumed (false). */
  onPausedChange?: (dt: DownTrack, paused: boolean) => void;
}

export class StreamAllocator {
  onPausedChange: StreamAllocatorEvents['onPausedChange'];
  private readonly timer: NodeJS.Timeout;
  private probeTimer: NodeJS.Timeout | undefined;
  private probeCluster = 0;
  private probing: { cluster: number; until: number; bps: number; dt: DownTrack; resultAt: number } | undefined;
  private nextProbeAt = 0;
  private probeFailures = 0;
  /** When the last successful probe raised the estimate, and the layers it bought (sum over tracks). */
  private probeWonAt = 0;
  private layersAtProbe = 0;
  private layersBeforeProbe = 0;
  /** Figures for tests and stats. */
  readonly counters = { ticks: 0, probes: 0, probeSuccesses: 0, pauses: 0 };

  constructor(
    private readonly twcc: TwccSender,
    private readonly tracks: () => DownTrack[],
  ) {
    this.timer = setInterval(() => this.tick(Date.now()), TICK_MS);
    this.timer.unref();
  }

  /** Cost (bits/s) of forwarding `layer` of `dt`'s track now; 0 when that layer is not flowing. */
  private static cost(dt: DownTrack, layer: number, now: number): number {
    const sb = dt.receiver.layers[layer];
    if (!sb || sb.bitrate <= 0 || (sb.lastPacketAt > 0 && now - sb.lastPacketAt > LAYER_STALE_MS)) return 0;
    return sb.bitrate;
  }

  tick(now: number): void {
    this.counters.ticks++;
    this.finishProbe(now);
    const all = this.tracks();
    const bwe = this.twcc.bwe;
    const video = all.filter((dt) => dt.isVideo && dt.isReady && !dt.isPaused);
    // No feedback (a client without transport-cc): nothing to go by, nothing is held back.
    if (this.twcc.counters.feedbacks === 0) {
      for (const dt of video) this.apply(dt, dt.maxLayer);
      return;
    }
    let budget = bwe.estimate * USABLE;
    for (const dt of all) if (!dt.isVideo && dt.isReady && !dt.isPaused) budget -= StreamAllocator.cost(dt, 0, now);
    // SVC (VP9/AV1): one stream whose spatial layers have no separate rates yet: it is forwarded as asked and its
    // whole stream counts against the budget.
    for (let i = video.length - 1; i >= 0; i--) {
      const dt = video[i]!;
      if (!dt.isSvc) continue;
      budget -= StreamAllocator.cost(dt, 0, now);
      this.apply(dt, dt.maxLayer);
      video.splice(i, 1);
    }
    video.sort((a, b) => b.priority - a.priority);

    const alloc = new Int8Array(video.length);
    // Lowest layers first, by priority.
    for (let i = 0; i < video.length; i++) {
      const dt = video[i]!;
      const low = this.lowestLayer(dt, now);
      if (low < 0) {
        alloc[i] = dt.maxLayer; // nothing measured yet: don't hold it back
        continue;
      }
      const c = StreamAllocator.cost(dt, low, now);
      let need = dt.allocatedLayer < 0 ? c * UPGRADE_MARGIN : c;
      // The most important track keeps its lowest layer through a dip of up to 30 %: pausing it would leave the
      // estimator only audio to measure by, and the estimate would sink with it.
      if (i === 0) need *= 0.7;
      if (need <= budget) {
        alloc[i] = low;
        budget -= c;
      } else alloc[i] = -1;
    }
    // Then upgrades, by priority: the best layer that fits.
    let deficit = 0;
    let deficitTrack: DownTrack | undefined;
    for (let i = 0; i < video.length; i++) {
      const dt = video[i]!;
      const cur = alloc[i]!;
      const curCost = cur >= 0 ? StreamAllocator.cost(dt, cur, now) : 0;
      let wantedNext = -1;
      for (let l = Math.min(dt.maxLayer, 2); l > cur; l--) {
        const c = StreamAllocator.cost(dt, l, now);
        if (c <= 0) continue;
        const extra = c - curCost;
        const need = l > dt.allocatedLayer ? extra * UPGRADE_MARGIN : extra;
        if (need <= budget) {
          alloc[i] = l;
          budget -= extra;
          break;
        }
        wantedNext = l;
      }
      if (deficitTrack === undefined && wantedNext >= 0 && alloc[i]! < wantedNext) {
        // The smallest step up this track wants and could not have.
        let step = wantedNext;
        for (let l = alloc[i]! + 1; l <= wantedNext; l++) if (StreamAllocator.cost(dt, l, now) > 0) {
          step = l;
          break;
        }
        deficit = StreamAllocator.cost(dt, step, now) - (alloc[i]! >= 0 ? StreamAllocator.cost(dt, alloc[i]!, now) : 0) - Math.max(0, budget);
        deficitTrack = dt;
      }
    }
    let layers = 0;
    for (let i = 0; i < video.length; i++) {
      this.apply(video[i]!, alloc[i]!);
      layers += alloc[i]! + 1;
    }
    // What a probe bought did not hold (a buffer absorbed the probe, the link only looked roomy): probe less often.
    // A probe that bought nothing (the step still does not fit): wait before the next, so a full link is not probed
    // (and its media hurt) every second.
    if (this.probeWonAt > 0) {
      const age = now - this.probeWonAt;
      if (age < PROBE_HOLD_MS && layers < this.layersAtProbe) {
        this.probeWonAt = 0;
        this.failProbe(now);
      } else if (age >= 600 && age < 900 && layers <= this.layersBeforeProbe) {
        this.nextProbeAt = Math.max(this.nextProbeAt, now + PROBE_AFTER_NO_GAIN_MS);
      } else if (age >= PROBE_HOLD_MS) {
        if (layers > this.layersBeforeProbe) this.probeFailures = 0;
        this.probeWonAt = 0;
      }
    }
    if (this.probeWonAt > 0 && layers > this.layersAtProbe) this.layersAtProbe = layers;
    if (deficitTrack && deficit > 0) this.maybeProbe(now, deficit, video, layers);
  }

  private lowestLayer(dt: DownTrack, now: number): number {
    for (let l = 0; l <= Math.min(dt.maxLayer, 2); l++) if (StreamAllocator.cost(dt, l, now) > 0) return l;
    return -1;
  }

  private apply(dt: DownTrack, layer: number): void {
    const wasPaused = dt.allocatedLayer < 0;
    dt.setAllocation(layer);
    const paused = dt.allocatedLayer < 0;
    if (paused !== wasPaused) {
      if (paused) this.counters.pauses++;
      this.onPausedChange?.(dt, paused);
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Probing

  private maybeProbe(now: number, deficit: number, video: DownTrack[], layers: number): void {
    if (this.probing || now < this.nextProbeAt) return;
    // Padding goes on the RTX stream of a video track (paused ones too: probing is how a paused track comes back).
    const carrier = video.find((dt) => dt.rtxSsrc !== 0);
    if (!carrier) return;
    // Padding on top of the media, at a bit more than the upgrade needs, for PROBE_MS.
    const bps = Math.max(100_000, deficit * 1.3);
    const cluster = ++this.probeCluster;
    this.probing = { cluster, until: now + PROBE_MS, bps, dt: carrier, resultAt: now + PROBE_MS + 300 };
    this.layersAtProbe = layers;
    this.layersBeforeProbe = layers;
    this.counters.probes++;
    const perStep = (bps / 8) * (PROBE_STEP_MS / 1000);
    const sendStep = () => {
      const p = this.probing;
      if (!p || p.cluster !== cluster) return;
      const t = Date.now();
      if (t >= p.until) {
        clearInterval(this.probeTimer);
        this.probeTimer = undefined;
        return;
      }
      p.dt.sendPadding(perStep, t, cluster);
    };
    sendStep();
    this.probeTimer = setInterval(sendStep, PROBE_STEP_MS);
    this.probeTimer.unref();
  }

  private finishProbe(now: number): void {
    const p = this.probing;
    if (!p || now < p.resultAt) return;
    this.probing = undefined;
    const result = this.twcc.bwe.probeResult(p.cluster);
    // Success: the padding got through at (nearly) the rate it was sent, on top of the media: that much more fits.
    if (result >= p.bps * 0.8) {
      const bwe = this.twcc.bwe;
      bwe.applyProbe(bwe.estimate + Math.min(result, p.bps) * 0.9, now);
      this.counters.probeSuccesses++;
      this.probeWonAt = now;
      this.nextProbeAt = now + PROBE_AFTER_SUCCESS_MS;
    } else {
      this.failProbe(now);
    }
  }

  private failProbe(now: number): void {
    this.probeFailures++;
    this.nextProbeAt = now + Math.min(PROBE_BACKOFF_MAX_MS, PROBE_AFTER_FAILURE_MS * 2 ** (this.probeFailures - 1));
  }

  close(): void {
    clearInterval(this.timer);
    clearInterval(this.probeTimer);
    this.probing = undefined;
  }
}
