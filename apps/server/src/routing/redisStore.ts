// RoomStore in Redis: every node reads any room's state; only the node hosting a room writes it. Values are the
// protobuf encodings of Room and ParticipantInfo, as LiveKit keeps them.
import { ParticipantInfo, Room } from '@kite/protocol';
import type { RoomStore } from '../rooms/store.js';
import { keys, type RedisClient } from './redis.js';

export class RedisRoomStore implements RoomStore {
  constructor(private readonly redis: RedisClient) {}

  async storeRoom(room: Room) {
    await this.redis.hset(keys.rooms, room.name, Buffer.from(Room.encode(room)));
  }
  async loadRoom(name: string) {
    const b = await this.redis.hgetBuffer(keys.rooms, name);
    return b ? Room.decode(b) : undefined;
  }
  async listRooms(names?: string[]) {
    if (names && names.length) {
      const found = await this.redis.hmgetBuffer(keys.rooms, ...names);
      return found.filter((b): b is Buffer => !!b).map((b) => Room.decode(b));
    }
    const all = await this.redis.hgetallBuffer(keys.rooms);
    return Object.values(all).map((b) => Room.decode(b));
  }
  async deleteRoom(name: string) {
    await this.redis.multi().hdel(keys.rooms, name).del(keys.participants(name)).exec();
  }
  async storeParticipant(room: string, participant: ParticipantInfo) {
    await this.redis.hset(keys.participants(room), participant.identity, Buffer.from(ParticipantInfo.encode(participant)));
  }
  async loadParticipant(room: string, identity: string) {
    const b = await this.redis.hgetBuffer(keys.participants(room), identity);
    return b ? ParticipantInfo.decode(b) : undefined;
  }
  async listParticipants(room: string) {
    const all = await this.redis.hgetallBuffer(keys.participants(room));
    return Object.values(all).map((b) => ParticipantInfo.decode(b));
  }
  async deleteParticipant(room: string, identity: string) {
    await this.redis.hdel(keys.participants(room), identity);
  }
  /** The connection belongs to the cluster (routing/cluster.ts), which closes it. */
  async close() {}
}
