// Process-wide patches to werift 0.25.2, applied once. Each one is opt-in per object (flags Kite sets on the
// objects it manages), so a plain werift peer in the same process (test clients, bots) behaves as stock werift.
//
// 1. Media tap: RTP/RTCP datagrams on a socket whose protocol has `kiteSink` go to Kite, never to werift's
//    router/receivers (which would decrypt, parse, NACK, TWCC and fan out each packet again).
// 2. Data channels: DCEP channel type for unordered channels, maxRetransmits:0 meaning "never retransmit",
//    maxPacketLifeTime units, and abandoning the right chunk (werift-gaps.md, PR-SCTP). LiveKit's `_lossy` channel
//    needs all of these to really be lossy.
// 3. H.264: match remote codecs on packetization-mode and profile, not on the MIME type alone.
// 4. RTCP: werift's own sender/receiver report loops stay off for Kite-managed senders and receivers.
// 5. Kite-managed receivers ignore RTP entirely (nothing should reach them, but if it did, werift would NACK it).
import { RTCRtpReceiver, RTCRtpSender, RTCSctpTransport, StunProtocol, TransceiverManager } from 'werift';
import type { Address } from './internals.js';

let applied = false;

export function applyWeriftPatches(): void {
  if (applied) return;
  applied = true;
  patchMediaTap();
  patchDataChannels();
  patchH264Matching();
  patchRtcpLoops();
}

type Fn = (...args: never[]) => unknown;
function proto(cls: unknown): Record<string, Fn> {
  return (cls as { prototype: Record<string, Fn> }).prototype;
}

function patchMediaTap(): void {
  const P = proto(StunProtocol);
  const original = P.datagramReceived as unknown as (this: unknown, data: Buffer, addr: Address) => void;
  P.datagramReceived = function (this: { kiteSink?: (d: Buffer, a: Address) => void }, data: Buffer, addr: Address) {
    const sink = this.kiteSink;
    if (sink !== undefined) {
      // RFC 7983 demultiplexing: 128–191 is RTP/RTCP; STUN (0–3) and DTLS (20–63) stay with werift.
      const b0 = data[0]!;
      if (b0 > 127 && b0 < 192) {
        sink(data, addr);
        return;
      }
    }
    original.call(this, data, addr);
  } as unknown as Fn;
}

// ------------------------------------------------------------------------------------------------------------
// Data channels

const DCEP_PPID = 50;
const SCTP_LAST_FRAG = 0x01;

interface ChannelInternal {
  id?: number;
  label: string;
  protocol: string;
  ordered: boolean;
  maxRetransmits: number | null;
  maxPacketLifeTime: number | null;
  setId(id: number): void;
  addBufferedAmount(n: number): void;
}
interface SctpChunkInternal {
  acked: boolean;
  abandoned: boolean;
  retransmit: boolean;
  maxRetransmits?: number | null;
  sentCount: number;
  expiry?: number | null;
  flags: number;
}
interface SctpInternal {
  associationState: number;
  isStopped: boolean;
  timer3Handle?: unknown;
  timer3Expired: () => void;
  fastRecoveryExit?: number;
  flightSize: number;
  partialBytesAcked: number;
  ssthresh: number;
  cwnd: number;
  maxPayloadSize: number;
  transmit(): Promise<void>;
  maybeAbandon(chunk: SctpChunkInternal): boolean;
  updateAdvancedPeerAckPoint(): void;
  __kiteT3?: boolean;
  sentQueue: SctpChunkInternal[];
  advancedPeerAckTsn: number;
  lastSackedTsn: number;
  forwardTsnChunk?: unknown;
  __kiteLastForwardTsn?: unknown;
  send(streamId: number, ppid: number, data: Buffer, opts: { expiry?: number; maxRetransmits?: number; ordered: boolean }): Promise<void>;
}
interface SctpTransportInternal {
  dataChannels: Record<number, ChannelInternal>;
  dataChannelQueue: [ChannelInternal, number, Buffer][];
  dataChannelId: number;
  sctp: SctpInternal;
  dataChannelFlush(): Promise<void>;
}

