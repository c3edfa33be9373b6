// Small shared types and string unions, with livekit-client's names and values.

export enum ConnectionState {
  Disconnected = 'disconnected',
  Connecting = 'connecting',
  Connected = 'connected',
  Reconnecting = 'reconnecting',
  SignalReconnecting = 'signalReconnecting',
}

/** Whether the server is forwarding a subscribed track (it pauses tracks a subscriber cannot receive). */
export enum TrackStreamState {
  Active = 'active',
  Paused = 'paused',
  Unknown = 'unknown',
}

export type SubscriptionStatus = 'desired' | 'subscribed' | 'unsubscribed';

export interface ChatMessage {
  id: string;
  timestamp: number;
  message: string;
  editTimestamp?: number;
  attachedFiles?: unknown[];
}

export interface VideoResolution {
  width: number;
  height: number;
  frameRate?: number;
  aspectRatio?: number;
}

export interface VideoEncoding {
  maxBitrate: number;
  maxFramerate?: number;
  priority?: 'very-low' | 'low' | 'medium' | 'high';
}

export interface AudioPreset {
  maxBitrate: number;
  priority?: 'very-low' | 'low' | 'medium' | 'high';
}

/** A resolution with its encoding, as livekit-client's VideoPreset. */
export class VideoPreset {
  readonly encoding: VideoEncoding;
  readonly width: number;
  readonly height: number;
  constructor(width: number, height: number, maxBitrate: number, maxFramerate?: number, priority?: VideoEncoding['priority']) {
    this.width = width;
    this.height = height;
    this.encoding = { maxBitrate, maxFramerate, priority };
  }

  get resolution(): VideoResolution {
    return { width: this.width, height: this.height, frameRate: this.encoding.maxFramerate, aspectRatio: this.width / this.height };
  }
}

// livekit-client's presets (same sizes, bitrates and frame rates).
export const VideoPresets = {
  h90: new VideoPreset(160, 90, 90_000, 20),
  h180: new VideoPreset(320, 180, 160_000, 20),
  h216: new VideoPreset(384, 216, 180_000, 20),
  h360: new VideoPreset(640, 360, 450_000, 20),
  h540: new VideoPreset(960, 540, 800_000, 25),
  h720: new VideoPreset(1280, 720, 1_700_000, 30),
  h1080: new VideoPreset(1920, 1080, 3_000_000, 30),
  h1440: new VideoPreset(2560, 1440, 5_000_000, 30),
  h2160: new VideoPreset(3840, 2160, 8_000_000, 30),
} as const;

export const VideoPresets43 = {
  h120: new VideoPreset(160, 120, 70_000, 20),
  h180: new VideoPreset(240, 180, 125_000, 20),
  h240: new VideoPreset(320, 240, 140_000, 20),
  h360: new VideoPreset(480, 360, 330_000, 20),
  h480: new VideoPreset(640, 480, 500_000, 20),
  h540: new VideoPreset(720, 540, 600_000, 25),
  h720: new VideoPreset(960, 720, 1_300_000, 30),
  h1080: new VideoPreset(1440, 1080, 2_300_000, 30),
  h1440: new VideoPreset(1920, 1440, 3_800_000, 30),
} as const;

export const ScreenSharePresets = {
  h360fps3: new VideoPreset(640, 360, 200_000, 3, 'medium'),
  h360fps15: new VideoPreset(640, 360, 400_000, 15, 'medium'),
  h720fps5: new VideoPreset(1280, 720, 800_000, 5, 'medium'),
  h720fps15: new VideoPreset(1280, 720, 1_500_000, 15, 'medium'),
  h720fps30: new VideoPreset(1280, 720, 2_000_000, 30, 'medium'),
  h1080fps15: new VideoPreset(1920, 1080, 2_500_000, 15, 'medium'),
  h1080fps30: new VideoPreset(1920, 1080, 5_000_000, 30, 'medium'),
  original: new VideoPreset(0, 0, 7_000_000, 30, 'medium'),
} as const;

export const AudioPresets = {
  telephone: { maxBitrate: 12_000 },
  speech: { maxBitrate: 24_000 },
  music: { maxBitrate: 48_000 },
  musicStereo: { maxBitrate: 64_000 },
  musicHighQuality: { maxBitrate: 96_000 },
  musicHighQualityStereo: { maxBitrate: 128_000 },
} as const satisfies Record<string, AudioPreset>;

/** A received RTP packet as Node readers hand it out (werift's RtpPacket has this shape). */
export interface RtpPacketLike {
  header: { sequenceNumber: number; timestamp: number; marker: boolean; payloadType: number; ssrc: number };
  payload: Uint8Array;
}

/** PCM audio (interleaved 16-bit), the shape @livekit/rtc-node uses. */
export interface AudioFrame {
  data: Int16Array;
  sampleRate: number;
  channels: number;
  samplesPerChannel: number;
}

/** One encoded video frame reassembled from RTP (descriptors stripped). */
export interface EncodedVideoFrame {
  data: Uint8Array;
  keyframe: boolean;
  timestamp: number;
  /** All packets of the frame arrived. */
  complete: boolean;
  width?: number;
  height?: number;
}

/** Node: readers over a received track's media (the browser plays media through attach() instead). */
export interface MediaReader {
  rtpPackets(): AsyncIterableIterator<RtpPacketLike>;
  videoFrames(): AsyncIterableIterator<EncodedVideoFrame>;
  audioFrames(): AsyncIterableIterator<AudioFrame>;
}
