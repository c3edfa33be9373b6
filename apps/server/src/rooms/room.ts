// A live room on this node: its info, its participants, and the timers that close it when nobody is there.
import { Room, TypedEventEmitter, newRoomSid, type PartialMessage } from '@kite/protocol';
import type { Logger } from '../logger.js';

export interface RoomOptions {
  name: string;
  /** Seconds to stay open when nobody has joined yet. */
  emptyTimeout: number;
  /** Seconds to stay open after the last participant left. */
  departureTimeout: number;
  maxParticipants: number;
  metadata: string;
}

export interface RoomEvents {
  /** The room's info changed (metadata, counts): the store and the participants need the new snapshot. */
  updated: (room: LiveRoom) => void;
  closed: (room: LiveRoom, reason: string) => void;
}

export class LiveRoom extends TypedEventEmitter<RoomEvents> {
  readonly sid = newRoomSid();
  readonly name: string;
  readonly createdAtMs = Date.now();
  private info: Room;
  private closeTimer: NodeJS.Timeout | undefined;
  private everJoined = false;
  private closedReason: string | undefined;
  /** How many participants are in the room now (maintained by the participant layer). */
  private participantCount = 0;
  private publisherCount = 0;

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
    this.armCloseTimer(opts.emptyTimeout, 'empty timeout');
  }

  get closed(): boolean {
    return this.closedReason !== undefined;
  }

  /** A snapshot of the room's protobuf info. */
  toProto(): Room {
    return { ...this.info, numParticipants: this.participantCount, numPublishers: this.publisherCount, enabledCodecs: [...this.info.enabledCodecs] };
  }

  update(change: PartialMessage<Room>): void {
    this.info = { ...this.info, ...(change as Partial<Room>) };
    this.emit('updated', this);
  }

  setMetadata(metadata: string): Room {
    this.update({ metadata });
    return this.toProto();
  }

  /** Called by the participant layer when the number of participants/publishers changes. */
  setCounts(participants: number, publishers: number): void {
    const changed = participants !== this.participantCount || publishers !== this.publisherCount;
    this.participantCount = participants;
    this.publisherCount = publishers;
    if (participants > 0) {
      this.everJoined = true;
      this.cancelCloseTimer();
    } else if (this.everJoined) {
      this.armCloseTimer(this.info.departureTimeout, 'departure timeout');
    }
    if (changed) this.emit('updated', this);
  }

  private armCloseTimer(seconds: number, reason: string): void {
    this.cancelCloseTimer();
    this.closeTimer = setTimeout(() => {
      if (this.participantCount === 0) this.close(reason);
    }, seconds * 1000);
    this.closeTimer.unref();
  }

  private cancelCloseTimer(): void {
    if (this.closeTimer) clearTimeout(this.closeTimer);
    this.closeTimer = undefined;
  }

  close(reason: string): void {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    this.cancelCloseTimer();
    this.log.info({ room: this.name, sid: this.sid, reason }, 'room closed');
    this.emit('closed', this, reason);
    this.removeAllListeners();
  }
}