function patchDataChannels(): void {
  const P = proto(RTCSctpTransport);
  P.dataChannelOpen = function (this: SctpTransportInternal, channel: ChannelInternal) {
    if (channel.id !== undefined) {
      if (this.dataChannels[channel.id]) throw new Error(`Data channel with ID ${channel.id} already registered`);
      this.dataChannels[channel.id] = channel;
    }
    // RFC 8832 channel types: 0x80 bit = unordered; low bits: 0x01 partial reliable (rexmit), 0x02 (timed).
    let channelType = channel.ordered ? 0x00 : 0x80;
    let reliability = 0;
    if (channel.maxRetransmits !== null && channel.maxRetransmits !== undefined) {
      channelType |= 0x01;
      reliability = channel.maxRetransmits;
    } else if (channel.maxPacketLifeTime !== null && channel.maxPacketLifeTime !== undefined) {
      channelType |= 0x02;
      reliability = channel.maxPacketLifeTime;
    }
    const label = Buffer.from(channel.label, 'utf8');
    const protocol = Buffer.from(channel.protocol, 'utf8');
    const open = Buffer.alloc(12);
    open.writeUInt8(0x03, 0); // DATA_CHANNEL_OPEN
    open.writeUInt8(channelType, 1);
    open.writeUInt16BE(0, 2);
    open.writeUInt32BE(reliability, 4);
    open.writeUInt16BE(label.length, 8);
    open.writeUInt16BE(protocol.length, 10);
    this.dataChannelQueue.push([channel, DCEP_PPID, Buffer.concat([open, label, protocol])]);
    void this.dataChannelFlush();
  } as unknown as Fn;

  P.dataChannelFlush = async function (this: SctpTransportInternal) {
    if (this.sctp.associationState !== 4 /* ESTABLISHED */) return;
    patchSctpAbandon(this.sctp);
    patchSctpTimer3(this.sctp);
    while (this.dataChannelQueue.length > 0) {
      const [channel, ppid, userData] = this.dataChannelQueue.shift()!;
      let streamId = channel.id;
      if (streamId === undefined) {
        streamId = this.dataChannelId;
        while (this.dataChannels[streamId] !== undefined) streamId += 2;
        this.dataChannels[streamId] = channel;
        channel.setId(streamId);
      }
      if (ppid === DCEP_PPID) {
        await this.sctp.send(streamId, ppid, userData, { ordered: true });
      } else {
        // werift's SCTP compares expiry with Date.now()/1000, i.e. seconds.
        const expiry = channel.maxPacketLifeTime != null ? (Date.now() + channel.maxPacketLifeTime) / 1000 : undefined;
        await this.sctp.send(streamId, ppid, userData, {
          expiry,
          maxRetransmits: channel.maxRetransmits ?? undefined,
          ordered: channel.ordered,
        });
        channel.addBufferedAmount(-userData.length);
      }
    }
  } as unknown as Fn;
}

/**
 * werift's T3 timeout marks every chunk of the sent queue for retransmission, including chunks the receiver already
 * acknowledged selectively (gap ack blocks). Under heavy loss the congestion window (one MTU after a timeout) is then
 * spent re-sending data the peer has, and the association crawls. RFC 4960 §6.3.3 retransmits outstanding chunks
 * only. timer3Expired is an instance property (an arrow function), so it is replaced per association.
 */
function patchSctpTimer3(sctp: SctpInternal): void {
  if (sctp.__kiteT3) return;
  sctp.__kiteT3 = true;
  sctp.timer3Expired = function (this: SctpInternal) {
    if (this.isStopped) return;
    this.timer3Handle = undefined;
    for (const chunk of this.sentQueue) {
      if (!this.maybeAbandon(chunk) && !chunk.acked) chunk.retransmit = true;
    }
    this.updateAdvancedPeerAckPoint();
    this.fastRecoveryExit = undefined;
    this.flightSize = 0;
    this.partialBytesAcked = 0;
    this.ssthresh = Math.max(Math.floor(this.cwnd / 2), 4 * this.maxPayloadSize);
    this.cwnd = this.maxPayloadSize;
    void this.transmit();
  }.bind(sctp);
}

/** SCTP retransmission timeout bounds, seconds (werift's units). */
const SCTP_RTO_MIN_S = 0.2;
const SCTP_RTO_MAX_S = 60;

/** a > b in 32-bit serial number arithmetic (RFC 1982). */
function tsnGt(a: number, b: number): boolean {
  const d = (a - b) >>> 0;
  return d !== 0 && d < 0x80000000;
}

