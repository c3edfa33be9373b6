// A minimal LiveKit-protocol client for Node: the signalling WebSocket (/rtc, protocol v0, exactly as livekit-client
// 2.x speaks it after falling back from /rtc/v1) over `ws`, media over werift with LiveKit's dual peer connections:
//
//   publisher PC   the client offers (data channels `_reliable`/`_lossy`, one send-only m-line per published track),
//                  Kite answers; AddTrackRequest.cid = the m-line's msid track id.
//   subscriber PC  Kite offers (its data channels, one send-only m-line per subscription), the client answers with
//                  the offer's id.
//
// ICE candidates trickle both ways (target PUBLISHER / SUBSCRIBER); ping + ping_req every ping_interval. Every
// SignalResponse is kept in a typed log (`log`, `waitFor`), participant updates are applied the way livekit-client
// applies them (by identity, ignoring older versions of the same sid), and every RTP packet received on the
// subscriber PC is recorded per remote track. For received video the client does what a browser's receiver does:
// NACKs with retries and PLIs until a complete keyframe arrived.
//
// Testing knobs: `loss` (werift's debug loss on the publisher's outbound / subscriber's inbound packets),
// `sendRaw` (arbitrary frames), `vanish()` (stop dead without a word, like a pulled network cable).
//
// This is the seed of the Node transport of Kite's own client SDK; it deliberately has no test-framework imports.
import type { Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import {
  GenericNack,
  MediaStreamTrack,
  RTCPeerConnection,
  RTCRtpCodecParameters,
  RTCRtpHeaderExtensionParameters,
  RTP_EXTENSION_URI,
  RtcpTransportLayerFeedback,
  type RTCDataChannel,
  type RTCRtpTransceiver,
  type RtpPacket,
} from 'werift';
import {
  DataPacket,
  DataPacket_Kind,
  DisconnectReason,
  LeaveRequest_Action,
  ParticipantInfo_State,
  RequestResponse_Reason,
  SignalRequest,
  SignalResponse,
  SignalTarget,
  TrackSource,
  TrackType,
  type JoinResponse,
  type LeaveRequest,
  type ParticipantInfo,
  type PartialMessage,
  type RequestResponse,
  type TrackInfo,
} from '@kite/protocol';
import { rtp } from '@kite/sfu';

// ---------------------------------------------------------------------------------------------------------------
// Types

export type SignalKind = NonNullable<SignalResponse['message']>;
/** The payload of one SignalResponse member, e.g. `Payload<'join'>` = JoinResponse. */
export type Payload<K extends SignalKind> = NonNullable<SignalResponse[K]>;

export interface LoggedSignal {
  /** Date.now() when it arrived. */
  at: number;
  kind: SignalKind;
  msg: SignalResponse;
  /** Index in `log`. */
  index: number;
  /** Binary protobuf (true) or proto3 JSON text (false). */
  binary: boolean;
}

export interface LkClientOptions {
  /** The server's http(s):// (or ws(s)://) base URL. */
  url: string;
  token: string;
  /** Where the token goes: the `access_token` query parameter (livekit-client) or an `Authorization: Bearer` header (Rust SDK). */
  tokenIn?: 'query' | 'header';
  autoSubscribe?: boolean;
  /** Signalling protocol version (livekit-client 2.x: 17). */
  protocol?: number;
  sdk?: string;
  version?: string;
  clientProtocol?: number;
  /** Send text (proto3 JSON) frames instead of binary protobuf. */
  json?: boolean;
  /** Packet loss werift injects, in percent: on everything the publisher PC sends / the subscriber PC receives. */
  loss?: { uplink?: number; downlink?: number };
  /** Negotiate the publisher PC right after joining when `!subscriber_primary || fast_publish` (livekit-client does). */
  negotiatePublisherOnJoin?: boolean;
  /** livekit-client gives up when the first message does not arrive within 5 s. */
  joinTimeoutMs?: number;
  /** Name used in errors. */
  label?: string;
}

/** The server refused the connection: an HTTP error on the upgrade, or a `leave` as the first message. */
export class ConnectError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly body?: string,
    readonly leave?: LeaveRequest,
  ) {
    super(message);
    this.name = 'ConnectError';
  }
}

/** AddTrackRequest answered with a RequestResponse instead of TrackPublishedResponse. */
export class PublishRefusedError extends Error {
  constructor(
    readonly response: RequestResponse,
    /** The track anyway (its m-line was negotiated in parallel, as livekit-client does): writing to it must reach nobody. */
    readonly track: LocalTrack,
  ) {
    super(`publish refused: ${RequestResponse_Reason[response.reason]} ${response.message}`);
    this.name = 'PublishRefusedError';
  }
}

