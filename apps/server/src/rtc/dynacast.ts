// Dynacast for one published video track (LiveKit's dynacastmanagervideo): the publisher only encodes the layers
// some subscriber wants. Upgrades are sent at once (a subscriber is waiting), downgrades after a grace period (a
// subscriber switching back should not restart an encoder every time).
import { VideoQuality, type SubscribedQualityUpdate, type PartialMessage } from '@kite/protocol';

const QUALITIES = [VideoQuality.LOW, VideoQuality.MEDIUM, VideoQuality.HIGH];
export const DYNACAST_PAUSE_DELAY_MS = 5000;

export class Dynacast {
  /** Highest layer announced to the publisher (the publisher starts with every layer on). */
  private announced = QUALITIES.length - 1;
  private wanted = QUALITIES.length - 1;
  private downgradeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly trackSid: string,
    /** Codec name as the client expects it: lower case, no "video/" (e.g. "vp8"). */
    private readonly codec: string,
    private readonly simulcast: boolean,
    private readonly send: (update: PartialMessage<SubscribedQualityUpdate>) => void,
    private readonly pauseDelayMs = DYNACAST_PAUSE_DELAY_MS,
  ) {}

  /** The publisher was told to send nothing (nobody wants the track). */
  get publisherPaused(): boolean {
    return this.announced < 0;
  }

  /** The highest layer any subscriber wants now (−1: none). */
  update(maxLayer: number): void {
    this.wanted = Math.max(-1, Math.min(QUALITIES.length - 1, maxLayer));
    if (this.wanted > this.announced) {
      this.clearTimer();
      this.announce(this.wanted);
    } else if (this.wanted < this.announced) {
      if (this.downgradeTimer) return;
      this.downgradeTimer = setTimeout(() => {
        this.downgradeTimer = undefined;
        if (this.wanted < this.announced) this.announce(this.wanted);
      }, this.pauseDelayMs);
      this.downgradeTimer.unref();
    } else {
      this.clearTimer();
    }
  }

  private announce(max: number): void {
    this.announced = max;
    // Without simulcast the one encoding carries every quality: it is on whenever anyone wants video.
    const qualities = QUALITIES.map((quality, i) => ({ quality, enabled: this.simulcast ? i <= max : max >= 0 }));
    this.send({
      trackSid: this.trackSid,
      subscribedQualities: qualities,
      subscribedCodecs: [{ codec: this.codec, qualities }],
    });
  }

  private clearTimer(): void {
    if (this.downgradeTimer) clearTimeout(this.downgradeTimer);
    this.downgradeTimer = undefined;
  }

  close(): void {
    this.clearTimer();
  }
}
