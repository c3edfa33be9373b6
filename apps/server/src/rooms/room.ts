// A live room on this node: its info, its participants, and the timers that close it when nobody is there.
// Participant changes are broadcast as ParticipantUpdate messages, coalesced per event-loop turn so a join storm
// sends one update per turn instead of one per change (LiveKit batches the same way).
import {
  DataPacket,
  DataPacket_Kind,
  DisconnectReason,
  CandidateProtocol,
  LeaveRequest_Action,
  ParticipantInfo_State,
  Room,
  TrackType,
  TypedEventEmitter,
  newRoomSid,
  type ParticipantInfo,
  type SimulateScenario,
  type SpeakerInfo,
  type PartialMessage,
} from '@kite/protocol';
import type { AudioLevelConfig } from '@kite/sfu';
import type { Logger } from '../logger.js';
import type { Participant, ParticipantRoom, PublishedTrack } from '../rtc/participant.js';
import { DataRouter } from '../rtc/dataRouter.js';
import { SpeakerDetector } from '../rtc/speakers.js';
import { ConnectionQualityMonitor } from '../rtc/connectionQuality.js';

/** How long departures are remembered for participants that resume (they may have missed them). */
const DEPARTURE_MEMORY_MS = 60_000;

export interface RoomOptions {
  name: string;
  /** Seconds to stay open when nobody has joined yet. */
  emptyTimeout: number;
  /** Seconds to stay open after the last participant left. */
  departureTimeout: number;
  maxParticipants: number;
  metadata: string;
  /** Speaker detection thresholds. */
  audio: AudioLevelConfig;
}

export interface RoomEvents {
  /** The room's info changed (metadata, counts): the store and the participants need the new snapshot. */
  updated: (room: LiveRoom) => void;
  closed: (room: LiveRoom, reason: string) => void;
  participantJoined: (room: LiveRoom, p: Participant) => void;
  participantActive: (room: LiveRoom, p: Participant) => void;
  participantLeft: (room: LiveRoom, p: Participant, reason: DisconnectReason) => void;
  /** A participant's info changed (for the store). */
  participantUpdated: (room: LiveRoom, p: Participant) => void;
  trackPublished: (room: LiveRoom, p: Participant, track: PublishedTrack) => void;
  trackUnpublished: (room: LiveRoom, p: Participant, track: PublishedTrack) => void;
}

export class LiveRoom extends TypedEventEmitter<RoomEvents> implements ParticipantRoom {
  readonly sid = newRoomSid();
  readonly name: string;
  readonly createdAtMs = Date.now();
  private info: Room;
  private closeTimer: NodeJS.Timeout | undefined;
  private everJoined = false;
  private closedReason: string | undefined;
  /** Participants by identity. */
  private readonly participants = new Map<string, Participant>();
  /** Participant updates waiting for the next flush: a live participant, or the snapshot of one that left. */
  private readonly pendingUpdates = new Map<string, Participant | ParticipantInfo>();
  private flushScheduled = false;
  /** Who left recently (for resumed participants that missed it), newest last. */
  private readonly departures: { info: ParticipantInfo; at: number }[] = [];
  /** SimulateScenario(switch_candidate_protocol): the candidate protocol a participant asked for its next join. */
  private readonly candidatePreference = new Map<string, CandidateProtocol>();
  /** SimulateScenario(disconnect_signal_on_resume*): what to do to the next resume of these identities. */
  private readonly resumeSimulation = new Map<string, 'after-response' | 'before-response'>();
  readonly data = new DataRouter(() => this.participants.values());
  private readonly speakers: SpeakerDetector;
  private readonly quality = new ConnectionQualityMonitor(() => this.participants.values());