export interface PublishOptions {
  name?: string;
  source?: TrackSource;
  width?: number;
  height?: number;
  muted?: boolean;
  /** Do not wait for the publisher PC to connect. */
  noWaitConnected?: boolean;
  timeoutMs?: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Media configuration: what the client negotiates (VP8 + RTX, Opus; MID header extension), loopback-only ICE.

const FEEDBACK = [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'goog-remb' }];

function clientCodecs() {
  return {
    audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: 111, parameters: 'minptime=10;useinbandfec=1' })],
    video: [
      new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000, payloadType: 96, rtcpFeedback: FEEDBACK }),
      new RTCRtpCodecParameters({ mimeType: 'video/rtx', clockRate: 90000, payloadType: 97, parameters: 'apt=96' }),
    ],
  };
}

/** werift drops a packet when `value / 100 < Math.random()`: value 90 means 10 % loss. */
const weriftLoss = (percent: number) => 100 - percent;

function createPc(debug: Record<string, number>): RTCPeerConnection {
  const mid = new RTCRtpHeaderExtensionParameters({ uri: RTP_EXTENSION_URI.sdesMid, id: 4 });
  return new RTCPeerConnection({
    iceServers: [],
    bundlePolicy: 'max-bundle',
    iceUseIpv6: false,
    iceInterfaceAddresses: { udp4: '127.0.0.1' },
    iceAdditionalHostAddresses: ['127.0.0.1'],
    codecs: clientCodecs(),
    headerExtensions: { audio: [mid], video: [mid] },
    debug,
  } as never);
}

// werift internals the client reaches into (stable in 0.25.2).
interface IceConnectionInternal {
  send: (data: Buffer) => Promise<void>;
  stopConsentLifecycle?: () => void;
}
interface PcInternal {
  iceTransports: { connection: IceConnectionInternal }[];
  config: { debug: Record<string, number | undefined> };
}

// ---------------------------------------------------------------------------------------------------------------
// Tracks

/** A track this client publishes: write generated RTP into it. */
export class LocalTrack {
  /** TrackInfo from TrackPublishedResponse (undefined when refused). */
  info: TrackInfo | undefined;
  /** PLIs / FIRs received for this track (the server asked for a keyframe). */
  keyframeRequests = 0;
  onKeyframeRequest: (() => void) | undefined;

  constructor(
    readonly client: LkClient,
    readonly kind: 'audio' | 'video',
    /** AddTrackRequest.cid = the msid track id in the publisher offer. */
    readonly cid: string,
    readonly track: MediaStreamTrack,
    readonly transceiver: RTCRtpTransceiver,
  ) {
    transceiver.sender.onPictureLossIndication.subscribe(() => {
      this.keyframeRequests++;
      this.onKeyframeRequest?.();
    });
  }

  get sid(): string {
    return this.info?.sid ?? '';
  }

  /** The SSRC werift sends this track with. */
  get ssrc(): number {
    return this.transceiver.sender.ssrc;
  }

  /** Writes one RTP packet (werift rewrites SSRC, payload type and keeps its own sequence/timestamp offsets). */
  writeRtp(p: RtpPacket): void {
    this.track.writeRtp(p);
  }

  /** Packets werift re-sent after NACKs from the server. */
  get retransmits(): number {
    return (this.transceiver.sender as unknown as { retransmittedPacketsSent?: number }).retransmittedPacketsSent ?? 0;
  }

  /** Sends MuteTrackRequest. */
  mute(muted = true): void {
    this.client.send({ mute: { sid: this.sid, muted } });
  }
}

export interface ReceivedPacket {
  seq: number;
  timestamp: number;
  marker: boolean;
  payloadType: number;
  ssrc: number;
  payload: Buffer;
  at: number;
}

/**
 * A track received on the subscriber PC (one per track sid). For video it plays the parts of a receiver that talk
 * back: NACKs with retries (werift's own NACKing gives up after ~50 ms; browsers keep trying for about a second) and
 * PLIs until a complete VP8 keyframe arrived (a decoder cannot start otherwise).
 */
export class RemoteTrack {
  readonly packets: ReceivedPacket[] = [];
  readonly ssrcs = new Set<number>();
  readonly nack: rtp.NackGenerator | undefined;
  nacksSent = 0;
  plisSent = 0;
  lastPliAt = 0;
  firstPacketAt = 0;
  /** Sequence number of the first VP8 keyframe received complete (where a decoder starts), once there is one. */
  firstKeyframeSeq: number | undefined;
  private readonly seen = new Set<number>();
  private readonly keyframeStarts: number[] = [];
  private readonly frameEnds = new Set<number>();
  duplicates = 0;

