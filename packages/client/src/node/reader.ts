// Node: readers over a received werift track (RemoteTrack.rtpPackets / videoFrames / audioFrames). Each call opens
// its own subscription, so a track nobody reads costs nothing.
import type { MediaReader, EncodedVideoFrame } from '../types.js';
import { audioFrames, rtpStream, vp8Frames } from './media/RtpStream.js';
import { weriftPacketSource, type WeriftReceiveTrack } from './media/rtp.js';

export function createMediaReader(track: WeriftReceiveTrack, kind: 'audio' | 'video'): MediaReader {
  const source = weriftPacketSource(track);
  return {
    rtpPackets: () => rtpStream(source),
    videoFrames: () => {
      if (kind !== 'video') throw new Error('videoFrames() needs a video track');
      return vp8Frames(source) as AsyncIterableIterator<EncodedVideoFrame>;
    },
    audioFrames: () => {
      if (kind !== 'audio') throw new Error('audioFrames() needs an audio track');
      return audioFrames(source);
    },
  };
}
