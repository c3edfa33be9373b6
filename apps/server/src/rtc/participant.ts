// A participant in a room, as LiveKit's server sees it: identity and permissions from the token, the signalling
// WebSocket, its peer connections — two in protocol v0 (the client publishes on one and Kite offers its subscriptions
// on the other), one in v1 (the client offers it all, Kite answers its subscriptions on the client's recvonly
// m-lines) — the tracks it publishes and the tracks it is subscribed to.
import {
  DataPacket_Kind,
  DisconnectReason,
  LeaveRequest_Action,
  ParticipantInfo_Kind,
  ParticipantInfo_State,
  RequestResponse_Reason,
  SignalTarget,
  StreamState,
  TrackSource,
  TrackType,
  TypedEventEmitter,
  VideoQuality,
  newParticipantSid,
  newTrackSid,
  type AddTrackRequest,
  type ParticipantInfo,
  type ParticipantPermission,
  type ReconnectResponse,
  type Room,
  type SimulateScenario,
  type SyncState,
  type PartialMessage,
  type ProtocolError,
  type SignalRequest,
  type SignalResponse,
  type SpeakerInfo,
  type TrackInfo,
  type UpdateTrackSettings,
  type VideoLayer,
} from '@kite/protocol';
import { PublisherPeer, SinglePcSubscriber, SubscriberPeer, type DownTrack, type IceOptions, type LoggerLike, type MediaConfig, type Receiver, type SubscriberSide } from '@kite/sfu';
import type { RTCDataChannel } from 'werift';
import { parseTrackSource } from '@kite/server-sdk';
import type { KiteConfig } from '../config/index.js';
import type { Logger } from '../logger.js';
import type { ConnectParams } from './connectRequest.js';
import { CloseCode, type SignalConnection } from './signalConnection.js';
import { Dynacast } from './dynacast.js';
import { EarlyData } from './earlyData.js';

/** What a participant needs from its room (kept narrow so a participant can be tested without one). */
export interface ParticipantRoom {
  readonly name: string;
  /** Queue a ParticipantUpdate about `p` for everyone (including `p` itself). */
  participantChanged(p: Participant): void;
  trackPublished(p: Participant, track: PublishedTrack): void;
  trackUnpublished(p: Participant, track: PublishedTrack): void;
  participantActive(p: Participant): void;
  /** Resolves a track sid to its publisher and track (for subscriptions). */
  findTrack(trackSid: string): { publisher: Participant; track: PublishedTrack } | undefined;
  /** Routes a data packet (encoded DataPacket) from `p` to the other participants. */
  forwardData(p: Participant, bytes: Uint8Array, kind: DataPacket_Kind): void;
  /** The current speaking state of a participant, when it is an active speaker (pushed to new subscribers). */
  speakerState(sid: string): SpeakerInfo | undefined;
  /** SimulateScenario from the client (the official SDKs' test hooks). */
  simulate(p: Participant, scenario: SimulateScenario): void;
}

export interface PublishedTrack {
  info: TrackInfo;
  /** The client's id for the track (AddTrackRequest.cid = the SDP msid track id). */
  cid: string;
  mid?: string;
  receiver?: Receiver;
  /** Media arrived: the track is visible to others. */
  published: boolean;
  /** Video: tells the publisher which layers subscribers want. */
  dynacast?: Dynacast;
}

interface Subscription {
  trackSid: string;
  publisher: Participant;
  downTrack: DownTrack;
}

export interface ParticipantEvents {
  closed: (p: Participant, reason: DisconnectReason) => void;
}

/** Seconds; the official client pings every interval and reconnects after timeout without an answer. */
export const PING_INTERVAL = 5;
export const PING_TIMEOUT = 15;
/** Data waiting in a participant's SCTP send buffer beyond which new packets are dropped (bytes). */
const LOSSY_BACKLOG_LIMIT = 256 * 1024;
const RELIABLE_BACKLOG_LIMIT = 4 * 1024 * 1024;
/**
 * A participant whose WebSocket is gone (closed without a leave, or silent past the ping timeout) is kept for a resume
 * while its peer connections show signs of life; it is removed once they have been silent this long (a client whose
 * network went away for good: removed within ~15 s of the cut, while a 10 s outage still resumes)…
 */
const TRANSPORT_SILENCE_MS = 15_000;
/** …or, with live transports but no signalling, after this long. */
const SIGNAL_LOSS_GRACE_MS = 30_000;
/**
 * Signal and peer connections both closed by the client: a full reconnect (the client rejoins at once and takes the
 * session over) or a closed tab. Waiting this long lets the rejoin keep the sid, so the others see no leave.
 */
const REJOIN_GRACE_MS = 8_000;
/** A leave this soon after a resume starts a full reconnect (livekit-client sends one before rejoining). */
const RESUME_SETTLE_MS = 10_000;

const LAYER_QUALITY_ORDER = [VideoQuality.LOW, VideoQuality.MEDIUM, VideoQuality.HIGH];

export interface ParticipantOptions {
  params: ConnectParams;
  signal: SignalConnection;
  room: ParticipantRoom;
  config: KiteConfig;
  ice: IceOptions;
  log: Logger;
  /** The session this one replaces (same identity, still in the room). */
  takeOver?: { sid: string; version: number };
}

function permissionFromGrants(params: ConnectParams): ParticipantPermission {
  const v = params.grants.video ?? {};
  const canPublish = v.canPublish ?? true;
  const sources = (v.canPublishSources ?? []).map(parseTrackSource).filter((s): s is TrackSource => s !== undefined);
  return {
    canSubscribe: v.canSubscribe ?? true,
    canPublish,
    canPublishData: v.canPublishData ?? canPublish,
    canPublishSources: sources,
    hidden: v.hidden ?? false,
    recorder: v.recorder ?? false,
    canUpdateMetadata: v.canUpdateOwnMetadata ?? false,
    agent: v.agent ?? false,
    canSubscribeMetrics: v.canSubscribeMetrics ?? false,
    canManageAgentSession: v.canManageAgentSession ?? false,
  };
}

