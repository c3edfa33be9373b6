// RoomActions for rooms hosted by this node.
import type { MuteRoomTrackRequest, SendDataRequest, UpdateParticipantRequest, UpdateSubscriptionsRequest, CreateRoomRequest } from '@kite/protocol';
import type { RoomActions } from '../api/roomService.js';
import { errParticipantNotFound, errRoomNotFound } from '../errors.js';
import type { RoomManager } from './roomManager.js';

export class LocalRoomActions implements RoomActions {
  constructor(private readonly rooms: RoomManager) {}

  private room(name: string) {
    const room = this.rooms.getRoom(name);
    if (!room) throw errRoomNotFound();
    return room;
  }

  createRoom(req: CreateRoomRequest) {
    return this.rooms.createRoom(req);
  }
  async deleteRoom(name: string) {
    if (!(await this.rooms.deleteRoom(name))) throw errRoomNotFound();
  }
  async updateRoomMetadata(name: string, metadata: string) {
    return this.room(name).setMetadata(metadata);
  }
  async sendData(req: SendDataRequest) {
    this.room(req.room);
  }
  async removeParticipant(room: string, _identity: string) {
    this.room(room);
    throw errParticipantNotFound();
  }
  async mutePublishedTrack(req: MuteRoomTrackRequest): Promise<never> {
    this.room(req.room);
    throw errParticipantNotFound();
  }
  async updateParticipant(req: UpdateParticipantRequest): Promise<never> {
    this.room(req.room);
    throw errParticipantNotFound();
  }
  async updateSubscriptions(req: UpdateSubscriptionsRequest): Promise<void> {
    this.room(req.room);
    throw errParticipantNotFound();
  }
}
