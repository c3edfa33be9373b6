// Subscriptions in LiveKit's single-PC mode (/rtc/v1): Kite never offers. The client's one connection carries its
// published tracks and recvonly m-lines it adds for what it receives (three audio and three video up front); Kite puts
// each down track on a free recvonly m-line of its kind and answers it `sendonly` with the track's msid, plus
// `mid_to_track_id` so the client can name the track (its receiver's track id is its own). When Kite needs the client
// to offer — a new down track, a stopped one — it sends MediaSectionsRequirement: the number of recvonly m-lines to
// add (0 and 0 to only offer again).
//
// An m-line that carried a down track goes inactive in one answer before it carries another: a browser announces a
// track (ontrack) when an m-line starts receiving, not when only its msid changes.
import type { RTCDataChannel, RTCRtpTransceiver } from 'werift';
import { DownTrack } from '../downtrack/DownTrack.js';
import { SubscriberRtcp } from '../downtrack/SubscriberRtcp.js';
import type { Receiver } from '../receiver/Receiver.js';
import type { PeerTransport } from '../transport/PeerTransport.js';
import type { MediaSection } from '../transport/sdp.js';
import { senderInternal } from '../werift/internals.js';
import type { AnswerHooks, PublisherPeer } from './PublisherPeer.js';
import type { SubscriberSide } from './SubscriberSide.js';

export interface SinglePcSubscriberOptions {
  /** The client's connection: the down tracks go on the recvonly m-lines of its offers. */
  publisher: PublisherPeer;
  /**
   * Asks the client to offer again with this many more recvonly m-lines (LiveKit's MediaSectionsRequirement). 0 and 0:
   * just offer again, so the answer can carry changed m-lines.
   */
  requestOffer: (audios: number, videos: number) => void;
  /** Batch subscription changes for this long before asking (ms). */
  negotiationDelayMs?: number;
}

type Kind = 'audio' | 'video';

interface Slot {
  transceiver: RTCRtpTransceiver;
  kind: Kind;
  mid: string;
  downTrack?: DownTrack;
  /** What the answer being made puts on this m-line (set before the answer, announced after it). */
  offering?: DownTrack;
  /** What the last answer announced on it: a down track (sendonly) or nothing (inactive). */
  announced?: DownTrack;
  /** Carried a down track before: the next one gets new SSRCs (a new track for the client, not a continuation). */
  used: boolean;
}

const randomSsrc = () => (1 + Math.floor(Math.random() * 0xfffffffe)) >>> 0;

export class SinglePcSubscriber implements SubscriberSide, AnswerHooks {
  readonly transport: PeerTransport;
  readonly rtcp: SubscriberRtcp;
  /** Kite creates no channels in single-PC mode: it sends on the client's `_reliable` / `_lossy`. */
  readonly dataChannels: ReadonlyMap<string, RTCDataChannel> = new Map();
  onError: ((err: Error) => void) | undefined;

  private readonly slots: Slot[] = [];
  /** Down tracks waiting for a recvonly m-line, oldest first. */
  private readonly waiting: DownTrack[] = [];
  private readonly msids = new Map<DownTrack, { streamId: string; trackId: string }>();
  /** Recvonly m-lines asked for that no offer has carried yet. */
  private readonly requested = { audio: 0, video: 0 };
  /** Answers made so far, and how many there were when m-lines were last asked for. */
  private answers = 0;
  private requestedAtAnswer = 0;
  private readonly requestOffer: (audios: number, videos: number) => void;
  private readonly delay: number;
  /** Something changed that the client has not been answered about. */
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private lastMidToTrackId: Record<string, string> = {};
  /** MediaSectionsRequirement messages sent (for tests and stats). */
  requirementsSent = 0;

  constructor(opts: SinglePcSubscriberOptions) {
    this.transport = opts.publisher.transport;
    this.rtcp = new SubscriberRtcp(this.transport);
    this.requestOffer = opts.requestOffer;
    this.delay = opts.negotiationDelayMs ?? 20;
    opts.publisher.setAnswerHooks(this);
  }

  get downTracks(): DownTrack[] {
    return [...this.slots.flatMap((s) => (s.downTrack ? [s.downTrack] : [])), ...this.waiting];
  }

  /** Media m-lines Kite sends on or may send on (the client's recvonly ones). */
  get mediaSectionCount(): number {
    return this.slots.length;
  }

  /** mid → track sid of the m-lines the last answer put a down track on. */
  get midToTrackId(): Record<string, string> {
    return { ...this.lastMidToTrackId };
  }

  subscribe(receiver: Receiver, msid: { streamId: string; trackId: string }): DownTrack {
    const dt = new DownTrack(receiver, this.transport);
    this.msids.set(dt, msid);
    receiver.addSink(dt);
    const slot = this.freeSlot(receiver.kind);
    if (slot) this.place(dt, slot);
    else this.waiting.push(dt);
    this.changed();
    return dt;
  }

  unsubscribe(dt: DownTrack): void {
    dt.close();
    this.rtcp.remove(dt);
    this.msids.delete(dt);
    const w = this.waiting.indexOf(dt);
    if (w >= 0) this.waiting.splice(w, 1);
    const slot = this.slots.find((s) => s.downTrack === dt);
    if (!slot) return;
    slot.downTrack = undefined;
    this.changed();
  }

  /**
   * After a resume: requests sent while the signalling was down are lost, so whatever is still missing is asked for
   * again. (ICE restarts come with the client's own offers.)
   */
  negotiate(): void {
    this.requested.audio = this.requested.video = 0;
    if (this.dirty || this.waiting.length) this.schedule(0);
  }

