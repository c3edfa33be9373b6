// @kite/client: the API shared by the browser and Node builds (their entries install the platform).
export { Room, type RoomOptions, type RoomConnectOptions } from './room/Room.js';
export { RoomEvent, ParticipantEvent, TrackEvent, type RoomEventCallbacks, type ParticipantEventCallbacks, type TrackEventCallbacks, type ConnectionQualityName } from './events.js';
export { Participant } from './participant/Participant.js';
export { LocalParticipant, PublishTrackError, type TrackPublishOptions, type DataPublishOptions } from './participant/LocalParticipant.js';
export { RemoteParticipant } from './participant/RemoteParticipant.js';
export { Track } from './track/Track.js';
export { LocalTrack, LocalAudioTrack, LocalVideoTrack } from './track/LocalTrack.js';
export { RemoteTrack, RemoteAudioTrack, RemoteVideoTrack } from './track/RemoteTrack.js';
export { TrackPublication, LocalTrackPublication, RemoteTrackPublication } from './track/TrackPublication.js';
export {
  createLocalTracks,
  createLocalVideoTrack,
  createLocalAudioTrack,
  createLocalScreenTracks,
  type VideoCaptureOptions,
  type AudioCaptureOptions,
  type ScreenShareCaptureOptions,
  type CreateLocalTracksOptions,
} from './track/create.js';
export { computeVideoEncodings } from './track/encodings.js';
export {
  ConnectionState,
  TrackStreamState,
  VideoPreset,
  VideoPresets,
  VideoPresets43,
  ScreenSharePresets,
  AudioPresets,
  type ChatMessage,
  type SubscriptionStatus,
  type VideoResolution,
  type VideoEncoding,
  type EncodedVideoFrame,
  type RtpPacketLike,
} from './types.js';
export { ConnectionError } from './signal/SignalClient.js';
export type { SimulationScenario } from './engine/RTCEngine.js';
export { RpcError, type RpcInvocationData, type PerformRpcParams } from './data/rpc.js';
export {
  DataStreamError,
  DataStreamErrorReason,
  TextStreamReader,
  ByteStreamReader,
  TextStreamWriter,
  ByteStreamWriter,
  type TextStreamInfo,
  type ByteStreamInfo,
  type FileLike,
  type SendTextOptions,
  type SendBytesOptions,
  type StreamTextOptions,
  type StreamBytesOptions,
  type SendFileOptions,
  type TextStreamHandler,
  type ByteStreamHandler,
} from './data/streams.js';
export { DisconnectReason, VideoQuality, DataPacket_Kind, ConnectionQuality } from '@kite/protocol';
export type { Platform, MediaTrack, PeerConnection } from './platform/types.js';