function kindFromGrants(kind: unknown): ParticipantInfo_Kind {
  switch (kind) {
    case 'ingress':
      return ParticipantInfo_Kind.INGRESS;
    case 'egress':
      return ParticipantInfo_Kind.EGRESS;
    case 'sip':
      return ParticipantInfo_Kind.SIP;
    case 'agent':
      return ParticipantInfo_Kind.AGENT;
    default:
      return ParticipantInfo_Kind.STANDARD;
  }
}

export class Participant extends TypedEventEmitter<ParticipantEvents> {
  readonly sid: string;
  readonly identity: string;
  readonly joinedAtMs = Date.now();
  readonly protocol: number;
  readonly clientProtocol: number;
  readonly autoSubscribe: boolean;
  readonly adaptiveStream: boolean;
  name: string;
  metadata: string;
  attributes: Record<string, string>;
  permission: ParticipantPermission;
  readonly kind: ParticipantInfo_Kind;
  state: ParticipantInfo_State = ParticipantInfo_State.JOINING;
  /** Grows on every change to the participant's info; clients ignore updates with a lower version. */
  version = 0;
  disconnectReason: DisconnectReason = DisconnectReason.UNKNOWN_REASON;

  private signal: SignalConnection;
  private readonly room: ParticipantRoom;
  private readonly config: KiteConfig;
  private readonly log: Logger;
  readonly publisher: PublisherPeer;
  /** Where subscriptions are sent: Kite's subscriber connection (v0) or the client's one connection (v1). */
  readonly subscriber: SubscriberSide;
  /** LiveKit protocol v1 (/rtc/v1): one peer connection, offered by the client, carrying everything. */
  readonly singlePeerConnection: boolean;
  private readonly singlePc: SinglePcSubscriber | undefined;
  /** v1: AddTrackRequests and the first publisher offer carried by the JoinRequest, applied once joined. */
  private joinRequest: ConnectParams['joinRequest'];
  /** Published tracks by sid (including ones announced by AddTrack whose media has not arrived yet). */
  readonly tracks = new Map<string, PublishedTrack>();
  private readonly subscriptions = new Map<string, Subscription>();
  /** The client's explicit subscribe/unsubscribe choices, which override auto-subscribe. */
  private readonly subscriptionIntent = new Map<string, boolean>();
  private readonly trackSettings = new Map<string, UpdateTrackSettings>();
  /** Data channels the client opened on its publisher connection. */
  private readonly publisherChannels = new Map<string, RTCDataChannel>();
  /** v1: data for the client's channels that Kite has not heard of yet (their DCEP OPEN follows DTLS). */
  private readonly earlyData = new EarlyData(RELIABLE_BACKLOG_LIMIT);
  private closed = false;
  private leaveReceived = false;
  /** When the signalling connection was lost (0 while it is up). */
  private signalLostAt = 0;
  private readonly livenessTimer: NodeJS.Timeout;
  private subscribedOnce = new Set<string>();
  /** Publisher offers are applied one after the other (see onPublisherOffer). */
  private publisherOffers: Promise<void> = Promise.resolve();
  /** Last reliable data sequence number seen from this participant (for dedup and resume). */
  lastReliableSeq = 0;
  /** Data packets not delivered to this participant because its backlog was too large. */
  dataDropped = 0;

  constructor(opts: ParticipantOptions) {
    super();
    const { params } = opts;
    // A full reconnect of a participant still in the room takes over its sid (and continues its version), so the others
    // see one participant whose tracks changed, not a leave and a join.
    this.sid = opts.takeOver?.sid ?? newParticipantSid();
    this.version = opts.takeOver ? opts.takeOver.version + 1 : 0;
    this.identity = params.identity;
    this.protocol = params.protocol;
    this.clientProtocol = params.clientProtocol;
    this.autoSubscribe = params.autoSubscribe;
    this.adaptiveStream = params.adaptiveStream;
    this.name = params.grants.name ?? '';
    this.metadata = params.grants.metadata ?? '';
    this.attributes = { ...(params.grants.attributes ?? {}) };
    this.permission = permissionFromGrants(params);
    this.kind = kindFromGrants(params.grants.kind);
    this.signal = opts.signal;
    this.room = opts.room;
    this.config = opts.config;
    this.log = opts.log.child({ room: opts.room.name, participant: this.identity, sid: this.sid });
    const media = { enabledCodecs: opts.config.room.enabled_codecs.map((c) => c.mime) };
    const logLike = { debug: (o: object, m?: string) => this.log.debug(o, m), warn: (o: object, m?: string) => this.log.warn(o, m) };

    this.publisher = new PublisherPeer({ media, ice: opts.ice, log: logLike, name: `${this.sid} publisher` });
    this.publisher.transport.on('candidate', (c) => this.send({ trickle: { candidateInit: JSON.stringify(c), target: SignalTarget.PUBLISHER, final: false } }));
    this.publisher.transport.on('connected', () => this.onTransportConnected('publisher'));
    this.publisher.transport.on('failed', (reason) => this.onTransportFailed('publisher', reason));
    this.publisher.transport.on('dataChannel', (ch) => this.onPublisherDataChannel(ch));

    this.singlePeerConnection = params.singlePeerConnection ?? false;
    this.joinRequest = params.joinRequest;
    if (this.singlePeerConnection) {
      // Kite never offers in v1: when it needs m-lines (or new answers) it asks the client to offer.
      this.singlePc = new SinglePcSubscriber({
        publisher: this.publisher,
        requestOffer: (numAudios, numVideos) => this.send({ mediaSectionsRequirement: { numAudios, numVideos } }),
      });
      this.subscriber = this.singlePc;
    } else {
      this.subscriber = this.createSubscriberPeer(media, opts.ice, logLike);
    }
    this.subscriber.onError = (err) => this.log.warn({ err: err.message }, 'subscriber negotiation failed');
    // The stream allocator paused or resumed a track for bandwidth: the client shows it (livekit-client: TrackStreamStateChanged).
    this.subscriber.rtcp.allocator.onPausedChange = (dt, paused) => this.onBandwidthPause(dt, paused);

    this.livenessTimer = setInterval(() => this.checkLiveness(), 1000);
    this.livenessTimer.unref();
  }

