// Node: local tracks from your own media — a VideoSource / AudioSource (generated or PCM) or raw RTP you write.
import { MediaStreamTrack } from 'werift';
import { LocalAudioTrack, LocalVideoTrack } from '../track/LocalTrack.js';
import type { MediaTrack } from '../platform/types.js';
import { VideoSource } from './media/VideoSource.js';
import type { AudioSource } from './media/AudioSource.js';

interface NodeLocalTrack extends MediaTrack {
  kiteKeyframeRequest?: () => void;
}

function weriftTrack(kind: 'audio' | 'video'): MediaStreamTrack & NodeLocalTrack {
  return new MediaStreamTrack({ kind }) as MediaStreamTrack & NodeLocalTrack;
}

function sinkOf(track: MediaStreamTrack) {
  // A muted track sends nothing (the browser sends black/silence; nothing is cheaper and the server knows it is muted).
  return { writeRtp: (p: Parameters<MediaStreamTrack['writeRtp']>[0]) => void (track.enabled !== false && track.writeRtp(p)) };
}

/** The media track under a video source: started now, closed with the track, keyframe requests reach it. */
export function videoSourceMedia(source: VideoSource): MediaTrack {
  const track = weriftTrack('video');
  source.start(sinkOf(track) as never);
  track.kiteKeyframeRequest = () => source.requestKeyframe();
  const stop = track.stop.bind(track);
  track.stop = () => {
    source.close();
    stop();
  };
  return track;
}

/** The media track under an audio source; `onStop` runs when the track stops (e.g. ends a generator). */
export function audioSourceMedia(source: AudioSource, onStop?: () => void): MediaTrack {
  const track = weriftTrack('audio');
  source.setSink(sinkOf(track) as never);
  const stop = track.stop.bind(track);
  track.stop = () => {
    onStop?.();
    source.setSink(null);
    stop();
  };
  return track;
}

/** A video track playing a VideoSource (the bundled VP8 clip by default). */
export function createVideoTrackFromSource(source: VideoSource = new VideoSource()): LocalVideoTrack {
  return new LocalVideoTrack(videoSourceMedia(source), {}, true, { width: source.width, height: source.height });
}

/** An audio track sending what an AudioSource encodes (feed it PCM with captureFrame()). */
export function createAudioTrackFromSource(source: AudioSource): LocalAudioTrack {
  return new LocalAudioTrack(audioSourceMedia(source), {}, true);
}

/**
 * A track you write RTP into yourself (`track.writeRtp(packet)`; SSRC and payload type are rewritten to the
 * negotiated ones). `onKeyframeRequest` is called when a subscriber needs a keyframe (video).
 */
export function createRtpTrack(kind: 'video', opts?: { width?: number; height?: number; onKeyframeRequest?: () => void }): LocalVideoTrack;
export function createRtpTrack(kind: 'audio'): LocalAudioTrack;
export function createRtpTrack(kind: 'audio' | 'video', opts: { width?: number; height?: number; onKeyframeRequest?: () => void } = {}): LocalAudioTrack | LocalVideoTrack {
  const track = weriftTrack(kind);
  if (kind === 'audio') return new LocalAudioTrack(track, {}, true);
  track.kiteKeyframeRequest = opts.onKeyframeRequest;
  return new LocalVideoTrack(track, {}, true, { width: opts.width ?? 640, height: opts.height ?? 360 });
}
