// The room: connects, keeps the participants in step with the server's updates, routes media tracks and data to
// them, and re-emits their events with the participant attached — livekit-client's Room, on Kite's engine.
import {
  DataPacket_Kind,
  DisconnectReason,
  ParticipantInfo_State,
  StreamState,
  TypedEventEmitter,
  type DataPacket,
  type JoinResponse,
  type ParticipantInfo,
  type Room as RoomInfo,
  type SpeakerInfo,
} from '@kite/protocol';
import { ParticipantEvent, RoomEvent, TrackEvent, qualityName, type RoomEventCallbacks } from '../events.js';
import { DEFAULT_RECONNECT_DELAYS, RTCEngine, type SimulationScenario } from '../engine/RTCEngine.js';
import { platform, type PeerConfiguration, type TrackEvent as MediaTrackEvent } from '../platform/types.js';
import { LocalParticipant, type LocalParticipantContext, type TrackPublishOptions } from '../participant/LocalParticipant.js';
import { RemoteParticipant } from '../participant/RemoteParticipant.js';
import type { Participant } from '../participant/Participant.js';
import { ConnectionState, TrackStreamState, type ChatMessage } from '../types.js';
import { ConnectionError } from '../signal/SignalClient.js';
import type { AudioCaptureOptions, VideoCaptureOptions } from '../track/create.js';
import { LocalVideoTrack, type LocalTrack } from '../track/LocalTrack.js';
import { Track } from '../track/Track.js';
import { RpcManager, type RpcInvocationData } from '../data/rpc.js';
import { StreamManager } from '../data/streams.js';
import type { DataSender } from '../data/types.js';

export interface RoomOptions {
  /** Subscribe at the size of the attached element; pause video no element shows. */
  adaptiveStream?: boolean;
  /** Stop publishing simulcast layers no subscriber receives. */
  dynacast?: boolean;
  videoCaptureDefaults?: VideoCaptureOptions;
  audioCaptureDefaults?: AudioCaptureOptions;
  publishDefaults?: TrackPublishOptions;
  /** Stop a local track's capture when it is unpublished (default true). */
  stopLocalTrackOnUnpublish?: boolean;
  /** Delays (ms) between reconnection attempts; its length is the number of attempts. */
  reconnectDelays?: number[];
}

export interface RoomConnectOptions {
  autoSubscribe?: boolean;
  rtcConfig?: PeerConfiguration;
  /** ms the peer connection may take to connect (default 15000). */
  peerConnectionTimeout?: number;
  /** ms the signal connection may take (default 15000). */
  websocketTimeout?: number;
  /** How many times a first connection that fails to come up is tried again (default 1; refusals are final). */
  maxRetries?: number;
}

/** How long media for a participant not described yet is kept waiting for its update. */
const PENDING_MEDIA_MS = 10_000;

const PUBLISH_DEFAULTS: TrackPublishOptions = { simulcast: true, videoCodec: 'vp8', dtx: true, red: true };

export class Room extends TypedEventEmitter<RoomEventCallbacks> {
  state: ConnectionState = ConnectionState.Disconnected;
  readonly remoteParticipants = new Map<string, RemoteParticipant>();
  activeSpeakers: Participant[] = [];
  localParticipant: LocalParticipant;
  engine: RTCEngine;
  readonly options: Required<Omit<RoomOptions, 'reconnectDelays'>> & { reconnectDelays: number[] };
  private roomInfo: RoomInfo | undefined;
  private connectOptions: RoomConnectOptions = {};
  private readonly rpc: RpcManager;
  private readonly streams: StreamManager;
  private connecting: Promise<void> | undefined;
  /** sid → participant (tracks and speaker updates name participants by sid). */
  private bySid = new Map<string, RemoteParticipant>();
  private speakerLevels = new Map<string, { level: number; active: boolean }>();