  constructor(
    opts: RoomOptions,
    private readonly log: Logger,
  ) {
    super();
    this.name = opts.name;
    this.info = Room.create({
      sid: this.sid,
      name: opts.name,
      emptyTimeout: opts.emptyTimeout,
      departureTimeout: opts.departureTimeout,
      maxParticipants: opts.maxParticipants,
      metadata: opts.metadata,
      creationTime: Math.floor(this.createdAtMs / 1000),
      creationTimeMs: this.createdAtMs,
    });
    this.speakers = new SpeakerDetector(() => this.participants.values(), opts.audio);
    this.armCloseTimer(opts.emptyTimeout, 'empty timeout');
  }

  get closed(): boolean {
    return this.closedReason !== undefined;
  }

  /** A snapshot of the room's protobuf info. */
  toProto(): Room {
    let publishers = 0;
    let count = 0;
    for (const p of this.participants.values()) {
      if (p.hidden) continue;
      count++;
      if (p.isPublisher) publishers++;
    }
    return { ...this.info, numParticipants: count, numPublishers: publishers, enabledCodecs: [...this.info.enabledCodecs] };
  }

  update(change: PartialMessage<Room>): void {
    this.info = { ...this.info, ...(change as Partial<Room>) };
    this.emit('updated', this);
  }