  /** v0: Kite's own subscriber connection, where Kite offers (with the data channels it sends on). */
  private createSubscriberPeer(media: MediaConfig, ice: IceOptions, log: LoggerLike): SubscriberPeer {
    const subscriber = new SubscriberPeer({
      media,
      ice,
      log,
      name: `${this.sid} subscriber`,
      sendOffer: (sdp, id) => this.send({ offer: { type: 'offer', sdp, id, midToTrackId: {} } }),
      dataChannels: [
        { label: '_reliable', ordered: true },
        { label: '_lossy', ordered: false, maxRetransmits: 0 },
      ],
    });
    subscriber.transport.on('candidate', (c) => this.send({ trickle: { candidateInit: JSON.stringify(c), target: SignalTarget.SUBSCRIBER, final: false } }));
    subscriber.transport.on('connected', () => this.onTransportConnected('subscriber'));
    subscriber.transport.on('failed', (reason) => this.onTransportFailed('subscriber', reason));
    for (const ch of subscriber.dataChannels.values()) this.watchChannel(ch, 'subscriber');
    return subscriber;
  }

  get hidden(): boolean {
    return this.permission.hidden;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** v0 clients (protocol > 2) make the subscriber connection primary when they can subscribe; v1 has none. */
  get subscriberPrimary(): boolean {
    return !this.singlePeerConnection && this.protocol > 2 && this.permission.canSubscribe;
  }

  get isActive(): boolean {
    return !this.closed && this.state === ParticipantInfo_State.ACTIVE;
  }

  /** Receivers of the published tracks (connection quality reads their stats); `paused`: dynacast stopped it. */
  *publishedReceivers(): IterableIterator<{ receiver: Receiver; muted: boolean; paused: boolean }> {
    for (const t of this.tracks.values()) if (t.published && t.receiver) yield { receiver: t.receiver, muted: t.info.muted, paused: t.dynacast?.publisherPaused ?? false };
  }

  get isPublisher(): boolean {
    for (const t of this.tracks.values()) if (t.published) return true;
    return false;
  }

  /** The participant's info as others see it. */
  toProto(): ParticipantInfo {
    return {
      sid: this.sid,
      identity: this.identity,
      state: this.state,
      tracks: [...this.tracks.values()].filter((t) => t.published).map((t) => ({ ...t.info })),
      metadata: this.metadata,
      joinedAt: Math.floor(this.joinedAtMs / 1000),
      joinedAtMs: this.joinedAtMs,
      name: this.name,
      version: this.version,
      permission: { ...this.permission, canPublishSources: [...this.permission.canPublishSources] },
      region: this.config.region,
      isPublisher: this.isPublisher,
      kind: this.kind,
      attributes: { ...this.attributes },
      disconnectReason: this.disconnectReason,
      kindDetails: [],
      dataTracks: [],
      clientProtocol: this.clientProtocol,
      capabilities: [],
    } as ParticipantInfo;
  }

  /** Records a change to this participant's info and tells the room. */
  changed(): void {
    this.version++;
    if (!this.closed) this.room.participantChanged(this);
  }

  send(msg: PartialMessage<SignalResponse>): void {
    if (!this.closed || msg.leave) this.signal.send(msg);
  }

  /** Called by the room once the JoinResponse went out. */
  joined(): void {
    this.state = ParticipantInfo_State.JOINED;
    this.applyJoinRequest();
    this.attachSignal(this.signal);
    // v0: with the subscriber connection primary, the server offers at once (data channels, then tracks).
    if (this.subscriberPrimary) this.subscriber.negotiate();
  }

  /**
   * v1: the JoinRequest's AddTrackRequests and publisher offer, handled as if they had come first on the WebSocket
   * (LiveKit's StartSession does the same). The answer follows the JoinResponse.
   */
  private applyJoinRequest(): void {
    const jr = this.joinRequest;
    this.joinRequest = undefined;
    if (!jr) return;
    for (const req of jr.addTrackRequests) this.onSignal({ message: 'addTrack', addTrack: req } as SignalRequest);
    if (jr.publisherOffer) this.onSignal({ message: 'offer', offer: jr.publisherOffer } as SignalRequest);
  }

  /** Routes a signalling connection's requests here; a replaced connection's events are ignored. */
  private attachSignal(signal: SignalConnection): void {
    signal.attach({
      onRequest: (req) => signal === this.signal && this.onSignal(req),
      onMalformed: (err) => signal === this.signal && this.onMalformed(err),
      onClose: (code, reason) => signal === this.signal && this.onSignalClosed(code, reason),
    });
  }

  /** When the signalling connection was lost, 0 while it is up. */
  get signalLostSince(): number {
    return this.signalLostAt;
  }

  /** True while the participant can take a resume: not closed, not left, not told its session is gone. */
  get resumable(): boolean {
    return !this.closed && !this.leaveReceived && !this.resumeRefused;
  }

  /**
   * A full reconnect (a new join with this identity) may take this session over — keep its sid, so the others see no
   * leave and join — when this session lost its signalling without leaving: the same client rejoining.
   */
  get canBeTakenOver(): boolean {
    return !this.closed && !this.leaveReceived && this.signalLostAt > 0 && !this.hidden;
  }

  /**
   * Drops the signalling connection without a leave (simulated node failure / migration, or a leave the client sends
   * before rejoining on another protocol). `refuseResume`: the client's resume is refused, so it rejoins.
   */
  dropSignal(refuseResume: boolean): void {
    if (this.closed) return;
    this.resumeRefused ||= refuseResume;
    this.signal.close(CloseCode.goingAway, 'session moved');
    this.onSignalClosed(CloseCode.goingAway, 'session moved');
  }

  private resumeRefused = false;
  /**
   * The client was told (or asked) to rejoin — LeaveRequest RECONNECT, force-tcp/force-tls — so its next leave is the
   * start of that rejoin, not a departure.
   */
  awaitingRejoin = false;

  /**
   * Resume (reconnect=1&sid=…): the client kept its peer connections and opens a new WebSocket. It gets a
   * ReconnectResponse first, then the state it may have missed; the subscriber connection restarts ICE (the client
   * restarts the publisher side with its next offer).
   */
  resume(signal: SignalConnection, reconnect: PartialMessage<ReconnectResponse>, missed: { participants: ParticipantInfo[]; room: Room }, simulate?: 'after-response' | 'before-response'): void {
    const old = this.signal;
    this.signal = signal;
    this.signalLostAt = 0;
    this.resumedAt = Date.now();
    if (!old.isClosed) old.close(CloseCode.normal, 'replaced by a resumed session');
    this.log.info('participant resumed');
    if (simulate === 'before-response') {
      // SimulateScenario: the new signal dies before anything was sent.
      signal.close(CloseCode.goingAway, 'simulated signal disconnect on resume');
      this.onSignalClosed(CloseCode.goingAway, 'simulated');
      return;
    }
    this.send({ reconnect });
    if (missed.participants.length) this.send({ update: { participants: missed.participants } });
    this.send({ roomUpdate: { room: missed.room } });
    this.attachSignal(signal);
    if (simulate === 'after-response') {
      signal.close(CloseCode.goingAway, 'simulated signal disconnect on resume');
      return;
    }
    if (this.subscriber.transport.pc.connectionState !== 'new') this.subscriber.negotiate({ iceRestart: true });
  }

  // -------------------------------------------------------------------------------------------------------------
  // Signalling

  private onSignal(req: SignalRequest): void {
    if (this.closed) return;
    try {
      switch (req.message) {
        case 'offer': {
          const { sdp, id } = req.offer!;
          this.publisherOffers = this.publisherOffers.then(() => this.onPublisherOffer(sdp, id)).catch((err: Error) => this.refuse(`offer failed: ${err.message}`));
          break;
        }
        case 'answer':
          void this.subscriber.handleAnswer(req.answer!.sdp, req.answer!.id).catch((err: Error) => this.refuse(`subscriber answer rejected: ${err.message}`));
          break;
        case 'trickle':
          this.onTrickle(req.trickle!.candidateInit, req.trickle!.target);
          break;
        case 'addTrack':
          this.onAddTrack(req.addTrack!);
          break;
        case 'mute':
          this.setTrackMuted(req.mute!.sid, req.mute!.muted);
          break;
        case 'subscription':
          this.onUpdateSubscription(req.subscription!.trackSids, req.subscription!.participantTracks, req.subscription!.subscribe);
          break;
        case 'trackSetting':
          this.onTrackSettings(req.trackSetting!);
          break;
        case 'leave':
          if (this.awaitingRejoin || Date.now() - this.resumedAt < RESUME_SETTLE_MS) {
            // force-tcp / force-tls: the client leaves and joins again on the other protocol; a leave just after a
            // resume is livekit-client giving up on it for a full reconnect. The rejoin takes over (REJOIN_GRACE_MS).
            this.dropSignal(true);
            break;
          }
          this.leaveReceived = true;
          this.close(req.leave!.reason === DisconnectReason.UNKNOWN_REASON ? DisconnectReason.CLIENT_INITIATED : req.leave!.reason, false);
          break;
        case 'ping':
          this.send({ pong: Date.now() });
          break;
        case 'pingReq':
          this.send({ pongResp: { lastPingTimestamp: req.pingReq!.timestamp, timestamp: Date.now() } });
          break;
        case 'updateMetadata':
          this.onUpdateMetadata(req.updateMetadata!);
          break;
        case 'updateLayers':
          break; // deprecated; LiveKit ignores it too
        case 'syncState':
          this.onSyncState(req.syncState!);
          break;
        case 'simulate':
          this.room.simulate(this, req.simulate!);
          break;
        case 'subscriptionPermission':
        case 'updateAudioTrack':
        case 'updateVideoTrack':
          this.onOther(req);
          break;
        default:
          this.send({ requestResponse: { reason: RequestResponse_Reason.UNSUPPORTED_TYPE, message: 'unsupported signal message' } });
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message, message: req.message }, 'signal message failed');
      this.send({ requestResponse: { reason: RequestResponse_Reason.UNCLASSIFIED_ERROR, message: (err as Error).message } });
    }
  }

