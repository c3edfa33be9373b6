// Creating local tracks: livekit-client's createLocalTracks / createLocalVideoTrack / createLocalAudioTrack /
// createLocalScreenTracks. The platform captures (getUserMedia/getDisplayMedia in the browser; generated test media
// in Node), these functions wrap the results.
import { TrackSource } from '@kite/protocol';
import { platform, type CaptureRequest } from '../platform/types.js';
import { VideoPresets, type VideoResolution } from '../types.js';
import { LocalAudioTrack, LocalVideoTrack, type LocalTrack } from './LocalTrack.js';
import { Track } from './Track.js';

export interface VideoCaptureOptions {
  deviceId?: string | { exact: string };
  facingMode?: 'user' | 'environment' | 'left' | 'right';
  resolution?: VideoResolution;
}

export interface AudioCaptureOptions {
  deviceId?: string | { exact: string };
  echoCancellation?: boolean;
  noiseSuppression?: boolean;
  autoGainControl?: boolean;
  channelCount?: number;
  sampleRate?: number;
}

export interface ScreenShareCaptureOptions {
  audio?: boolean;
  resolution?: VideoResolution;
  video?: boolean | { displaySurface?: 'window' | 'browser' | 'monitor' };
  selfBrowserSurface?: 'include' | 'exclude';
  surfaceSwitching?: 'include' | 'exclude';
  systemAudio?: 'include' | 'exclude';
}

export interface CreateLocalTracksOptions {
  audio?: boolean | AudioCaptureOptions;
  video?: boolean | VideoCaptureOptions;
}

const DEFAULT_RESOLUTION = VideoPresets.h720.resolution;

function videoConstraints(o: VideoCaptureOptions): Record<string, unknown> {
  const r = o.resolution ?? DEFAULT_RESOLUTION;
  const c: Record<string, unknown> = { width: { ideal: r.width }, height: { ideal: r.height } };
  if (r.frameRate) c.frameRate = { ideal: r.frameRate };
  if (o.deviceId) c.deviceId = o.deviceId;
  if (o.facingMode) c.facingMode = o.facingMode;
  return c;
}

function audioConstraints(o: AudioCaptureOptions): Record<string, unknown> {
  const c: Record<string, unknown> = { echoCancellation: o.echoCancellation ?? true, noiseSuppression: o.noiseSuppression ?? true, autoGainControl: o.autoGainControl ?? true };
  if (o.deviceId) c.deviceId = o.deviceId;
  if (o.channelCount) c.channelCount = o.channelCount;
  if (o.sampleRate) c.sampleRate = o.sampleRate;
  return c;
}

/** Captures camera and/or microphone (both by default). */
export async function createLocalTracks(options: CreateLocalTracksOptions = { audio: true, video: true }): Promise<LocalTrack[]> {
  const requests: CaptureRequest[] = [];
  if (options.audio) requests.push({ kind: 'audio', source: TrackSource.MICROPHONE, constraints: audioConstraints(options.audio === true ? {} : options.audio) });
  if (options.video) requests.push({ kind: 'video', source: TrackSource.CAMERA, constraints: videoConstraints(options.video === true ? {} : options.video) });
  if (requests.length === 0) return [];
  const captured = await platform().capture(requests);
  return captured.map((c, i) => {
    const req = requests[i]!;
    if (req.kind === 'video') {
      const t = new LocalVideoTrack(c.track, req.constraints, false, c.width && c.height ? { width: c.width, height: c.height } : undefined);
      t.source = Track.Source.Camera;
      return t;
    }
    const t = new LocalAudioTrack(c.track, req.constraints, false);
    t.source = Track.Source.Microphone;
    return t;
  });
}

export async function createLocalVideoTrack(options: VideoCaptureOptions = {}): Promise<LocalVideoTrack> {
  const [t] = await createLocalTracks({ video: options });
  return t as LocalVideoTrack;
}

export async function createLocalAudioTrack(options: AudioCaptureOptions = {}): Promise<LocalAudioTrack> {
  const [t] = await createLocalTracks({ audio: options });
  return t as LocalAudioTrack;
}

/** Captures the screen (and its audio when asked and available). */
export async function createLocalScreenTracks(options: ScreenShareCaptureOptions = {}): Promise<LocalTrack[]> {
  const r = options.resolution ?? { width: 1920, height: 1080, frameRate: 15 };
  const constraints: Record<string, unknown> = { width: { max: r.width }, height: { max: r.height }, frameRate: r.frameRate ? { max: r.frameRate } : undefined, ...(typeof options.video === 'object' ? options.video : {}) };
  const requests: CaptureRequest[] = [{ kind: 'video', source: TrackSource.SCREEN_SHARE, constraints }];
  if (options.audio) requests.push({ kind: 'audio', source: TrackSource.SCREEN_SHARE_AUDIO, constraints: {} });
  const captured = await platform().capture(requests);
  return captured.map((c) => {
    if (c.track.kind === 'video') {
      const t = new LocalVideoTrack(c.track, constraints, false, c.width && c.height ? { width: c.width, height: c.height } : undefined);
      t.source = Track.Source.ScreenShare;
      return t;
    }
    const t = new LocalAudioTrack(c.track, {}, false);
    t.source = Track.Source.ScreenShareAudio;
    return t;
  });
}
