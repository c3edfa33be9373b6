// The session with the server: signalling, the publisher and subscriber peer connections, data channels, and
// recovery. Recovery works like livekit-client's: first a resume (same participant: the socket reconnects with
// `reconnect=1&sid=`, the publisher restarts ICE, the server re-offers the subscriber), and if the server will not
// resume, a full reconnect (a new join; the Room republishes local tracks).
//
// Recovery starts when the signal connection closes or stops answering pings, a peer connection fails, or the server
// sends a leave with action RESUME / RECONNECT (DISCONNECT ends the session with its reason). One recovery runs at a
// time: a failure reported while an attempt is under way fails that attempt (a RECONNECT leave makes the next one a
// full reconnect). As in livekit-client, a resume that fails at the signal level (no connection, or it closed again)
// is tried again; one the server refuses (leave, HTTP error) or whose peer connections do not come back becomes a
// full reconnect, and a failed full reconnect stays one. Attempts follow `reconnectDelays`; when they are spent the
// engine disconnects (CONNECTION_TIMEOUT; livekit-client gives no reason there).
import {
  CandidateProtocol,
  DataPacket,
  DataPacket_Kind,
  DisconnectReason,
  LeaveRequest_Action,
  ReconnectReason,
  SignalTarget,
  TypedEventEmitter,
  type JoinResponse,
  type PartialMessage,
  type ReconnectResponse,
  type SignalRequest,
  type SignalResponse,
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

/** livekit-client's room.simulateScenario() scenarios (the server answers the SimulateScenario ones). */
export type SimulationScenario =
  | 'signal-reconnect'
  | 'speaker'
  | 'node-failure'
  | 'server-leave'
  | 'migration'
  | 'resume-reconnect'
  | 'force-tcp'
  | 'force-tls'
  | 'full-reconnect'
  | 'subscriber-bandwidth'
  | 'disconnect-signal-on-resume'
  | 'disconnect-signal-on-resume-no-messages'
  | 'leave-full-reconnect';

interface EngineEvents {
  /** Recovery started, once per recovery (`full`: it starts with a full reconnect). */
  reconnecting: (full: boolean) => void;
  /** A full reconnect attempt starts: the session will be a new one (livekit-client's EngineEvent.Restarting). */
  restarting: () => void;
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
/** Requests queued during a recovery that still make sense on a new session (the others name the old one's tracks). */
const SESSION_INDEPENDENT = new Set(['updateMetadata', 'subscriptionPermission']);

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
  /** connect() finished: from now on a lost connection is recovered (before, it fails the connect). */
  private ready = false;
  /** The next attempt is a full reconnect (server RECONNECT leave, refused resume, simulate). */
  private fullReconnectNext = false;
  /** simulate('resume-reconnect'): the next resume fails after the signal is back. */
  private failNextResume = false;
  /** What broke while an attempt (or the first connect) was under way: that attempt fails. */
  private attemptError: Error | undefined;
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
      if (leave.action === LeaveRequest_Action.RESUME) this.recover('server asked to resume', false, ReconnectReason.RR_UNKNOWN, true);
      // (canReconnect on a DISCONNECT: servers from before LeaveRequest.action)
      else if (leave.action === LeaveRequest_Action.RECONNECT || (leave.action === LeaveRequest_Action.DISCONNECT && leave.canReconnect)) this.recover('server asked to reconnect', true, ReconnectReason.RR_UNKNOWN, true);
      else this.disconnect(leave.reason || DisconnectReason.UNKNOWN_REASON, false);
    });
    this.signal.on('lost', (why) => this.recover(`signal connection lost (${why})`, false, ReconnectReason.RR_SIGNAL_DISCONNECTED));
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
    this.ready = false;
    this.attemptError = undefined;
    const first = await this.signal.connect(url, token, { autoSubscribe: this.opts.autoSubscribe, adaptiveStream: this.opts.adaptiveStream }, this.opts.websocketTimeout);
    if (first.message !== 'join') throw new ConnectionError('unexpected first message from the server');
    const join = first.join!;
    this.setupSession(join, false);
    try {
      await this.waitPrimaryConnected();
      if (this.attemptError) throw this.attemptError;
    } catch (err) {
      this.disconnect(DisconnectReason.JOIN_FAILURE, false);
      throw err;
    }
    this.ready = true;
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
    const sendCandidate = (target: SignalTarget) => (c: IceCandidateInit) => this.signal.send({ trickle: { candidateInit: JSON.stringify(c), target, final: false } });
    this.publisher = new PCTransport(SignalTarget.PUBLISHER, config, sendDesc(SignalTarget.PUBLISHER), sendCandidate(SignalTarget.PUBLISHER));
    this.subscriber = new PCTransport(SignalTarget.SUBSCRIBER, config, sendDesc(SignalTarget.SUBSCRIBER), sendCandidate(SignalTarget.SUBSCRIBER));
    for (const t of [this.publisher, this.subscriber]) {
      const transport = t;
      transport.pc.onconnectionstatechange = (state) => {
        // During a recovery the attempt itself waits for the connections (an ICE restart passes through 'failed').
        if (transport.closed || this.reconnecting) return;
        if (state === 'failed') this.recover(`${transport.isPublisher ? 'publisher' : 'subscriber'} connection failed`, false, transport.isPublisher ? ReconnectReason.RR_PUBLISHER_FAILED : ReconnectReason.RR_SUBSCRIBER_FAILED);
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
        if (this.attemptError) return reject(this.attemptError);
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
    // A resume keeps the channels (they carry on if the peer connection does); otherwise data waits for the
    // recovery to finish and goes out on the session it ends with.
    if (this.reconnecting && (!ch || ch.readyState !== 'open')) {
      await this.waitRecovered();
      ch = this.channels.get(label);
    }
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

  /** Sends a SignalRequest (false when the socket is not open; during a recovery session requests are queued). */
  send(req: PartialMessage<SignalRequest>): boolean {
    return this.signal.send(req);
  }

  get isReconnecting(): boolean {
    return this.reconnecting;
  }

  /** Resolves when no recovery is running (at once if none is); rejects if the session ends instead. */
  waitRecovered(): Promise<void> {
    if (this.closed) return Promise.reject(new ConnectionError('room is disconnected'));
    if (!this.reconnecting) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        this.off('reconnected', onOk);
        this.off('disconnected', onGone);
      };
      const onOk = () => {
        done();
        resolve();
      };
      const onGone = () => {
        done();
        reject(new ConnectionError('room is disconnected'));
      };
      this.on('reconnected', onOk);
      this.on('disconnected', onGone);
    });
  }

  // -------------------------------------------------------------------------------------------------------------
  // Recovery

  /**
   * Something broke. Starts a recovery, or — when one is under way — fails the attempt in progress (`full`: the next
   * attempt is a full reconnect; `now`: the server asked, so the next attempt starts without waiting out its delay).
   */
  private recover(why: string, full = false, reason = ReconnectReason.RR_UNKNOWN, now = false): void {
    if (this.closed) return;
    if (full) this.fullReconnectNext = true;
    if (!this.ready || this.reconnecting) {
      // The first connect, or an attempt, is under way: it fails (and, for an attempt, the recovery goes on).
      this.attemptError ??= new SignalLevelError(why);
      return;
    }
    this.reconnecting = true;
    this.signal.queueRequests();
    void this.runRecovery(reason, now);
  }

  private async runRecovery(reason: ReconnectReason, skipFirstDelay: boolean): Promise<void> {
    const delays = this.opts.reconnectDelays;
    this.emit('reconnecting', this.fullReconnectNext);
    let giveUp = false;
    for (let attempt = 0; attempt < delays.length && !giveUp; attempt++) {
      if (this.closed) return;
      if (!(attempt === 0 && skipFirstDelay)) await sleep(delays[attempt]!);
      if (this.closed) return;
      const full = this.fullReconnectNext;
      this.fullReconnectNext = false;
      this.attemptError = undefined;
      this.signal.queueRequests();
      try {
        const join = full ? await this.restart() : await this.resume(reason);
        if (this.closed) return;
        // Something broke while the attempt ran (the new socket closed, the server asked for a full reconnect).
        if (this.attemptError) throw this.attemptError;
        if (!this.signal.isOpen) throw new SignalLevelError('signal connection lost during the reconnect');
        this.reconnecting = false;
        this.attemptError = undefined;
        this.signal.releaseRequests();
        this.emit('reconnected', join);
        return;
      } catch (err) {
        if (this.closed) return;
        // The new socket may be up: nothing more goes out on it until the next attempt.
        void this.signal.close();
        if (err instanceof ConnectionError && (err.status === 401 || err.status === 403)) giveUp = true; // token expired or revoked
        // Only a signal-level failure of a resume is resumed again (see the top of the file).
        else if (full || !(err instanceof SignalLevelError)) this.fullReconnectNext = true;
      }
    }
    this.reconnecting = false;
    this.disconnect(DisconnectReason.CONNECTION_TIMEOUT, false);
  }

  /** Resume: a new socket for the same participant; the peer connections stay and restart ICE. */
  private async resume(reason: ReconnectReason): Promise<undefined> {
    let first: SignalResponse;
    try {
      first = await this.signal.connect(this.url, this.token, { autoSubscribe: this.opts.autoSubscribe, adaptiveStream: this.opts.adaptiveStream, reconnectSid: this.sid, reconnectReason: reason }, this.opts.websocketTimeout);
    } catch (err) {
      // Refused (a leave or an HTTP status): the session cannot be resumed. Anything else: the server was not reached.
      if (err instanceof ConnectionError && (err.leave !== undefined || err.status !== undefined)) throw err;
      throw new SignalLevelError((err as Error).message);
    }
    if (first.message !== 'reconnect') throw new ConnectionError('server did not resume the session', 409);
    const rr: ReconnectResponse = first.reconnect!;
    const join = this.join!;
    if (rr.iceServers.length) {
      const config = this.peerConfig(rr.iceServers);
      this.publisher?.pc.setConfiguration(config);
      this.subscriber?.pc.setConfiguration(config);
    }
    this.signal.startPing(join.pingInterval, join.pingTimeout);
    // The server's catch-up (participant updates, room, the subscriber's ICE-restart offer) follows the response.
    this.signal.dispatchQueued();
    if (this.failNextResume) {
      this.failNextResume = false;
      throw new ConnectionError('simulated resume failure'); // not signal-level: a full reconnect follows
    }
    const sync = this.syncState?.();
    if (sync) this.signal.send({ syncState: { ...sync, answer: this.subscriber?.pc.localDescription ? { type: 'answer', sdp: this.subscriber.pc.localDescription.sdp, id: 0, midToTrackId: {} } : undefined } });
    // What the app asked for meanwhile (metadata, mute, a publish's AddTrackRequest) follows the state, before the
    // offers (a publish sends its AddTrackRequest before its offer).
    this.signal.releaseRequests();
    if (this.publisherUsed) {
      // An offer the old socket swallowed is answered first, then the publisher restarts ICE.
      this.publisher!.resendPendingOffer();
      void this.publisher!.negotiate({ iceRestart: true }).catch(() => undefined);
    }
    const waits = [this.waitConnected(this.subscriber!, this.opts.peerConnectionTimeout)];
    if (this.publisherUsed) waits.push(this.waitConnected(this.publisher!, this.opts.peerConnectionTimeout));
    await Promise.all(waits);
    return undefined;
  }

  /** Full reconnect: everything of the old session closed, a new join, then the Room republishes. */
  private async restart(): Promise<JoinResponse> {
    this.emit('restarting');
    this.publisher?.close();
    this.subscriber?.close();
    // No leave: the server keeps the old session until the new join takes it over (or its grace runs out).
    await this.signal.close();
    const first = await this.signal.connect(this.url, this.token, { autoSubscribe: this.opts.autoSubscribe, adaptiveStream: this.opts.adaptiveStream }, this.opts.websocketTimeout);
    if (first.message !== 'join') throw new ConnectionError('unexpected first message from the server');
    const join = first.join!;
    this.setupSession(join, true);
    await this.waitPrimaryConnected();
    // Requests queued meanwhile named the old session's tracks; what is not tied to it still goes out. The Room
    // republishes next, and its requests must go out at once.
    this.signal.releaseRequests((kind) => SESSION_INDEPENDENT.has(kind));
    await this.rejoinHandler?.(join);
    return join;
  }

  private rejoinHandler: ((join: JoinResponse) => Promise<void>) | undefined;

  /** The Room's async step of a full reconnect (rebuild state, republish) before `reconnected` fires. */
  onRejoined(handler: (join: JoinResponse) => Promise<void>): void {
    this.rejoinHandler = handler;
  }

  /**
   * livekit-client's room.simulateScenario(): local ones break the connection here, the others ask the server
   * (SimulateScenario) to do what it would do in that situation.
   */
  async simulate(scenario: SimulationScenario, arg?: unknown): Promise<void> {
    if (this.closed) throw new ConnectionError('room is disconnected');
    switch (scenario) {
      case 'signal-reconnect':
        this.signal.simulateLoss('simulated signal reconnect');
        return;
      case 'resume-reconnect':
        this.failNextResume = true;
        this.signal.simulateLoss('simulated resume failure');
        return;
      case 'full-reconnect':
        this.fullReconnectNext = true;
        this.signal.simulateLoss('simulated full reconnect');
        return;
      case 'speaker':
        this.signal.send({ simulate: { speakerUpdate: typeof arg === 'number' ? arg : 3 } });
        return;
      case 'node-failure':
        this.signal.send({ simulate: { nodeFailure: true } });
        return;
      case 'migration':
        this.signal.send({ simulate: { migration: true } });
        return;
      case 'server-leave':
        this.signal.send({ simulate: { serverLeave: true } });
        return;
      case 'leave-full-reconnect':
        this.signal.send({ simulate: { leaveRequestFullReconnect: true } });
        return;
      case 'subscriber-bandwidth':
        if (typeof arg !== 'number') throw new TypeError('subscriber-bandwidth needs the bandwidth (bps) as a number');
        this.signal.send({ simulate: { subscriberBandwidth: arg } });
        return;
      case 'disconnect-signal-on-resume':
      case 'disconnect-signal-on-resume-no-messages':
        this.signal.send({ simulate: scenario === 'disconnect-signal-on-resume' ? { disconnectSignalOnResume: true } : { disconnectSignalOnResumeNoMessages: true } });
        this.signal.simulateLoss('simulated signal loss before a resume');
        return;
      case 'force-tcp':
      case 'force-tls':
        // The preference applies from the next join: leave and rejoin (as livekit-client, through a RECONNECT).
        this.signal.send({ simulate: { switchCandidateProtocol: scenario === 'force-tls' ? CandidateProtocol.TLS : CandidateProtocol.TCP } });
        this.recover(`simulated ${scenario}`, true, ReconnectReason.RR_SWITCH_CANDIDATE, true);
        return;
    }
  }

  /** Ends the session: a leave to the server when `notify`, everything closed, `disconnected` once. */
  disconnect(reason: DisconnectReason, notify = true): void {
    if (this.closed) return;
    this.closed = true;
    this.reconnecting = false;
    this.signal.releaseRequests(() => false);
    void this.signal.close(notify ? { canReconnect: false, reason: DisconnectReason.CLIENT_INITIATED, action: LeaveRequest_Action.DISCONNECT } : undefined);
    this.publisher?.close();
    this.subscriber?.close();
    this.emit('disconnected', reason);
  }
}

/** A failure of the signal connection itself (not reached, or closed again): a resume may still work next time. */
class SignalLevelError extends ConnectionError {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectionError';
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
