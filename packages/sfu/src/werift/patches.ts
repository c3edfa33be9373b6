// Process-wide patches to werift 0.25.2, applied once. Each one is opt-in per object (flags Kite sets on the
// objects it manages), so a plain werift peer in the same process (test clients, bots) behaves as stock werift.
//
// 1. Media tap: RTP/RTCP datagrams on a socket whose protocol has `kiteSink` go to Kite, never to werift's
//    router/receivers (which would decrypt, parse, NACK, TWCC and fan out each packet again).
// 2. Data channels: DCEP channel type for unordered channels, maxRetransmits:0 meaning "never retransmit",
//    maxPacketLifeTime units, and abandoning the right chunk (werift-gaps.md, PR-SCTP). LiveKit's `_lossy` channel
//    needs all of these to really be lossy. Plus fixes to werift's SCTP loss recovery, FORWARD-TSN, SACK and
//    reassembly without which a lossy and a reliable channel sharing an association under loss stall or lose
//    reliable data. These are not opt-in: they patch the SCTP prototype, so they hold for every association in the
//    process (both ends of a test), and each follows RFC 4960 / RFC 3758.
// 3. H.264: match remote codecs on packetization-mode and profile, not on the MIME type alone.
// 4. RTCP: werift's own sender/receiver report loops stay off for Kite-managed senders and receivers.
// 5. Kite-managed receivers ignore RTP entirely (nothing should reach them, but if it did, werift would NACK it).
import { RTCPeerConnection, RTCRtpReceiver, RTCRtpSender, RTCSctpTransport, StunProtocol, TransceiverManager } from 'werift';
import type { Address } from './internals.js';

let applied = false;

export function applyWeriftPatches(): void {
  if (applied) return;
  applied = true;
  patchMediaTap();
  patchDataChannels();
  patchH264Matching();
  patchRtcpLoops();
  patchIceRestart();
}

type Fn = (...args: never[]) => unknown;
function proto(cls: unknown): Record<string, Fn> {
  return (cls as { prototype: Record<string, Fn> }).prototype;
}

