// The peer connection Kite sends a client's subscriptions on, where Kite is the offerer (LiveKit's dual-PC mode).
// Subscribing attaches a DownTrack to a send-only transceiver, reusing the one an earlier unsubscribe of the same track freed so the SDP
// does not grow forever; changes are batched into one renegotiation, one offer in flight at a time.
import type { RTCDataChannel, RTCRtpTransceiver } from 'werift';
import { PeerTransport, type PeerTransportOptions } from '../transport/PeerTransport.js';
import { DownTrack } from '../downtrack/DownTrack.js';
import { SubscriberRtcp } from '../downtrack/SubscriberRtcp.js';
import type { Receiver } from '../receiver/Receiver.js';
import { senderInternal } from '../werift/internals.js';
import type { SubscriberSide } from './SubscriberSide.js';

export interface DataChannelSpec {
  label: string;
  ordered: boolean;
  maxRetransmits?: number;
}

export interface SubscriberPeerOptions extends PeerTransportOptions {
  /** Delivers Kite's offer to the client; the client's answer comes back through `handleAnswer`. */
  sendOffer: (sdp: string, offerId: number) => void;
  /** Channels created before the first offer (LiveKit: `_reliable`, `_lossy`). */
  dataChannels?: DataChannelSpec[];
  /** Batch subscription changes for this long before renegotiating (ms). */
  negotiationDelayMs?: number;
}

interface Slot {
  transceiver: RTCRtpTransceiver;
  kind: 'audio' | 'video';
  downTrack?: DownTrack;
  /** Waiting for the answer that negotiates it. */
  pending: boolean;
  /** Bumped on every change; an answer settles a slot only if it negotiated the slot's latest revision. */
  rev: number;
}

/** How long to wait for an answer before offering again anyway. */
const ANSWER_TIMEOUT_MS = 15_000;

const randomSsrc = () => (1 + Math.floor(Math.random() * 0xfffffffe)) >>> 0;

export class SubscriberPeer implements SubscriberSide {
  readonly transport: PeerTransport;
  readonly rtcp: SubscriberRtcp;
  readonly dataChannels = new Map<string, RTCDataChannel>();
  private readonly slots: Slot[] = [];
  private readonly sendOffer: (sdp: string, id: number) => void;
  private readonly delay: number;
  private offerId = 0;
  private awaitingAnswer = false;
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private answerTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private iceRestartRequested = false;
  /** The slot revisions the offer in flight carries. */
  private inFlight: [Slot, number][] = [];
  /** Called with any error negotiation throws (logged by the owner). */
  onError: ((err: Error) => void) | undefined;

  constructor(opts: SubscriberPeerOptions) {
    this.transport = new PeerTransport(opts);
    this.rtcp = new SubscriberRtcp(this.transport);
    this.sendOffer = opts.sendOffer;
    this.delay = opts.negotiationDelayMs ?? 20;
    for (const spec of opts.dataChannels ?? []) {
      const ch = this.transport.createDataChannel(spec.label, { ordered: spec.ordered, maxRetransmits: spec.maxRetransmits });
      this.dataChannels.set(spec.label, ch);
    }
  }

  /** Down tracks currently attached. */
  get downTracks(): DownTrack[] {
    return this.slots.flatMap((s) => (s.downTrack ? [s.downTrack] : []));
  }

  /** Number of media m-lines in the SDP (bounded by the peak number of simultaneous subscriptions). */
  get mediaSectionCount(): number {
    return this.slots.length;
  }