  constructor(options: RoomOptions = {}) {
    super();
    this.options = {
      // Adaptive stream follows media elements: where there are none (Node), video would only ever be paused.
      adaptiveStream: (options.adaptiveStream ?? false) && platform().mediaElements,
      dynacast: options.dynacast ?? false,
      videoCaptureDefaults: options.videoCaptureDefaults ?? {},
      audioCaptureDefaults: options.audioCaptureDefaults ?? {},
      publishDefaults: { ...PUBLISH_DEFAULTS, ...(options.publishDefaults ?? {}) },
      stopLocalTrackOnUnpublish: options.stopLocalTrackOnUnpublish ?? true,
      reconnectDelays: options.reconnectDelays ?? DEFAULT_RECONNECT_DELAYS,
    };
    const room = this;
    const sender: DataSender = {
      get localIdentity() {
        return room.localParticipant.identity;
      },
      get serverVersion() {
        return room.engine.join?.serverInfo?.version || room.engine.join?.serverVersion || undefined;
      },
      sendReliable: (packet) => this.engine.sendData({ participantIdentity: this.localParticipant.identity, ...packet }, DataPacket_Kind.RELIABLE),
      remoteClientProtocol: (identity) => this.remoteParticipants.get(identity)?.info?.clientProtocol ?? 0,
      remoteIdentities: () => [...this.remoteParticipants.keys()],
    };
    // RPC payloads beyond 15 KiB travel as data streams to peers that understand them (client protocol ≥ 1).
    this.streams = new StreamManager(sender);
    this.rpc = new RpcManager(sender, this.streams);
    this.engine = this.createEngine();
    this.localParticipant = new LocalParticipant('', '', this.participantContext());
    this.forwardLocalEvents();
  }

  get name(): string {
    return this.roomInfo?.name ?? '';
  }

  get sid(): string {
    return this.roomInfo?.sid ?? '';
  }

  /** livekit-client's async room sid getter. */
  async getSid(): Promise<string> {
    return this.sid;
  }

  get metadata(): string | undefined {
    return this.roomInfo?.metadata;
  }

  get numParticipants(): number {
    return this.roomInfo?.numParticipants ?? 0;
  }

  get numPublishers(): number {
    return this.roomInfo?.numPublishers ?? 0;
  }

  get isRecording(): boolean {
    return this.roomInfo?.activeRecording ?? false;
  }

  get serverInfo() {
    return this.engine.join?.serverInfo;
  }

  /** What the local participant works with; `engine` is read live (each connect() makes a new engine). */
  private participantContext(): LocalParticipantContext {
    const room = this;
    return {
      get engine() {
        return room.engine;
      },
      publishDefaults: this.options.publishDefaults,
      dynacast: this.options.dynacast,
      stopLocalTrackOnUnpublish: this.options.stopLocalTrackOnUnpublish,
      videoCaptureDefaults: this.options.videoCaptureDefaults,
      audioCaptureDefaults: this.options.audioCaptureDefaults,
      rpc: this.rpc,
      streams: this.streams,
    };
  }

