// Node media: sources that publish real VP8/Opus RTP from a bot, and receivers that turn RTP back into frames and PCM.
export { AudioFrame } from './AudioFrame.js';
export { AudioSource, type AudioSourceOptions, type AudioSourceStats } from './AudioSource.js';
export { ToneGenerator, playTone, type ToneOptions, type PlayToneOptions } from './ToneGenerator.js';
export { VideoSource, DEFAULT_VP8_CLIP, defaultVp8Clip, type VideoSourceOptions, type VideoSourceStats } from './VideoSource.js';
export { parseIvf, readIvfFile, type IvfFile, type IvfFrame } from './ivf.js';
export {
  packetizeVp8,
  parseVp8Descriptor,
  vp8FrameInfo,
  Vp8FrameAssembler,
  VP8_MAX_PAYLOAD,
  type Vp8Frame,
  type Vp8FrameInfo,
  type Vp8DescriptorInfo,
  type Vp8AssemblerStats,
} from './vp8.js';
export {
  OpusEncoder,
  OpusDecoder,
  concealPacket,
  opusPacketSamples,
  OPUS_SAMPLE_RATES,
  type OpusEncoderOptions,
  type OpusSampleRate,
  type OpusApplication,
} from './opus.js';
export { OpusRtpDecoder, DecodedAudioFrame, type OpusRtpDecoderOptions, type OpusRtpDecoderStats } from './OpusRtpDecoder.js';
export {
  RtpStream,
  Vp8FrameStream,
  AudioFrameStream,
  rtpStream,
  vp8Frames,
  audioFrames,
  type StreamOptions,
} from './RtpStream.js';
export { DropQueue } from './queue.js';
export { weriftPacketSource, type RtpSink, type RtpPacketSource, type WeriftReceiveTrack } from './rtp.js';
