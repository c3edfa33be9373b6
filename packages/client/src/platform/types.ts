// What the SDK needs from its environment. The browser gives it RTCPeerConnection, WebSocket and media devices;
// Node gives it werift and `ws`. Everything above this file is one code path.
import type { TrackSource } from '@kite/protocol';
import type { MediaReader } from '../types.js';

export type PeerConnectionState = 'new' | 'connecting' | 'connected' | 'disconnected' | 'failed' | 'closed';
export type TransceiverDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

export interface SessionDescription {
  type: 'offer' | 'answer';
  sdp: string;
}

export interface IceCandidateInit {
  candidate?: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
  usernameFragment?: string | null;
}

export interface IceServer {
  urls: string[];
  username?: string;
  credential?: string;
}

export interface PeerConfiguration {
  iceServers?: IceServer[];
  iceTransportPolicy?: 'all' | 'relay';
  /** Anything else the platform's peer connection understands (passed through). */
  [key: string]: unknown;
}

/** A media track as the platform has it: a browser MediaStreamTrack or a werift MediaStreamTrack. */
export interface MediaTrack {
  readonly id: string;
  readonly kind: string;
  enabled?: boolean;
  /** 'live' or 'ended' (browser tracks). */
  readonly readyState?: string;
  stop(): void;
}

export interface EncodingParameters {
  rid?: string;
  active?: boolean;
  maxBitrate?: number;
  maxFramerate?: number;
  scaleResolutionDownBy?: number;
  priority?: string;
}

export interface RtpSender {
  readonly track: MediaTrack | null;
  replaceTrack(track: MediaTrack | null): Promise<void>;
  /** Encodings currently configured (empty where the platform has no notion of them). */
  getEncodings(): EncodingParameters[];
  /** Changes encodings in place (active flags, bitrates); a no-op where unsupported. */
  setEncodings(encodings: EncodingParameters[]): Promise<void>;
}

export interface RtpReceiver {
  readonly track: MediaTrack;
}

export interface Transceiver {
  readonly mid: string | null;
  readonly sender: RtpSender;
  readonly receiver: RtpReceiver;
  direction: TransceiverDirection;
  /** The track id the sender's msid carries in SDP (AddTrackRequest.cid). */
  readonly msidTrackId: string;
  /** The platform's own transceiver object (for getStats and other platform-specific needs). */
  readonly native: unknown;
}

export interface DataChannel {
  readonly label: string;
  readonly readyState: 'connecting' | 'open' | 'closing' | 'closed';
  readonly bufferedAmount: number;
  bufferedAmountLowThreshold: number;
  send(data: Uint8Array): void;
  close(): void;
  onopen: (() => void) | null;
  onclose: (() => void) | null;
  onmessage: ((data: Uint8Array | string) => void) | null;
  onbufferedamountlow: (() => void) | null;
}

export interface TrackEvent {
  track: MediaTrack;
  transceiver: Transceiver;
  /** msid stream id (`PA_xxx|TR_xxx` from LiveKit-protocol servers). */
  streamId: string;
  /** msid track id (the track sid). */
  trackId: string;
}

/** The subset of RTCPeerConnection the SDK uses, with plain callbacks. */
export interface PeerConnection {
  readonly connectionState: PeerConnectionState;
  readonly localDescription: SessionDescription | null;
  readonly remoteDescription: SessionDescription | null;
  createOffer(opts?: { iceRestart?: boolean }): Promise<SessionDescription>;
  createAnswer(): Promise<SessionDescription>;
  setLocalDescription(desc: SessionDescription): Promise<void>;
  setRemoteDescription(desc: SessionDescription): Promise<void>;
  addIceCandidate(candidate: IceCandidateInit): Promise<void>;
  addTransceiver(track: MediaTrack, init: { direction: TransceiverDirection; streams?: string[]; sendEncodings?: EncodingParameters[] }): Transceiver;
  removeTransceiver(transceiver: Transceiver): void;
  createDataChannel(label: string, init: { ordered?: boolean; maxRetransmits?: number }): DataChannel;
  setConfiguration(config: PeerConfiguration): void;
  getStats(): Promise<Map<string, Record<string, unknown>>>;
  close(): void;
  onicecandidate: ((candidate: IceCandidateInit) => void) | null;
  onconnectionstatechange: ((state: PeerConnectionState) => void) | null;
  ontrack: ((ev: TrackEvent) => void) | null;
  ondatachannel: ((channel: DataChannel) => void) | null;
}

/** What a browser WebSocket and `ws` both offer. */
export interface SocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array | string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string; wasClean?: boolean }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}

export interface CaptureRequest {
  kind: 'audio' | 'video';
  source: TrackSource;
  /** MediaTrackConstraints in the browser; Node's generators read width/height/frameRate/deviceId. */
  constraints: Record<string, unknown>;
}

export interface CapturedTrack {
  track: MediaTrack;
  /** Width/height when known at capture time (video). */
  width?: number;
  height?: number;
  /** Settings the platform reports (deviceId, facingMode, frameRate...). */
  settings: Record<string, unknown>;
}

export interface Platform {
  readonly name: 'browser' | 'node';
  /** The platform sends several encodings per video sender (simulcast) and plays tracks in elements (adaptiveStream). */
  readonly simulcast: boolean;
  readonly mediaElements: boolean;
  createPeerConnection(config: PeerConfiguration): PeerConnection;
  createWebSocket(url: string): SocketLike;
  /** Opens capture devices (getUserMedia / getDisplayMedia in the browser, media generators in Node). */
  capture(requests: CaptureRequest[]): Promise<CapturedTrack[]>;
  /** Enumerates capture devices. */
  listDevices(kind?: 'audioinput' | 'videoinput' | 'audiooutput'): Promise<{ deviceId: string; kind: string; label: string; groupId?: string }[]>;
  /** Current dimensions of a local video track, when the platform can tell. */
  trackDimensions(track: MediaTrack): { width: number; height: number } | undefined;
  /** Calls `cb` once when the capture behind `track` ends on its own (the browser's "Stop sharing", a device unplugged). */
  onEnded(track: MediaTrack, cb: () => void): void;
  /** Node: readers over a received track (undefined in the browser). */
  mediaReader?(track: MediaTrack, kind: 'audio' | 'video'): MediaReader;
}

let current: Platform | undefined;

/** The entry point (`@kite/client` in browsers or Node) installs its platform once. */
export function setPlatform(p: Platform): void {
  current = p;
}

export function platform(): Platform {
  if (!current) throw new Error('@kite/client: no platform installed (import "@kite/client", not an internal module)');
  return current;
}
