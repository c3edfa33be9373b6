// Simulcast layers for a published video track, computed as livekit-client computes them: the capture size picks
// an encoding from the presets, the default layers are h180 + h360 (16:9) or their 4:3 equivalents, and the
// encodings go low → high with rids q, h, f (the server maps rids to layers).
import { VideoQuality, type VideoLayer } from '@kite/protocol';
import { ScreenSharePresets, VideoPreset, VideoPresets, VideoPresets43, type VideoEncoding } from '../types.js';
import type { EncodingParameters } from '../platform/types.js';

export const VIDEO_RIDS = ['q', 'h', 'f'] as const;

export interface EncodingOptions {
  simulcast?: boolean;
  videoEncoding?: VideoEncoding;
  screenShareEncoding?: VideoEncoding;
  videoSimulcastLayers?: VideoPreset[];
  screenShareSimulcastLayers?: VideoPreset[];
}

function is169(width: number, height: number): boolean {
  const aspect = width > height ? width / height : height / width;
  return Math.abs(aspect - 16 / 9) < Math.abs(aspect - 4 / 3);
}

/** The preset encoding for a capture size: the first preset at least as large as the longer side. */
export function appropriateEncoding(isScreenShare: boolean, width: number, height: number): VideoEncoding {
  const presets = isScreenShare ? Object.values(ScreenSharePresets) : Object.values(is169(width, height) ? VideoPresets : VideoPresets43);
  const size = Math.max(width, height);
  let encoding = presets[0]!.encoding;
  for (const p of presets) {
    encoding = p.encoding;
    if (p.width >= size) break;
  }
  return encoding;
}

function defaultLayers(isScreenShare: boolean, original: VideoPreset): VideoPreset[] {
  if (isScreenShare) {
    // livekit-client: one layer at half the size, same frame rate, a quarter of the bitrate (at least 150 kbps).
    const fps = original.encoding.maxFramerate;
    const bitrate = Math.max(150_000, Math.floor(original.encoding.maxBitrate / 4));
    return [new VideoPreset(Math.floor(original.width / 2), Math.floor(original.height / 2), bitrate, fps, original.encoding.priority)];
  }
  return is169(original.width, original.height) ? [VideoPresets.h180, VideoPresets.h360] : [VideoPresets43.h180, VideoPresets43.h360];
}

function fromPresets(width: number, height: number, presets: VideoPreset[], sourceFramerate?: number): EncodingParameters[] {
  const size = Math.min(width, height);
  return presets.slice(0, VIDEO_RIDS.length).map((p, i) => {
    const e: EncodingParameters = { rid: VIDEO_RIDS[i], scaleResolutionDownBy: Math.max(1, size / Math.min(p.width, p.height)), maxBitrate: p.encoding.maxBitrate };
    const fps = sourceFramerate && p.encoding.maxFramerate ? Math.min(sourceFramerate, p.encoding.maxFramerate) : p.encoding.maxFramerate;
    if (fps) e.maxFramerate = fps;
    if (i === 0 && p.encoding.priority) e.priority = p.encoding.priority;
    return e;
  });
}

/** The sender encodings for a video track of this size ([{}] without simulcast or size: one uncapped layer). */
export function computeVideoEncodings(isScreenShare: boolean, width: number | undefined, height: number | undefined, opts: EncodingOptions): EncodingParameters[] {
  let encoding = isScreenShare ? opts.screenShareEncoding : opts.videoEncoding;
  if ((!encoding && !opts.simulcast) || !width || !height) return [{}];
  encoding ??= appropriateEncoding(isScreenShare, width, height);
  const original = new VideoPreset(width, height, encoding.maxBitrate, encoding.maxFramerate, encoding.priority);
  if (!opts.simulcast) return [{ maxBitrate: encoding.maxBitrate, maxFramerate: encoding.maxFramerate }];
  const custom = isScreenShare ? opts.screenShareSimulcastLayers : opts.videoSimulcastLayers;
  const presets = custom ? [...custom].sort((a, b) => a.width * a.height - b.width * b.height) : defaultLayers(isScreenShare, original);
  const size = Math.max(width, height);
  if (presets.length > 0) {
    const [low, mid] = presets;
    if (size >= 960 && mid) return fromPresets(width, height, [low!, mid, original], encoding.maxFramerate);
    if (size >= 480) return fromPresets(width, height, [low!, original], encoding.maxFramerate);
  }
  return fromPresets(width, height, [original]);
}

export function qualityForRid(rid: string | undefined): VideoQuality {
  return rid === 'f' ? VideoQuality.HIGH : rid === 'h' ? VideoQuality.MEDIUM : rid === 'q' ? VideoQuality.LOW : VideoQuality.HIGH;
}

/** AddTrackRequest.layers for these encodings. */
export function videoLayers(width: number, height: number, encodings: EncodingParameters[]): VideoLayer[] {
  return encodings.map((e) => {
    const scale = e.scaleResolutionDownBy ?? 1;
    return { quality: e.rid ? qualityForRid(e.rid) : VideoQuality.HIGH, width: Math.ceil(width / scale), height: Math.ceil(height / scale), bitrate: e.maxBitrate ?? 0, ssrc: 0 } as VideoLayer;
  });
}
