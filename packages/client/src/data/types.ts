// What the data-layer modules (RPC, data streams) need from the rest of the SDK, and constants shared with peers.
import type { DataPacket, PartialMessage } from '@kite/protocol';

/** The room as the RPC and stream managers see it. */
export interface DataSender {
  /** Identity of the local participant (RPC caller id / stream sender). */
  readonly localIdentity: string;
  /**
   * Sends a DataPacket on the reliable channel (waits until it can be sent; rejects if the room is disconnected).
   * The SDK fills participantIdentity/sequence.
   */
  sendReliable(packet: PartialMessage<DataPacket>): Promise<void>;
  /**
   * JoinResponse.serverInfo.version. livekit-client refuses RPC with UNSUPPORTED_SERVER when it is below 1.8.0;
   * it gates on this string, not on the protocol number. Undefined skips the check (as livekit-client does).
   */
  readonly serverVersion?: string;
  /**
   * ParticipantInfo.clientProtocol of a remote participant (0 when unknown). livekit-client 2.23 picks RPC v2
   * (payload over a data stream) for peers at ≥ 1 and single-packet streams for peers at ≥ 2.
   * Absent: every peer is treated as 0, the format every LiveKit client understands.
   */
  remoteClientProtocol?(identity: string): number;
  /** ParticipantInfo.capabilities of a remote participant (ClientInfo_Capability values). */
  remoteCapabilities?(identity: string): readonly number[];
  /** Identities of every remote participant, to decide what a broadcast (no destinations) may use. */
  remoteIdentities?(): readonly string[];
}

/** Where the managers report dropped packets and handler failures. */
export interface DataLogger {
  debug(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
  error(message: string, ...args: unknown[]): void;
}

/** ParticipantInfo.clientProtocol values (livekit-client `CLIENT_PROTOCOL_*`). */
export const CLIENT_PROTOCOL_DEFAULT = 0;
/** RPC requests/responses may carry their payload in a data stream (no 15 KiB limit). */
export const CLIENT_PROTOCOL_DATA_STREAM_RPC = 1;
/** The client accepts single-packet data streams (payload inline in the header). */
export const CLIENT_PROTOCOL_DATA_STREAM_V2 = 2;
/**
 * What a client using these modules can advertise in ClientInfo.clientProtocol: it receives everything up to data
 * streams v2, provided the RpcManager is given the StreamManager (RPC v2 travels on data streams).
 */
export const CLIENT_PROTOCOL = CLIENT_PROTOCOL_DATA_STREAM_V2;