  constructor(
    readonly sid: string,
    /** The stream id of the m-line's msid: `PA_xxx|camera` (or `PA_xxx|TR_xxx`). */
    readonly streamId: string,
    readonly kind: 'audio' | 'video',
    readonly transceiver: RTCRtpTransceiver,
  ) {
    this.nack = kind === 'video' ? new rtp.NackGenerator({ initialRttMs: 30, maxRetries: 20, maxAgeMs: 1500 }) : undefined;
  }

  /** The publisher's participant sid (the part of the stream id before `|`). */
  get participantSid(): string {
    return this.streamId.split('|')[0] ?? '';
  }

  get count(): number {
    return this.packets.length;
  }

  /** Distinct sequence numbers received (retransmissions of the same packet count once). */
  get uniqueCount(): number {
    return this.seen.size;
  }

  get seqs(): number[] {
    return this.packets.map((p) => p.seq);
  }

  onPacket(p: RtpPacket): void {
    const { header } = p;
    const now = Date.now();
    this.ssrcs.add(header.ssrc);
    if (this.seen.has(header.sequenceNumber)) this.duplicates++;
    else this.seen.add(header.sequenceNumber);
    this.packets.push({ seq: header.sequenceNumber, timestamp: header.timestamp, marker: header.marker, payloadType: header.payloadType, ssrc: header.ssrc, payload: p.payload, at: now });
    if (this.firstPacketAt === 0) this.firstPacketAt = now;
    this.nack?.onPacket(header.sequenceNumber, now);
    if (this.kind === 'video' && this.firstKeyframeSeq === undefined) {
      if (rtp.vp8IsKeyframe(p.payload, 0, p.payload.length)) this.keyframeStarts.push(header.sequenceNumber);
      if (header.marker) this.frameEnds.add(header.sequenceNumber);
      this.findCompleteKeyframe();
    }
  }

  /** Sends a PLI for this track (what a decoder that lost the picture does). */
  requestKeyframe(): void {
    const ssrc = [...this.ssrcs].pop();
    if (ssrc === undefined) return;
    this.plisSent++;
    this.lastPliAt = Date.now();
    this.transceiver.receiver.sendRtcpPLI(ssrc).catch(() => undefined);
  }

