// Tracks received from other participants. In the browser they play through attach(); with adaptiveStream a video
// track watches the elements it plays in and asks the server for what they show (size, or nothing when hidden).
// In Node they are read with rtpPackets() / videoFrames() / audioFrames().
import { TrackEvent } from '../events.js';
import { platform, type MediaTrack, type Transceiver } from '../platform/types.js';
import { TrackStreamState, type AudioFrame, type EncodedVideoFrame, type MediaReader, type RtpPacketLike } from '../types.js';
import { Track } from './Track.js';
import type { MediaElement } from './dom.js';

export abstract class RemoteTrack extends Track {
  streamState: TrackStreamState = TrackStreamState.Active;
  private reader: MediaReader | undefined;

  protected constructor(
    mediaTrack: MediaTrack,
    sid: string,
    kind: Track.Kind,
    readonly transceiver: Transceiver,
  ) {
    super(mediaTrack, kind);
    this.sid = sid;
  }

  get isLocal(): false {
    return false;
  }

  /** The platform receiver (RTCRtpReceiver in the browser) for getStats(). */
  get receiver(): unknown {
    return (this.transceiver.native as { receiver?: unknown }).receiver;
  }

  setStreamState(state: TrackStreamState): void {
    if (this.streamState === state) return;
    this.streamState = state;
    this.emit(TrackEvent.StreamStateChanged, state);
  }

  protected mediaReader(): MediaReader {
    const p = platform();
    if (!p.mediaReader) throw new Error('rtpPackets()/videoFrames()/audioFrames() are Node features; in the browser use attach()');
    this.reader ??= p.mediaReader(this.mediaStreamTrack, this.kind === Track.Kind.Audio ? 'audio' : 'video');
    return this.reader;
  }

  /** Node: every RTP packet of this track as it arrives (a bounded queue: a slow reader loses the oldest). */
  rtpPackets(): AsyncIterableIterator<RtpPacketLike> {
    return this.mediaReader().rtpPackets();
  }
}

export class RemoteAudioTrack extends RemoteTrack {
  private volume = 1;

  constructor(mediaTrack: MediaTrack, sid: string, transceiver: Transceiver) {
    super(mediaTrack, sid, Track.Kind.Audio, transceiver);
    this.source = Track.Source.Microphone;
  }

  /** Browser: playback volume of the attached elements (0–1). */
  setVolume(volume: number): void {
    this.volume = volume;
    for (const el of this.attachedElements) (el as unknown as { volume: number }).volume = volume;
  }

  getVolume(): number {
    return this.volume;
  }

  /** Node: decoded PCM (48 kHz) from the track's Opus packets. */
  audioFrames(): AsyncIterableIterator<AudioFrame> {
    return this.mediaReader().audioFrames();
  }
}

interface ObserverLike {
  observe(el: unknown): void;
  unobserve(el: unknown): void;
  disconnect(): void;
}

export class RemoteVideoTrack extends RemoteTrack {
  /** adaptiveStream: follow the attached elements' size and visibility. */
  readonly adaptive: boolean;
  isVisible = true;
  elementDimensions: { width: number; height: number } | undefined;
  private visible = new Map<unknown, boolean>();
  private resizeObserver: ObserverLike | undefined;
  private intersectionObserver: ObserverLike | undefined;
  private hiddenTimer: ReturnType<typeof setTimeout> | undefined;
  private onDocVisibility = () => this.updateVisibility();

  constructor(mediaTrack: MediaTrack, sid: string, transceiver: Transceiver, adaptive: boolean) {
    super(mediaTrack, sid, Track.Kind.Video, transceiver);
    this.source = Track.Source.Camera;
    this.adaptive = adaptive;
    if (adaptive) {
      // Nothing shows it yet: hidden until an element is attached (a short grace lets the app attach first).
      this.hiddenTimer = setTimeout(() => this.updateVisibility(), 500);
    }
  }

  /** Node: encoded VP8 frames reassembled from RTP (keyframe flag, completeness). */
  videoFrames(): AsyncIterableIterator<EncodedVideoFrame> {
    return this.mediaReader().videoFrames();
  }

  override attach<T = MediaElement>(element?: T): T {
    const el = super.attach(element);
    if (this.adaptive) this.observe(el);
    return el;
  }

  override detach<T = MediaElement>(element?: T): T[] {
    const els = super.detach(element);
    if (this.adaptive) for (const el of els) this.unobserve(el);
    return els;
  }

  private observe(el: unknown): void {
    const g = globalThis as unknown as {
      ResizeObserver?: new (cb: () => void) => ObserverLike;
      IntersectionObserver?: new (cb: (entries: { target: unknown; isIntersecting: boolean }[]) => void) => ObserverLike;
      document?: { addEventListener(e: string, f: () => void): void; removeEventListener(e: string, f: () => void): void; visibilityState?: string };
    };
    if (!this.resizeObserver && g.ResizeObserver) this.resizeObserver = new g.ResizeObserver(() => this.updateDimensions());
    if (!this.intersectionObserver && g.IntersectionObserver) {
      this.intersectionObserver = new g.IntersectionObserver((entries) => {
        for (const e of entries) this.visible.set(e.target, e.isIntersecting);
        this.updateVisibility();
      });
    }
    if (this.visible.size === 0) g.document?.addEventListener('visibilitychange', this.onDocVisibility);
    this.visible.set(el, true);
    this.resizeObserver?.observe(el);
    this.intersectionObserver?.observe(el);
    this.updateVisibility();
    this.updateDimensions();
  }

  private unobserve(el: unknown): void {
    this.visible.delete(el);
    this.resizeObserver?.unobserve(el);
    this.intersectionObserver?.unobserve(el);
    if (this.visible.size === 0) (globalThis as unknown as { document?: { removeEventListener(e: string, f: () => void): void } }).document?.removeEventListener('visibilitychange', this.onDocVisibility);
    this.updateVisibility();
  }

  private updateVisibility(): void {
    if (this.hiddenTimer) clearTimeout(this.hiddenTimer);
    this.hiddenTimer = undefined;
    const doc = (globalThis as unknown as { document?: { visibilityState?: string } }).document;
    const visible = doc?.visibilityState !== 'hidden' && [...this.visible.values()].some(Boolean);
    if (visible === this.isVisible) return;
    this.isVisible = visible;
    this.emit(TrackEvent.VisibilityChanged, visible, this);
  }

  private updateDimensions(): void {
    let width = 0;
    let height = 0;
    const ratio = (globalThis as unknown as { devicePixelRatio?: number }).devicePixelRatio ?? 1;
    for (const el of this.visible.keys()) {
      const e = el as { clientWidth?: number; clientHeight?: number };
      width = Math.max(width, (e.clientWidth ?? 0) * ratio);
      height = Math.max(height, (e.clientHeight ?? 0) * ratio);
    }
    if (width === 0 && height === 0) return;
    const prev = this.elementDimensions;
    if (prev && prev.width === width && prev.height === height) return;
    this.elementDimensions = { width: Math.round(width), height: Math.round(height) };
    this.emit(TrackEvent.VideoDimensionsChanged, this.elementDimensions, this);
  }

  /** Stops observing (on unsubscribe). */
  dispose(): void {
    if (this.hiddenTimer) clearTimeout(this.hiddenTimer);
    this.resizeObserver?.disconnect();
    this.intersectionObserver?.disconnect();
    this.visible.clear();
  }
}
