// A LiveKit protocol v1 client for Node (/rtc/v1, single peer connection), as livekit-client 2.x speaks it by default:
//
//   before connecting  one werift PC with the data channels `_lossy`/`_reliable` and 3 recvonly audio + 3 recvonly
//                      video m-lines; its offer (id 1) goes in the JoinRequest, gzipped or not, in `join_request`.
//   after the join     Kite answers that offer (same id). The client is always the offerer: published tracks are
//                      sendonly m-lines of new offers; MediaSectionsRequirement{n audio, m video} adds that many
//                      recvonly m-lines and offers again. Subscribed media arrives on the recvonly m-lines; the
//                      track sid of an m-line comes from the last answer's mid_to_track_id.
//
// Everything trickles with target PUBLISHER. The log keeps every SignalResponse, so a test can check that Kite never
// sent an `offer`. Shares LocalTrack / RemoteTrack with the v0 client (support/lkClient.ts).
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { MediaStreamTrack, RTCPeerConnection, RTCRtpCodecParameters, RTCRtpHeaderExtensionParameters, RTP_EXTENSION_URI, type RTCDataChannel, type RTCRtpTransceiver } from 'werift';
import {
  ClientInfo_SDK,
  DataPacket,
  DataPacket_Kind,
  DisconnectReason,
  LeaveRequest_Action,
  ReconnectReason,
  SignalRequest,
  SignalResponse,
  SignalTarget,
  TrackSource,
  TrackType,
  type JoinResponse,
  type PartialMessage,
  type JoinRequest,
} from '@kite/protocol';
import { encodeJoinRequest } from '../../src/rtc/joinRequest.js';
import { ConnectError, LocalTrack, RemoteTrack, type LkClient, type Payload, type SignalKind } from './lkClient.js';

export interface SinglePcClientOptions {
  url: string;
  token: string;
  label?: string;
  /** Gzip the JoinRequest (browsers with CompressionStream do). */
  gzip?: boolean;
  autoSubscribe?: boolean;
  /** Recvonly m-lines in the first offer (livekit-client: 3 and 3). */
  initialAudio?: number;
  initialVideo?: number;
}

const FEEDBACK = [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'goog-remb' }];

function createPc(): RTCPeerConnection {
  const mid = new RTCRtpHeaderExtensionParameters({ uri: RTP_EXTENSION_URI.sdesMid, id: 4 });
  return new RTCPeerConnection({
    iceServers: [],
    bundlePolicy: 'max-bundle',
    iceUseIpv6: false,
    iceInterfaceAddresses: { udp4: '127.0.0.1' },
    iceAdditionalHostAddresses: ['127.0.0.1'],
    codecs: {
      audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: 111, parameters: 'minptime=10;useinbandfec=1' })],
      video: [
        new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000, payloadType: 96, rtcpFeedback: FEEDBACK }),
        new RTCRtpCodecParameters({ mimeType: 'video/rtx', clockRate: 90000, payloadType: 97, parameters: 'apt=96' }),
      ],
    },
    headerExtensions: { audio: [mid], video: [mid] },
  } as never);
}

interface Logged {
  at: number;
  kind: SignalKind;
  msg: SignalResponse;
}

export class SinglePcClient {
  readonly log: Logged[] = [];
  readonly errors: Error[] = [];
  readonly remoteTracks = new Map<string, RemoteTrack>();
  readonly localTracks: LocalTrack[] = [];
  readonly data: { label: string; packet: DataPacket }[] = [];
  /** Trickle targets Kite used (all must be PUBLISHER). */
  readonly trickleTargets: SignalTarget[] = [];
  /** mid → track sid from the last answer. */
  midToTrackId: Record<string, string> = {};
  join: JoinResponse | undefined;
  /** Testing: this many MediaSectionsRequirements are ignored, as if lost. */
  ignoreRequirements = 0;
  readonly channels = new Map<string, RTCDataChannel>();

  private ws!: WebSocket;
  private offerId = 0;
  private negotiating: Promise<void> | undefined;
  private again = false;
  private readonly hooked = new WeakSet<MediaStreamTrack>();
  private pending: PartialMessage<SignalRequest>[] = [];
  private timers: NodeJS.Timeout[] = [];
  private closed = false;

  private constructor(
    readonly opts: SinglePcClientOptions,
    readonly pc: RTCPeerConnection,
  ) {}

