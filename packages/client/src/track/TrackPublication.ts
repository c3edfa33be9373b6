// A track a participant has published, whether or not this client receives it. Remote publications carry the
// subscriber's choices (subscribe, enable, quality, size, fps) to the server as UpdateSubscription /
// UpdateTrackSettings.
import { TypedEventEmitter, VideoQuality, type PartialMessage, type SignalRequest, type TrackInfo } from '@kite/protocol';
import { TrackEvent } from '../events.js';
import type { SubscriptionStatus } from '../types.js';
import type { LocalTrack } from './LocalTrack.js';
import { RemoteVideoTrack, type RemoteTrack } from './RemoteTrack.js';
import { Track } from './Track.js';

interface PublicationEvents {
  muted: () => void;
  unmuted: () => void;
  subscriptionStatusChanged: (status: SubscriptionStatus, previous: SubscriptionStatus) => void;
}

export abstract class TrackPublication extends TypedEventEmitter<PublicationEvents> {
  kind: Track.Kind;
  trackName: string;
  trackSid: string;
  source: Track.Source = Track.Source.Unknown;
  mimeType = '';
  dimensions: { width: number; height: number } | undefined;
  simulcasted = false;
  trackInfo: TrackInfo | undefined;
  protected muted = false;

  constructor(kind: Track.Kind, trackSid: string, trackName: string) {
    super();
    this.kind = kind;
    this.trackSid = trackSid;
    this.trackName = trackName;
  }

  abstract get track(): Track | undefined;

  get isMuted(): boolean {
    return this.muted;
  }

  get isEncrypted(): boolean {
    return false;
  }

  get audioTrack(): Track | undefined {
    return this.kind === Track.Kind.Audio ? this.track : undefined;
  }

  get videoTrack(): Track | undefined {
    return this.kind === Track.Kind.Video ? this.track : undefined;
  }

  /** Applies a TrackInfo from the server (publish response or participant update). */
  updateInfo(info: TrackInfo): void {
    this.trackSid = info.sid;
    this.trackName = info.name;
    this.source = Track.sourceFromProto(info.source);
    this.mimeType = info.mimeType;
    this.simulcasted = info.simulcast;
    if (this.kind === Track.Kind.Video && info.width > 0) this.dimensions = { width: info.width, height: info.height };
    this.trackInfo = info;
  }

  setMutedState(muted: boolean): void {
    if (this.muted === muted) return;
    this.muted = muted;
    this.track?.setMuted(muted);
    this.emit(muted ? 'muted' : 'unmuted');
  }
}

export class LocalTrackPublication extends TrackPublication {
  private localTrack: LocalTrack | undefined;

  constructor(kind: Track.Kind, info: TrackInfo, track: LocalTrack) {
    super(kind, info.sid, info.name);
    this.updateInfo(info);
    this.localTrack = track;
    this.muted = track.isMuted;
  }

  get track(): LocalTrack | undefined {
    return this.localTrack;
  }

  override get isMuted(): boolean {
    return this.localTrack?.isMuted ?? this.muted;
  }

  async mute(): Promise<LocalTrack | undefined> {
    return this.localTrack?.mute();
  }

  async unmute(): Promise<LocalTrack | undefined> {
    return this.localTrack?.unmute();
  }

  /** Unpublished: the publication no longer owns the track. */
  clearTrack(): void {
    this.localTrack = undefined;
  }
}

