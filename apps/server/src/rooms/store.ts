// Where room and participant state is kept so that any API call can read it. One node: in memory (LocalRoomStore).
// Several nodes: Redis (a later RedisRoomStore implements the same interface). Live objects (sockets, media) never
// go in here, only their protobuf snapshots.
import type { ParticipantInfo, Room } from '@kite/protocol';

export interface RoomStore {
  storeRoom(room: Room): Promise<void>;
  loadRoom(name: string): Promise<Room | undefined>;
  /** Every room, or only the named ones. */
  listRooms(names?: string[]): Promise<Room[]>;
  /** Deletes the room and its participants. */
  deleteRoom(name: string): Promise<void>;

  storeParticipant(room: string, participant: ParticipantInfo): Promise<void>;
  loadParticipant(room: string, identity: string): Promise<ParticipantInfo | undefined>;
  listParticipants(room: string): Promise<ParticipantInfo[]>;
  deleteParticipant(room: string, identity: string): Promise<void>;

  close(): Promise<void>;
}

/** A deep copy, so callers never share objects with the store (as they would not with Redis). */
const copy = <T>(v: T): T => structuredClone(v);

export class LocalRoomStore implements RoomStore {
  private readonly rooms = new Map<string, Room>();
  private readonly participants = new Map<string, Map<string, ParticipantInfo>>();

  async storeRoom(room: Room) {
    this.rooms.set(room.name, copy(room));
  }
  async loadRoom(name: string) {
    const r = this.rooms.get(name);
    return r && copy(r);
  }
  async listRooms(names?: string[]) {
    const all = names && names.length ? names.map((n) => this.rooms.get(n)).filter((r): r is Room => !!r) : [...this.rooms.values()];
    return all.map(copy);
  }
  async deleteRoom(name: string) {
    this.rooms.delete(name);
    this.participants.delete(name);
  }
  async storeParticipant(room: string, participant: ParticipantInfo) {
    let m = this.participants.get(room);
    if (!m) this.participants.set(room, (m = new Map()));
    m.set(participant.identity, copy(participant));
  }
  async loadParticipant(room: string, identity: string) {
    const p = this.participants.get(room)?.get(identity);
    return p && copy(p);
  }
  async listParticipants(room: string) {
    return [...(this.participants.get(room)?.values() ?? [])].map(copy);
  }
  async deleteParticipant(room: string, identity: string) {
    this.participants.get(room)?.delete(identity);
  }
  async close() {}
}