  get sid(): string {
    return this.join?.participant?.sid ?? '';
  }

  /** The /rtc/v1 URL with `join_request` (and `access_token`). */
  static url(base: string, token: string, joinRequest: PartialMessage<JoinRequest> | string, gzip = false): string {
    const u = new URL(base.replace(/^http/, 'ws'));
    u.pathname = u.pathname.replace(/\/$/, '') + '/rtc/v1';
    u.searchParams.set('access_token', token);
    u.searchParams.set('join_request', typeof joinRequest === 'string' ? joinRequest : encodeJoinRequest(joinRequest, { gzip }));
    return u.toString();
  }

  /** Builds the PC and its first offer and joins with it; resolves once the JoinResponse arrived. */
  static async connect(opts: SinglePcClientOptions): Promise<SinglePcClient> {
    const c = new SinglePcClient(opts, createPc());
    const pc = c.pc;
    c.createChannels();
    c.addRecvonly(opts.initialAudio ?? 3, opts.initialVideo ?? 3);
    pc.onIceCandidate.subscribe((cand) => cand && c.send({ trickle: { candidateInit: JSON.stringify(cand), target: SignalTarget.PUBLISHER, final: false } }));
    pc.ontrack = (ev) => c.hook(ev.transceiver);
    pc.onDataChannel.subscribe((ch) => c.watch(ch));
    await pc.setLocalDescription(await pc.createOffer());
    const publisherOffer = { type: 'offer', sdp: pc.localDescription!.sdp, id: ++c.offerId, midToTrackId: {} };
    await c.open({ publisherOffer }, 'join');
    return c;
  }

  /**
   * Resumes on a new WebSocket (JoinRequest.reconnect with participant_sid, no offer), keeping the peer connection;
   * resolves with the first message once it is `reconnect` (throws on a `leave`).
   */
  async resume(reason = ReconnectReason.RR_SIGNAL_DISCONNECTED): Promise<Payload<'reconnect'>> {
    const since = this.log.length;
    await this.open({ reconnect: true, participantSid: this.sid, reconnectReason: reason }, 'reconnect');
    return this.log.slice(since).find((e) => e.kind === 'reconnect')!.msg.reconnect!;
  }

