// RoomService: grant checks, argument limits and reads, as LiveKit's roomservice.go does them. Actions on a room
// go through RoomActions, which runs them on the node hosting the room (this one, or another through Redis).
import {
  RoomServiceMethods,
  type MessageCodec,
  type RoomServiceMethod,
  type CreateRoomRequest,
  type DeleteRoomRequest,
  type ListParticipantsRequest,
  type ListRoomsRequest,
  type MuteRoomTrackRequest,
  type ParticipantInfo,
  type Room,
  type RoomParticipantIdentity,
  type SendDataRequest,
  type UpdateParticipantRequest,
  type UpdateRoomMetadataRequest,
  type UpdateSubscriptionsRequest,
} from '@kite/protocol';
import type { ClaimGrants } from '../auth/tokens.js';
import type { LimitConfig } from '../config/index.js';
import { ServiceError, errParticipantNotFound, errPermissionDenied, errRoomNotFound } from '../errors.js';
import type { RoomStore } from '../rooms/store.js';
import type { RoomServiceHandlers } from './twirp.js';

/** The RoomService calls that act on a live room: they run on the node that hosts it. */
export const ROOM_ACTIONS = [
  'CreateRoom',
  'DeleteRoom',
  'UpdateRoomMetadata',
  'SendData',
  'RemoveParticipant',
  'MutePublishedTrack',
  'UpdateParticipant',
  'UpdateSubscriptions',
] as const satisfies readonly RoomServiceMethod[];
export type RoomAction = (typeof ROOM_ACTIONS)[number];

type Codec<M extends RoomServiceMethod, K extends 'request' | 'response'> = (typeof RoomServiceMethods)[M][K] extends MessageCodec<infer T> ? T : never;
export type ActionRequest<M extends RoomAction> = Codec<M, 'request'>;
export type ActionResponse<M extends RoomAction> = Codec<M, 'response'>;

/**
 * What RoomService asks of the node that hosts a room, one method per Twirp call with its own request and response
 * messages (so another node can be asked the same thing over the bus, in protobuf).
 */
export type RoomActions = { [M in RoomAction]: (req: ActionRequest<M>) => Promise<ActionResponse<M>> };

function requireCreate(g?: ClaimGrants) {
  if (!g?.video?.roomCreate) throw errPermissionDenied();
}
function requireList(g?: ClaimGrants) {
  if (!g?.video?.roomList) throw errPermissionDenied();
}
function requireAdmin(g: ClaimGrants | undefined, room: string) {
  if (!g?.video?.roomAdmin || g.video.room !== room) throw errPermissionDenied();
}

const byteLength = (s: string) => new TextEncoder().encode(s).length;
function attributesSize(attrs: Record<string, string>): number {
  let n = 0;
  for (const [k, v] of Object.entries(attrs)) n += byteLength(k) + byteLength(v);
  return n;
}

export class RoomService {
  constructor(
    private readonly store: RoomStore,
    private readonly actions: RoomActions,
    private readonly limits: LimitConfig,
  ) {}

  private checkMetadata(metadata: string) {
    if (this.limits.max_metadata_size && byteLength(metadata) > this.limits.max_metadata_size) {
      throw new ServiceError('invalid_argument', 'metadata size exceeds limits', { argument: String(this.limits.max_metadata_size) });
    }
  }
  private checkAttributes(attributes: Record<string, string>) {
    if (this.limits.max_attributes_size && attributesSize(attributes) > this.limits.max_attributes_size) {
      throw new ServiceError('invalid_argument', 'attribute size exceeds limits', { argument: String(this.limits.max_attributes_size) });
    }
  }
  private checkName(name: string) {
    if (this.limits.max_participant_name_length && name.length > this.limits.max_participant_name_length) {
      throw new ServiceError('invalid_argument', 'name length exceeds limits', { argument: String(this.limits.max_participant_name_length) });
    }
  }
  private async requireParticipant(room: string, identity: string) {
    if (!identity) throw new ServiceError('invalid_argument', 'identity cannot be empty');
    if (!(await this.store.loadParticipant(room, identity))) throw errParticipantNotFound();
  }

