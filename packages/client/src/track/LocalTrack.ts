// Tracks this participant captures and publishes. Muting disables the media (the sender keeps its m-line) and
// tells the server; a video track follows the server's SubscribedQualityUpdate (dynacast) by switching its simulcast
// encodings on and off.
import { VideoQuality, type SubscribedQuality } from '@kite/protocol';
import { TrackEvent } from '../events.js';
import { platform, type CaptureRequest, type EncodingParameters, type MediaTrack, type RtpSender, type Transceiver } from '../platform/types.js';
import { Track } from './Track.js';
import { qualityForRid } from './encodings.js';

export abstract class LocalTrack extends Track {
  sender: RtpSender | undefined;
  transceiver: Transceiver | undefined;
  /** Constraints the track was captured with (used by restartTrack / setDeviceId). */
  constraints: Record<string, unknown>;
  /** True when the SDK captured the media itself (then it also stops it on unpublish). */
  readonly userProvided: boolean;
  /** Set by the publication: tells the server about a mute change. */
  onMuteChanged: ((muted: boolean) => void) | undefined;

  protected constructor(mediaTrack: MediaTrack, kind: Track.Kind, constraints: Record<string, unknown> = {}, userProvided = false) {
    super(mediaTrack, kind);
    this.constraints = constraints;
    this.userProvided = userProvided;
  }

  get isLocal(): true {
    return true;
  }

  async mute(): Promise<this> {
    this.mediaStreamTrack.enabled = false;
    if (!this.isMuted) {
      this.setMuted(true);
      this.onMuteChanged?.(true);
    }
    return this;
  }

  async unmute(): Promise<this> {
    this.mediaStreamTrack.enabled = true;
    if (this.isMuted) {
      this.setMuted(false);
      this.onMuteChanged?.(false);
    }
    return this;
  }

  /** Swaps the media under a published track without renegotiating (e.g. another camera). */
  async replaceTrack(track: MediaTrack, stopPrevious = true): Promise<this> {
    const old = this.mediaStreamTrack;
    await this.sender?.replaceTrack(track);
    this.setMediaStreamTrack(track);
    if (stopPrevious && old !== track) old.stop();
    this.emit(TrackEvent.Restarted, this);
    return this;
  }

  /** Captures again with new constraints (device switch) and swaps the media in place. */
  async restartTrack(constraints: Record<string, unknown> = {}): Promise<void> {
    const merged = { ...this.constraints, ...constraints };
    // Release the device first: some cameras cannot be opened twice.
    this.mediaStreamTrack.stop();
    const [captured] = await platform().capture([{ kind: this.kind === Track.Kind.Video ? 'video' : 'audio', source: Track.sourceToProto(this.source), constraints: merged } as CaptureRequest]);
    this.constraints = merged;
    if (this.isMuted) captured!.track.enabled = false;
    await this.replaceTrack(captured!.track, false);
  }

  /** Switches to another capture device. */
  async setDeviceId(deviceId: string): Promise<boolean> {
    await this.restartTrack({ deviceId: { exact: deviceId } });
    return true;
  }

  /** Writes an RTP packet into a Node track (werift); see '@kite/client' on Node for media sources. */
  writeRtp(packet: unknown): void {
    const t = this.mediaStreamTrack as MediaTrack & { writeRtp?: (p: unknown) => void };
    if (!t.writeRtp) throw new Error('writeRtp() is only available on tracks made in Node');
    t.writeRtp(packet);
  }
}

export class LocalAudioTrack extends LocalTrack {
  constructor(mediaTrack: MediaTrack, constraints: Record<string, unknown> = {}, userProvided = false) {
    super(mediaTrack, Track.Kind.Audio, constraints, userProvided);
    this.source = Track.Source.Microphone;
  }
}

export class LocalVideoTrack extends LocalTrack {
  /** The sender encodings chosen at publish time (simulcast layers). */
  encodings: EncodingParameters[] = [];
  /** Capture size known at creation (the platform may report a current one). */
  private knownDimensions: { width: number; height: number } | undefined;

  constructor(mediaTrack: MediaTrack, constraints: Record<string, unknown> = {}, userProvided = false, dimensions?: { width: number; height: number }) {
    super(mediaTrack, Track.Kind.Video, constraints, userProvided);
    this.source = Track.Source.Camera;
    this.knownDimensions = dimensions;
  }

  get dimensions(): { width: number; height: number } | undefined {
    return platform().trackDimensions(this.mediaStreamTrack) ?? this.knownDimensions;
  }

  /** Waits (briefly) for the capture to report its size. */
  async waitForDimensions(timeoutMs = 1000): Promise<{ width: number; height: number } | undefined> {
    const start = Date.now();
    for (;;) {
      const d = this.dimensions;
      if ((d && d.width > 0 && d.height > 0) || Date.now() - start > timeoutMs) return d;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /**
   * Dynacast: the server says which qualities anyone receives; the encodings nobody needs stop (saving the
   * publisher's CPU and uplink).
   */
  async setPublishingLayers(qualities: SubscribedQuality[]): Promise<void> {
    const sender = this.sender;
    if (!sender) return;
    const encodings = sender.getEncodings();
    if (encodings.length === 0) return;
    let changed = false;
    for (const e of encodings) {
      const quality = encodings.length === 1 && !e.rid ? VideoQuality.HIGH : qualityForRid(e.rid);
      const q = qualities.find((x) => x.quality === quality);
      const active = q ? q.enabled : true;
      if ((e.active ?? true) !== active) {
        e.active = active;
        changed = true;
      }
    }
    if (changed) await sender.setEncodings(encodings);
  }

  override async restartTrack(constraints: Record<string, unknown> = {}): Promise<void> {
    await super.restartTrack(constraints);
    this.knownDimensions = undefined;
  }

  /** A camera the SDK opened is released while muted (its light goes off), as livekit-client does. */
  private get releasesOnMute(): boolean {
    return this.source === Track.Source.Camera && !this.userProvided && platform().name === 'browser';
  }

  override async mute(): Promise<this> {
    await super.mute();
    if (this.releasesOnMute) this.mediaStreamTrack.stop();
    return this;
  }

  /** While a released camera is muted, only the choice is kept: the new device opens on unmute. */
  override async setDeviceId(deviceId: string): Promise<boolean> {
    if (this.releasesOnMute && this.isMuted) {
      this.constraints = { ...this.constraints, deviceId: { exact: deviceId } };
      return true;
    }
    return super.setDeviceId(deviceId);
  }

  override async unmute(): Promise<this> {
    if (this.releasesOnMute && this.mediaStreamTrack.readyState === 'ended') await this.restartTrack();
    return super.unmute();
  }
}

export function isLocalVideoTrack(t: Track | undefined): t is LocalVideoTrack {
  return t instanceof LocalVideoTrack;
}