  /** Warms up the connection to the server (DNS, TCP/TLS) before connect(). */
  async prepareConnection(url: string, _token?: string): Promise<void> {
    try {
      await fetch(url.replace(/^ws/, 'http'), { method: 'HEAD' });
    } catch {
      // best effort
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Connecting

  connect(url: string, token: string, opts: RoomConnectOptions = {}): Promise<void> {
    if (this.state === ConnectionState.Connected) return Promise.resolve();
    if (this.connecting) return this.connecting;
    this.connectOptions = opts;
    this.connecting = this.doConnect(url, token).finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private createEngine(): RTCEngine {
    const o = this.connectOptions;
    const delays = this.options.reconnectDelays;
    const engine = new RTCEngine({
      autoSubscribe: o.autoSubscribe ?? true,
      adaptiveStream: this.options.adaptiveStream,
      rtcConfig: o.rtcConfig ?? {},
      peerConnectionTimeout: o.peerConnectionTimeout ?? 15_000,
      websocketTimeout: o.websocketTimeout ?? 15_000,
      reconnectDelays: delays,
    });
    this.wireEngine(engine);
    return engine;
  }

  private async doConnect(url: string, token: string): Promise<void> {
    this.setState(ConnectionState.Connecting);
    const retries = this.connectOptions.maxRetries ?? 1;
    for (let attempt = 0; ; attempt++) {
      this.engine = this.createEngine();
      try {
        await this.engine.connect(url, token);
        break;
      } catch (err) {
        // A refusal (bad token, no permission, room full, a leave) is final; a connection that did not come up
        // (network, timeouts, a failed peer connection) is tried again, as livekit-client does.
        const refused = err instanceof ConnectionError && (err.status !== undefined || err.leave !== undefined);
        if (refused || attempt >= retries) {
          this.setState(ConnectionState.Disconnected);
          throw err;
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    this.emit(RoomEvent.SignalConnected);
    this.setState(ConnectionState.Connected);
    this.emit(RoomEvent.Connected);
  }

  /** `rejoin`: after a full reconnect the participants are announced again (once Reconnected fires). */
  private applyJoin(join: JoinResponse, rejoin = false): void {
    this.roomInfo = join.room;
    if (join.participant) this.localParticipant.updateInfo(join.participant);
    for (const info of join.otherParticipants) this.applyParticipant(info, !rejoin);
  }

  /** Leaves the room (LeaveRequest CLIENT_INITIATED) and stops local tracks when `stopTracks`. */
  async disconnect(stopTracks = true): Promise<void> {
    if (this.state === ConnectionState.Disconnected && this.engine.isClosed) return;
    if (stopTracks) this.localParticipant.stopTracks();
    this.engine.disconnect(DisconnectReason.CLIENT_INITIATED, true);
  }

  private toReconnecting(): void {
    if (this.state === ConnectionState.Reconnecting) return;
    this.setState(ConnectionState.Reconnecting);
    this.emit(RoomEvent.Reconnecting);
  }

  private buffered: (() => void)[] = [];

  /** Announcements made while (re)connecting: dropped during the first connect, replayed after a reconnect. */
  private emitWhenConnected<K extends RoomEvent.ParticipantConnected | RoomEvent.TrackPublished>(event: K, ...args: Parameters<RoomEventCallbacks[K]>): void {
    if (this.state === ConnectionState.Connected || this.state === ConnectionState.SignalReconnecting) this.emit(event, ...args);
    else if (this.state === ConnectionState.Reconnecting) this.buffered.push(() => this.emit(event, ...args));
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    this.emit(RoomEvent.ConnectionStateChanged, state);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Engine and signalling

  private wireEngine(engine: RTCEngine): void {
    const s = engine.signal;
    s.on('update', (u) => {
      for (const info of u.participants) this.applyParticipant(info, false);
    });
    s.on('speakersChanged', (u) => this.onSpeakers(u.speakers));
    s.on('roomUpdate', (u) => {
      if (!u.room) return;
      const prev = this.roomInfo?.metadata ?? '';
      this.roomInfo = u.room;
      if (prev !== u.room.metadata) this.emit(RoomEvent.RoomMetadataChanged, u.room.metadata);
    });
    s.on('connectionQuality', (u) => {
      for (const q of u.updates) {
        const p: Participant | undefined = q.participantSid === this.localParticipant.sid ? this.localParticipant : this.bySid.get(q.participantSid);
        if (!p) continue;
        const name = qualityName(q.quality);
        if (p.connectionQuality === name) continue;
        p.setConnectionQuality(name);
        this.emit(RoomEvent.ConnectionQualityChanged, name, p);
      }
    });
    s.on('streamStateUpdate', (u) => {
      for (const st of u.streamStates) {
        const p = this.bySid.get(st.participantSid);
        const pub = p?.trackPublications.get(st.trackSid);
        if (!p || !pub?.track) continue;
        const state = st.state === StreamState.PAUSED ? TrackStreamState.Paused : TrackStreamState.Active;
        if (pub.track.streamState === state) continue;
        pub.track.setStreamState(state);
        p.emit(ParticipantEvent.TrackStreamStateChanged, pub, state);
        this.emit(RoomEvent.TrackStreamStateChanged, pub, state, p);
      }
    });
    s.on('subscriptionPermissionUpdate', (u) => {
      const p = this.bySid.get(u.participantSid);
      const pub = p?.trackPublications.get(u.trackSid);
      if (!p || !pub) return;
      pub.setAllowed(u.allowed);
      const status = u.allowed ? pub.subscriptionStatus : 'unsubscribed';
      p.emit(ParticipantEvent.TrackSubscriptionPermissionChanged, pub, status);
      this.emit(RoomEvent.TrackSubscriptionPermissionChanged, pub, status, p);
    });
    s.on('subscriptionResponse', (r) => {
      for (const p of this.remoteParticipants.values()) if (p.trackPublications.has(r.trackSid)) p.subscriptionFailed(r.trackSid, r.err);
    });
    s.on('mute', (m) => this.localParticipant.serverMuted(m.sid, m.muted));
    s.on('trackUnpublished', (u) => this.localParticipant.serverUnpublished(u.trackSid));
    s.on('trackSubscribed', (u) => {
      const pub = this.localParticipant.trackPublications.get(u.trackSid);
      if (!pub) return;
      this.localParticipant.emit(ParticipantEvent.LocalTrackSubscribed, pub);
      this.emit(RoomEvent.LocalTrackSubscribed, pub, this.localParticipant);
    });
    s.on('subscribedQualityUpdate', (u) => {
      if (!this.options.dynacast) return;
      const track = this.localParticipant.trackPublications.get(u.trackSid)?.track;
      if (track instanceof LocalVideoTrack) {
        const qualities = u.subscribedCodecs.length ? (u.subscribedCodecs.find((c) => c.codec.toLowerCase() === 'vp8') ?? u.subscribedCodecs[0]!).qualities : u.subscribedQualities;
        void track.setPublishingLayers(qualities);
      }
    });
    engine.on('mediaTrack', (ev) => this.onMediaTrack(ev));
    engine.on('dataPacket', (p, kind) => this.onDataPacket(p, kind));
    // Like livekit-client: a resume is a signal reconnection (media may keep flowing); a full reconnect is a
    // reconnection of everything.
    engine.on('reconnecting', (full) => {
      if (full) this.toReconnecting();
      else if (this.state === ConnectionState.Connected) {
        this.setState(ConnectionState.SignalReconnecting);
        this.emit(RoomEvent.SignalReconnecting);
      }
    });
    engine.on('restarting', () => this.toReconnecting());
    engine.on('reconnected', () => {
      this.setState(ConnectionState.Connected);
      this.emit(RoomEvent.Reconnected);
      const buffered = this.buffered;
      this.buffered = [];
      for (const fire of buffered) fire();
    });
    engine.onJoined = (join, rejoin) => {
      // A new session after a full reconnect: everyone we knew is gone until the new join lists them again.
      if (rejoin) for (const p of [...this.remoteParticipants.values()]) this.removeParticipant(p);
      this.applyJoin(join, rejoin);
    };
    engine.onRejoined(() => this.localParticipant.republishAll());
    engine.syncState = () => ({
      subscription: { trackSids: this.subscribedSids(), subscribe: true, participantTracks: [] },
      publishTracks: [...this.localParticipant.trackPublications.values()].map((p) => ({ cid: p.track?.transceiver?.msidTrackId ?? '', track: p.trackInfo })),
      trackSidsDisabled: [...this.remoteParticipants.values()].flatMap((p) => [...p.trackPublications.values()].filter((t) => !t.isEnabled).map((t) => t.trackSid)),
    });
    engine.on('disconnected', (reason) => this.onDisconnected(reason));
  }

  private subscribedSids(): string[] {
    const out: string[] = [];
    for (const p of this.remoteParticipants.values()) for (const pub of p.trackPublications.values()) if (pub.isDesired) out.push(pub.trackSid);
    return out;
  }

  private onDisconnected(reason: DisconnectReason): void {
    // A first connect that fails is reported by connect() rejecting (and may be retried), not by an event.
    if (this.state === ConnectionState.Connecting) return;
    for (const p of [...this.remoteParticipants.values()]) this.removeParticipant(p, false);
    this.rpc.close();
    this.streams.close();
    this.activeSpeakers = [];
    this.setState(ConnectionState.Disconnected);
    this.emit(RoomEvent.Disconnected, reason);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Participants

  private applyParticipant(info: ParticipantInfo, atJoin: boolean): void {
    if (info.identity === this.localParticipant.identity) {
      if (info.sid === this.localParticipant.sid) this.localParticipant.updateInfo(info);
      return;
    }
    let p = this.remoteParticipants.get(info.identity);
    if (info.state === ParticipantInfo_State.DISCONNECTED) {
      if (p && p.sid === info.sid) this.removeParticipant(p);
      return;
    }
    if (p && p.sid !== info.sid) {
      // The identity joined again (new session): the old one is gone.
      this.removeParticipant(p);
      p = undefined;
    }
    if (!p) {
      p = this.createParticipant(info);
      this.remoteParticipants.set(info.identity, p);
      this.bySid.set(info.sid, p);
      p.updateInfo(info);
      // Like livekit-client: participants already there at join are listed, not announced.
      if (!atJoin) this.emitWhenConnected(RoomEvent.ParticipantConnected, p);
      this.flushPendingMedia(p);
      return;
    }
    p.updateInfo(info);
  }

  private createParticipant(info: ParticipantInfo): RemoteParticipant {
    const p = new RemoteParticipant(info, {
      autoSubscribe: this.engine.opts.autoSubscribe,
      adaptiveStream: this.options.adaptiveStream,
      send: (req) => this.engine.send(req),
    });
    p.on(ParticipantEvent.TrackPublished, (pub) => this.emitWhenConnected(RoomEvent.TrackPublished, pub, p))
      .on(ParticipantEvent.TrackSubscribed, (track, pub) => {
        if (track.kind === Track.Kind.Audio) {
          // Autoplay policy: a blocked play() on an attached audio element means startAudio() is needed.
          track.on(TrackEvent.AudioPlaybackFailed, () => this.setAudioPlayback(false));
          track.on(TrackEvent.AudioPlaybackStarted, () => this.setAudioPlayback(true));
        }
        this.emit(RoomEvent.TrackSubscribed, track, pub, p);
      })
      .on(ParticipantEvent.TrackSubscriptionFailed, (sid, reason) => this.emit(RoomEvent.TrackSubscriptionFailed, sid, p, reason))
      .on(ParticipantEvent.TrackUnpublished, (pub) => this.emit(RoomEvent.TrackUnpublished, pub, p))
      .on(ParticipantEvent.TrackUnsubscribed, (track, pub) => this.emit(RoomEvent.TrackUnsubscribed, track, pub, p))
      .on(ParticipantEvent.TrackMuted, (pub) => this.emit(RoomEvent.TrackMuted, pub, p))
      .on(ParticipantEvent.TrackUnmuted, (pub) => this.emit(RoomEvent.TrackUnmuted, pub, p))
      .on(ParticipantEvent.ParticipantMetadataChanged, (prev) => this.emit(RoomEvent.ParticipantMetadataChanged, prev, p))
      .on(ParticipantEvent.ParticipantNameChanged, (name) => this.emit(RoomEvent.ParticipantNameChanged, name, p))
      .on(ParticipantEvent.AttributesChanged, (changed) => this.emit(RoomEvent.ParticipantAttributesChanged, changed, p))
      .on(ParticipantEvent.ParticipantPermissionsChanged, (prev) => this.emit(RoomEvent.ParticipantPermissionsChanged, prev, p))
      .on(ParticipantEvent.TrackSubscriptionStatusChanged, (pub, status) => {
        // Unsubscribing takes the track away at once (the server removes the m-line after).
        if (status === 'unsubscribed' && pub.track) p.removeSubscribedTrack(pub);
        this.emit(RoomEvent.TrackSubscriptionStatusChanged, pub, status, p);
      });
    return p;
  }

  private removeParticipant(p: RemoteParticipant, emit = true): void {
    for (const sid of [...p.trackPublications.keys()]) p.unpublishTrack(sid);
    this.remoteParticipants.delete(p.identity);
    this.bySid.delete(p.sid);
    this.speakerLevels.delete(p.sid);
    const i = this.activeSpeakers.indexOf(p);
    if (i >= 0) {
      this.activeSpeakers.splice(i, 1);
      if (emit) this.emit(RoomEvent.ActiveSpeakersChanged, [...this.activeSpeakers]);
    }
    this.rpc.participantDisconnected(p.identity);
    this.streams.participantDisconnected(p.identity);
    if (emit) this.emit(RoomEvent.ParticipantDisconnected, p);
  }

  private forwardLocalEvents(): void {
    const lp = this.localParticipant;
    lp.on(ParticipantEvent.LocalTrackPublished, (pub) => this.emit(RoomEvent.LocalTrackPublished, pub, lp))
      .on(ParticipantEvent.LocalTrackUnpublished, (pub) => this.emit(RoomEvent.LocalTrackUnpublished, pub, lp))
      .on(ParticipantEvent.TrackMuted, (pub) => this.emit(RoomEvent.TrackMuted, pub, lp))
      .on(ParticipantEvent.TrackUnmuted, (pub) => this.emit(RoomEvent.TrackUnmuted, pub, lp))
      .on(ParticipantEvent.ParticipantMetadataChanged, (prev) => this.emit(RoomEvent.ParticipantMetadataChanged, prev, lp))
      .on(ParticipantEvent.ParticipantNameChanged, (name) => this.emit(RoomEvent.ParticipantNameChanged, name, lp))
      .on(ParticipantEvent.AttributesChanged, (changed) => this.emit(RoomEvent.ParticipantAttributesChanged, changed, lp))
      .on(ParticipantEvent.ParticipantPermissionsChanged, (prev) => this.emit(RoomEvent.ParticipantPermissionsChanged, prev, lp))
      .on(ParticipantEvent.ChatMessage, (msg) => this.emit(RoomEvent.ChatMessage, msg, lp))
      .on(ParticipantEvent.MediaDevicesError, (err) => this.emit(RoomEvent.MediaDevicesError, err));
  }

  // -------------------------------------------------------------------------------------------------------------
  // Media and data

  /** Media whose participant the server has not described yet (the update can trail the track), by participant sid. */
  private pendingMedia = new Map<string, { ev: MediaTrackEvent; trackSid: string; at: number }[]>();

  private onMediaTrack(ev: MediaTrackEvent): void {
    // msid: "<participant sid>|<track sid>" (the stream id may also be just the participant sid).
    const [participantSid = ''] = ev.streamId.split('|');
    const trackSid = ev.trackId.startsWith('TR_') ? ev.trackId : (ev.streamId.split('|')[1] ?? ev.trackId);
    const p = this.bySid.get(participantSid);
    if (p) {
      p.addSubscribedMediaTrack(ev.track, trackSid, ev.transceiver);
      return;
    }
    const now = Date.now();
    const list = (this.pendingMedia.get(participantSid) ?? []).filter((m) => now - m.at < PENDING_MEDIA_MS);
    list.push({ ev, trackSid, at: now });
    this.pendingMedia.set(participantSid, list);
  }

  /** A participant just appeared: hand it the media that arrived before it. */
  private flushPendingMedia(p: RemoteParticipant): void {
    const list = this.pendingMedia.get(p.sid);
    if (!list) return;
    this.pendingMedia.delete(p.sid);
    const now = Date.now();
    for (const m of list) if (now - m.at < PENDING_MEDIA_MS) p.addSubscribedMediaTrack(m.ev.track, m.trackSid, m.ev.transceiver);
  }

  private onDataPacket(packet: DataPacket, kind: DataPacket_Kind): void {
    const identity = packet.participantIdentity || packet.user?.participantIdentity || '';
    const from = this.remoteParticipants.get(identity);
    switch (packet.value) {
      case 'user': {
        const u = packet.user!;
        this.emit(RoomEvent.DataReceived, u.payload, from, kind, u.topic);
        from?.emit(ParticipantEvent.DataReceived, u.payload, kind);
        break;
      }
      case 'chatMessage': {
        const c = packet.chatMessage!;
        const msg: ChatMessage = { id: c.id, message: c.message, timestamp: Number(c.timestamp), editTimestamp: c.editTimestamp !== undefined ? Number(c.editTimestamp) : undefined };
        from?.emit(ParticipantEvent.ChatMessage, msg);
        this.emit(RoomEvent.ChatMessage, msg, from);
        break;
      }
      case 'speaker':
        this.onSpeakers(packet.speaker!.speakers);
        break;
      default:
        if (this.rpc.handlePacket(packet, identity)) break;
        this.streams.handlePacket(packet, identity);
    }
  }

  /** Speaker updates carry changes only: merge them, then list the active ones loudest first. */
  private onSpeakers(speakers: SpeakerInfo[]): void {
    for (const s of speakers) this.speakerLevels.set(s.sid, { level: s.level, active: s.active });
    const active: Participant[] = [];
    const all: Participant[] = [this.localParticipant, ...this.remoteParticipants.values()];
    for (const p of all) {
      const l = this.speakerLevels.get(p.sid);
      p.setSpeaking(l?.active ? l.level : 0, !!l?.active);
      if (l?.active) active.push(p);
    }
    active.sort((a, b) => b.audioLevel - a.audioLevel);
    this.activeSpeakers = active;
    this.emit(RoomEvent.ActiveSpeakersChanged, active);
  }

  // -------------------------------------------------------------------------------------------------------------
  // RPC, data streams, devices

  registerRpcMethod(method: string, handler: (data: RpcInvocationData) => Promise<string>): void {
    this.rpc.registerRpcMethod(method, handler);
  }

  unregisterRpcMethod(method: string): void {
    this.rpc.unregisterRpcMethod(method);
  }

  registerTextStreamHandler(...args: Parameters<StreamManager['registerTextStreamHandler']>): void {
    this.streams.registerTextStreamHandler(...args);
  }

  unregisterTextStreamHandler(topic: string): void {
    this.streams.unregisterTextStreamHandler(topic);
  }

  registerByteStreamHandler(...args: Parameters<StreamManager['registerByteStreamHandler']>): void {
    this.streams.registerByteStreamHandler(...args);
  }

  unregisterByteStreamHandler(topic: string): void {
    this.streams.unregisterByteStreamHandler(topic);
  }

  /** Lists capture (and, in browsers, output) devices. */
  static getLocalDevices(kind?: 'audioinput' | 'videoinput' | 'audiooutput') {
    return platform().listDevices(kind);
  }

  /** Switches the camera or microphone of the published track to another device. */
  async switchActiveDevice(kind: 'audioinput' | 'videoinput', deviceId: string): Promise<boolean> {
    const source = kind === 'videoinput' ? Track.Source.Camera : Track.Source.Microphone;
    const track = this.localParticipant.getTrackPublication(source)?.track as LocalTrack | undefined;
    if (kind === 'videoinput') this.options.videoCaptureDefaults.deviceId = deviceId;
    else this.options.audioCaptureDefaults.deviceId = deviceId;
    if (!track) return true;
    return track.setDeviceId(deviceId);
  }

  /** Browser: true once audio may play (autoplay allowed, or startAudio() ran from a user gesture). */
  canPlaybackAudio = true;

  /**
   * Browser: starts playback of every attached audio element. Call it from a user gesture (a click) when
   * RoomEvent.AudioPlaybackStatusChanged says the browser blocked autoplay.
   */
  async startAudio(): Promise<void> {
    const plays: Promise<void>[] = [];
    for (const p of this.remoteParticipants.values()) {
      for (const pub of p.trackPublications.values()) {
        if (pub.kind !== Track.Kind.Audio || !pub.track) continue;
        for (const el of pub.track.attachedElements) plays.push(el.play());
      }
    }
    const results = await Promise.allSettled(plays);
    this.setAudioPlayback(results.every((r) => r.status === 'fulfilled'));
  }

  private setAudioPlayback(ok: boolean): void {
    if (this.canPlaybackAudio === ok) return;
    this.canPlaybackAudio = ok;
    this.emit(RoomEvent.AudioPlaybackStatusChanged, ok);
  }

  /** livekit-client's test hook: a node failure, a server leave, a signal drop… (see SimulationScenario). */
  simulateScenario(scenario: SimulationScenario, arg?: unknown): Promise<void> {
    return this.engine.simulate(scenario, arg);
  }

  /** The local or a remote participant with this identity. */
  getParticipantByIdentity(identity: string): Participant | undefined {
    return identity === this.localParticipant.identity ? this.localParticipant : this.remoteParticipants.get(identity);
  }
}