export class RemoteTrackPublication extends TrackPublication {
  private remoteTrack: RemoteTrack | undefined;
  /** What the user wants (setSubscribed); undefined = the room's autoSubscribe decides. */
  protected subscribed: boolean | undefined;
  protected disabled = false;
  private allowed = true;
  private quality: VideoQuality = VideoQuality.HIGH;
  private requestedDimensions: { width: number; height: number } | undefined;
  private fps: number | undefined;
  private settingsTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    kind: Track.Kind,
    info: TrackInfo,
    private readonly participantSid: () => string,
    autoSubscribe: boolean,
    /** Sends a SignalRequest to the server. */
    private readonly send: (req: PartialMessage<SignalRequest>) => void,
  ) {
    super(kind, info.sid, info.name);
    this.updateInfo(info);
    this.muted = info.muted;
    this.subscribed = autoSubscribe ? undefined : false;
    this.autoSubscribe = autoSubscribe;
  }

  private readonly autoSubscribe: boolean;

  get track(): RemoteTrack | undefined {
    return this.remoteTrack;
  }

  get isSubscribed(): boolean {
    return this.remoteTrack !== undefined && this.isDesired;
  }

  get isDesired(): boolean {
    return this.subscribed ?? this.autoSubscribe;
  }

  get isEnabled(): boolean {
    return !this.disabled;
  }

  get isAllowed(): boolean {
    return this.allowed;
  }

  get subscriptionStatus(): SubscriptionStatus {
    if (!this.isDesired) return 'unsubscribed';
    return this.remoteTrack ? 'subscribed' : 'desired';
  }

  get videoQuality(): VideoQuality {
    return this.quality;
  }

  /** Subscribes or unsubscribes (autoSubscribe off: nothing is received until this is called). */
  setSubscribed(subscribed: boolean): void {
    const prev = this.subscriptionStatus;
    this.subscribed = subscribed;
    const psid = this.participantSid();
    this.send({ subscription: { trackSids: [this.trackSid], subscribe: subscribed, participantTracks: [{ participantSid: psid, trackSids: [this.trackSid] }] } });
    if (subscribed) this.sendSettings(); // carry quality/size/enabled choices into the new subscription
    this.emitStatus(prev);
  }

  /** Pauses (false) or resumes (true) the track's media from the server while staying subscribed. */
  setEnabled(enabled: boolean): void {
    if (this.disabled === !enabled) return;
    this.disabled = !enabled;
    this.sendSettings();
  }

  /** Which simulcast layer to receive (LOW / MEDIUM / HIGH); clears any requested size. */
  setVideoQuality(quality: VideoQuality): void {
    this.quality = quality;
    this.requestedDimensions = undefined;
    this.sendSettings();
  }

  /** Receive the layer that fits this size (the server picks the closest one). */
  setVideoDimensions(dimensions: { width: number; height: number }): void {
    this.requestedDimensions = dimensions;
    this.sendSettings();
  }

  setVideoFPS(fps: number): void {
    this.fps = fps;
    this.sendSettings();
  }

  /** Called by the participant when the track arrives (or leaves, with undefined). */
  setTrack(track: RemoteTrack | undefined): void {
    const prev = this.subscriptionStatus;
    const old = this.remoteTrack;
    if (old === track) return;
    if (old instanceof RemoteVideoTrack) old.dispose();
    this.remoteTrack = track;
    if (track) {
      track.source = this.source;
      track.setMuted(this.muted);
      if (track instanceof RemoteVideoTrack && track.adaptive) {
        track.on(TrackEvent.VisibilityChanged, () => this.scheduleSettings());
        track.on(TrackEvent.VideoDimensionsChanged, () => this.scheduleSettings());
      }
    }
    this.emitStatus(prev);
  }

  setAllowed(allowed: boolean): void {
    this.allowed = allowed;
  }

  private emitStatus(prev: SubscriptionStatus): void {
    const now = this.subscriptionStatus;
    if (now !== prev) this.emit('subscriptionStatusChanged', now, prev);
  }

  private scheduleSettings(): void {
    // Layouts resize in bursts: send one update after it settles.
    if (this.settingsTimer) clearTimeout(this.settingsTimer);
    this.settingsTimer = setTimeout(() => this.sendSettings(), 100);
  }

  /** The subscription's settings now, as livekit-client computes them. */
  private sendSettings(): void {
    if (this.settingsTimer) clearTimeout(this.settingsTimer);
    this.settingsTimer = undefined;
    const track = this.remoteTrack;
    let disabled = this.disabled;
    let dims = this.requestedDimensions;
    if (track instanceof RemoteVideoTrack && track.adaptive) {
      disabled ||= !track.isVisible;
      if (!dims && track.elementDimensions) dims = track.elementDimensions;
    }
    const settings: PartialMessage<NonNullable<SignalRequest['trackSetting']>> = { trackSids: [this.trackSid], disabled };
    if (this.kind === Track.Kind.Video) {
      if (dims) {
        settings.width = Math.ceil(dims.width);
        settings.height = Math.ceil(dims.height);
      } else settings.quality = this.quality;
      if (this.fps) settings.fps = this.fps;
    }
    this.send({ trackSetting: settings });
  }
}
