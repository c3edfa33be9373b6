// RoomActions for rooms hosted by this node: they act on the live room and its participants.
import {
  DataPacket_Kind,
  DisconnectReason,
  type CreateRoomRequest,
  type MuteRoomTrackRequest,
  type SendDataRequest,
  type UpdateParticipantRequest,
  type UpdateSubscriptionsRequest,
} from '@kite/protocol';
import type { RoomActions } from '../api/roomService.js';
import { errParticipantNotFound, errRemoteUnmuteNotEnabled, errRoomNotFound, errTrackNotFound } from '../errors.js';
import type { KiteConfig } from '../config/index.js';
import type { RoomManager } from './roomManager.js';

export class LocalRoomActions implements RoomActions {
  constructor(
    private readonly rooms: RoomManager,
    private readonly config: KiteConfig,
  ) {}

  private room(name: string) {
    const room = this.rooms.getRoom(name);
    if (!room) throw errRoomNotFound();
    return room;
  }

  private participant(roomName: string, identity: string) {
    const p = this.room(roomName).getParticipant(identity);
    if (!p || p.isClosed) throw errParticipantNotFound();
    return p;
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
    const kind = req.kind === DataPacket_Kind.LOSSY ? DataPacket_Kind.LOSSY : DataPacket_Kind.RELIABLE;
    this.room(req.room).sendServerData(
      {
        destinationIdentities: req.destinationIdentities,
        user: {
          payload: req.data,
          destinationSids: req.destinationSids,
          destinationIdentities: req.destinationIdentities,
          topic: req.topic,
          nonce: req.nonce,
        },
      },
      kind,
    );
  }

  async removeParticipant(room: string, identity: string) {
    this.participant(room, identity).close(DisconnectReason.PARTICIPANT_REMOVED);
  }

  async mutePublishedTrack(req: MuteRoomTrackRequest) {
    const p = this.participant(req.room, req.identity);
    const track = p.tracks.get(req.trackSid);
    if (!track) throw errTrackNotFound();
    if (!req.muted && track.info.muted && !this.config.room.enable_remote_unmute) throw errRemoteUnmuteNotEnabled();
    // The publisher's client mutes its track and confirms with a mute request of its own; update at once as well.
    p.send({ mute: { sid: req.trackSid, muted: req.muted } });
    return p.setTrackMuted(req.trackSid, req.muted)!;
  }

  async updateParticipant(req: UpdateParticipantRequest) {
    const p = this.participant(req.room, req.identity);
    p.update({
      metadata: req.metadata || undefined,
      name: req.name || undefined,
      attributes: Object.keys(req.attributes).length ? req.attributes : undefined,
    });
    if (req.permission) p.setPermission(req.permission);
    return p.toProto();
  }

  async updateSubscriptions(req: UpdateSubscriptionsRequest) {
    const p = this.participant(req.room, req.identity);
    p.onUpdateSubscription(req.trackSids, req.participantTracks, req.subscribe);
  }
}