  handlers(): RoomServiceHandlers {
    return {
      CreateRoom: (r, g) => this.createRoom(r as CreateRoomRequest, g),
      ListRooms: (r, g) => this.listRooms(r as ListRoomsRequest, g),
      DeleteRoom: (r, g) => this.deleteRoom(r as DeleteRoomRequest, g),
      ListParticipants: (r, g) => this.listParticipants(r as ListParticipantsRequest, g),
      GetParticipant: (r, g) => this.getParticipant(r as RoomParticipantIdentity, g),
      RemoveParticipant: (r, g) => this.removeParticipant(r as RoomParticipantIdentity, g),
      MutePublishedTrack: (r, g) => this.mutePublishedTrack(r as MuteRoomTrackRequest, g),
      UpdateParticipant: (r, g) => this.updateParticipant(r as UpdateParticipantRequest, g),
      UpdateSubscriptions: (r, g) => this.updateSubscriptions(r as UpdateSubscriptionsRequest, g),
      SendData: (r, g) => this.sendData(r as SendDataRequest, g),
      UpdateRoomMetadata: (r, g) => this.updateRoomMetadata(r as UpdateRoomMetadataRequest, g),
    };
  }

  async createRoom(req: CreateRoomRequest, g?: ClaimGrants): Promise<Room> {
    requireCreate(g);
    if (!req.name) throw new ServiceError('invalid_argument', 'no room name');
    if (this.limits.max_room_name_length && req.name.length > this.limits.max_room_name_length) {
      throw new ServiceError('invalid_argument', `room name length exceeds limits: max length ${this.limits.max_room_name_length}`);
    }
    this.checkMetadata(req.metadata);
    return this.actions.CreateRoom(req);
  }

  async listRooms(req: ListRoomsRequest, g?: ClaimGrants) {
    requireList(g);
    return { rooms: await this.store.listRooms(req.names.length ? req.names : undefined) };
  }

  async deleteRoom(req: DeleteRoomRequest, g?: ClaimGrants) {
    requireCreate(g);
    if (!(await this.store.loadRoom(req.room))) throw errRoomNotFound();
    return this.actions.DeleteRoom(req);
  }

  async listParticipants(req: ListParticipantsRequest, g?: ClaimGrants) {
    requireAdmin(g, req.room);
    return { participants: await this.store.listParticipants(req.room) };
  }

  async getParticipant(req: RoomParticipantIdentity, g?: ClaimGrants): Promise<ParticipantInfo> {
    requireAdmin(g, req.room);
    const p = await this.store.loadParticipant(req.room, req.identity);
    if (!p) throw errParticipantNotFound();
    return p;
  }

  async removeParticipant(req: RoomParticipantIdentity, g?: ClaimGrants) {
    requireAdmin(g, req.room);
    await this.requireParticipant(req.room, req.identity);
    return this.actions.RemoveParticipant(req);
  }

  async mutePublishedTrack(req: MuteRoomTrackRequest, g?: ClaimGrants) {
    requireAdmin(g, req.room);
    await this.requireParticipant(req.room, req.identity);
    return this.actions.MutePublishedTrack(req);
  }

  async updateParticipant(req: UpdateParticipantRequest, g?: ClaimGrants): Promise<ParticipantInfo> {
    this.checkName(req.name);
    this.checkMetadata(req.metadata);
    this.checkAttributes(req.attributes);
    requireAdmin(g, req.room);
    await this.requireParticipant(req.room, req.identity);
    return this.actions.UpdateParticipant(req);
  }

  async updateSubscriptions(req: UpdateSubscriptionsRequest, g?: ClaimGrants) {
    requireAdmin(g, req.room);
    await this.requireParticipant(req.room, req.identity);
    return this.actions.UpdateSubscriptions(req);
  }

  async sendData(req: SendDataRequest, g?: ClaimGrants) {
    requireAdmin(g, req.room);
    if (req.nonce.length !== 0 && req.nonce.length !== 16) {
      throw new ServiceError('invalid_argument', `nonce should be 16-bytes or not present, got: ${req.nonce.length} bytes`);
    }
    if (!(await this.store.loadRoom(req.room))) throw errRoomNotFound();
    return this.actions.SendData(req);
  }

  async updateRoomMetadata(req: UpdateRoomMetadataRequest, g?: ClaimGrants): Promise<Room> {
    this.checkMetadata(req.metadata);
    requireAdmin(g, req.room);
    if (!(await this.store.loadRoom(req.room))) throw errRoomNotFound();
    return this.actions.UpdateRoomMetadata(req);
  }
}
