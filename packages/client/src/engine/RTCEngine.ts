// The session with the server: signalling, the publisher and subscriber peer connections, data channels, and
// recovery. Recovery works like livekit-client's: first a resume (same participant: the socket reconnects with
// `reconnect=1&sid=`, the publisher restarts ICE, the server re-offers the subscriber), and if the server will not
// resume, a full reconnect (a new join; the Room republishes local tracks).
import {
  DataPacket,
  DataPacket_Kind,
  DisconnectReason,
  LeaveRequest_Action,
  SignalTarget,
  TypedEventEmitter,
  type JoinResponse,
  type PartialMessage,
  type ReconnectResponse,
  type SignalRequest,
} from '@kite/protocol';
import { ConnectionError, SignalClient } from '../signal/SignalClient.js';
import { PCTransport } from './PCTransport.js';
import type { DataChannel, IceCandidateInit, PeerConfiguration, TrackEvent } from '../platform/types.js';

export interface EngineOptions {
  autoSubscribe: boolean;
  adaptiveStream: boolean;
  /** Extra RTCConfiguration merged over the server's ICE servers. */
  rtcConfig: PeerConfiguration;
  /** How long the signal connection may take (ms). */
  websocketTimeout: number;
  /** How long the peer connection may take to connect (ms). */
  peerConnectionTimeout: number;
  /** Delays (ms) between recovery attempts; its length is the number of attempts. */
  reconnectDelays: number[];
}

export const DEFAULT_RECONNECT_DELAYS = [0, 300, 1200, 2700, 4800, 7000, 7000, 7000, 7000, 7000];

interface EngineEvents {
  /** Recovery started (`full`: the session will be a new one). */
  reconnecting: (full: boolean) => void;
  /** Recovery finished; after a full reconnect `join` is the new JoinResponse. */
  reconnected: (join?: JoinResponse) => void;
  disconnected: (reason: DisconnectReason) => void;
  mediaTrack: (ev: TrackEvent) => void;
  dataPacket: (packet: DataPacket, kind: DataPacket_Kind) => void;
}

const RELIABLE = '_reliable';
const LOSSY = '_lossy';
/** livekit-client waits for the reliable channel's buffer to drain below this before sending more. */
const RELIABLE_BUFFER_HIGH = 64 * 1024;

export class RTCEngine extends TypedEventEmitter<EngineEvents> {
  readonly signal = new SignalClient();
  publisher: PCTransport | undefined;
  subscriber: PCTransport | undefined;
  join: JoinResponse | undefined;
  private url = '';
  private token = '';
  private channels = new Map<string, DataChannel>();
  private dataSequence = 0;
  private reconnecting = false;
  private closed = false;
  private publisherUsed = false;
  /** Set by the Room: applies a JoinResponse before any later message is handled (`rejoin`: a full reconnect). */
  onJoined: ((join: JoinResponse, rejoin: boolean) => void) | undefined;
  /** Set by the Room: what to tell the server after a resume (SyncState). */
  syncState: (() => PartialMessage<SignalRequest['syncState'] & object>) | undefined;

  constructor(readonly opts: EngineOptions) {
    super();
    this.signal.on('offer', (o) => void this.subscriber?.handleOffer(o.sdp, o.id).catch(() => this.recover('subscriber negotiation failed')));
    this.signal.on('answer', (a) => this.publisher?.handleAnswer(a.sdp, a.id));
    this.signal.on('trickle', (t) => {
      let c: IceCandidateInit;
      try {
        c = JSON.parse(t.candidateInit) as IceCandidateInit;
      } catch {
        return;
      }
      const pc = t.target === SignalTarget.SUBSCRIBER ? this.subscriber : this.publisher;
      void pc?.addIceCandidate(c).catch(() => undefined);
    });
    this.signal.on('refreshToken', (token) => (this.token = token));
    this.signal.on('leave', (leave) => {
      if (leave.action === LeaveRequest_Action.RESUME) this.recover('server asked to resume');
      else if (leave.action === LeaveRequest_Action.RECONNECT || (leave.action === LeaveRequest_Action.DISCONNECT && leave.canReconnect)) this.recover('server asked to reconnect', true);
      else this.disconnect(leave.reason || DisconnectReason.UNKNOWN_REASON, false);
    });
    this.signal.on('lost', (why) => this.recover(`signal connection lost (${why})`));
  }

