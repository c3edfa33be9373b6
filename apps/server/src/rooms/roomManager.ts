// The rooms this node hosts. Creates them (by API or first join), closes them, and mirrors their state to the store.
import { DisconnectReason, LeaveRequest_Action, TypedEventEmitter, type CreateRoomRequest, type Room } from '@kite/protocol';
import type { Participant } from '../rtc/participant.js';
import type { KiteConfig } from '../config/index.js';
import type { Logger } from '../logger.js';
import { LiveRoom } from './room.js';
import type { RoomStore } from './store.js';

export interface RoomManagerEvents {
  roomStarted: (room: LiveRoom) => void;
  roomFinished: (room: LiveRoom, reason: string) => void;
}

export class RoomManager extends TypedEventEmitter<RoomManagerEvents> {
  private readonly rooms = new Map<string, LiveRoom>();
  /** Creations in flight, so two concurrent joins of a new room create it once. */
  private readonly creating = new Map<string, Promise<LiveRoom>>();

  constructor(
    private readonly config: KiteConfig,
    private readonly store: RoomStore,
    private readonly log: Logger,
  ) {
    super();
  }

  getRoom(name: string): LiveRoom | undefined {
    return this.rooms.get(name);
  }

  get size(): number {
    return this.rooms.size;
  }

  /** The live rooms (open ones). */
  all(): LiveRoom[] {
    return [...this.rooms.values()];
  }

  /** Load figures the node registry publishes. */
  stats(): { rooms: number; participants: number } {
    let participants = 0;
    for (const r of this.rooms.values()) participants += r.participantCount;
    return { rooms: this.rooms.size, participants };
  }

  /** Writes every room's and participant's state to the store again (after the store lost it). */
  async persistAll(): Promise<void> {
    for (const room of this.rooms.values()) {
      await this.persist(room);
      for (const p of room.allParticipants()) if (!p.isClosed && !p.hidden) await this.store.storeParticipant(room.name, p.toProto());
    }
  }

  /** Creates the room if it does not exist; returns the existing one otherwise (as LiveKit's CreateRoom does). */
  async getOrCreateRoom(req: Pick<CreateRoomRequest, 'name'> & Partial<CreateRoomRequest>): Promise<LiveRoom> {
    const existing = this.rooms.get(req.name);
    if (existing && !existing.closed) return existing;
    const pending = this.creating.get(req.name);
    if (pending) return pending;
    const p = this.create(req).finally(() => this.creating.delete(req.name));
    this.creating.set(req.name, p);
    return p;
  }

  private async create(req: Pick<CreateRoomRequest, 'name'> & Partial<CreateRoomRequest>): Promise<LiveRoom> {
    const cfg = this.config.room;
    const room = new LiveRoom(
      {
        name: req.name,
        // 0 in a request means "the configured default", as in LiveKit.
        emptyTimeout: req.emptyTimeout || cfg.empty_timeout,
        departureTimeout: req.departureTimeout || cfg.departure_timeout,
        maxParticipants: req.maxParticipants || cfg.max_participants,
        metadata: req.metadata ?? '',
        audio: {
          activeLevel: this.config.audio.active_level,
          minPercentile: this.config.audio.min_percentile,
          updateInterval: this.config.audio.update_interval,
          smoothIntervals: this.config.audio.smooth_intervals,
        },
      },
      this.log,
    );
    room.on('updated', (r) => void this.persist(r));
    const saveParticipant = (r: LiveRoom, p: Participant) => {
      if (p.isClosed || p.hidden) return;
      this.store.storeParticipant(r.name, p.toProto()).catch((err) => this.log.error({ err, room: r.name }, 'store: save participant failed'));
    };
    room.on('participantJoined', saveParticipant);
    room.on('participantUpdated', saveParticipant);
    room.on('participantLeft', (r, p) => {
      // Only forget the identity if no newer session of it took its place.
      if (r.getParticipant(p.identity)) return;
      this.store.deleteParticipant(r.name, p.identity).catch((err) => this.log.error({ err, room: r.name }, 'store: delete participant failed'));
    });
    room.on('closed', (r, reason) => {
      if (this.rooms.get(r.name) === r) this.rooms.delete(r.name);
      void this.store.deleteRoom(r.name).catch((err) => this.log.error({ err, room: r.name }, 'store: delete room failed'));
      this.emit('roomFinished', r, reason);
    });
    this.rooms.set(req.name, room);
    this.log.info({ room: room.name, sid: room.sid }, 'room created');
    // Before the store write: a concurrent join may get the room from `rooms` during it, and listeners (webhooks)
    // must see the room start before anything happens in it.
    this.emit('roomStarted', room);
    await this.persist(room);
    return room;
  }

  private async persist(room: LiveRoom): Promise<void> {
    if (room.closed) return;
    try {
      await this.store.storeRoom(room.toProto());
    } catch (err) {
      this.log.error({ err, room: room.name }, 'store: save room failed');
    }
  }

  async createRoom(req: CreateRoomRequest): Promise<Room> {
    return (await this.getOrCreateRoom(req)).toProto();
  }

  /** Closes the room; its participants are disconnected with ROOM_DELETED. */
  async deleteRoom(name: string): Promise<boolean> {
    const room = this.rooms.get(name);
    if (!room) return false;
    room.close('deleted', DisconnectReason.ROOM_DELETED);
    return true;
  }

  /** Closes every room. `rejoin`: participants are told to reconnect (to another node, after a drain). */
  async close(rejoin = false): Promise<void> {
    const action = rejoin ? LeaveRequest_Action.RECONNECT : LeaveRequest_Action.DISCONNECT;
    for (const room of [...this.rooms.values()]) room.close('server shutdown', DisconnectReason.SERVER_SHUTDOWN, action);
  }
}