  /**
   * Starts forwarding `receiver`. `streamId`/`trackId` become the m-line's msid (LiveKit: `PA_xxx|camera TR_xxx`).
   * Media flows once the client answered the renegotiation.
   */
  subscribe(receiver: Receiver, msid: { streamId: string; trackId: string }): DownTrack {
    // Only the same track may reuse a freed m-line: a browser fixes a receiver's track id from the first msid it saw,
    // and livekit-client (v0) names the subscribed track by that id, so another track there would never be matched.
    let slot = this.slots.find((s) => s.kind === receiver.kind && !s.downTrack && !s.pending && senderInternal(s.transceiver).trackId === msid.trackId);
    const fresh = !slot;
    if (!slot) {
      slot = { transceiver: this.transport.addSendTransceiver(receiver.kind), kind: receiver.kind, pending: true, rev: 0 };
      this.slots.push(slot);
    }
    const t = slot.transceiver;
    const sender = senderInternal(t);
    if (!fresh) {
      // A reused m-line carries a new stream: new SSRCs, so the client sees a new track rather than a continuation.
      this.transport.forgetSsrc(sender.ssrc);
      sender.ssrc = randomSsrc();
      sender.rtxSsrc = randomSsrc();
    }
    sender.streamIds = [msid.streamId];
    sender.trackId = msid.trackId;
    t.setDirection('sendonly');
    const dt = new DownTrack(receiver, this.transport, t);
    slot.downTrack = dt;
    slot.pending = true;
    slot.rev++;
    receiver.addSink(dt);
    this.scheduleNegotiation();
    return dt;
  }

  /** Stops forwarding; the m-line becomes inactive and free for a later subscription of the same kind. */
  unsubscribe(dt: DownTrack): void {
    const slot = this.slots.find((s) => s.downTrack === dt);
    dt.close();
    this.rtcp.remove(dt);
    if (!slot) return;
    slot.downTrack = undefined;
    slot.pending = true;
    slot.rev++;
    slot.transceiver.setDirection('inactive');
    this.scheduleNegotiation();
  }

  /** Forces a new offer (e.g. initial negotiation or ICE restart). */
  negotiate(options: { iceRestart?: boolean } = {}): void {
    if (options.iceRestart) this.iceRestartRequested = true;
    this.scheduleNegotiation(0);
  }

  private scheduleNegotiation(delay = this.delay): void {
    if (this.closed) return;
    if (this.awaitingAnswer) {
      this.dirty = true;
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.offer();
    }, delay);
    this.timer.unref();
  }

  private async offer(): Promise<void> {
    if (this.closed || this.awaitingAnswer) return;
    this.awaitingAnswer = true;
    this.dirty = false;
    const iceRestart = this.iceRestartRequested;
    this.iceRestartRequested = false;
    this.inFlight = this.slots.map((s) => [s, s.rev]);
    try {
      const sdp = await this.transport.offer({ iceRestart });
      if (this.closed) return;
      this.offerId++;
      this.answerTimer = setTimeout(() => {
        // The client never answered: allow a fresh offer rather than stalling every later subscription.
        this.awaitingAnswer = false;
        if (this.dirty) this.scheduleNegotiation();
      }, ANSWER_TIMEOUT_MS);
      this.answerTimer.unref();
      this.sendOffer(sdp, this.offerId);
    } catch (err) {
      this.awaitingAnswer = false;
      this.onError?.(err as Error);
    }
  }

  /** The client's answer to our offer `offerId`. Stale answers (an older id) are ignored. */
  async handleAnswer(sdp: string, offerId: number): Promise<void> {
    if (this.closed) return;
    if (offerId !== 0 && offerId !== this.offerId) return;
    if (!this.awaitingAnswer) return;
    if (this.answerTimer) clearTimeout(this.answerTimer);
    try {
      await this.transport.applyAnswer(sdp);
    } finally {
      this.awaitingAnswer = false;
    }
    for (const [slot, rev] of this.inFlight) {
      if (slot.rev !== rev) continue; // changed after that offer was made: the next offer carries it
      slot.pending = false;
      const dt = slot.downTrack;
      if (dt && !dt.isClosed && !dt.isReady && dt.bind()) this.rtcp.add(dt);
    }
    this.inFlight = [];
    if (this.dirty) this.scheduleNegotiation();
  }

  get lastOfferId(): number {
    return this.offerId;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.answerTimer) clearTimeout(this.answerTimer);
    for (const s of this.slots) s.downTrack?.close();
    this.rtcp.close();
    await this.transport.close();
  }
}