  /** A keyframe is complete when every sequence number from its first packet to its frame's marker packet arrived. */
  private findCompleteKeyframe(): void {
    for (const start of this.keyframeStarts) {
      for (let i = 0; i < 256; i++) {
        const seq = (start + i) & 0xffff;
        if (!this.seen.has(seq)) break;
        if (this.frameEnds.has(seq)) {
          this.firstKeyframeSeq = start;
          return;
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// The client

const ONE_SHOT_TIMEOUT_MS = 10_000;

export class LkClient {
  readonly opts: LkClientOptions;
  readonly ws: WebSocket;
  /** Every SignalResponse received, in order. */
  readonly log: LoggedSignal[] = [];
  /** The JoinResponse (set once connect() resolved). */
  join!: JoinResponse;
  /** This participant as the server last described it (JoinResponse, then updates about our own sid). */
  self: ParticipantInfo | undefined;
  /** Remote participants by identity, maintained exactly like livekit-client's Room.handleParticipantUpdates. */
  readonly participants = new Map<string, ParticipantInfo>();
  /** Updates ignored because an update with a higher version of the same sid was already applied. */
  readonly staleUpdates: ParticipantInfo[] = [];
  /** Participants removed by a DISCONNECTED update. */
  readonly departed: ParticipantInfo[] = [];
  /** Received tracks by track sid. */
  readonly remoteTracks = new Map<string, RemoteTrack>();
  readonly localTracks: LocalTrack[] = [];
  /** Data packets received on any data channel. */
  readonly data: { label: string; packet: DataPacket }[] = [];
  /** Errors of the asynchronous negotiation steps (a test can assert it stays empty). */
  readonly errors: Error[] = [];
  publisher!: RTCPeerConnection;
  subscriber!: RTCPeerConnection;
  /** RTT from the last pong_resp (ms). */
  rttMs = 0;
  /** The WebSocket's close, once it happened. */
  closeEvent: { code: number; reason: string } | undefined;
  readonly closed: Promise<{ code: number; reason: string }>;

  private readonly waiters = new Set<{ kind: SignalKind; pred: (m: never) => boolean; resolve: (e: LoggedSignal) => void }>();
  private pingTimer: NodeJS.Timeout | undefined;
  private feedbackTimer: NodeJS.Timeout | undefined;
  private subscriberChain: Promise<void> = Promise.resolve();
  private publisherOfferId = 0;
  private publisherNegotiation: Promise<void> | undefined;
  private publisherRenegotiate = false;
  private readonly publisherChannels = new Map<string, RTCDataChannel>();
  /** Transceivers whose RTP is already recorded (a reused m-line fires another track event). */
  private readonly hooked = new WeakSet<RTCRtpTransceiver>();
  private dataSequence = 0;
  private vanished = false;
  private disposed = false;

  private constructor(opts: LkClientOptions, ws: WebSocket) {
    this.opts = opts;
    this.ws = ws;
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closeEvent = { code, reason: reason.toString() };
        this.stopTimers();
        resolve(this.closeEvent);
      });
    });
    ws.on('error', (err) => this.errors.push(err));
    ws.on('message', (data, isBinary) => this.onFrame(data as Buffer, isBinary));
  }

  // -------------------------------------------------------------------------------------------------------------
  // Connecting

  /** The /rtc URL livekit-client builds (v0 path) for a base URL and token. */
  static rtcUrl(opts: Pick<LkClientOptions, 'url' | 'token' | 'tokenIn' | 'autoSubscribe' | 'protocol' | 'sdk' | 'version' | 'clientProtocol'>, path = '/rtc'): string {
    const u = new URL(opts.url.replace(/^http/, 'ws'));
    u.pathname = u.pathname.replace(/\/$/, '') + path;
    if ((opts.tokenIn ?? 'query') === 'query') u.searchParams.set('access_token', opts.token);
    u.searchParams.set('auto_subscribe', opts.autoSubscribe === false ? '0' : '1');
    u.searchParams.set('sdk', opts.sdk ?? 'js');
    u.searchParams.set('version', opts.version ?? '2.23.0');
    u.searchParams.set('protocol', String(opts.protocol ?? 17));
    u.searchParams.set('client_protocol', String(opts.clientProtocol ?? 2));
    return u.toString();
  }

  /** Opens the signalling WebSocket and resolves with the client once the JoinResponse arrived. */
  static connect(opts: LkClientOptions): Promise<LkClient> {
    const headers = opts.tokenIn === 'header' ? { authorization: `Bearer ${opts.token}` } : undefined;
    const ws = new WebSocket(LkClient.rtcUrl(opts), { headers, perMessageDeflate: false });
    const client = new LkClient(opts, ws);
    const label = opts.label ?? 'client';
    return new Promise<LkClient>((resolve, reject) => {
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new ConnectError(`${label}: no join response within ${opts.joinTimeoutMs ?? 5000} ms`));
      }, opts.joinTimeoutMs ?? 5000);
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => {
          clearTimeout(timer);
          reject(new ConnectError(`${label}: HTTP ${res.statusCode}: ${body}`, res.statusCode, body));
        });
      });
      ws.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      ws.once('close', (code, reason) => {
        clearTimeout(timer);
        reject(new ConnectError(`${label}: closed before the join response (${code} ${reason.toString()})`));
      });
      void client.next('join', 'leave').then(
        (first) => {
          clearTimeout(timer);
          if (first.kind === 'leave') reject(new ConnectError(`${label}: refused with leave ${DisconnectReason[first.msg.leave!.reason]}`, undefined, undefined, first.msg.leave));
          else resolve(client);
        },
        () => undefined,
      );
    });
  }

  get sid(): string {
    return this.join?.participant?.sid ?? '';
  }

  get identity(): string {
    return this.join?.participant?.identity ?? '';
  }

  private onJoin(join: JoinResponse): void {
    this.join = join;
    this.self = join.participant;
    for (const p of join.otherParticipants) this.participants.set(p.identity, p);
    const loss = this.opts.loss ?? {};
    this.publisher = createPc(loss.uplink ? { outboundPacketLoss: weriftLoss(loss.uplink) } : {});
    this.subscriber = createPc(loss.downlink ? { inboundPacketLoss: weriftLoss(loss.downlink) } : {});
    this.publisher.onIceCandidate.subscribe((c) => c && this.send({ trickle: { candidateInit: JSON.stringify(c), target: SignalTarget.PUBLISHER, final: false } }));
    this.subscriber.onIceCandidate.subscribe((c) => c && this.send({ trickle: { candidateInit: JSON.stringify(c), target: SignalTarget.SUBSCRIBER, final: false } }));
    this.subscriber.ontrack = (ev) => this.onRemoteTrack(ev.transceiver);
    this.subscriber.onDataChannel.subscribe((ch) => this.watchChannel(ch));
    if (join.pingInterval > 0) {
      this.pingTimer = setInterval(() => this.sendPing(), join.pingInterval * 1000);
      this.pingTimer.unref();
    }
    this.feedbackTimer = setInterval(() => this.sendFeedback(), 10);
    this.feedbackTimer.unref();
    if ((this.opts.negotiatePublisherOnJoin ?? true) && (!join.subscriberPrimary || join.fastPublish)) {
      this.createPublisherChannels();
      void this.negotiatePublisher().catch((err: Error) => this.errors.push(err));
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Signalling in

  private onFrame(data: Buffer, isBinary: boolean): void {
    if (this.vanished) return;
    let msg: SignalResponse;
    try {
      msg = isBinary ? SignalResponse.decode(data) : SignalResponse.fromJson(JSON.parse(data.toString('utf8')));
    } catch (err) {
      this.errors.push(err as Error);
      return;
    }
    const kind = msg.message;
    if (!kind) return;
    const entry: LoggedSignal = { at: Date.now(), kind, msg, index: this.log.length, binary: isBinary };
    this.log.push(entry);
    try {
      this.handle(msg);
    } catch (err) {
      this.errors.push(err as Error);
    }
    for (const w of [...this.waiters]) {
      if (w.kind === kind && w.pred(msg[kind] as never)) {
        this.waiters.delete(w);
        w.resolve(entry);
      }
    }
  }

  private handle(msg: SignalResponse): void {
    switch (msg.message) {
      case 'join':
        this.onJoin(msg.join!);
        break;
      case 'offer':
        this.onServerOffer(msg.offer!.sdp, msg.offer!.id);
        break;
      case 'trickle': {
        const { candidateInit, target } = msg.trickle!;
        const pc = target === SignalTarget.SUBSCRIBER ? this.subscriber : this.publisher;
        pc?.addIceCandidate(JSON.parse(candidateInit)).catch((err: Error) => this.errors.push(err));
        break;
      }
      case 'update':
        for (const info of msg.update!.participants) this.applyParticipant(info);
        break;
      case 'pongResp':
        this.rttMs = Date.now() - msg.pongResp!.lastPingTimestamp;
        break;
      case 'leave':
        // DISCONNECT: the session is over (the server closes the WebSocket).
        if (msg.leave!.action === LeaveRequest_Action.DISCONNECT) void this.closePeers();
        break;
      default:
        break;
    }
  }

  /** livekit-client's rules: keyed by identity; DISCONNECTED removes; an older version of the same sid is ignored. */
  private applyParticipant(info: ParticipantInfo): void {
    if (info.identity === this.identity) {
      if (info.sid !== this.sid) return;
      if (this.self && info.version < this.self.version) this.staleUpdates.push(info);
      else this.self = info;
      return;
    }
    const current = this.participants.get(info.identity);
    if (info.state === ParticipantInfo_State.DISCONNECTED) {
      this.participants.delete(info.identity);
      this.departed.push(info);
      return;
    }
    if (current && current.sid === info.sid && info.version < current.version) {
      this.staleUpdates.push(info);
      return;
    }
    this.participants.set(info.identity, info);
  }

  /** All ParticipantInfos received in updates (in order), optionally only those of one identity. */
  updates(identity?: string): ParticipantInfo[] {
    const out: ParticipantInfo[] = [];
    for (const e of this.log) if (e.kind === 'update') for (const p of e.msg.update!.participants) if (identity === undefined || p.identity === identity) out.push(p);
    return out;
  }

  /** Log entries of one kind. */
  messages<K extends SignalKind>(kind: K, since = 0): Payload<K>[] {
    return this.log.slice(since).filter((e) => e.kind === kind).map((e) => e.msg[kind] as Payload<K>);
  }

  /** Position in the log, for `waitFor(..., { since })`. */
  mark(): number {
    return this.log.length;
  }

  /**
   * The first message of `kind` (from log index `since`, default 0: messages already received count) that satisfies
   * `pred`; waits for it up to `timeoutMs`.
   */
  waitFor<K extends SignalKind>(kind: K, pred: (m: Payload<K>) => boolean = () => true, opts: { since?: number; timeoutMs?: number } = {}): Promise<Payload<K>> {
    for (const e of this.log.slice(opts.since ?? 0)) if (e.kind === kind && pred(e.msg[kind] as Payload<K>)) return Promise.resolve(e.msg[kind] as Payload<K>);
    return new Promise((resolve, reject) => {
      const w = { kind, pred: pred as (m: never) => boolean, resolve: (e: LoggedSignal) => (clearTimeout(t), resolve(e.msg[kind] as Payload<K>)) };
      const t = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`${this.opts.label ?? this.identity}: timed out waiting for ${kind}`));
      }, opts.timeoutMs ?? ONE_SHOT_TIMEOUT_MS);
      this.waiters.add(w);
    });
  }

  /** The next message of any of `kinds` arriving from now on. */
  private next(...kinds: SignalKind[]): Promise<LoggedSignal> {
    return new Promise((resolve) => {
      const ws = kinds.map((kind) => ({ kind, pred: () => true, resolve: (e: LoggedSignal) => (ws.forEach((x) => this.waiters.delete(x)), resolve(e)) }));
      for (const w of ws) this.waiters.add(w);
    });
  }

  /** Waits until a condition on the client's state holds (polling). */
  async until(cond: () => boolean, timeoutMs = ONE_SHOT_TIMEOUT_MS, what = 'condition'): Promise<void> {
    const start = Date.now();
    while (!cond()) {
      if (Date.now() - start > timeoutMs) throw new Error(`${this.opts.label ?? this.identity}: timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Signalling out

  /** Sends a SignalRequest (binary protobuf, or JSON text with `json: true`). Dropped after vanish(). */
  send(req: PartialMessage<SignalRequest>): void {
    if (this.vanished || this.ws.readyState !== WebSocket.OPEN) return;
    if (this.opts.json) this.ws.send(JSON.stringify(SignalRequest.toJson(req)));
    else this.ws.send(SignalRequest.encode(req));
  }

  /** Sends an arbitrary frame: bytes as a binary frame, a string as a text frame. */
  sendRaw(data: Uint8Array | string): void {
    this.ws.send(data, { binary: typeof data !== 'string' });
  }

  private sendPing(): void {
    const now = Date.now();
    this.send({ ping: now });
    this.send({ pingReq: { timestamp: now, rtt: this.rttMs } });
  }

  /** Sends ping + ping_req now; resolves with the pong and pong_resp. */
  async ping(): Promise<{ pong: number; pongResp: Payload<'pongResp'>; rttMs: number }> {
    const since = this.mark();
    const now = Date.now();
    this.send({ ping: now });
    this.send({ pingReq: { timestamp: now, rtt: this.rttMs } });
    const [pong, pongResp] = await Promise.all([this.waitFor('pong', () => true, { since }), this.waitFor('pongResp', (p) => p.lastPingTimestamp === now, { since })]);
    return { pong, pongResp, rttMs: Date.now() - now };
  }

  updateMetadata(u: { metadata?: string; name?: string; attributes?: Record<string, string>; requestId?: number }): void {
    this.send({ updateMetadata: { metadata: u.metadata ?? '', name: u.name ?? '', attributes: u.attributes ?? {}, requestId: u.requestId ?? 0 } });
  }

  setSubscribed(trackSids: string[], subscribe: boolean): void {
    this.send({ subscription: { trackSids, subscribe, participantTracks: [] } });
  }

  // -------------------------------------------------------------------------------------------------------------
  // Subscriber PC: the server offers, we answer with its id

  private onServerOffer(sdp: string, id: number): void {
    this.subscriberChain = this.subscriberChain
      .then(async () => {
        if (this.vanished || this.disposed) return;
        await this.subscriber.setRemoteDescription({ type: 'offer', sdp });
        await this.subscriber.setLocalDescription(await this.subscriber.createAnswer());
        this.send({ answer: { type: 'answer', sdp: this.subscriber.localDescription!.sdp, id, midToTrackId: {} } });
      })
      .catch((err: Error) => void this.errors.push(err));
  }

  private onRemoteTrack(transceiver: RTCRtpTransceiver): void {
    if (this.hooked.has(transceiver)) return;
    this.hooked.add(transceiver);
    const receiver = transceiver.receiver;
    const kind = transceiver.kind === 'audio' ? 'audio' : 'video';
    // A transceiver the server reuses for a later subscription fires no new track event but carries a new msid:
    // resolve the track sid per packet.
    receiver.track.onReceiveRtp.subscribe((p) => {
      const sid = receiver.remoteTrackId ?? '';
      let t = this.remoteTracks.get(sid);
      if (!t) this.remoteTracks.set(sid, (t = new RemoteTrack(sid, receiver.remoteStreamId ?? '', kind, transceiver)));
      t.onPacket(p);
    });
  }

  /**
   * Receiver feedback for video, every 10 ms: NACKs with retries until repaired or ~1.5 s old (like a browser's NACK
   * module), and a PLI every 500 ms while no complete keyframe arrived (from 250 ms after the first packet).
   */
  private sendFeedback(): void {
    const now = Date.now();
    const out = new Array<number>(64).fill(0);
    for (const t of this.remoteTracks.values()) {
      if (t.kind !== 'video') continue;
      const ssrc = [...t.ssrcs].pop()!;
      const receiver = t.transceiver.receiver;
      if (t.firstKeyframeSeq === undefined && now - t.firstPacketAt > 250 && now - t.lastPliAt > 500) t.requestKeyframe();
      if (!t.nack || t.nack.outstanding === 0) continue;
      const n = t.nack.getNacks(now, out);
      if (n === 0) continue;
      const nack = new GenericNack({ senderSsrc: receiver.rtcpSsrc, mediaSourceSsrc: ssrc, lost: out.slice(0, n) });
      t.nacksSent++;
      receiver.dtlsTransport?.sendRtcp([new RtcpTransportLayerFeedback({ feedback: nack })]).catch(() => undefined);
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Publisher PC: we offer, the server answers with our id

  private createPublisherChannels(): void {
    if (this.publisherChannels.size) return;
    const lossy = this.publisher.createDataChannel('_lossy', { ordered: false, maxRetransmits: 0 });
    const reliable = this.publisher.createDataChannel('_reliable', { ordered: true });
    for (const ch of [lossy, reliable]) {
      this.publisherChannels.set(ch.label, ch);
      this.watchChannel(ch);
    }
  }

  /** One offer/answer round on the publisher PC; calls during one in flight cause one more round after it. */
  negotiatePublisher(): Promise<void> {
    if (this.publisherNegotiation) {
      this.publisherRenegotiate = true;
      return this.publisherNegotiation;
    }
    const round = async (): Promise<void> => {
      do {
        this.publisherRenegotiate = false;
        const id = ++this.publisherOfferId;
        await this.publisher.setLocalDescription(await this.publisher.createOffer());
        const answer = this.waitFor('answer', (a) => a.id === id);
        this.send({ offer: { type: 'offer', sdp: this.publisher.localDescription!.sdp, id, midToTrackId: {} } });
        const a = await answer;
        // werift starts ICE/DTLS again on every answer it applies and fails the connection when the first DTLS
        // handshake is still running ("state must be new"). Browsers have no such problem, so the offer still goes
        // out at once (the server must cope with it); only our own werift waits before applying the answer.
        await this.until(() => this.publisher.connectionState !== 'connecting', ONE_SHOT_TIMEOUT_MS, 'publisher handshake');
        await this.publisher.setRemoteDescription({ type: 'answer', sdp: a.sdp });
      } while (this.publisherRenegotiate && !this.disposed);
    };
    this.publisherNegotiation = round().finally(() => (this.publisherNegotiation = undefined));
    return this.publisherNegotiation;
  }

  /**
   * Publishes a track the way livekit-client does when the server lists video codecs in enabled_publish_codecs:
   * AddTrackRequest and the publisher negotiation in parallel. Resolves once TrackPublishedResponse arrived and the
   * publisher PC is connected; throws PublishRefusedError on a RequestResponse for the AddTrackRequest.
   */
  async publish(kind: 'audio' | 'video', opts: PublishOptions = {}): Promise<LocalTrack> {
    this.createPublisherChannels();
    const track = new MediaStreamTrack({ kind });
    const transceiver = this.publisher.addTransceiver(track, { direction: 'sendonly' });
    transceiver.sender.streamIds = [randomUUID()];
    const cid = transceiver.sender.trackId;
    const local = new LocalTrack(this, kind, cid, track, transceiver);
    this.localTracks.push(local);
    const since = this.mark();
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const published = this.waitFor('trackPublished', (r) => r.cid === cid, { since, timeoutMs });
    const refused = this.waitFor('requestResponse', (r) => r.addTrack?.cid === cid, { since, timeoutMs });
    const source = opts.source ?? (kind === 'video' ? TrackSource.CAMERA : TrackSource.MICROPHONE);
    this.send({
      addTrack: {
        cid,
        name: opts.name ?? (kind === 'video' ? 'camera' : 'microphone'),
        type: kind === 'video' ? TrackType.VIDEO : TrackType.AUDIO,
        source,
        width: kind === 'video' ? (opts.width ?? 640) : 0,
        height: kind === 'video' ? (opts.height ?? 360) : 0,
        muted: opts.muted ?? false,
      },
    });
    const negotiated = this.negotiatePublisher();
    const outcome = await Promise.race([published.then((r) => ({ ok: true as const, r })), refused.then((r) => ({ ok: false as const, r }))]);
    published.catch(() => undefined);
    refused.catch(() => undefined);
    await negotiated;
    if (!outcome.ok) throw new PublishRefusedError(outcome.r, local);
    local.info = outcome.r.track;
    if (!opts.noWaitConnected) await this.until(() => this.publisher.connectionState === 'connected', timeoutMs, 'publisher connected');
    return local;
  }

  publishVideo(opts: PublishOptions = {}): Promise<LocalTrack> {
    return this.publish('video', opts);
  }

  publishAudio(opts: PublishOptions = {}): Promise<LocalTrack> {
    return this.publish('audio', opts);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Data

  private watchChannel(ch: RTCDataChannel): void {
    ch.onMessage.subscribe((data) => {
      if (typeof data === 'string') return;
      try {
        this.data.push({ label: ch.label, packet: DataPacket.decode(data) });
      } catch (err) {
        this.errors.push(err as Error);
      }
    });
  }

  /** Sends a user data packet on the publisher's `_reliable` (default) or `_lossy` channel, once it is open. */
  async publishData(payload: Uint8Array, opts: { reliable?: boolean; topic?: string; destinationIdentities?: string[] } = {}): Promise<void> {
    this.createPublisherChannels();
    const reliable = opts.reliable ?? true;
    const ch = this.publisherChannels.get(reliable ? '_reliable' : '_lossy')!;
    if (ch.readyState !== 'open') {
      if (this.publisher.connectionState === 'new' && !this.publisherNegotiation) void this.negotiatePublisher();
      await this.until(() => ch.readyState === 'open', ONE_SHOT_TIMEOUT_MS, `${ch.label} open`);
    }
    const packet = DataPacket.encode({
      kind: reliable ? DataPacket_Kind.RELIABLE : DataPacket_Kind.LOSSY,
      destinationIdentities: opts.destinationIdentities ?? [],
      sequence: reliable ? ++this.dataSequence : 0,
      user: { payload, topic: opts.topic, destinationIdentities: opts.destinationIdentities ?? [] },
    });
    ch.send(Buffer.from(packet));
  }

  // -------------------------------------------------------------------------------------------------------------
  // Loss and leaving

  /** Changes werift's injected loss at run time (percent; 0 = none). */
  setLoss(loss: { uplink?: number; downlink?: number }): void {
    if (loss.uplink !== undefined) (this.publisher as unknown as PcInternal).config.debug.outboundPacketLoss = loss.uplink ? weriftLoss(loss.uplink) : undefined;
    if (loss.downlink !== undefined) (this.subscriber as unknown as PcInternal).config.debug.inboundPacketLoss = loss.downlink ? weriftLoss(loss.downlink) : undefined;
  }

  /** Leaves like room.disconnect(): LeaveRequest{CLIENT_INITIATED, DISCONNECT}, then closes everything. */
  async close(): Promise<void> {
    if (!this.vanished && this.ws.readyState === WebSocket.OPEN) {
      this.send({ leave: { canReconnect: false, reason: DisconnectReason.CLIENT_INITIATED, action: LeaveRequest_Action.DISCONNECT } });
      this.ws.close(1000);
    }
    await this.dispose();
  }

  /**
   * Stops dead without a word, like a laptop whose network went away: nothing more is sent on the WebSocket (no
   * leave, no close frame, no pings), and both peer connections fall silent (no RTP/RTCP, no DTLS/SCTP, no ICE
   * consent checks). `stall` stops reading the TCP socket and leaves it open (the server only notices through its
   * ping timeout); `reset` tears the TCP connection down with an RST (the server sees an unclean close, code 1006).
   */
  vanish(mode: 'stall' | 'reset' = 'stall'): void {
    this.vanished = true;
    this.stopTimers();
    const socket = (this.ws as unknown as { _socket?: Socket })._socket;
    if (mode === 'reset') socket?.resetAndDestroy();
    else socket?.pause();
    for (const pc of [this.publisher, this.subscriber]) {
      for (const t of (pc as unknown as PcInternal | undefined)?.iceTransports ?? []) {
        t.connection.stopConsentLifecycle?.call(t.connection);
        t.connection.send = async () => undefined;
      }
    }
  }

  private stopTimers(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.feedbackTimer) clearInterval(this.feedbackTimer);
    this.pingTimer = this.feedbackTimer = undefined;
  }

  private async closePeers(): Promise<void> {
    for (const t of this.localTracks) t.track.stop();
    await Promise.allSettled([this.publisher?.close(), this.subscriber?.close()]);
  }

  /** Releases everything without signalling (for test cleanup; close() is the polite way out). */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.stopTimers();
    for (const w of this.waiters) this.waiters.delete(w);
    if (this.ws.readyState !== WebSocket.CLOSED) {
      const graceful = !this.vanished && this.ws.readyState === WebSocket.OPEN;
      if (graceful) await Promise.race([this.closed, new Promise((r) => setTimeout(r, 500))]);
      this.ws.terminate();
    }
    await this.closePeers();
  }
}

/** Result of a WebSocket upgrade attempt: 101 when it was accepted (the socket is closed again at once). */
export function tryUpgrade(url: string, headers?: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws'), { headers, perMessageDeflate: false });
    ws.once('open', () => {
      ws.terminate();
      resolve({ status: 101, body: '' });
    });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    ws.once('error', (err) => reject(err));
  });
}