  /** A frame that is not a SignalRequest: the client is broken or hostile; tell it why and hang up. */
  private onMalformed(err: ProtocolError): void {
    this.log.warn({ err: err.message }, 'malformed signal message');
    this.send({ leave: { reason: DisconnectReason.STATE_MISMATCH, action: LeaveRequest_Action.DISCONNECT, canReconnect: false } });
    this.signal.close(CloseCode.invalidPayload, `malformed signal message: ${err.message}`);
    this.close(DisconnectReason.STATE_MISMATCH, false);
  }

  /** Answers a request with an error without dropping the connection. */
  private refuse(message: string, reason = RequestResponse_Reason.UNCLASSIFIED_ERROR): void {
    this.log.debug({ message }, 'request refused');
    this.send({ requestResponse: { reason, message } });
  }

  private onOther(req: SignalRequest): void {
    if (req.message === 'updateAudioTrack' || req.message === 'updateVideoTrack') {
      const u = req.updateAudioTrack ?? req.updateVideoTrack;
      const t = u ? this.tracks.get(u.trackSid) : undefined;
      if (!t) return;
      if (req.updateVideoTrack) {
        t.info.width = req.updateVideoTrack.width;
        t.info.height = req.updateVideoTrack.height;
      } else if (req.updateAudioTrack) {
        t.info.audioFeatures = [...req.updateAudioTrack.features];
      }
      if (t.published) this.changed();
    }
    // subscription_permission, sync_state and simulate: see the connectivity and permissions code paths.
  }

  /**
   * After a resume the client states what it believes: its published tracks, subscriptions and disabled tracks. A
   * published track Kite does not know means the two sides disagree: a full reconnect sorts it out (as in LiveKit).
   */
  private onSyncState(sync: SyncState): void {
    for (const pub of sync.publishTracks) {
      const sid = pub.track?.sid;
      if (sid && !this.tracks.has(sid)) {
        this.log.info({ track: sid }, 'resume: client publishes a track the server does not know; asking for a full reconnect');
        this.awaitingRejoin = true;
        this.send({ leave: { canReconnect: true, reason: DisconnectReason.STATE_MISMATCH, action: LeaveRequest_Action.RECONNECT } });
        this.dropSignal(true);
        return;
      }
    }
    if (sync.subscription) {
      const sub = sync.subscription;
      this.onUpdateSubscription(sub.trackSids, sub.participantTracks, sub.subscribe);
    }
    for (const sid of sync.trackSidsDisabled) {
      const settings = this.trackSettings.get(sid);
      this.onTrackSettings({ quality: VideoQuality.HIGH, width: 0, height: 0, fps: 0, priority: 0, ...(settings ?? {}), trackSids: [sid], disabled: true } as UpdateTrackSettings);
    }
  }