  setMetadata(metadata: string): Room {
    this.update({ metadata });
    const room = this.toProto();
    for (const p of this.participants.values()) p.send({ roomUpdate: { room } });
    return room;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Participants

  get participantCount(): number {
    return this.participants.size;
  }

  getParticipant(identity: string): Participant | undefined {
    return this.participants.get(identity);
  }

  getParticipantBySid(sid: string): Participant | undefined {
    for (const p of this.participants.values()) if (p.sid === sid) return p;
    return undefined;
  }

  allParticipants(): Participant[] {
    return [...this.participants.values()];
  }

  /** True when one more participant would exceed max_participants. */
  isFull(identity: string): boolean {
    const max = this.info.maxParticipants;
    return max > 0 && !this.participants.has(identity) && this.participants.size >= max;
  }

  /**
   * Adds a participant: a previous session with the same identity is removed first (DUPLICATE_IDENTITY) and
   * announced as disconnected before the newcomer, then the newcomer gets its JoinResponse.
   */
  join(p: Participant, joinResponse: (others: ParticipantInfo[]) => void): void {
    const old = this.participants.get(p.identity);
    if (old) old.close(DisconnectReason.DUPLICATE_IDENTITY);
    this.participants.set(p.identity, p);
    p.on('closed', (participant, reason) => this.onParticipantClosed(participant, reason));
    this.everJoined = true;
    this.cancelCloseTimer();
    const others = [...this.participants.values()].filter((o) => o !== p && !o.hidden && !o.isClosed).map((o) => o.toProto());
    joinResponse(others);
    p.joined();
    this.emit('participantJoined', this, p);
    // JOINING (in the JoinResponse) → JOINED is a change: it needs a new version, or a client that compares versions
    // sees two different infos under one version (LiveKit bumps the version on every snapshot).
    p.changed();
    this.emit('updated', this);
  }

  private onParticipantClosed(p: Participant, reason: DisconnectReason): void {
    if (this.participants.get(p.identity) === p) this.participants.delete(p.identity);
    this.speakers.forgetParticipant(p);
    // Subscribers of its tracks stop receiving them.
    for (const other of this.participants.values()) other.unsubscribeFromParticipant(p);
    if (!p.hidden) {
      const info = p.toProto();
      this.queueUpdate(p.sid, info);
      const now = Date.now();
      this.departures.push({ info, at: now });
      while (this.departures.length && (now - this.departures[0]!.at > DEPARTURE_MEMORY_MS || this.departures.length > 256)) this.departures.shift();
    }
    this.emit('participantLeft', this, p, reason);
    this.emit('updated', this);
    if (this.participants.size === 0 && !this.closed) this.armCloseTimer(this.info.departureTimeout, 'departure timeout');
  }

  /** What a participant resuming after losing its signal at `since` may have missed: departures and everyone's state. */
  missedSince(p: Participant, since: number): ParticipantInfo[] {
    const departed = this.departures.filter((d) => d.at >= since - 1000 && d.info.sid !== p.sid && d.info.identity !== p.identity).map((d) => d.info);
    const present = [...this.participants.values()].filter((o) => o !== p && !o.hidden && !o.isClosed).map((o) => o.toProto());
    const presentSids = new Set(present.map((i) => i.sid));
    return [...departed.filter((d) => !presentSids.has(d.sid)), ...present];
  }

  /** The candidate protocol a participant asked for (force-tcp / force-tls), consumed by its next join. */
  takeCandidatePreference(identity: string): CandidateProtocol | undefined {
    const pref = this.candidatePreference.get(identity);
    this.candidatePreference.delete(identity);
    return pref;
  }

  takeResumeSimulation(identity: string): 'after-response' | 'before-response' | undefined {
    const sim = this.resumeSimulation.get(identity);
    this.resumeSimulation.delete(identity);
    return sim;
  }

  /**
   * The official SDKs' test hooks (room.simulateScenario), answered as LiveKit's room.go does: a speaker for a few
   * seconds, a dropped session that must be rebuilt (node failure, migration), a server leave, a candidate protocol
   * for the next join, a signal disconnect on the next resume.
   */
  simulate(p: Participant, sc: SimulateScenario): void {
    this.log.info({ room: this.name, participant: p.identity, scenario: sc.scenario }, 'simulating scenario');
    switch (sc.scenario) {
      case 'speakerUpdate': {
        const speaker = { sid: p.sid, level: 0.9, active: true };
        for (const o of this.participants.values()) o.send({ speakersChanged: { speakers: [speaker] } });
        setTimeout(() => {
          for (const o of this.participants.values()) o.send({ speakersChanged: { speakers: [{ ...speaker, level: 0, active: false }] } });
        }, Math.max(0, Number(sc.speakerUpdate ?? 0)) * 1000).unref();
        break;
      }
      case 'nodeFailure':
      case 'migration':
        // The signalling goes without a word, as when its node dies, and the resume is refused: the client rejoins,
        // and its new session takes this one over (same sid: the others see no leave).
        p.dropSignal(true);
        break;
      case 'serverLeave':
        p.close(DisconnectReason.SERVER_SHUTDOWN, true);
        break;
      case 'switchCandidateProtocol':
        this.candidatePreference.set(p.identity, sc.switchCandidateProtocol!);
        p.awaitingRejoin = true;
        break;
      case 'subscriberBandwidth':
        break; // needs Kite's own bandwidth estimation (allocation), not built yet: accepted and ignored
      case 'disconnectSignalOnResume':
        this.resumeSimulation.set(p.identity, 'after-response');
        break;
      case 'disconnectSignalOnResumeNoMessages':
        this.resumeSimulation.set(p.identity, 'before-response');
        break;
      case 'leaveRequestFullReconnect':
        p.awaitingRejoin = true;
        p.send({ leave: { canReconnect: true, reason: DisconnectReason.CLIENT_INITIATED, action: LeaveRequest_Action.RECONNECT } });
        break;
    }
  }

  participantChanged(p: Participant): void {
    if (p.isClosed) return;
    this.queueUpdate(p.sid, p);
    this.emit('participantUpdated', this, p);
  }

  private queueUpdate(sid: string, entry: Participant | ParticipantInfo): void {
    this.pendingUpdates.set(sid, entry);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flushUpdates());
  }