  handleAnswer(): Promise<void> {
    return Promise.reject(new Error('single peer connection: Kite sends no offers, so there is nothing to answer'));
  }

  // -------------------------------------------------------------------------------------------------------------
  // Answering the client's offers

  beforeAnswer(offer: MediaSection[]): void {
    if (this.closed) return;
    const byMid = new Map<string, RTCRtpTransceiver>();
    for (const t of this.transport.pc.getTransceivers()) if (t.mid !== null) byMid.set(t.mid, t);
    // The client's recvonly m-lines are the slots; new ones are those asked for.
    const offered = new Set<string>();
    for (const s of offer) {
      if ((s.kind !== 'audio' && s.kind !== 'video') || s.direction !== 'recvonly' || s.port === 0) continue;
      const t = byMid.get(s.mid);
      if (!t) continue;
      offered.add(s.mid);
      if (this.slots.some((x) => x.mid === s.mid)) continue;
      this.slots.push({ transceiver: t, kind: s.kind, mid: s.mid, used: false });
      if (this.requested[s.kind] > 0) this.requested[s.kind]--;
    }
    // An m-line no longer offered recvonly (stopped, or reused by the client to send): its down track waits again.
    for (let i = this.slots.length - 1; i >= 0; i--) {
      const slot = this.slots[i]!;
      if (offered.has(slot.mid)) continue;
      this.slots.splice(i, 1);
      const dt = slot.downTrack;
      if (dt) {
        this.rtcp.remove(dt);
        dt.detach();
        this.waiting.unshift(dt);
      }
    }
    this.placeWaiting();
    for (const slot of this.slots) {
      slot.offering = slot.downTrack;
      slot.transceiver.setDirection(slot.downTrack ? 'sendonly' : 'inactive');
    }
    this.dirty = false;
  }

  afterAnswer(): void {
    if (this.closed) return;
    const map: Record<string, string> = {};
    for (const slot of this.slots) {
      const dt = slot.offering;
      slot.announced = dt;
      if (!dt) continue;
      map[slot.mid] = this.msids.get(dt)?.trackId ?? '';
      if (dt !== slot.downTrack || dt.isReady || dt.isClosed) continue;
      if (dt.bind()) this.rtcp.add(dt);
      else this.onError?.(new Error(`no codec of track ${this.msids.get(dt)?.trackId} was negotiated on mid ${slot.mid}`));
    }
    this.lastMidToTrackId = map;
    // The client adds asked-for m-lines to its next offer; the one in flight when it got the request may lack them.
    // Two answers on and still missing: the request was lost (or ignored), ask again.
    this.answers++;
    if (this.answers - this.requestedAtAnswer >= 2) this.requested.audio = this.requested.video = 0;
    // M-lines that went inactive in this answer can take waiting down tracks now (in the next round).
    if (this.placeWaiting()) this.dirty = true;
    if (this.dirty || this.waiting.length) this.schedule(this.delay);
  }

  // -------------------------------------------------------------------------------------------------------------

  /** An m-line of this kind carrying nothing, that the client already knows carries nothing. */
  private freeSlot(kind: Kind): Slot | undefined {
    return this.slots.find((s) => s.kind === kind && !s.downTrack && !s.announced && !s.offering);
  }

  /** Gives waiting down tracks the free m-lines; true when any was placed. */
  private placeWaiting(): boolean {
    let placed = false;
    for (let i = 0; i < this.waiting.length; ) {
      const dt = this.waiting[i]!;
      const slot = this.freeSlot(dt.receiver.kind);
      if (!slot) {
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      this.place(dt, slot);
      placed = true;
    }
    return placed;
  }

  private place(dt: DownTrack, slot: Slot): void {
    const sender = senderInternal(slot.transceiver);
    if (slot.used) {
      this.transport.forgetSsrc(sender.ssrc);
      sender.ssrc = randomSsrc();
      sender.rtxSsrc = randomSsrc();
    }
    const msid = this.msids.get(dt)!;
    sender.streamIds = [msid.streamId];
    sender.trackId = msid.trackId;
    dt.attach(slot.transceiver);
    slot.downTrack = dt;
    slot.used = true;
  }

  private changed(): void {
    this.dirty = true;
    this.schedule(this.delay);
  }

  private schedule(delay: number): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, delay);
    this.timer.unref();
  }

  /** Asks the client for an offer when something changed, with the recvonly m-lines still missing. */
  private flush(): void {
    if (this.closed) return;
    const audios = this.missing('audio');
    const videos = this.missing('video');
    if (!this.dirty && audios + videos === 0) return;
    this.requested.audio += audios;
    this.requested.video += videos;
    if (audios + videos > 0) this.requestedAtAnswer = this.answers;
    this.dirty = false;
    this.requirementsSent++;
    try {
      this.requestOffer(audios, videos);
    } catch (err) {
      this.onError?.(err as Error);
    }
  }

  /** Recvonly m-lines the waiting down tracks need beyond the free (or freeing) ones and those already asked for. */
  private missing(kind: Kind): number {
    let want = 0;
    for (const dt of this.waiting) if (dt.receiver.kind === kind) want++;
    let free = 0;
    for (const s of this.slots) if (s.kind === kind && !s.downTrack) free++;
    return Math.max(0, want - free - this.requested[kind]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const s of this.slots) s.downTrack?.close();
    for (const dt of this.waiting) dt.close();
    this.rtcp.close();
    // The transport is the publisher's: PublisherPeer closes it.
  }
}
