// @kite/sfu: Kite's media core on werift. Follow one packet: PeerTransport (SRTP in) → PublisherIngest (demux by
// SSRC/MID/RID) → StreamBuffer (history, NACK, stats) → Receiver (one per track) → DownTrack (one per subscription:
// layer choice, rewrite, SRTP out) → PeerTransport.
export { PeerTransport } from './transport/PeerTransport.js';
export type { PeerTransportOptions, PeerTransportEvents, IceCandidateInit, LoggerLike, RtpSink } from './transport/PeerTransport.js';
export { parseMediaSections, filterCandidates, candidateAddress, stripMdnsCandidates } from './transport/sdp.js';
export { UdpMux, TcpMux, attachMuxes } from './transport/mux/index.js';
export type { UdpMuxOptions, UdpMuxStats, TcpMuxOptions, TcpMuxStats, AttachMuxOptions } from './transport/mux/index.js';
export { discoverExternalAddress, parseStunServer } from './transport/stunClient.js';
export type { StunMapping, StunDiscoveryOptions } from './transport/stunClient.js';
export type { MediaSection } from './transport/sdp.js';
export { PublisherPeer } from './session/PublisherPeer.js';
export type { PublishedSection, PublisherPeerOptions, AnswerHooks } from './session/PublisherPeer.js';
export { SubscriberPeer } from './session/SubscriberPeer.js';
export type { SubscriberPeerOptions, DataChannelSpec } from './session/SubscriberPeer.js';
export { SinglePcSubscriber } from './session/SinglePcSubscriber.js';
export type { SinglePcSubscriberOptions } from './session/SinglePcSubscriber.js';
export type { SubscriberSide } from './session/SubscriberSide.js';
export { PublisherIngest, ridToLayer } from './receiver/PublisherIngest.js';
export { Receiver, MAX_LAYERS } from './receiver/Receiver.js';
export type { PacketSink, ReceiverOptions, ReceiverExtensionIds } from './receiver/Receiver.js';
export { StreamBuffer } from './receiver/StreamBuffer.js';
export { DownTrack } from './downtrack/DownTrack.js';
export type { DownTrackStats } from './downtrack/DownTrack.js';
export { SubscriberRtcp } from './downtrack/SubscriberRtcp.js';
export { Sequencer } from './downtrack/Sequencer.js';
export { CodecKind, codecKindOf, isKeyframe, negotiatedCodecs } from './media/codec.js';
export type { NegotiatedCodec } from './media/codec.js';
export { KITE_CODECS, KITE_EXT_IDS, EXT, peerConnectionConfig } from './werift/config.js';
export type { IceOptions, IceProtocol, MediaConfig, CodecSpec } from './werift/config.js';
export { applyWeriftPatches } from './werift/patches.js';
export * as rtp from './rtp/index.js';
export * as srtp from './srtp/index.js';
export * as turn from './turn/index.js';
export { AudioLevel, DEFAULT_AUDIO_LEVEL_CONFIG } from './audio/AudioLevel.js';
export type { AudioLevelConfig } from './audio/AudioLevel.js';
