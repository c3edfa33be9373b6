// The base of every track: what it is (kind, source), the platform's media track under it, mute state, and in the
// browser the media elements it plays in.
import { TrackSource, TrackType, TypedEventEmitter } from '@kite/protocol';
import { TrackEvent, type TrackEventCallbacks } from '../events.js';
import type { MediaTrack } from '../platform/types.js';
import type { MediaElement } from './dom.js';

// Browser-only globals, looked up at run time so the same code runs in Node.
interface MediaElementLike {
  srcObject: unknown;
  autoplay: boolean;
  muted: boolean;
  playsInline?: boolean;
  play(): Promise<void>;
  remove?(): void;
  clientWidth?: number;
  clientHeight?: number;
}

export abstract class Track extends TypedEventEmitter<TrackEventCallbacks> {
  readonly kind: Track.Kind;
  source: Track.Source = Track.Source.Unknown;
  /** The server's track id, once published/subscribed. */
  sid: string | undefined;
  mediaStreamTrack: MediaTrack;
  isMuted = false;
  readonly attachedElements: MediaElementLike[] = [];
  private stream: unknown;

  protected constructor(mediaTrack: MediaTrack, kind: Track.Kind) {
    super();
    this.mediaStreamTrack = mediaTrack;
    this.kind = kind;
  }

  get mediaStreamID(): string {
    return this.mediaStreamTrack.id;
  }

  /**
   * Plays the track in a media element (creates a <video>/<audio> when none is given) and returns it. Browser only:
   * in Node, read the media with `rtpPackets()` / `audioFrames()` (from '@kite/client' on Node).
   */
  attach<T = MediaElement>(element?: T): T {
    const g = globalThis as unknown as { document?: { createElement(tag: string): MediaElementLike }; MediaStream?: new (tracks: unknown[]) => unknown };
    if (!g.document || !g.MediaStream) throw new Error('Track.attach() needs a browser; in Node use rtpPackets() or audioFrames()');
    const el = (element as unknown as MediaElementLike | undefined) ?? g.document.createElement(this.kind === Track.Kind.Video ? 'video' : 'audio');
    if (!this.stream) this.stream = new g.MediaStream([this.mediaStreamTrack]);
    if (el.srcObject !== this.stream) el.srcObject = this.stream;
    el.autoplay = true;
    if (this.kind === Track.Kind.Video) {
      el.playsInline = true;
      el.muted = true; // a video element never plays audio of its own: audio tracks attach separately
    }
    if (!this.attachedElements.includes(el)) this.attachedElements.push(el);
    el.play().then(
      () => this.kind === Track.Kind.Audio && this.emit(TrackEvent.AudioPlaybackStarted),
      (err: Error) => this.kind === Track.Kind.Audio && this.emit(TrackEvent.AudioPlaybackFailed, err),
    );
    this.emit(TrackEvent.ElementAttached, el);
    return el as unknown as T;
  }

  /** Stops playing in `element` (or every attached element); returns the detached elements. */
  detach<T = MediaElement>(element?: T): T[] {
    const els = element ? [element as unknown as MediaElementLike] : [...this.attachedElements];
    for (const el of els) {
      const i = this.attachedElements.indexOf(el);
      if (i < 0) continue;
      this.attachedElements.splice(i, 1);
      el.srcObject = null;
      this.emit(TrackEvent.ElementDetached, el);
    }
    return els as unknown as T[];
  }

  /** Replaces the media under the track (the elements keep playing the new one). */
  protected setMediaStreamTrack(track: MediaTrack): void {
    this.mediaStreamTrack = track;
    this.stream = undefined;
    for (const el of this.attachedElements) this.attach(el);
  }

  /** Mute state as the server tells it (remote) or as set locally; emits Muted/Unmuted on change. */
  setMuted(muted: boolean): void {
    if (this.isMuted === muted) return;
    this.isMuted = muted;
    this.emit(muted ? TrackEvent.Muted : TrackEvent.Unmuted, this);
  }

  stop(): void {
    this.mediaStreamTrack.stop();
    this.emit(TrackEvent.Ended, this);
  }
}

// eslint-disable-next-line @typescript-eslint/no-namespace
export namespace Track {
  export enum Kind {
    Audio = 'audio',
    Video = 'video',
    Unknown = 'unknown',
  }
  export enum Source {
    Camera = 'camera',
    Microphone = 'microphone',
    ScreenShare = 'screen_share',
    ScreenShareAudio = 'screen_share_audio',
    Unknown = 'unknown',
  }
  export enum StreamState {
    Active = 'active',
    Paused = 'paused',
    Unknown = 'unknown',
  }

  export function kindToProto(k: Kind): TrackType {
    return k === Kind.Audio ? TrackType.AUDIO : k === Kind.Video ? TrackType.VIDEO : TrackType.DATA;
  }
  export function kindFromProto(t: TrackType): Kind {
    return t === TrackType.AUDIO ? Kind.Audio : t === TrackType.VIDEO ? Kind.Video : Kind.Unknown;
  }
  export function sourceToProto(s: Source): TrackSource {
    switch (s) {
      case Source.Camera:
        return TrackSource.CAMERA;
      case Source.Microphone:
        return TrackSource.MICROPHONE;
      case Source.ScreenShare:
        return TrackSource.SCREEN_SHARE;
      case Source.ScreenShareAudio:
        return TrackSource.SCREEN_SHARE_AUDIO;
      default:
        return TrackSource.UNKNOWN;
    }
  }
  export function sourceFromProto(s: TrackSource): Source {
    switch (s) {
      case TrackSource.CAMERA:
        return Source.Camera;
      case TrackSource.MICROPHONE:
        return Source.Microphone;
      case TrackSource.SCREEN_SHARE:
        return Source.ScreenShare;
      case TrackSource.SCREEN_SHARE_AUDIO:
        return Source.ScreenShareAudio;
      default:
        return Source.Unknown;
    }
  }
}