  private onTrickle(candidateInit: string, target: SignalTarget): void {
    let init: { candidate?: string; sdpMid?: string; sdpMLineIndex?: number; usernameFragment?: string };
    try {
      init = JSON.parse(candidateInit) as typeof init;
    } catch {
      this.refuse('trickle: candidateInit is not JSON');
      return;
    }
    if (!init || typeof init.candidate !== 'string') return;
    if (init.candidate === '') return; // end-of-candidates
    const transport = target === SignalTarget.SUBSCRIBER ? this.subscriber.transport : this.publisher.transport;
    transport.addRemoteCandidate({ candidate: init.candidate, sdpMid: init.sdpMid, sdpMLineIndex: init.sdpMLineIndex, usernameFragment: init.usernameFragment });
  }

  private async onPublisherOffer(sdp: string, id: number): Promise<void> {
    // werift starts ICE/DTLS again on every answer it sets and fails the whole connection ("state must be new") when
    // the first DTLS handshake is still running. livekit-client renegotiates at once when a track is published right
    // after join (its first publisher offer carries only the data channels), so a re-offer can land mid-handshake:
    // apply it once the handshake is over.
    await this.publisherHandshakeSettled();
    if (this.closed) return;
    let answer: string;
    try {
      answer = await this.publisher.answer(sdp, (section) => this.preferredCodec(section.trackId));
    } catch (err) {
      this.refuse(`offer rejected: ${(err as Error).message}`);
      return;
    }
    if (this.closed) return;
    // v1: which track each m-line Kite sends on carries (the client's receivers have track ids of their own).
    this.send({ answer: { type: 'answer', sdp: answer, id, midToTrackId: this.singlePc?.midToTrackId ?? {} } });
    this.matchTracksToMids();
  }

  /** The codec a track was announced with (AddTrackRequest.simulcast_codecs), by the m-line's msid track id. */
  private preferredCodec(trackId: string | undefined): string | undefined {
    if (!trackId) return undefined;
    for (const t of this.tracks.values()) {
      const codec = t.info.codecs.find((c) => c.cid === trackId) ?? (t.cid === trackId ? t.info.codecs[0] : undefined);
      if (codec?.mimeType) return codec.mimeType;
    }
    return undefined;
  }