/** SCTP is not exported by werift: patch its prototype through the first instance. */
function patchSctpAbandon(sctp: SctpInternal): void {
  const S = Object.getPrototypeOf(sctp) as Record<string, unknown>;
  if (S.__kiteAbandon) return;
  S.__kiteAbandon = true;
  // werift sends a FORWARD-TSN once, when chunks are abandoned. If that packet is lost the receiver's cumulative TSN
  // never moves past the abandoned chunk and the whole association (reliable streams too) wedges. RFC 3758 §3.5 C3:
  // whenever the peer's cumulative TSN ack is behind the advanced peer ack point, send the FORWARD-TSN again.
  // RTO floor: werift uses RFC 4960's 1 s. At loopback/LAN round-trip times that turns every lost retransmission into
  // a one-second stall of the whole association; browsers' SCTP stacks use a few hundred ms.
  S.updateRto = function (this: SctpInternal & { srtt?: number; rttvar: number; rto: number }, r: number) {
    if (!this.srtt) {
      this.rttvar = r / 2;
      this.srtt = r;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    this.rto = Math.max(SCTP_RTO_MIN_S, Math.min(this.srtt + 4 * this.rttvar, SCTP_RTO_MAX_S));
  };
  const updateAdvanced = S.updateAdvancedPeerAckPoint as (this: SctpInternal) => void;
  S.updateAdvancedPeerAckPoint = function (this: SctpInternal) {
    updateAdvanced.call(this);
    if (this.forwardTsnChunk) this.__kiteLastForwardTsn = this.forwardTsnChunk;
    else if (this.__kiteLastForwardTsn && tsnGt(this.advancedPeerAckTsn, this.lastSackedTsn)) this.forwardTsnChunk = this.__kiteLastForwardTsn;
  };
  S.maybeAbandon = function (this: SctpInternal, chunk: SctpChunkInternal): boolean {
    if (chunk.abandoned) return true;
    const byCount = chunk.maxRetransmits != null && chunk.maxRetransmits < chunk.sentCount;
    const byTime = chunk.expiry != null && chunk.expiry < Date.now() / 1000;
    if (!byCount && !byTime) return false;
    // Abandon every fragment of this chunk's message (RFC 3758 §3.5).
    const pos = this.sentQueue.indexOf(chunk);
    if (pos < 0) {
      chunk.abandoned = true;
      chunk.retransmit = false;
      return true;
    }
    for (let i = pos - 1; i >= 0; i--) {
      const c = this.sentQueue[i]!;
      if (c.flags & SCTP_LAST_FRAG) break;
      c.abandoned = true;
      c.retransmit = false;
    }
    for (let i = pos; i < this.sentQueue.length; i++) {
      const c = this.sentQueue[i]!;
      c.abandoned = true;
      c.retransmit = false;
      if (c.flags & SCTP_LAST_FRAG) break;
    }
    return true;
  };
}

// ------------------------------------------------------------------------------------------------------------
// H.264 profile-aware matching

interface CodecLike {
  mimeType: string;
  parameters?: string;
}
function fmtpMap(c: CodecLike): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of (c.parameters ?? '').split(';')) {
    const [k, v] = kv.split('=');
    if (k && v !== undefined) out[k.trim().toLowerCase()] = v.trim().toLowerCase();
  }
  return out;
}
const isH264 = (c: CodecLike) => c.mimeType.toLowerCase() === 'video/h264';
/** Same packetization mode and the same profile (profile_idc + constraint flags); the level may differ. */
export function h264Compatible(local: CodecLike, remote: CodecLike): boolean {
  const a = fmtpMap(local);
  const b = fmtpMap(remote);
  return (
    (a['packetization-mode'] ?? '0') === (b['packetization-mode'] ?? '0') &&
    (a['profile-level-id'] ?? '42001f').slice(0, 4) === (b['profile-level-id'] ?? '42001f').slice(0, 4)
  );
}

function patchH264Matching(): void {
  const P = proto(TransceiverManager);
  const original = P.resolveRemoteCodecSet as unknown as (this: unknown, ...a: unknown[]) => unknown;
  P.resolveRemoteCodecSet = function (this: unknown, localCodecs: CodecLike[], remoteMedia: { rtp: { codecs: CodecLike[] } }, ...rest: unknown[]) {
    const locals = localCodecs.filter(isH264);
    if (locals.length === 0) return original.call(this, localCodecs, remoteMedia, ...rest);
    const codecs = remoteMedia.rtp.codecs.filter((rc) => !isH264(rc) || locals.some((lc) => h264Compatible(lc, rc)));
    const filtered = Object.create(remoteMedia) as typeof remoteMedia;
    filtered.rtp = { ...remoteMedia.rtp, codecs };
    return original.call(this, localCodecs, filtered, ...rest);
  } as unknown as Fn;
}

// ------------------------------------------------------------------------------------------------------------
// werift's own RTCP and receive processing, off for Kite-managed objects

function patchRtcpLoops(): void {
  for (const cls of [RTCRtpSender, RTCRtpReceiver]) {
    const P = proto(cls);
    const run = P.runRtcp as unknown as (this: { kiteManaged?: boolean }) => Promise<void>;
    P.runRtcp = function (this: { kiteManaged?: boolean }) {
      if (this.kiteManaged) return Promise.resolve();
      return run.call(this);
    } as unknown as Fn;
  }
  const R = proto(RTCRtpReceiver);
  const handle = R.handleRTP as unknown as (this: { kiteManaged?: boolean }, ...a: unknown[]) => unknown;
  R.handleRTP = function (this: { kiteManaged?: boolean }, ...a: unknown[]) {
    if (this.kiteManaged) return;
    return handle.apply(this, a);
  } as unknown as Fn;
}