  /** Sends pending participant updates: each recipient gets everyone's change except hidden participants' (its own included). */
  private flushUpdates(): void {
    this.flushScheduled = false;
    if (this.pendingUpdates.size === 0) return;
    const infos = [...this.pendingUpdates.values()].map((e) => ('toProto' in e ? e.toProto() : e));
    this.pendingUpdates.clear();
    const hiddenSids = new Set<string>();
    for (const p of this.participants.values()) if (p.hidden) hiddenSids.add(p.sid);
    for (const recipient of this.participants.values()) {
      if (recipient.isClosed || recipient.state === ParticipantInfo_State.JOINING) continue;
      const forMe = infos.filter((i) => {
        if (i.sid === recipient.sid) return true;
        // The info's own permission too: a hidden participant that changed and left in the same turn is no longer
        // among `participants`, but its queued update must not reveal it.
        if (hiddenSids.has(i.sid) || i.permission?.hidden) return false;
        // Never show a session another participant's entry with the recipient's own identity (an old session of it).
        return i.identity !== recipient.identity;
      });
      if (forMe.length) recipient.send({ update: { participants: forMe } });
    }
  }

  participantActive(p: Participant): void {
    this.emit('participantActive', this, p);
    // Subscribe the newcomer to what is already published.
    for (const other of this.participants.values()) {
      if (other === p || other.isClosed) continue;
      for (const t of other.tracks.values()) if (t.published && p.wantsTrack(t.info.sid)) p.subscribeTo(other, t);
    }
  }

  trackPublished(p: Participant, track: PublishedTrack): void {
    const receiver = track.receiver;
    if (track.info.type === TrackType.AUDIO && receiver) this.speakers.observe(p, track.info.sid, (onLevel) => (receiver.onAudioLevel = onLevel));
    this.emit('trackPublished', this, p, track);
    this.emit('updated', this);
    for (const other of this.participants.values()) {
      if (other === p || other.isClosed || other.state !== ParticipantInfo_State.ACTIVE) continue;
      if (other.wantsTrack(track.info.sid)) other.subscribeTo(p, track);
    }
  }

  trackUnpublished(p: Participant, track: PublishedTrack): void {
    this.speakers.forget(track.info.sid);
    for (const other of this.participants.values()) other.unsubscribeFrom(track.info.sid);
    this.emit('trackUnpublished', this, p, track);
    this.emit('updated', this);
  }

  speakerState(sid: string): SpeakerInfo | undefined {
    return this.speakers.speakerState(sid, Date.now());
  }

  findTrack(trackSid: string): { publisher: Participant; track: PublishedTrack } | undefined {
    for (const p of this.participants.values()) {
      const t = p.tracks.get(trackSid);
      if (t) return { publisher: p, track: t };
    }
    return undefined;
  }

  /** Routes a data packet a participant sent (see DataRouter for the rules). */
  forwardData(from: Participant, bytes: Uint8Array, kind: DataPacket_Kind): void {
    this.data.fromParticipant(from, from.permission.canPublishData, bytes, kind);
  }

  /** Data from the server (RoomService.SendData): no sender. */
  sendServerData(packet: PartialMessage<DataPacket>, kind: DataPacket_Kind): void {
    this.data.fromServer(packet, kind);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Lifecycle

  private armCloseTimer(seconds: number, reason: string): void {
    this.cancelCloseTimer();
    if (this.closed) return;
    this.closeTimer = setTimeout(() => {
      if (this.participants.size === 0) this.close(reason);
    }, seconds * 1000);
    this.closeTimer.unref();
  }

  private cancelCloseTimer(): void {
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.closeTimer = undefined;
  }

  /** Closes the room, disconnecting everyone with `disconnectReason` (and telling them to rejoin with action RECONNECT). */
  close(reason: string, disconnectReason: DisconnectReason = DisconnectReason.ROOM_CLOSED, action = LeaveRequest_Action.DISCONNECT): void {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    this.cancelCloseTimer();
    this.speakers.close();
    this.quality.close();
    for (const p of [...this.participants.values()]) p.close(disconnectReason, true, action);
    this.flushUpdates();
    this.log.info({ room: this.name, sid: this.sid, reason }, 'room closed');
    this.emit('closed', this, reason);
    this.removeAllListeners();
  }

  /** True once a participant ever joined (the empty timeout no longer applies). */
  get hadParticipants(): boolean {
    return this.everJoined;
  }
}