  /** Resolves once the publisher connection is not in the middle of connecting (or after `timeoutMs`). */
  private publisherHandshakeSettled(timeoutMs = 10_000): Promise<void> {
    const pc = this.publisher.transport.pc;
    if (pc.connectionState !== 'connecting') return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        sub.unSubscribe();
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      const sub = pc.connectionStateChange.subscribe((state) => {
        if (state !== 'connecting') done();
      });
    });
  }

  // -------------------------------------------------------------------------------------------------------------
  // Publishing

  private onAddTrack(req: AddTrackRequest): void {
    if (!this.permission.canPublish) {
      this.send({ requestResponse: { reason: RequestResponse_Reason.NOT_ALLOWED, message: 'does not have permission to publish', addTrack: req } });
      return;
    }
    const sources = this.permission.canPublishSources;
    if (sources.length > 0 && !sources.includes(req.source)) {
      this.send({ requestResponse: { reason: RequestResponse_Reason.NOT_ALLOWED, message: `not allowed to publish source ${TrackSource[req.source]}`, addTrack: req } });
      return;
    }
    for (const t of this.tracks.values()) {
      if (t.cid === req.cid || (req.sid && t.info.sid === req.sid)) {
        this.send({ trackPublished: { cid: req.cid, track: { ...t.info } } });
        return;
      }
    }
    const isVideo = req.type === TrackType.VIDEO;
    const layers: VideoLayer[] = [...req.layers].sort((a, b) => a.quality - b.quality);
    const simulcastLayers = req.simulcastCodecs[0]?.layers.length ?? 0;
    const info: TrackInfo = {
      sid: newTrackSid(),
      type: req.type,
      name: req.name,
      muted: req.muted,
      width: req.width,
      height: req.height,
      simulcast: layers.length > 1 || simulcastLayers > 1,
      disableDtx: req.disableDtx,
      source: req.source,
      layers,
      mimeType: '',
      mid: '',
      codecs: req.simulcastCodecs.map((c) => ({
        mimeType: c.codec ? `${isVideo ? 'video' : 'audio'}/${c.codec}` : '',
        mid: '',
        cid: c.cid,
        layers: c.layers.length ? [...c.layers] : layers,
        videoLayerMode: c.videoLayerMode,
        sdpCid: c.cid,
      })),
      stereo: req.stereo,
      disableRed: req.disableRed,
      encryption: req.encryption,
      stream: req.stream || (req.source === TrackSource.SCREEN_SHARE || req.source === TrackSource.SCREEN_SHARE_AUDIO ? 'screen' : 'camera'),
      audioFeatures: [...req.audioFeatures],
      backupCodecPolicy: req.backupCodecPolicy,
      packetTrailerFeatures: [...req.packetTrailerFeatures],
    } as TrackInfo;
    this.tracks.set(info.sid, { info, cid: req.cid, published: false });
    this.send({ trackPublished: { cid: req.cid, track: { ...info } } });
    this.matchTracksToMids();
  }

  /** Binds announced tracks to the m-lines that carry them (by msid track id = cid), and notices stopped m-lines. */
  private matchTracksToMids(): void {
    const sections = this.publisher.publishedSections;
    for (const t of this.tracks.values()) {
      if (t.mid) {
        if (!sections.some((s) => s.mid === t.mid)) this.unpublishTrack(t.info.sid, false);
        continue;
      }
      const cids = new Set([t.cid, ...t.info.codecs.map((c) => c.cid).filter(Boolean)]);
      const section = sections.find((s) => s.trackId !== undefined && cids.has(s.trackId));
      if (!section) continue;
      t.mid = section.mid;
      t.info.mid = section.mid;
      const codec = section.codecs[0];
      if (codec) {
        t.info.mimeType = codec.mime;
        if (t.info.codecs.length === 0) t.info.codecs = [{ mimeType: codec.mime, mid: section.mid, cid: t.cid, layers: t.info.layers, videoLayerMode: 0, sdpCid: t.cid } as never];
        else t.info.codecs[0]!.mimeType = codec.mime;
        t.info.codecs[0]!.mid = section.mid;
      }
      if (section.rids.length > 1) t.info.simulcast = true;
      const receiver = this.publisher.attachReceiver(section.mid, t.info.sid);
      if (!receiver) continue;
      t.receiver = receiver;
      receiver.onFirstPacket = () => this.markPublished(t);
    }
  }

  private markPublished(t: PublishedTrack): void {
    if (t.published || this.closed) return;
    t.published = true;
    this.log.info({ track: t.info.sid, kind: TrackType[t.info.type], source: TrackSource[t.info.source] }, 'track published');
    if (t.info.type === TrackType.VIDEO && t.receiver) this.startDynacast(t, t.receiver);
    this.changed();
    this.room.trackPublished(this, t);
  }

  /** The publisher encodes only what some subscriber wants: follows the receiver's sinks. */
  private startDynacast(t: PublishedTrack, receiver: Receiver): void {
    const codec = (t.info.mimeType || receiver.codec?.mime || '').toLowerCase().replace(/^video\//, '');
    const dynacast = new Dynacast(t.info.sid, codec, t.info.simulcast, (update) => this.send({ subscribedQualityUpdate: update }));
    t.dynacast = dynacast;
    receiver.onSinksChanged = () => dynacast.update(receiver.maxRequestedLayer());
    receiver.onSinksChanged();
  }

  setTrackMuted(trackSid: string, muted: boolean): TrackInfo | undefined {
    const t = this.tracks.get(trackSid);
    if (!t) return undefined;
    if (t.info.muted !== muted) {
      t.info.muted = muted;
      if (t.published) this.changed();
    }
    return { ...t.info };
  }

  /** Server-side unpublish (permission revoked) or the client stopped sending on the m-line. */
  unpublishTrack(trackSid: string, notifyClient: boolean): void {
    const t = this.tracks.get(trackSid);
    if (!t) return;
    this.tracks.delete(trackSid);
    t.dynacast?.close();
    if (t.mid) this.publisher.detachReceiver(t.mid);
    if (notifyClient) this.send({ trackUnpublished: { trackSid } });
    if (t.published) {
      this.log.info({ track: trackSid }, 'track unpublished');
      this.changed();
      this.room.trackUnpublished(this, t);
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Subscribing

  /** Whether this participant should be subscribed to a track, given auto-subscribe and explicit choices. */
  wantsTrack(trackSid: string): boolean {
    const intent = this.subscriptionIntent.get(trackSid);
    return intent ?? this.autoSubscribe;
  }

  subscribeTo(publisher: Participant, track: PublishedTrack): void {
    if (this.closed || !this.permission.canSubscribe || !track.receiver || !track.published) return;
    if (this.subscriptions.has(track.info.sid)) return;
    // LiveKit's stream id: PA_xxx|<stream> for protocol > 9, else PA_xxx|TR_xxx; the msid track id is the track sid.
    const streamId = this.protocol > 9 && track.info.stream ? `${publisher.sid}|${track.info.stream}` : `${publisher.sid}|${track.info.sid}`;
    const downTrack = this.subscriber.subscribe(track.receiver, { streamId, trackId: track.info.sid });
    // Screen share before camera when the downlink cannot carry everything (LiveKit's allocation order).
    downTrack.priority = track.info.source === TrackSource.SCREEN_SHARE ? 2 : 1;
    const firstOfPublisher = !this.isSubscribedToParticipant(publisher.sid);
    this.subscriptions.set(track.info.sid, { trackSid: track.info.sid, publisher, downTrack });
    this.log.debug({ track: track.info.sid, publisher: publisher.identity }, 'subscribed');
    this.applyTrackSettings(track.info.sid);
    // A speaker this participant could not hear before is announced at once, not at its next level change.
    const speaking = firstOfPublisher && this.protocol > 2 ? this.room.speakerState(publisher.sid) : undefined;
    if (speaking) this.send({ speakersChanged: { speakers: [speaking] } });
    if (!publisher.subscribedOnce.has(track.info.sid)) {
      publisher.subscribedOnce.add(track.info.sid);
      publisher.send({ trackSubscribed: { trackSid: track.info.sid } });
    }
  }

  private onBandwidthPause(dt: DownTrack, paused: boolean): void {
    for (const sub of this.subscriptions.values()) {
      if (sub.downTrack !== dt) continue;
      this.log.debug({ track: sub.trackSid, paused }, 'stream state (bandwidth)');
      this.send({ streamStateUpdate: { streamStates: [{ participantSid: sub.publisher.sid, trackSid: sub.trackSid, state: paused ? StreamState.PAUSED : StreamState.ACTIVE }] } });
    }
  }

  unsubscribeFrom(trackSid: string): void {
    const sub = this.subscriptions.get(trackSid);
    if (!sub) return;
    this.subscriptions.delete(trackSid);
    this.subscriber.unsubscribe(sub.downTrack);
  }

  /** Every track of a publisher that left: drop the subscriptions. */
  unsubscribeFromParticipant(publisher: Participant): void {
    for (const sub of [...this.subscriptions.values()]) if (sub.publisher === publisher) this.unsubscribeFrom(sub.trackSid);
  }

  isSubscribedToParticipant(sid: string): boolean {
    for (const sub of this.subscriptions.values()) if (sub.publisher.sid === sid) return true;
    return false;
  }

  /** Sids of the participants this one is subscribed to. */
  subscribedParticipantSids(): Set<string> {
    const sids = new Set<string>();
    for (const sub of this.subscriptions.values()) sids.add(sub.publisher.sid);
    return sids;
  }

  /** The down tracks of this participant's subscriptions. */
  *downTracks(): IterableIterator<DownTrack> {
    for (const sub of this.subscriptions.values()) yield sub.downTrack;
  }

  get subscribedTrackSids(): string[] {
    return [...this.subscriptions.keys()];
  }

  downTrackFor(trackSid: string): DownTrack | undefined {
    return this.subscriptions.get(trackSid)?.downTrack;
  }

  onUpdateSubscription(trackSids: string[], participantTracks: { participantSid: string; trackSids: string[] }[], subscribe: boolean): void {
    const sids = new Set([...trackSids, ...participantTracks.flatMap((p) => p.trackSids)]);
    for (const sid of sids) {
      this.subscriptionIntent.set(sid, subscribe);
      if (!subscribe) {
        this.unsubscribeFrom(sid);
        continue;
      }
      const found = this.room.findTrack(sid);
      if (!found) {
        this.send({ subscriptionResponse: { trackSid: sid, err: 2 /* SE_TRACK_NOTFOUND */ } });
        continue;
      }
      if (found.publisher !== this) this.subscribeTo(found.publisher, found.track);
    }
  }

  private onTrackSettings(s: UpdateTrackSettings): void {
    for (const sid of s.trackSids) {
      this.trackSettings.set(sid, s);
      this.applyTrackSettings(sid);
    }
  }

  /** Applies the subscriber's settings for a track (enabled, quality or dimensions) to its down track. */
  private applyTrackSettings(trackSid: string): void {
    const sub = this.subscriptions.get(trackSid);
    if (!sub) return;
    const dt = sub.downTrack;
    const s = this.trackSettings.get(trackSid);
    const info = sub.publisher.tracks.get(trackSid)?.info;
    if (!s) {
      // No settings yet: HIGH, or LOW for adaptive-stream subscribers until they report the element size.
      if (this.adaptiveStream && info?.type === TrackType.VIDEO) dt.setMaxLayer(0);
      return;
    }
    dt.setPaused(s.disabled || s.quality === VideoQuality.OFF);
    if (info?.type !== TrackType.VIDEO) return;
    dt.setMaxFps(s.fps);
    dt.setMaxLayer(s.width > 0 || s.height > 0 ? layerForDimensions(info, s.width, s.height) : layerForQuality(s.quality));
  }

  // -------------------------------------------------------------------------------------------------------------
  // Metadata

  private onUpdateMetadata(u: { metadata: string; name: string; attributes: Record<string, string>; requestId: number }): void {
    if (!this.permission.canUpdateMetadata) {
      this.send({ requestResponse: { requestId: u.requestId, reason: RequestResponse_Reason.NOT_ALLOWED, message: 'does not have permission to update own metadata', updateMetadata: u as never } });
      return;
    }
    const limits = this.config.limit;
    const exceeded =
      limits.max_participant_name_length && u.name.length > limits.max_participant_name_length
        ? 'exceeds name length limit'
        : limits.max_metadata_size && Buffer.byteLength(u.metadata) > limits.max_metadata_size
          ? 'exceeds metadata size limit'
          : limits.max_attributes_size && Buffer.byteLength(JSON.stringify(u.attributes)) > limits.max_attributes_size
            ? 'exceeds attributes size limit'
            : undefined;
    if (exceeded) {
      this.send({ requestResponse: { requestId: u.requestId, reason: RequestResponse_Reason.LIMIT_EXCEEDED, message: exceeded, updateMetadata: u as never } });
      return;
    }
    this.update({ metadata: u.metadata || undefined, name: u.name || undefined, attributes: Object.keys(u.attributes).length ? u.attributes : undefined });
    if (this.protocol > 14) this.send({ requestResponse: { requestId: u.requestId, reason: RequestResponse_Reason.OK, updateMetadata: u as never } });
  }

  /** Applies a metadata/name/attributes change (an empty attribute value deletes the key, as in LiveKit). */
  update(change: { metadata?: string; name?: string; attributes?: Record<string, string> }): void {
    let dirty = false;
    if (change.metadata !== undefined && change.metadata !== this.metadata) {
      this.metadata = change.metadata;
      dirty = true;
    }
    if (change.name !== undefined && change.name !== this.name) {
      this.name = change.name;
      dirty = true;
    }
    if (change.attributes) {
      for (const [k, v] of Object.entries(change.attributes)) {
        if (v === '') {
          if (k in this.attributes) {
            delete this.attributes[k];
            dirty = true;
          }
        } else if (this.attributes[k] !== v) {
          this.attributes[k] = v;
          dirty = true;
        }
      }
    }
    if (dirty) this.changed();
  }

  setPermission(permission: PartialMessage<ParticipantPermission>): void {
    const before = this.permission;
    this.permission = { ...before, ...(permission as ParticipantPermission), canPublishSources: [...((permission.canPublishSources as TrackSource[] | undefined) ?? before.canPublishSources)] };
    if (before.canPublish && !this.permission.canPublish) {
      for (const sid of [...this.tracks.keys()]) this.unpublishTrack(sid, true);
    }
    if (before.canSubscribe && !this.permission.canSubscribe) {
      for (const sid of this.subscribedTrackSids) this.unsubscribeFrom(sid);
    }
    this.changed();
  }

  // -------------------------------------------------------------------------------------------------------------
  // Data

  private onPublisherDataChannel(ch: RTCDataChannel): void {
    this.publisherChannels.set(ch.label, ch);
    this.watchChannel(ch, 'publisher');
    const kind = ch.label === '_lossy' ? DataPacket_Kind.LOSSY : DataPacket_Kind.RELIABLE;
    for (const bytes of this.earlyData.take(ch.label)) this.sendData(bytes, kind);
  }

  private watchChannel(ch: RTCDataChannel, side: 'publisher' | 'subscriber'): void {
    ch.onMessage.subscribe((data) => {
      // LiveKit's channels carry binary DataPackets only; `_data_track` and unknown labels are not routed.
      if (this.closed || typeof data === 'string' || (ch.label !== '_reliable' && ch.label !== '_lossy')) return;
      this.room.forwardData(this, data, ch.label === '_lossy' ? DataPacket_Kind.LOSSY : DataPacket_Kind.RELIABLE);
    });
    void side;
  }

  /**
   * Sends an encoded DataPacket to this participant on the channel of its kind. A channel still opening queues it
   * (the participant may be active before its data channels are). A participant that does not read fast enough has
   * its lossy packets dropped first, and reliable ones past a bound, so one slow client cannot grow server memory.
   * Returns false when the packet was dropped.
   */
  sendData(bytes: Uint8Array, kind: DataPacket_Kind): boolean {
    if (this.closed) return false;
    const lossy = kind === DataPacket_Kind.LOSSY;
    const label = lossy ? '_lossy' : '_reliable';
    const ch = this.subscriber.dataChannels.get(label) ?? this.publisherChannels.get(label);
    if (!ch && this.singlePeerConnection) {
      // v1: the client's channel is not open yet; it gets the packet when it is.
      if (this.earlyData.hold(label, bytes)) return true;
      this.dataDropped++;
      return false;
    }
    if (!ch || ch.readyState === 'closing' || ch.readyState === 'closed') return false;
    if (ch.bufferedAmount > (lossy ? LOSSY_BACKLOG_LIMIT : RELIABLE_BACKLOG_LIMIT)) {
      this.dataDropped++;
      return false;
    }
    try {
      ch.send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return true;
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'data send failed');
      return false;
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Connection state

  private onTransportConnected(which: 'publisher' | 'subscriber'): void {
    const primary = this.subscriberPrimary ? 'subscriber' : 'publisher';
    if (which === primary && this.state === ParticipantInfo_State.JOINED) {
      this.state = ParticipantInfo_State.ACTIVE;
      this.log.info({ via: which }, 'participant active');
      this.changed();
      this.room.participantActive(this);
    }
  }

  private onTransportFailed(which: 'publisher' | 'subscriber', reason: string): void {
    if (this.closed) return;
    this.log.debug({ which, reason }, 'transport failed');
    // A failed transport cannot resume; a rejoin can still take the session over (checkLiveness ends the wait).
    this.transportFailedAt ||= Date.now();
    this.resumeRefused = true;
  }

  private transportFailedAt = 0;
  private resumedAt = 0;

  private onSignalClosed(code: number, reason: string): void {
    if (this.closed || this.leaveReceived || this.signalLostAt) return;
    this.log.info({ code, reason }, 'signal connection lost; waiting for a resume');
    this.signalLostAt = Date.now();
  }

  /** The last sign of life on either peer connection (or the join, before any). */
  private lastTransportActivity(): number {
    return Math.max(this.joinedAtMs, this.publisher.transport.lastActivityAt, this.subscriber.transport.lastActivityAt);
  }

  /**
   * Every second. The client pings every PING_INTERVAL s: after PING_TIMEOUT s of silence its WebSocket is dead (it
   * will resume on a new one if it can). Without signalling, the participant stays while its peer connections show
   * signs of life, and goes once they have been silent for TRANSPORT_SILENCE_MS (or after SIGNAL_LOSS_GRACE_MS).
   */
  private checkLiveness(): void {
    if (this.closed) return;
    const now = Date.now();
    if (!this.signalLostAt && !this.signal.isClosed && now - this.signal.lastSeen > PING_TIMEOUT * 1000) {
      this.log.info('signal ping timeout');
      this.signal.close(CloseCode.goingAway, 'ping timeout');
      this.onSignalClosed(CloseCode.goingAway, 'ping timeout');
    }
    if (!this.signalLostAt) return;
    const silent = now - this.lastTransportActivity();
    if (this.transportFailedAt && now - Math.max(this.transportFailedAt, this.signalLostAt) >= REJOIN_GRACE_MS) {
      this.log.info('signal and peer connections closed and no rejoin: participant gone');
      this.close(DisconnectReason.CONNECTION_TIMEOUT, false);
    } else if (silent >= TRANSPORT_SILENCE_MS) {
      this.log.info({ silentMs: silent }, 'no signalling and silent peer connections: participant gone');
      this.close(DisconnectReason.CONNECTION_TIMEOUT, false);
    } else if (now - this.signalLostAt >= SIGNAL_LOSS_GRACE_MS) {
      this.close(DisconnectReason.SIGNAL_CLOSE, false);
    }
  }

  /**
   * Removes the participant: tells the client why (unless it left by itself) and what to do, closes both peer connections and
   * the WebSocket. The room announces the departure.
   */
  close(reason: DisconnectReason, sendLeave = true, action = LeaveRequest_Action.DISCONNECT): void {
    if (this.closed) return;
    this.closed = true;
    this.disconnectReason = reason;
    this.state = ParticipantInfo_State.DISCONNECTED;
    clearInterval(this.livenessTimer);
    if (sendLeave && !this.signal.isClosed) {
      // RECONNECT: the client rejoins at once (a draining node sends its participants elsewhere this way).
      this.signal.send({ leave: { canReconnect: action !== LeaveRequest_Action.DISCONNECT, reason, action } });
    }
    this.signal.close(CloseCode.normal, DisconnectReason[reason] ?? 'closed');
    for (const sid of this.subscribedTrackSids) this.unsubscribeFrom(sid);
    for (const t of this.tracks.values()) t.dynacast?.close();
    void this.publisher.close();
    void this.subscriber.close();
    this.log.info({ reason: DisconnectReason[reason] }, 'participant left');
    this.emit('closed', this, reason);
  }
}

/** LOW/MEDIUM/HIGH → spatial layer 0/1/2. */
function layerForQuality(q: VideoQuality): number {
  const i = LAYER_QUALITY_ORDER.indexOf(q);
  return i < 0 ? 2 : i;
}

/**
 * The lowest layer whose height covers the requested height (×0.9 tolerance, short side for portrait), as LiveKit's
 * GetQualityForDimension. Layer heights come from the track's announced layers, else 180/360/full.
 */
export function layerForDimensions(info: TrackInfo, width: number, height: number): number {
  const heights = info.layers.length ? info.layers.map((l) => Math.min(l.width, l.height) || l.height) : [180, 360, Math.min(info.width, info.height) || 720];
  const want = Math.min(width || height, height || width) * 0.9;
  for (let i = 0; i < heights.length; i++) if (heights[i]! >= want) return i;
  return heights.length - 1;
}
