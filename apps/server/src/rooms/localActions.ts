// RoomActions for rooms hosted by this node: they act on the live room and its participants.
import {
  DataPacket_Kind,
  DisconnectReason,
  type CreateRoomRequest,
  type DeleteRoomRequest,
  type MuteRoomTrackRequest,
  type RoomParticipantIdentity,
  type SendDataRequest,
  type UpdateParticipantRequest,
  type UpdateRoomMetadataRequest,
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

  CreateRoom(req: CreateRoomRequest) {
    return this.rooms.createRoom(req);
  }

  async DeleteRoom(req: DeleteRoomRequest) {
    if (!(await this.rooms.deleteRoom(req.room))) throw errRoomNotFound();
    return {};
  }

  async UpdateRoomMetadata(req: UpdateRoomMetadataRequest) {
    return this.room(req.room).setMetadata(req.metadata);
  }

  async SendData(req: SendDataRequest) {
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
    return {};
  }

  async RemoveParticipant(req: RoomParticipantIdentity) {
    this.participant(req.room, req.identity).close(DisconnectReason.PARTICIPANT_REMOVED);
    return {};
  }

  async MutePublishedTrack(req: MuteRoomTrackRequest) {
    const p = this.participant(req.room, req.identity);
    const track = p.tracks.get(req.trackSid);
    if (!track) throw errTrackNotFound();
    if (!req.muted && track.info.muted && !this.config.room.enable_remote_unmute) throw errRemoteUnmuteNotEnabled();
    // The publisher's client mutes its track and confirms with a mute request of its own; update at once as well.
    p.send({ mute: { sid: req.trackSid, muted: req.muted } });
    return { track: p.setTrackMuted(req.trackSid, req.muted)! };
  }

  async UpdateParticipant(req: UpdateParticipantRequest) {
    const p = this.participant(req.room, req.identity);
    p.update({
      metadata: req.metadata || undefined,
      name: req.name || undefined,
      attributes: Object.keys(req.attributes).length ? req.attributes : undefined,
    });
    if (req.permission) p.setPermission(req.permission);
    return p.toProto();
  }

  async UpdateSubscriptions(req: UpdateSubscriptionsRequest) {
    const p = this.participant(req.room, req.identity);
    p.onUpdateSubscription(req.trackSids, req.participantTracks, req.subscribe);
    return {};
  }
}