  get sid(): string {
    return this.join?.participant?.sid ?? '';
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Joins: the JoinResponse, peer connections made, and the primary one connected. */
  async connect(url: string, token: string): Promise<JoinResponse> {
    this.url = url;
    this.token = token;
    this.closed = false;
    const first = await this.signal.connect(url, token, { autoSubscribe: this.opts.autoSubscribe, adaptiveStream: this.opts.adaptiveStream }, this.opts.websocketTimeout);
    if (first.message !== 'join') throw new ConnectionError('unexpected first message from the server');
    const join = first.join!;
    this.setupSession(join, false);
    try {
      await this.waitPrimaryConnected();
    } catch (err) {
      this.disconnect(DisconnectReason.JOIN_FAILURE, false);
      throw err;
    }
    return join;
  }

  private setupSession(join: JoinResponse, rejoin: boolean): void {
    this.join = join;
    this.onJoined?.(join, rejoin);
    this.publisherUsed = false;
    this.channels.clear();
    const config = this.peerConfig(join.iceServers);
    const sendDesc = (target: SignalTarget) => (desc: { type: 'offer' | 'answer'; sdp: string }, id: number) => {
      const sd = { type: desc.type, sdp: desc.sdp, id, midToTrackId: {} };
      this.signal.send(target === SignalTarget.PUBLISHER ? { offer: sd } : { answer: sd });
    };
    this.publisher = new PCTransport(SignalTarget.PUBLISHER, config, sendDesc(SignalTarget.PUBLISHER));
    this.subscriber = new PCTransport(SignalTarget.SUBSCRIBER, config, sendDesc(SignalTarget.SUBSCRIBER));
    for (const t of [this.publisher, this.subscriber]) {
      const transport = t;
      transport.pc.onicecandidate = (c) => this.signal.send({ trickle: { candidateInit: JSON.stringify(c), target: transport.target, final: false } });
      transport.pc.onconnectionstatechange = (state) => {
        if (transport.closed || this.reconnecting) return;
        if (state === 'failed') this.recover(`${transport.isPublisher ? 'publisher' : 'subscriber'} connection failed`);
      };
    }
    this.subscriber.pc.ontrack = (ev) => this.emit('mediaTrack', ev);
    this.subscriber.pc.ondatachannel = (ch) => this.watchChannel(ch);
    this.signal.startPing(join.pingInterval, join.pingTimeout);
    if (!join.subscriberPrimary || join.fastPublish) void this.negotiatePublisher().catch(() => undefined);
    this.signal.dispatchQueued();
  }

  private peerConfig(iceServers: JoinResponse['iceServers']): PeerConfiguration {
    const servers = iceServers.map((s) => ({ urls: s.urls, username: s.username || undefined, credential: s.credential || undefined }));
    const user = this.opts.rtcConfig;
    // serverHost: lets the Node platform gather loopback candidates for a server on this machine (browsers ignore it).
    const serverHost = new URL(this.url.replace(/^ws/, 'http')).hostname;
    return { serverHost, ...user, iceServers: [...servers, ...((user.iceServers as PeerConfiguration['iceServers']) ?? [])] };
  }

  private async waitPrimaryConnected(): Promise<void> {
    const primary = this.join?.subscriberPrimary ? this.subscriber : this.publisher;
    if (primary === this.publisher) await this.negotiatePublisher();
    await this.waitConnected(primary!, this.opts.peerConnectionTimeout);
  }

  waitConnected(t: PCTransport, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const start = Date.now();
      const tick = () => {
        if (t.connectionState === 'connected') return resolve();
        if (t.closed || this.closed) return reject(new ConnectionError('connection closed'));
        if (Date.now() - start > timeoutMs) return reject(new ConnectionError(`could not establish ${t.isPublisher ? 'publisher' : 'subscriber'} connection within ${timeoutMs} ms`));
        setTimeout(tick, 20);
      };
      tick();
    });
  }

  /** Makes the publisher's data channels (once) and runs a negotiation round. */
  negotiatePublisher(): Promise<void> {
    const pub = this.publisher;
    if (!pub) return Promise.reject(new ConnectionError('not connected'));
    this.publisherUsed = true;
    if (!this.channels.has(RELIABLE)) {
      this.watchChannel(pub.pc.createDataChannel(RELIABLE, { ordered: true }), true);
      this.watchChannel(pub.pc.createDataChannel(LOSSY, { ordered: false, maxRetransmits: 0 }), true);
    }
    return pub.negotiate();
  }

  /** Waits until the publisher is connected (negotiating it first when nothing did yet). */
  async ensurePublisherConnected(): Promise<void> {
    const pub = this.publisher;
    if (!pub) throw new ConnectionError('not connected');
    if (!this.publisherUsed) await this.negotiatePublisher();
    await this.waitConnected(pub, this.opts.peerConnectionTimeout);
  }

  private watchChannel(ch: DataChannel, ours = false): void {
    if (ours) this.channels.set(ch.label, ch);
    ch.onmessage = (data) => {
      if (typeof data === 'string') return;
      let packet: DataPacket;
      try {
        packet = DataPacket.decode(data);
      } catch {
        return; // a packet we cannot read is dropped
      }
      this.emit('dataPacket', packet, packet.kind);
    };
  }

  private reliableChain: Promise<void> = Promise.resolve();

  /**
   * Sends a DataPacket on `_reliable` or `_lossy` once the publisher is up. Reliable packets go out in call order
   * (a stream's chunks must not overtake each other while one waits for the buffer).
   */
  sendData(packet: PartialMessage<DataPacket>, kind: DataPacket_Kind): Promise<void> {
    if (kind === DataPacket_Kind.LOSSY) return this.sendDataNow(packet, kind);
    const next = this.reliableChain.then(() => this.sendDataNow(packet, kind));
    this.reliableChain = next.catch(() => undefined);
    return next;
  }

  private async sendDataNow(packet: PartialMessage<DataPacket>, kind: DataPacket_Kind): Promise<void> {
    if (this.closed) throw new ConnectionError('room is disconnected');
    const label = kind === DataPacket_Kind.LOSSY ? LOSSY : RELIABLE;
    let ch = this.channels.get(label);
    if (!ch || ch.readyState !== 'open') {
      await this.ensurePublisherConnected();
      ch = this.channels.get(label)!;
      await waitOpen(ch, this.opts.peerConnectionTimeout);
    }
    if (kind === DataPacket_Kind.RELIABLE) {
      if (ch.bufferedAmount > RELIABLE_BUFFER_HIGH) await waitBufferLow(ch);
      packet = { ...packet, sequence: ++this.dataSequence };
    } else if (ch.bufferedAmount > RELIABLE_BUFFER_HIGH) {
      return; // lossy data is dropped rather than queued behind a full buffer
    }
    ch.send(DataPacket.encode({ kind, ...packet }));
  }

  /** Sends a SignalRequest (false when the socket is not open). */
  send(req: PartialMessage<SignalRequest>): boolean {
    return this.signal.send(req);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Recovery

  private recover(why: string, full = false): void {
    if (this.closed || this.reconnecting) return;
    this.reconnecting = true;
    void this.runRecovery(full, why);
  }

  private async runRecovery(fullFirst: boolean, _why: string): Promise<void> {
    let full = fullFirst;
    let announced: boolean | undefined;
    for (let attempt = 0; attempt < this.opts.reconnectDelays.length; attempt++) {
      if (this.closed) return;
      if (announced !== full) {
        announced = full;
        this.emit('reconnecting', full);
      }
      await sleep(this.opts.reconnectDelays[attempt]!);
      if (this.closed) return;
      try {
        if (full) await this.restart();
        else await this.resume();
        this.reconnecting = false;
        return;
      } catch (err) {
        // The server refuses to resume this participant: only a new session will do.
        if (!full && err instanceof ConnectionError && (err.leave || err.status !== undefined)) full = true;
        // After two failed resumes, start over.
        else if (!full && attempt >= 1) full = true;
        if (err instanceof ConnectionError && (err.status === 401 || err.status === 403)) break;
      }
    }
    this.reconnecting = false;
    this.disconnect(DisconnectReason.CONNECTION_TIMEOUT, false);
  }

  private async resume(): Promise<void> {
    const first = await this.signal.connect(this.url, this.token, { autoSubscribe: this.opts.autoSubscribe, adaptiveStream: this.opts.adaptiveStream, reconnectSid: this.sid, reconnectReason: 1 }, this.opts.websocketTimeout);
    if (first.message !== 'reconnect') throw new ConnectionError('server did not resume the session', 409);
    const rr: ReconnectResponse = first.reconnect!;
    const join = this.join!;
    if (rr.iceServers.length) {
      const config = this.peerConfig(rr.iceServers);
      this.publisher?.pc.setConfiguration(config);
      this.subscriber?.pc.setConfiguration(config);
    }
    this.signal.startPing(join.pingInterval, join.pingTimeout);
    this.signal.dispatchQueued();
    if (this.publisherUsed) void this.publisher!.negotiate({ iceRestart: true }).catch(() => undefined);
    const sync = this.syncState?.();
    if (sync) this.signal.send({ syncState: { ...sync, answer: this.subscriber?.pc.localDescription ? { type: 'answer', sdp: this.subscriber.pc.localDescription.sdp, id: 0, midToTrackId: {} } : undefined } });
    const waits = [this.waitConnected(this.subscriber!, this.opts.peerConnectionTimeout)];
    if (this.publisherUsed) waits.push(this.waitConnected(this.publisher!, this.opts.peerConnectionTimeout));
    await Promise.all(waits);
    this.emit('reconnected');
  }

  private async restart(): Promise<void> {
    this.signal.close();
    this.publisher?.close();
    this.subscriber?.close();
    const first = await this.signal.connect(this.url, this.token, { autoSubscribe: this.opts.autoSubscribe, adaptiveStream: this.opts.adaptiveStream }, this.opts.websocketTimeout);
    if (first.message !== 'join') throw new ConnectionError('unexpected first message from the server');
    const join = first.join!;
    this.setupSession(join, true);
    await this.waitPrimaryConnected();
    await this.rejoinHandler?.(join);
    this.emit('reconnected', join);
  }

  private rejoinHandler: ((join: JoinResponse) => Promise<void>) | undefined;


  /** The Room's async step of a full reconnect (rebuild state, republish) before `reconnected` fires. */
  onRejoined(handler: (join: JoinResponse) => Promise<void>): void {
    this.rejoinHandler = handler;
  }

  /** Ends the session: a leave to the server when `notify`, everything closed, `disconnected` once. */
  disconnect(reason: DisconnectReason, notify = true): void {
    if (this.closed) return;
    this.closed = true;
    this.signal.close(notify ? { canReconnect: false, reason: DisconnectReason.CLIENT_INITIATED, action: LeaveRequest_Action.DISCONNECT } : undefined);
    this.publisher?.close();
    this.subscriber?.close();
    this.emit('disconnected', reason);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function waitOpen(ch: DataChannel, timeoutMs: number): Promise<void> {
  if (ch.readyState === 'open') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const tick = () => {
      if (ch.readyState === 'open') return resolve();
      if (ch.readyState === 'closed' || Date.now() - start > timeoutMs) return reject(new ConnectionError(`data channel ${ch.label} did not open`));
      setTimeout(tick, 20);
    };
    tick();
  });
}

function waitBufferLow(ch: DataChannel): Promise<void> {
  ch.bufferedAmountLowThreshold = RELIABLE_BUFFER_HIGH / 2;
  return new Promise((resolve) => {
    const check = () => {
      if (ch.bufferedAmount <= RELIABLE_BUFFER_HIGH / 2 || ch.readyState !== 'open') return resolve();
      setTimeout(check, 10);
    };
    ch.onbufferedamountlow = () => resolve();
    check();
  });
}
