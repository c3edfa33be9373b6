// What a participant's subscriptions need from the peer connection they are sent on. LiveKit has two ways:
//
//   SubscriberPeer      protocol v0 (/rtc, dual PC): Kite's own subscriber connection, Kite offers.
//   SinglePcSubscriber  protocol v1 (/rtc/v1, single PC): the client's one connection, the client always offers and
//                       Kite puts its down tracks on the recvonly m-lines the client offered.
import type { RTCDataChannel } from 'werift';
import type { PeerTransport } from '../transport/PeerTransport.js';
import type { DownTrack } from '../downtrack/DownTrack.js';
import type { Receiver } from '../receiver/Receiver.js';
import type { SubscriberRtcp } from '../downtrack/SubscriberRtcp.js';

export interface SubscriberSide {
  /** The connection the down tracks are sent on (in single-PC mode, the publisher's). */
  readonly transport: PeerTransport;
  /** Data channels Kite created on this side (v0: `_reliable`/`_lossy`; v1: none, the client's own are used). */
  readonly dataChannels: ReadonlyMap<string, RTCDataChannel>;
  readonly downTracks: DownTrack[];
  /** RTCP of the down tracks, Kite's estimate of the subscriber's downlink and the stream allocator. */
  readonly rtcp: SubscriberRtcp;
  /**
   * Starts forwarding `receiver`; `streamId`/`trackId` become the m-line's msid (LiveKit: `PA_xxx|camera TR_xxx`).
   * Media flows once the negotiation that carries it completed.
   */
  subscribe(receiver: Receiver, msid: { streamId: string; trackId: string }): DownTrack;
  /** Stops forwarding; the m-line goes inactive with the next negotiation and can be reused. */
  unsubscribe(dt: DownTrack): void;
  /** Brings the client up to date (v0: a new offer, with an ICE restart on request; v1: pending changes only). */
  negotiate(options?: { iceRestart?: boolean }): void;
  /** The client's answer to Kite's offer. Single-PC mode has none: it rejects. */
  handleAnswer(sdp: string, offerId: number): Promise<void>;
  /** Called with any error negotiation throws (logged by the owner). */
  onError: ((err: Error) => void) | undefined;
  close(): Promise<void>;
}
