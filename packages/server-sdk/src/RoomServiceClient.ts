// RoomService over Twirp: the same method names and signatures as livekit-server-sdk's RoomServiceClient.
import {
  DataPacket_Kind,
  ListParticipantsResponse,
  ListRoomsResponse,
  ParticipantInfo,
  Room,
  RoomServiceMethods,
  TrackInfo,
  MuteRoomTrackResponse,
  type ParticipantPermission,
  type PartialMessage,
  type RoomServiceMethod,
} from '@kite/protocol';
import { ServiceBase } from './ServiceBase.js';
import { TwirpRpc } from './TwirpRpc.js';
import type { VideoGrant } from './grants.js';

export interface CreateOptions {
  name: string;
  /** Seconds to keep the room open before anyone joins. */
  emptyTimeout?: number;
  /** Seconds to keep the room open after the last participant leaves. */
  departureTimeout?: number;
  maxParticipants?: number;
  metadata?: string;
  minPlayoutDelay?: number;
  maxPlayoutDelay?: number;
  syncStreams?: boolean;
  nodeId?: string;
}

export interface SendDataOptions {
  destinationIdentities?: string[];
  destinationSids?: string[];
  topic?: string;
}

export interface UpdateParticipantOptions {
  attributes?: Record<string, string>;
  metadata?: string;
  permission?: PartialMessage<ParticipantPermission>;
  name?: string;
}

export interface ClientOptions {
  requestTimeout?: number;
}

const SERVICE = 'RoomService';

export class RoomServiceClient extends ServiceBase {
  private readonly rpc: TwirpRpc;

  /** `host` is the server URL (http(s):// or ws(s)://); key and secret default to LIVEKIT_API_KEY / LIVEKIT_API_SECRET. */
  constructor(host: string, apiKey?: string, secret?: string, options: ClientOptions = {}) {
    super(apiKey, secret);
    this.rpc = new TwirpRpc(host, 'livekit', options);
  }

  private async call<M extends RoomServiceMethod>(
    method: M,
    request: Parameters<(typeof RoomServiceMethods)[M]['request']['toJson']>[0],
    grant: VideoGrant,
  ): Promise<ReturnType<(typeof RoomServiceMethods)[M]['response']['decode']>> {
    const { request: reqCodec, response: resCodec } = RoomServiceMethods[method];
    const json = (reqCodec.toJson as (m: unknown) => Record<string, never>)(request);
    const data = await this.rpc.request(SERVICE, method, json, await this.authHeader(grant));
    return resCodec.fromJson(data) as ReturnType<(typeof RoomServiceMethods)[M]['response']['decode']>;
  }

  createRoom(options: CreateOptions): Promise<Room> {
    return this.call('CreateRoom', options, { roomCreate: true });
  }

  async listRooms(names?: string[]): Promise<Room[]> {
    const res: ListRoomsResponse = await this.call('ListRooms', { names: names ?? [] }, { roomList: true });
    return res.rooms;
  }

  async deleteRoom(room: string): Promise<void> {
    await this.call('DeleteRoom', { room }, { roomCreate: true });
  }

  updateRoomMetadata(room: string, metadata: string): Promise<Room> {
    return this.call('UpdateRoomMetadata', { room, metadata }, { roomAdmin: true, room });
  }

  async listParticipants(room: string): Promise<ParticipantInfo[]> {
    const res: ListParticipantsResponse = await this.call('ListParticipants', { room }, { roomAdmin: true, room });
    return res.participants;
  }

  getParticipant(room: string, identity: string): Promise<ParticipantInfo> {
    return this.call('GetParticipant', { room, identity }, { roomAdmin: true, room });
  }

  async removeParticipant(room: string, identity: string): Promise<void> {
    await this.call('RemoveParticipant', { room, identity }, { roomAdmin: true, room });
  }

  async mutePublishedTrack(room: string, identity: string, trackSid: string, muted: boolean): Promise<TrackInfo> {
    const res: MuteRoomTrackResponse = await this.call(
      'MutePublishedTrack',
      { room, identity, trackSid, muted },
      { roomAdmin: true, room },
    );
    return res.track ?? TrackInfo.create();
  }

  updateParticipant(room: string, identity: string, options: UpdateParticipantOptions): Promise<ParticipantInfo>;
  updateParticipant(
    room: string,
    identity: string,
    metadata?: string,
    permission?: PartialMessage<ParticipantPermission>,
    name?: string,
  ): Promise<ParticipantInfo>;
  updateParticipant(
    room: string,
    identity: string,
    optionsOrMetadata?: UpdateParticipantOptions | string,
    permission?: PartialMessage<ParticipantPermission>,
    name?: string,
  ): Promise<ParticipantInfo> {
    const opts: UpdateParticipantOptions =
      typeof optionsOrMetadata === 'object' ? optionsOrMetadata : { metadata: optionsOrMetadata, permission, name };
    return this.call(
      'UpdateParticipant',
      { room, identity, metadata: opts.metadata, permission: opts.permission, name: opts.name, attributes: opts.attributes },
      { roomAdmin: true, room },
    );
  }

  async updateSubscriptions(room: string, identity: string, trackSids: string[], subscribe: boolean): Promise<void> {
    await this.call('UpdateSubscriptions', { room, identity, trackSids, subscribe }, { roomAdmin: true, room });
  }

  async sendData(room: string, data: Uint8Array, kind: DataPacket_Kind, options: SendDataOptions = {}): Promise<void> {
    // A random 16-byte nonce lets the server drop duplicates of a retried call, as livekit-server-sdk does.
    const nonce = globalThis.crypto.getRandomValues(new Uint8Array(16));
    await this.call(
      'SendData',
      {
        room,
        data,
        kind,
        destinationSids: options.destinationSids ?? [],
        destinationIdentities: options.destinationIdentities ?? [],
        topic: options.topic,
        nonce,
      },
      { roomAdmin: true, room },
    );
  }
}