  private open(extra: PartialMessage<JoinRequest>, expect: 'join' | 'reconnect'): Promise<void> {
    const jr: PartialMessage<JoinRequest> = {
      clientInfo: { sdk: ClientInfo_SDK.JS, version: '2.23.0', protocol: 17, clientProtocol: 2 },
      connectionSettings: { autoSubscribe: this.opts.autoSubscribe ?? true, adaptiveStream: false, disableIceLite: false },
      ...extra,
    };
    const ws = new WebSocket(SinglePcClient.url(this.opts.url, this.opts.token, jr, this.opts.gzip), { perMessageDeflate: false });
    this.ws = ws;
    const since = this.log.length;
    ws.on('message', (data, binary) => ws === this.ws && this.onFrame(data as Buffer, binary));
    ws.on('error', (err) => this.errors.push(err));
    ws.once('open', () => {
      for (const m of this.pending.splice(0)) this.send(m);
    });
    const label = this.opts.label ?? 'v1 client';
    return new Promise((resolve, reject) => {
      const done = (err?: Error) => {
        clearTimeout(timer);
        clearInterval(poll);
        if (err) reject(err);
        else resolve();
      };
      const timer = setTimeout(() => done(new ConnectError(`${label}: no ${expect} within 5 s`)), 5000);
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => done(new ConnectError(`${label}: HTTP ${res.statusCode}: ${body}`, res.statusCode, body)));
      });
      // The first message must be the expected one or a leave (livekit-client's validateFirstMessage).
      const poll = setInterval(() => {
        const e = this.log[since];
        if (!e) {
          if (ws.readyState === WebSocket.CLOSED) done(new ConnectError(`${label}: closed before the first message`));
          return;
        }
        if (e.kind === 'leave') done(new ConnectError(`${label}: refused with leave ${DisconnectReason[e.msg.leave!.reason]}`, undefined, undefined, e.msg.leave));
        else if (e.kind !== expect) done(new ConnectError(`${label}: first message ${e.kind}, not ${expect}`));
        else done();
      }, 5);
    });
  }

  // -------------------------------------------------------------------------------------------------------------

  send(req: PartialMessage<SignalRequest>): void {
    if (this.closed) return;
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
      this.pending.push(req);
      return;
    }
    this.ws.send(SignalRequest.encode(req));
  }

  private onFrame(data: Buffer, binary: boolean): void {
    let msg: SignalResponse;
    try {
      msg = binary ? SignalResponse.decode(data) : SignalResponse.fromJson(JSON.parse(data.toString()));
    } catch (err) {
      this.errors.push(err as Error);
      return;
    }
    if (!msg.message) return;
    this.log.push({ at: Date.now(), kind: msg.message, msg });
    switch (msg.message) {
      case 'join':
        this.join = msg.join;
        this.startTimers();
        break;
      case 'reconnect':
        this.startTimers();
        break;
      case 'trickle':
        this.trickleTargets.push(msg.trickle!.target);
        this.pc.addIceCandidate(JSON.parse(msg.trickle!.candidateInit)).catch((err: Error) => this.errors.push(err));
        break;
      case 'mediaSectionsRequirement': {
        const r = msg.mediaSectionsRequirement!;
        if (this.ignoreRequirements > 0) {
          this.ignoreRequirements--;
          break;
        }
        this.addRecvonly(r.numAudios, r.numVideos);
        void this.negotiate().catch((err: Error) => this.errors.push(err));
        break;
      }
      default:
        break;
    }
  }

  private startTimers(): void {
    for (const t of this.timers.splice(0)) clearInterval(t);
    const interval = this.join?.pingInterval ?? 0;
    if (interval > 0) this.timers.push(setInterval(() => this.send({ ping: Date.now() }), interval * 1000));
    this.timers.push(setInterval(() => this.requestMissingKeyframes(), 100));
    for (const t of this.timers) t.unref();
  }

  messages<K extends SignalKind>(kind: K): Payload<K>[] {
    return this.log.filter((e) => e.kind === kind).map((e) => e.msg[kind] as Payload<K>);
  }

  async waitFor<K extends SignalKind>(kind: K, pred: (m: Payload<K>) => boolean = () => true, timeoutMs = 10_000, since = 0): Promise<Payload<K>> {
    const start = Date.now();
    for (;;) {
      const hit = this.log.slice(since).find((e) => e.kind === kind && pred(e.msg[kind] as Payload<K>));
      if (hit) return hit.msg[kind] as Payload<K>;
      if (Date.now() - start > timeoutMs) throw new Error(`${this.opts.label}: timed out waiting for ${kind}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async until(cond: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    const start = Date.now();
    while (!cond()) {
      if (Date.now() - start > timeoutMs) throw new Error(`${this.opts.label}: timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // The one peer connection

  private createChannels(): void {
    for (const [label, init] of [
      ['_lossy', { ordered: false, maxRetransmits: 0 }],
      ['_reliable', { ordered: true }],
    ] as const) {
      const ch = this.pc.createDataChannel(label, init);
      this.channels.set(label, ch);
      this.watch(ch);
    }
  }

  private watch(ch: RTCDataChannel): void {
    ch.onMessage.subscribe((data) => {
      if (typeof data === 'string') return;
      try {
        this.data.push({ label: ch.label, packet: DataPacket.decode(data) });
      } catch (err) {
        this.errors.push(err as Error);
      }
    });
  }

  /** Recvonly m-lines, as livekit-client's addMediaSections. */
  addRecvonly(audios: number, videos: number): void {
    for (let i = 0; i < audios; i++) this.pc.addTransceiver('audio', { direction: 'recvonly' });
    for (let i = 0; i < videos; i++) this.pc.addTransceiver('video', { direction: 'recvonly' });
  }

  /**
   * Records RTP of a receiving m-line; the track sid is looked up per packet (an m-line may carry another track
   * later). werift makes one receiving track per SSRC, so every new one is hooked too.
   */
  private hook(transceiver: RTCRtpTransceiver): void {
    const kind = transceiver.kind === 'audio' ? 'audio' : 'video';
    const receiver = transceiver.receiver as unknown as { tracks: MediaStreamTrack[]; remoteStreamId?: string };
    for (const track of receiver.tracks) {
      if (this.hooked.has(track)) continue;
      this.hooked.add(track);
      track.onReceiveRtp.subscribe((p) => {
        const sid = this.midToTrackId[transceiver.mid ?? ''] ?? `unmapped:${transceiver.mid}`;
        let t = this.remoteTracks.get(sid);
        if (!t) this.remoteTracks.set(sid, (t = new RemoteTrack(sid, receiver.remoteStreamId ?? '', kind, transceiver)));
        t.onPacket(p);
      });
    }
  }

  /** A decoder without a keyframe asks for one (as a browser does). */
  private requestMissingKeyframes(): void {
    const now = Date.now();
    for (const t of this.remoteTracks.values()) {
      if (t.kind === 'video' && t.firstKeyframeSeq === undefined && now - t.firstPacketAt > 250 && now - t.lastPliAt > 500) t.requestKeyframe();
    }
  }

  /** One offer/answer round (the answer carries the offer's id); calls meanwhile cause one more round. */
  negotiate(): Promise<void> {
    if (this.negotiating) {
      this.again = true;
      return this.negotiating;
    }
    const round = async () => {
      do {
        this.again = false;
        const id = ++this.offerId;
        await this.pc.setLocalDescription(await this.pc.createOffer());
        const since = this.log.length;
        this.send({ offer: { type: 'offer', sdp: this.pc.localDescription!.sdp, id, midToTrackId: {} } });
        await this.applyAnswer(await this.waitFor('answer', (a) => a.id === id, 10_000, since));
      } while (this.again && !this.closed);
    };
    this.negotiating = round().finally(() => (this.negotiating = undefined));
    return this.negotiating;
  }

  /** The answer to the join's offer (id 1). */
  async answerJoinOffer(): Promise<void> {
    await this.applyAnswer(await this.waitFor('answer', (a) => a.id === 1));
  }

  private async applyAnswer(a: Payload<'answer'>): Promise<void> {
    // werift fails a connection whose answer is applied during its first DTLS handshake (browsers do not).
    await this.until(() => this.pc.connectionState !== 'connecting', 10_000, 'handshake');
    this.midToTrackId = { ...a.midToTrackId };
    await this.pc.setRemoteDescription({ type: 'answer', sdp: a.sdp });
    for (const t of this.pc.getTransceivers()) if (t.currentDirection === 'recvonly') this.hook(t);
  }

  async publish(kind: 'audio' | 'video', name = kind === 'video' ? 'camera' : 'microphone'): Promise<LocalTrack> {
    const track = new MediaStreamTrack({ kind });
    const transceiver = this.pc.addTransceiver(track, { direction: 'sendonly' });
    transceiver.sender.streamIds = [randomUUID()];
    const cid = transceiver.sender.trackId;
    const local = new LocalTrack(this as unknown as LkClient, kind, cid, track, transceiver);
    this.localTracks.push(local);
    const since = this.log.length;
    this.send({
      addTrack: {
        cid,
        name,
        type: kind === 'video' ? TrackType.VIDEO : TrackType.AUDIO,
        source: kind === 'video' ? TrackSource.CAMERA : TrackSource.MICROPHONE,
        width: kind === 'video' ? 640 : 0,
        height: kind === 'video' ? 360 : 0,
      },
    });
    const [published] = await Promise.all([this.waitFor('trackPublished', (r) => r.cid === cid, 10_000, since), this.negotiate()]);
    local.info = published.track;
    return local;
  }

  async publishData(payload: Uint8Array, reliable = true, topic?: string): Promise<void> {
    const ch = this.channels.get(reliable ? '_reliable' : '_lossy')!;
    await this.until(() => ch.readyState === 'open', 10_000, `${ch.label} open`);
    ch.send(Buffer.from(DataPacket.encode({ kind: reliable ? DataPacket_Kind.RELIABLE : DataPacket_Kind.LOSSY, user: { payload, topic } })));
  }

  /** Drops the WebSocket without a leave (the peer connection stays), as a client whose signalling broke. */
  dropSignal(): void {
    for (const t of this.timers.splice(0)) clearInterval(t);
    this.ws.terminate();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.ws?.readyState === WebSocket.OPEN) this.send({ leave: { reason: DisconnectReason.CLIENT_INITIATED, action: LeaveRequest_Action.DISCONNECT } });
    this.closed = true;
    for (const t of this.timers.splice(0)) clearInterval(t);
    this.ws?.terminate();
    for (const t of this.localTracks) t.track.stop();
    await this.pc.close().catch(() => undefined);
  }
}