function patchMediaTap(): void {
  const P = proto(StunProtocol);
  const original = P.datagramReceived as unknown as (this: unknown, data: Buffer, addr: Address) => void;
  P.datagramReceived = function (this: { kiteSink?: (d: Buffer, a: Address) => void; kiteActivity?: number }, data: Buffer, addr: Address) {
    const sink = this.kiteSink;
    if (sink !== undefined) {
      // RFC 7983 demultiplexing: 128–191 is RTP/RTCP; STUN (0–3) and DTLS (20–63) stay with werift.
      const b0 = data[0]!;
      if (b0 > 127 && b0 < 192) {
        sink(data, addr);
        return;
      }
    }
    // Liveness: ICE-lite never fails and werift never reports "disconnected", so Kite watches for any sign of life
    // (consent checks, DTLS/SCTP) itself; media packets are timed by the sink.
    this.kiteActivity = Date.now();
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
  type: number;
  tsn: number;
  streamId: number;
  streamSeqNum: number;
  bookSize: number;
  sentTime?: number;
  misses: number;
  acked: boolean;
  abandoned: boolean;
  retransmit: boolean;
  maxRetransmits?: number | null;
  sentCount: number;
  expiry?: number | null;
  flags: number;
  /** Counted in flightSize (makes werift's flight-size accounting idempotent). */
  kiteInFlight?: boolean;
  /** Transmission order of this chunk's latest (re)transmission. */
  kiteTx?: number;
}
interface InboundStreamInternal {
  streamSequenceNumber: number;
  reassembly: {
    tsn: number;
    flags: number;
    streamId: number;
    streamSeqNum: number;
    protocol: number;
    userData: Buffer;
  }[];
  pruneChunks(tsn: number): number;
  popMessages(): Iterable<[number, number, Buffer]>;
}
interface SackChunkInternal {
  type: number;
  cumulativeTsn: number;
  advertisedRwnd: number;
  gaps: [number, number][];
  duplicates: number[];
}
interface ForwardTsnChunkInternal {
  cumulativeTsn: number;
  streams: [number, number][];
}
interface SctpInternal {
  associationState: number;
  isStopped: boolean;
  mtu: number;
  timer3Handle?: unknown;
  timer3Expired: () => void;
  timer3Restart(): void;
  timer3Cancel(): void;
  fastRecoveryExit?: number;
  fastRecoveryTransmit: boolean;
  flightSize: number;
  partialBytesAcked: number;
  ssthresh: number;
  cwnd: number;
  maxPayloadSize: number;
  peerAdvertisedRwnd: number;
  transmit(): Promise<void>;
  onSackReceived(): Promise<void>;
  maybeAbandon(chunk: SctpChunkInternal): boolean;
  updateAdvancedPeerAckPoint(): void;
  updateRto(r: number): void;
  flightSizeDecrease(chunk: SctpChunkInternal): void;
  __kiteT3?: boolean;
  kiteTxSeq?: number;
  sentQueue: SctpChunkInternal[];
  advancedPeerAckTsn: number;
  lastSackedTsn: number;
  forwardTsnChunk?: ForwardTsnChunkInternal;
  kiteForwardTsn?: ForwardTsnChunkInternal;
  kiteForwardTsnAt?: number;
  srtt?: number;
  // receiver side
  lastReceivedTsn: number;
  sackMisOrdered: Set<number>;
  sackDuplicates: number[];
  sackNeeded: boolean;
  sackImmediate: boolean;
  sackPacketCount: number;
  advertisedRwnd: number;
  inboundStreams: Record<number, InboundStreamInternal>;
  getInboundStream(streamId: number): InboundStreamInternal;
  receive(streamId: number, ppid: number, data: Buffer): void;
  sendChunk(chunk: unknown): Promise<void>;
  send(streamId: number, ppid: number, data: Buffer, opts: { expiry?: number; maxRetransmits?: number; ordered: boolean }): Promise<void>;
}
interface SctpTransportInternal {
  dataChannels: Record<number, ChannelInternal>;
  dataChannelQueue: [ChannelInternal, number, Buffer][];
  dataChannelId: number;
  sctp: SctpInternal;
  kiteFlushing?: SctpInternal;
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

  // One flush loop per transport. werift (dataChannelFlush, line 17111) starts a new loop for every send and every
  // SACK; each loop's sctp.send() waits on the association's `flush` event, whose once-subscriptions are removed by
  // filtering the whole subscriber list (Event2, line 539), so under a backlog (a congestion window shrunk by loss)
  // every transmit cost O(loops²): most of a CPU and seconds of added latency in the 30 %-loss test. The running loop
  // picks up whatever is queued meanwhile.
  P.dataChannelFlush = async function (this: SctpTransportInternal) {
    if (this.sctp.associationState !== 4 /* ESTABLISHED */) return;
    patchSctp(this.sctp);
    patchSctpTimer3(this.sctp);
    const sctp = this.sctp;
    if (this.kiteFlushing === sctp) return; // (per association: a loop stuck on a dead one must not block a new one)
    this.kiteFlushing = sctp;
    try {
      await flushQueue.call(this);
    } finally {
      if (this.kiteFlushing === sctp) this.kiteFlushing = undefined;
    }
  } as unknown as Fn;
}

async function flushQueue(this: SctpTransportInternal): Promise<void> {
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
}

/**
 * T3-rtx expiry (RFC 4960 §6.3.3). werift's (index.mjs `timer3Expired`, line 16526) marks every chunk of the sent
 * queue for retransmission, gap-acked ones included (go-back-N: the one-MTU window after a timeout is spent re-sending
 * data the peer has), and collapses cwnd even when nothing is outstanding (only acked/abandoned chunks waiting for a
 * FORWARD-TSN). Here: retransmit (or abandon, RFC 3758 §3.5 A2) outstanding chunks only, reduce cwnd only if there
 * were any, and re-send the FORWARD-TSN if the peer still lags the advanced peer ack point. timer3Expired is an
 * instance property (an arrow function), so it is replaced per association.
 */
function patchSctpTimer3(sctp: SctpInternal): void {
  if (sctp.__kiteT3) return;
  sctp.__kiteT3 = true;
  sctp.timer3Expired = function (this: SctpInternal) {
    if (this.isStopped) return;
    this.timer3Handle = undefined;
    let outstanding = false;
    for (const chunk of this.sentQueue) {
      if (chunk.acked || chunk.abandoned) continue;
      outstanding = true;
      chunk.misses = 0;
      if (!this.maybeAbandon(chunk)) chunk.retransmit = true;
      this.flightSizeDecrease(chunk);
    }
    this.updateAdvancedPeerAckPoint();
    if (outstanding) {
      this.fastRecoveryExit = undefined;
      this.partialBytesAcked = 0;
      this.ssthresh = Math.max(Math.floor(this.cwnd / 2), 4 * this.maxPayloadSize);
      this.cwnd = this.maxPayloadSize;
    }
    void this.transmit();
  }.bind(sctp);
}

/** SCTP retransmission timeout bounds, seconds (werift's units). */
const SCTP_RTO_MIN_S = 0.2;
const SCTP_RTO_MAX_S = 60;
const SCTP_UNORDERED = 0x04;
const SCTP_FIRST_FRAG = 0x02;
const SACK_CHUNK = 3;
const FAST_RETRANSMIT_MISSES = 3;

/** a > b in 32-bit serial number arithmetic (RFC 1982). */
function tsnGt(a: number, b: number): boolean {
  const d = (a - b) >>> 0;
  return d !== 0 && d < 0x80000000;
}
/** a > b in 16-bit serial number arithmetic (stream sequence numbers). */
function ssnGt(a: number, b: number): boolean {
  const d = (a - b) & 0xffff;
  return d !== 0 && d < 0x8000;
}

/** Receiver: move the cumulative TSN over every TSN already received out of order. */
function advanceCumulativeTsn(s: SctpInternal): void {
  let next = (s.lastReceivedTsn + 1) >>> 0;
  while (s.sackMisOrdered.delete(next)) {
    s.lastReceivedTsn = next;
    next = (next + 1) >>> 0;
  }
}

/**
 * werift's InboundStream.popMessages (index.mjs line 16814; `pos = startPos` at 16860) never resets its start
 * position after yielding a message, so the next buffered message is only delivered if its first TSN directly follows
 * the previous message's last TSN. When streams share the association their TSNs interleave, so after a loss an
 * ordered stream delivers one buffered message per arriving DATA chunk, the backlog stalls when the sender goes
 * quiet, and a later FORWARD-TSN prunes the stalled (fully received, reliable) messages: silent data loss. Also, an
 * ordered message waiting for its SSN blocked every unordered message behind it. Rewritten: deliver every complete
 * message (consecutive TSNs from a first to a last fragment) that is unordered or carries the stream's next SSN
 * (RFC 4960 §6.5, §6.6, §6.9).
 */
function patchInboundStream(stream: InboundStreamInternal): void {
  const P = Object.getPrototypeOf(stream) as Record<string, unknown>;
  if (P.__kitePop) return;
  P.__kitePop = true;
  P.popMessages = function* (this: InboundStreamInternal): Generator<[number, number, Buffer]> {
    const re = this.reassembly;
    let pos = 0;
    while (pos < re.length) {
      const first = re[pos]!;
      const ordered = !(first.flags & SCTP_UNORDERED);
      if (!(first.flags & SCTP_FIRST_FRAG) || (ordered && ssnGt(first.streamSeqNum, this.streamSequenceNumber))) {
        pos++;
        continue;
      }
      let end = pos;
      while (end >= 0 && !(re[end]!.flags & SCTP_LAST_FRAG)) {
        const next = re[end + 1];
        end = next && next.tsn === (re[end]!.tsn + 1) >>> 0 ? end + 1 : -1;
      }
      if (end < 0) {
        pos++;
        continue;
      }
      const parts = re.splice(pos, end - pos + 1);
      if (ordered && first.streamSeqNum === this.streamSequenceNumber) {
        this.streamSequenceNumber = (this.streamSequenceNumber + 1) & 0xffff;
      }
      const data = parts.length === 1 ? parts[0]!.userData : Buffer.concat(parts.map((c) => c.userData));
      yield [first.streamId, first.protocol, data];
    }
  };
}

/** SCTP is not exported by werift: patch its prototype through the first instance. */
function patchSctp(sctp: SctpInternal): void {
  const S = Object.getPrototypeOf(sctp) as Record<string, unknown>;
  if (S.__kiteSctp) return;
  S.__kiteSctp = true;

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

  // Flight size (RFC 4960 §6.1): werift subtracts a chunk's bytes on every path that considers it gone (gap ack, each
  // third miss, cumulative ack, abandonment) without knowing whether it was still counted, so the same chunk is
  // subtracted several times and flightSize drifts. Count each chunk at most once. flightSizeIncrease is called right
  // before every (re)transmission, so it also records the transmission order used by the miss counting below.
  S.flightSizeIncrease = function (this: SctpInternal, chunk: SctpChunkInternal) {
    chunk.kiteTx = this.kiteTxSeq = (this.kiteTxSeq ?? 0) + 1;
    if (chunk.kiteInFlight) return;
    chunk.kiteInFlight = true;
    this.flightSize += chunk.bookSize;
  };
  S.flightSizeDecrease = function (this: SctpInternal, chunk: SctpChunkInternal) {
    if (!chunk.kiteInFlight) return;
    chunk.kiteInFlight = false;
    this.flightSize = Math.max(0, this.flightSize - chunk.bookSize);
  };

  // RFC 3758 §3.5 A3: abandon every fragment of the message (werift took the first chunk of the same *type*, i.e. the
  // head of the queue), and an abandoned chunk is no longer outstanding.
  S.maybeAbandon = function (this: SctpInternal, chunk: SctpChunkInternal): boolean {
    if (chunk.abandoned) return true;
    const byCount = chunk.maxRetransmits != null && chunk.maxRetransmits < chunk.sentCount;
    const byTime = chunk.expiry != null && chunk.expiry < Date.now() / 1000;
    if (!byCount && !byTime) return false;
    const abandon = (c: SctpChunkInternal) => {
      c.abandoned = true;
      c.retransmit = false;
      this.flightSizeDecrease(c);
    };
    const pos = this.sentQueue.indexOf(chunk);
    if (pos < 0) {
      abandon(chunk);
      return true;
    }
    for (let i = pos - 1; i >= 0; i--) {
      const c = this.sentQueue[i]!;
      if (c.flags & SCTP_LAST_FRAG) break;
      abandon(c);
    }
    for (let i = pos; i < this.sentQueue.length; i++) {
      const c = this.sentQueue[i]!;
      abandon(c);
      if (c.flags & SCTP_LAST_FRAG) break;
    }
    return true;
  };

  // FORWARD-TSN (RFC 3758 §3.5). werift sends one when chunks are abandoned and never again: if that packet is lost
  // the peer's cumulative TSN never passes the abandoned chunk. C3: whenever the peer's cumulative TSN ack is behind
  // the advanced peer ack point, send the FORWARD-TSN again. Its stream list must then cover every ordered message
  // abandoned since the peer's last cumulative ack, not just those of the last call (werift's list is per call).
  const updateAdvanced = S.updateAdvancedPeerAckPoint as (this: SctpInternal) => void;
  S.updateAdvancedPeerAckPoint = function (this: SctpInternal) {
    const previous = this.kiteForwardTsn;
    updateAdvanced.call(this);
    if (!tsnGt(this.advancedPeerAckTsn, this.lastSackedTsn)) {
      this.kiteForwardTsn = undefined;
      return;
    }
    const created = this.forwardTsnChunk;
    if (created && created !== previous) {
      if (previous && tsnGt(previous.cumulativeTsn, this.lastSackedTsn)) {
        const streams = new Map(previous.streams);
        for (const [id, ssn] of created.streams) streams.set(id, ssn);
        created.streams = [...streams];
      }
      this.kiteForwardTsn = created;
      this.kiteForwardTsnAt = Date.now() / 1000;
    } else if (previous && !this.forwardTsnChunk) {
      // C3 note: limit duplicate FORWARD-TSNs to one per round trip (every SACK would trigger one otherwise).
      const now = Date.now() / 1000;
      if (now - (this.kiteForwardTsnAt ?? 0) >= (this.srtt ?? 0)) {
        this.forwardTsnChunk = previous;
        this.kiteForwardTsnAt = now;
      }
    }
  };

  // SACK processing (werift's receiveSackChunk, index.mjs line 16129), rewritten because each of these cripples an
  // association that carries a partially reliable stream under loss:
  //  - RTT was sampled from the first chunk the cumulative ack removed, even when it had been gap-acked seconds earlier
  //    and was only waiting for a lower TSN; the RTO grew to seconds. RFC 4960 §6.3.1 C5: sample a chunk that this
  //    SACK newly acknowledges and that was sent once.
  //  - Miss indications were counted for every missing TSN below the highest newly acked TSN, including abandoned
  //    chunks (each third SACK removed their bytes from the flight again and signalled a new loss) and chunks already
  //    retransmitted, so every retransmission was repeated as soon as three SACKs for data sent *before* it arrived
  //    (~3,000 retransmissions for ~120 losses). RFC 4960 §7.2.4 HTNA, applied to transmissions: a chunk gets a miss
  //    indication only when this SACK newly acknowledges a chunk (re)transmitted after it.
  //  - A chunk newly gap-acked kept a pending retransmit flag and was re-sent anyway.
  //  - T3 kept running while only acked or abandoned chunks were queued, and its expiry reset cwnd to one MTU.
  //    RFC 4960 §6.3.2 R2/R3: stop it when nothing is outstanding (unless a FORWARD-TSN is awaiting its ack) and
  //    restart it when the cumulative ack advances.
  S.receiveSackChunk = async function (this: SctpInternal, sack: SackChunkInternal) {
    if (tsnGt(this.lastSackedTsn, sack.cumulativeTsn)) return;
    const now = Date.now() / 1000;
    const cumAdvanced = tsnGt(sack.cumulativeTsn, this.lastSackedTsn);
    this.lastSackedTsn = sack.cumulativeTsn;
    const cwndFullyUtilized = this.flightSize >= this.cwnd;
    let done = 0;
    let doneBytes = 0;
    let htnaTx = 0;
    let rttChunk: SctpChunkInternal | undefined;
    const newlyAcked = (c: SctpChunkInternal) => {
      const tx = c.kiteTx ?? 0;
      if (tx > htnaTx) htnaTx = tx;
      if (c.abandoned) return;
      doneBytes += c.bookSize;
      if (c.sentCount === 1 && c.sentTime !== undefined && (!rttChunk || tx > (rttChunk.kiteTx ?? 0))) rttChunk = c;
    };
    while (this.sentQueue.length > 0 && !tsnGt(this.sentQueue[0]!.tsn, this.lastSackedTsn)) {
      const c = this.sentQueue.shift()!;
      done++;
      if (!c.acked) newlyAcked(c);
      this.flightSizeDecrease(c);
    }

    let loss = false;
    let retransmitMarked = false;
    if (sack.gaps.length > 0) {
      // Gap blocks are offsets from the cumulative TSN; the sent queue is in TSN order, so walk both together.
      const gaps = [...sack.gaps].sort((a, b) => a[0] - b[0]);
      const highest = gaps[gaps.length - 1]![1];
      const missing: SctpChunkInternal[] = [];
      let g = 0;
      for (const c of this.sentQueue) {
        const offset = (c.tsn - sack.cumulativeTsn) >>> 0;
        if (offset > highest) break;
        while (g < gaps.length && gaps[g]![1] < offset) g++;
        if (gaps[g]![0] <= offset) {
          if (c.acked) continue;
          c.acked = true;
          c.retransmit = false;
          c.misses = 0;
          newlyAcked(c);
          this.flightSizeDecrease(c);
        } else {
          c.acked = false; // (if it was gap-acked before, the peer reneged, RFC 4960 §6.2: outstanding again)
          missing.push(c);
        }
      }
      for (const c of missing) {
        if (c.abandoned || c.retransmit || (c.kiteTx ?? 0) >= htnaTx) continue;
        if (++c.misses < FAST_RETRANSMIT_MISSES) continue;
        c.misses = 0;
        if (!this.maybeAbandon(c)) {
          c.retransmit = true;
          retransmitMarked = true;
        }
        this.flightSizeDecrease(c);
        loss = true;
      }
    }
    if (rttChunk) this.updateRto(now - rttChunk.sentTime!);

    // Congestion control as werift (RFC 4960 §7.2.1, §7.2.2, §7.2.4).
    if (this.fastRecoveryExit === undefined) {
      if (done && cwndFullyUtilized) {
        if (this.cwnd <= this.ssthresh) {
          this.cwnd += Math.min(doneBytes, this.maxPayloadSize);
        } else {
          this.partialBytesAcked += doneBytes;
          if (this.partialBytesAcked >= this.cwnd) {
            this.partialBytesAcked -= this.cwnd;
            this.cwnd += this.maxPayloadSize;
          }
        }
      }
      if (loss && this.sentQueue.length > 0) {
        this.ssthresh = Math.max(Math.floor(this.cwnd / 2), 4 * this.maxPayloadSize);
        this.cwnd = this.ssthresh;
        this.partialBytesAcked = 0;
        this.fastRecoveryExit = this.sentQueue[this.sentQueue.length - 1]!.tsn;
        this.fastRecoveryTransmit = retransmitMarked;
      }
    } else {
      // RFC 4960 §7.2.4 leaves Fast Recovery when the cumulative ack reaches the exit point. With abandoned chunks the
      // cumulative ack crawls (one FORWARD-TSN round trip per island of abandoned TSNs, RFC 3758 C2), so Fast Recovery
      // never ended and cwnd stayed frozen: leave it once nothing up to the exit point is outstanding.
      const exit = this.fastRecoveryExit;
      const recovered = !this.sentQueue.some((c) => !tsnGt(c.tsn, exit) && !c.acked && !c.abandoned);
      if (recovered || !tsnGt(exit, sack.cumulativeTsn)) this.fastRecoveryExit = undefined;
    }

    this.peerAdvertisedRwnd = sack.advertisedRwnd;
    this.updateAdvancedPeerAckPoint();
    const outstanding = this.sentQueue.some((c) => !c.acked && !c.abandoned);
    if (!outstanding && !tsnGt(this.advancedPeerAckTsn, this.lastSackedTsn)) this.timer3Cancel();
    else if (cumAdvanced || !this.timer3Handle) this.timer3Restart();
    await this.onSackReceived();
    await this.transmit();
  };

  // Receiver, reassembly (InboundStream is not exported either: patched through the first stream werift creates).
  const getInboundStream = S.getInboundStream as (this: SctpInternal, id: number) => InboundStreamInternal;
  S.getInboundStream = function (this: SctpInternal, id: number) {
    const stream = getInboundStream.call(this, id);
    patchInboundStream(stream);
    S.getInboundStream = getInboundStream;
    return stream;
  };

  // Receiver (werift's markReceived, line 16276): the out-of-order TSN set is ordered with `[...set].sort()`, which
  // sorts numbers as strings (wrong across a digit-count boundary, e.g. 999999999 → 1000000000, and at the 2^32
  // wrap), and re-sorted and re-filtered for every DATA chunk. Advance the cumulative TSN by lookup instead.
  S.markReceived = function (this: SctpInternal, tsn: number): boolean {
    if (!tsnGt(tsn, this.lastReceivedTsn) || this.sackMisOrdered.has(tsn)) {
      this.sackDuplicates.push(tsn);
      return true;
    }
    this.sackMisOrdered.add(tsn);
    advanceCumulativeTsn(this);
    return false;
  };

  // Receiver, FORWARD-TSN (RFC 3758 §3.6, werift's receiveForwardTsnChunk, line 16224): same sorting defect; werift
  // delivered the streams' messages before pruning the abandoned fragments that can block an ordered stream's head,
  // and could move a stream's SSN backwards.
  S.receiveForwardTsnChunk = function (this: SctpInternal, chunk: ForwardTsnChunkInternal) {
    this.sackNeeded = true;
    this.sackImmediate = true;
    if (!tsnGt(chunk.cumulativeTsn, this.lastReceivedTsn)) return;
    this.lastReceivedTsn = chunk.cumulativeTsn;
    for (const tsn of this.sackMisOrdered) if (!tsnGt(tsn, this.lastReceivedTsn)) this.sackMisOrdered.delete(tsn);
    advanceCumulativeTsn(this);
    this.sackDuplicates = this.sackDuplicates.filter((t) => tsnGt(t, this.lastReceivedTsn));
    // Drop what the sender abandoned, i.e. up to *its* new cumulative TSN. werift pruned up to the locally advanced
    // one (line 16251), which also discarded received fragments of a reliable message still waiting for a later, lost
    // fragment.
    for (const stream of Object.values(this.inboundStreams)) {
      this.advertisedRwnd += stream.pruneChunks(chunk.cumulativeTsn);
    }
    for (const [streamId, ssn] of chunk.streams) {
      const stream = this.getInboundStream(streamId);
      const next = (ssn + 1) & 0xffff;
      if (ssnGt(next, stream.streamSequenceNumber)) stream.streamSequenceNumber = next;
      for (const message of stream.popMessages()) {
        this.advertisedRwnd += message[2].length;
        this.receive(...message);
      }
    }
  };

  // Receiver, SACK (werift's sendSack, index.mjs line 15827): gap blocks came from the string-sorted set (above),
  // re-sorted for every SACK (the receiver's main CPU cost under loss, and event-loop delay is RTT here), listed every
  // gap however many there were, and the SACK state was reset *after* the send, dropping a SACK request that arrived
  // meanwhile. Gap blocks in TSN order, 16-bit offsets, capped so the SACK fits the MTU (RFC 4960 §3.3.4, §6.2).
  // SackChunk is not exported: werift builds the first SACK and its class is taken from it.
  const sendSack = S.sendSack as (this: SctpInternal) => Promise<void>;
  const sendChunk = S.sendChunk as (this: SctpInternal, chunk: unknown) => Promise<void>;
  type SackChunkClass = new (flags: number, body: undefined) => SackChunkInternal;
  let SackChunk: SackChunkClass | undefined;
  const fillSack = (s: SctpInternal, sack: SackChunkInternal) => {
    const maxBlocks = Math.max(1, Math.floor((s.mtu - 12 - 16) / 4));
    const offsets: number[] = [];
    for (const t of s.sackMisOrdered) {
      const o = (t - s.lastReceivedTsn) >>> 0;
      if (o > 0 && o <= 0xffff) offsets.push(o);
    }
    offsets.sort((a, b) => a - b);
    const gaps: [number, number][] = [];
    for (const o of offsets) {
      const last = gaps[gaps.length - 1];
      if (last && last[1] + 1 === o) last[1] = o;
      else if (gaps.length < maxBlocks) gaps.push([o, o]);
      else break;
    }
    sack.cumulativeTsn = s.lastReceivedTsn;
    sack.advertisedRwnd = Math.max(0, s.advertisedRwnd);
    sack.gaps = gaps;
    sack.duplicates = s.sackDuplicates.slice(0, maxBlocks - gaps.length);
  };
  S.sendChunk = function (this: SctpInternal, chunk: SackChunkInternal) {
    if (chunk.type === SACK_CHUNK) {
      SackChunk = chunk.constructor as SackChunkClass;
      fillSack(this, chunk);
      S.sendChunk = sendChunk;
    }
    return sendChunk.call(this, chunk);
  };
  S.sendSack = async function (this: SctpInternal) {
    if (!SackChunk) return sendSack.call(this);
    if (this.isStopped || !this.sackNeeded) return;
    const sack = new SackChunk(0, undefined);
    fillSack(this, sack);
    this.sackDuplicates = [];
    this.sackNeeded = false;
    this.sackPacketCount = 0;
    this.sackImmediate = false;
    await this.sendChunk(sack).catch(() => undefined);
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

// ------------------------------------------------------------------------------------------------------------
// ICE restart once DTLS is up

interface RestartableDtls {
  state: string;
  iceTransport: { start(): Promise<void>; connection: { nominated?: unknown; remoteUsername: string } };
}

/**
 * An ICE restart (new ufrag/pwd in an offer or answer) clears werift's nominated pair and holds incoming checks until
 * the ICE agent is started again, but RTCPeerConnection.connect() returns early for a transport whose DTLS is
 * connected: the agent is never started, no pair is ever nominated again, and the transport goes silent (werift
 * reports "connected" all along). Start the ICE agent of such transports first; DTLS and SRTP carry on over the new
 * pair. A restart that fails fails the connection, as it should.
 */
function patchIceRestart(): void {
  const P = proto(RTCPeerConnection);
  const connect = P.connect as unknown as (this: unknown) => Promise<void>;
  P.connect = async function (this: { dtlsTransports: RestartableDtls[] }) {
    const restarted = this.dtlsTransports.filter((d) => d.state === 'connected' && !d.iceTransport.connection.nominated && d.iceTransport.connection.remoteUsername);
    const results = await Promise.allSettled(restarted.map((d) => d.iceTransport.start()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return connect.call(this);
  } as unknown as Fn;
}
