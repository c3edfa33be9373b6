// Routing of DataPackets between the participants of a room, with LiveKit's rules (pkg/rtc/participant.go
// handleReceivedDataMessage): the server stamps the sender (a client cannot speak for someone else), keeps the kind
// of the channel the packet came in on, delivers only to the named destinations, and never back to the sender.
import { DataPacket, DataPacket_Kind, ParticipantInfo_Kind, type PartialMessage } from '@kite/protocol';

/** What the router needs of a participant. */
export interface DataPeer {
  readonly sid: string;
  readonly identity: string;
  readonly hidden: boolean;
  readonly kind: ParticipantInfo_Kind;
  readonly isClosed: boolean;
  lastReliableSeq: number;
  /** False when the packet was not delivered (backlog, channel gone). */
  sendData(bytes: Uint8Array, kind: DataPacket_Kind): boolean;
}

/** Largest DataPacket accepted from a client: livekit-client refuses to send more than 64,000 bytes. */
export const MAX_DATA_PACKET_SIZE = 65_536;

/** Remembers recent user-packet nonces so a retried send (same nonce) is delivered once. */
class NonceCache {
  private readonly seen = new Set<string>();
  private readonly order: string[] = [];
  constructor(private readonly capacity = 1024) {}

  /** True if the nonce was new (and remembers it). */
  add(nonce: Uint8Array): boolean {
    if (nonce.length === 0) return true;
    const key = Buffer.from(nonce.buffer, nonce.byteOffset, nonce.byteLength).toString('base64');
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    this.order.push(key);
    if (this.order.length > this.capacity) this.seen.delete(this.order.shift()!);
    return true;
  }
}

export class DataRouter {
  private readonly nonces = new NonceCache();
  /** Packets dropped by reason (stats and tests). */
  readonly dropped = { notAllowed: 0, tooLarge: 0, duplicate: 0, undecodable: 0 };
  /** Packets received from participants, and copies delivered to recipients. */
  readonly counts = { received: 0, delivered: 0 };

  constructor(private readonly peers: () => Iterable<DataPeer>) {}

  /** A packet a participant sent on its `_reliable` or `_lossy` channel. */
  fromParticipant(from: DataPeer, canPublishData: boolean, bytes: Uint8Array, kind: DataPacket_Kind): void {
    this.counts.received++;
    if (!canPublishData) {
      this.dropped.notAllowed++;
      return;
    }
    if (bytes.length > MAX_DATA_PACKET_SIZE) {
      this.dropped.tooLarge++;
      return;
    }
    let dp: DataPacket;
    try {
      dp = DataPacket.decode(bytes);
    } catch {
      this.dropped.undecodable++;
      return;
    }
    // Reliable packets carry a per-sender sequence: a replay (e.g. after a resume) is dropped.
    if (kind === DataPacket_Kind.RELIABLE && dp.sequence > 0) {
      if (dp.sequence <= from.lastReliableSeq) {
        this.dropped.duplicate++;
        return;
      }
      from.lastReliableSeq = dp.sequence;
    }
    dp.kind = kind; // the channel it came in on is the truth
    dp.participantSid = from.sid;
    const isAgent = from.kind === ParticipantInfo_Kind.AGENT;
    let overrideIdentity = true;
    switch (dp.value) {
      case 'user': {
        const u = dp.user!;
        u.participantSid = from.hidden ? '' : from.sid;
        u.participantIdentity = from.hidden ? '' : from.identity;
        // livekit-client puts destinations inside the user packet; RPC and streams use the top level.
        if (dp.destinationIdentities.length) u.destinationIdentities = [...dp.destinationIdentities];
        else dp.destinationIdentities = [...u.destinationIdentities];
        if (!this.nonces.add(u.nonce)) {
          this.dropped.duplicate++;
          return;
        }
        break;
      }
      case 'transcription':
        if (!isAgent) return; // only agents publish transcriptions
        break;
      case 'metrics':
        return; // metrics are for the server, not forwarded
      case 'chatMessage':
        // Agents may relay chat on behalf of another participant.
        if (isAgent && dp.participantIdentity && dp.participantIdentity !== from.identity) {
          overrideIdentity = false;
          dp.chatMessage!.generated = true;
        }
        break;
      case 'streamHeader':
        if (isAgent && dp.participantIdentity && dp.participantIdentity !== from.identity && dp.streamHeader!.textHeader) {
          overrideIdentity = false;
          dp.streamHeader!.textHeader.generated = true;
        }
        break;
      case undefined:
        return; // no payload: nothing to deliver
      default:
        break; // RPC, streams, SIP DTMF, encrypted packets pass through unchanged
    }
    if (overrideIdentity) dp.participantIdentity = from.hidden ? '' : from.identity;
    this.deliver(dp, kind, from);
  }

  /** A packet from the server (RoomService.SendData): no sender. */
  fromServer(packet: PartialMessage<DataPacket>, kind: DataPacket_Kind): void {
    if (packet.user?.nonce && !this.nonces.add(packet.user.nonce)) return;
    this.deliver(DataPacket.create({ ...packet, kind }), kind, undefined);
  }

  private deliver(dp: DataPacket, kind: DataPacket_Kind, from: DataPeer | undefined): void {
    const destIdentities = dp.destinationIdentities;
    const destSids = dp.user?.destinationSids ?? [];
    const targeted = destIdentities.length > 0 || destSids.length > 0;
    const bytes = DataPacket.encode(dp); // once, for every recipient
    for (const p of this.peers()) {
      if (p === from || p.isClosed) continue;
      if (targeted && !destIdentities.includes(p.identity) && !destSids.includes(p.sid)) continue;
      if (p.sendData(bytes, kind)) this.counts.delivered++;
    }
  }
}
