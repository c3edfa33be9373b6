// One WebRTC peer connection on the server side. werift negotiates (SDP, ICE, DTLS, SCTP); once DTLS is up, Kite
// takes the RTP path: every RTP/RTCP datagram is decrypted here with Kite's SRTP and handed to the sinks, and
// `sendRtp`/`sendRtcp` protect and write datagrams straight onto the nominated socket.
import { RTCPeerConnection, type RTCDataChannel, type RTCRtpTransceiver } from 'werift';
import { TypedEventEmitter } from '@kite/protocol';
import { SrtcpContext, SrtpContext, isSupportedProfile, profileParams, type SrtpProfile } from '../srtp/index.js';
import { applyWeriftPatches } from '../werift/patches.js';
import { SRTP_PROFILE_PREFERENCE, applyExtensionIds, peerConnectionConfig, type IceOptions, type MediaConfig } from '../werift/config.js';
import { dtlsInternal, senderInternal, type Address, type CandidatePairInternal, type DtlsTransportInternal } from '../werift/internals.js';
import type { TwccSender } from '../bwe/TwccSender.js';
import { candidateAddress, filterCandidates, stripMdnsCandidates, stripTransportCcWhereReceiving } from './sdp.js';
import { attachMuxes } from './mux/werift.js';

export interface IceCandidateInit {
  candidate: string;
  sdpMid?: string;
  sdpMLineIndex?: number;
  usernameFragment?: string;
}

export interface LoggerLike {
  debug(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface PeerTransportOptions {
  media: MediaConfig;
  ice: IceOptions;
  log?: LoggerLike;
  /** A name for logs, e.g. "PA_x publisher". */
  name?: string;
}

export interface PeerTransportEvents {
  /** A local ICE candidate to trickle to the client. */
  candidate: (init: IceCandidateInit) => void;
  /** DTLS is up and the media path is armed. */
  connected: () => void;
  /** werift reports the connection failed or closed. */
  failed: (reason: string) => void;
  dataChannel: (channel: RTCDataChannel) => void;
}

export type RtpSink = (packet: Buffer, length: number) => void;

/**
 * Output slots shared by every transport in the process. dgram.send may hold a buffer until the datagram is written,
 * so each send takes the next slot; the ring is large enough that a slot is never reused while queued.
 */
const EGRESS_SLOTS = 1024;
const EGRESS_SLOT_SIZE = 1500;
let egressRing: Buffer | undefined;
let egressNext = 0;
function egressSlot(): Buffer {
  egressRing ??= Buffer.allocUnsafe(EGRESS_SLOTS * EGRESS_SLOT_SIZE);
  const off = egressNext * EGRESS_SLOT_SIZE;
  egressNext = (egressNext + 1) % EGRESS_SLOTS;
  return egressRing.subarray(off, off + EGRESS_SLOT_SIZE);
}

/**
 * werift sends its DTLS Finished message as the first record of epoch 1 but numbers it with the epoch-0 counter
 * (e.g. sequence 8), then restarts the counter at 0 for application data. Application record 8 of epoch 1 then
 * repeats the Finished record's (epoch, sequence) and the peer's DTLS replay protection (Chrome's BoringSSL) drops
 * it silently: one early SCTP packet is always lost (a lost lossy message, or a ~200 ms retransmission of a reliable
 * one). Moving the counter far past anything the handshake used removes the collision; DTLS only needs record
 * numbers to be unique and increasing within an epoch.
 */
function skipPastHandshakeRecords(d: DtlsTransportInternal): void {
  const ctx = d.dtls?.dtls;
  if (ctx && ctx.epoch === 1 && ctx.recordSequenceNumber < 1024) ctx.recordSequenceNumber += 1024;
}

function dtlsInternalOrUndefined(pc: RTCPeerConnection): DtlsTransportInternal | undefined {
  const d = pc.dtlsTransports[0];
  return d ? dtlsInternal(d) : undefined;
}

export class PeerTransport extends TypedEventEmitter<PeerTransportEvents> {
  readonly pc: RTCPeerConnection;
  readonly name: string;
  /** Plain (decrypted) RTP from the remote peer. */
  rtpSink: RtpSink | undefined;
  /**
   * Transport-wide congestion control of what Kite sends here (subscriber side): down tracks stamp their packets
   * with its sequence numbers; the subscriber's feedback feeds its estimator.
   */
  twcc: TwccSender | undefined;
  /** Plain (decrypted) RTCP compound packets from the remote peer. */
  rtcpSink: RtpSink | undefined;

  private readonly log?: LoggerLike;
  private readonly allowCandidate: (address: string) => boolean;
  private queue: Promise<unknown> = Promise.resolve();
  private remoteDescriptionSet = false;
  private pendingCandidates: IceCandidateInit[] = [];
  private closed = false;

  private dtls?: DtlsTransportInternal;
  private srtpIn?: SrtpContext;
  private srtpOut?: SrtpContext;
  private srtcpIn?: SrtcpContext;
  private srtcpOut?: SrtcpContext;
  private pair?: CandidatePairInternal;
  private sendTo?: { send(buf: Uint8Array, offset: number, length: number, port: number, address: string): void };
  private remoteAddr: Address = ['', 0];
  /** Milliseconds since epoch of the last datagram from the peer (any kind): drives liveness. */
  lastReceivedAt = 0;
  /** Counters for stats and tests. */
  readonly counters = { rtpIn: 0, rtcpIn: 0, rtpOut: 0, rtcpOut: 0, bytesIn: 0, bytesOut: 0, srtpErrors: 0, sinkErrors: 0 };
  /** The negotiated SRTP profile once connected. */
  srtpProfile: SrtpProfile | undefined;

  constructor(opts: PeerTransportOptions) {
    super();
    applyWeriftPatches();
    this.name = opts.name ?? 'transport';
    this.log = opts.log;
    const allowList = opts.ice.candidateAllowList;
    this.allowCandidate = allowList && allowList.length ? (a) => allowList.includes(a) : () => true;
    this.pc = new RTCPeerConnection(peerConnectionConfig(opts.media, opts.ice));
    applyExtensionIds(this.pc);
    this.useMuxes(opts.ice);
    this.pc.onIceCandidate.subscribe((c) => {
      if (!c || this.closed) return;
      const init = c.toJSON();
      if (!this.allowCandidate(candidateAddress(init.candidate) ?? '')) return;
      this.emit('candidate', init);
    });
    this.pc.onDataChannel.subscribe((ch) => this.emit('dataChannel', ch));
    this.pc.connectionStateChange.subscribe((state) => {
      if (this.closed) return;
      if (state === 'failed' || state === 'closed') this.emit('failed', `peer connection ${state}`);
    });
  }

  /**
   * Milliseconds since epoch of the last datagram from the peer of any kind (media, RTCP, consent checks, DTLS/SCTP),
   * 0 before any. ICE-lite never fails and werift never reports "disconnected": this is how Kite knows a peer is gone.
   */
  get lastActivityAt(): number {
    let last = this.lastReceivedAt;
    const conn = this.dtls?.iceTransport.connection ?? dtlsInternalOrUndefined(this.pc)?.iceTransport.connection;
    for (const p of conn?.protocols ?? []) {
      const t = (p as { kiteActivity?: number }).kiteActivity ?? 0;
      if (t > last) last = t;
    }
    return last;
  }

  /**
   * Puts this transport's ICE on the shared sockets (rtc.udp_port / rtc.tcp_port), limited to `ice.protocols`.
   * UDP without a UdpMux stays werift's own per-connection socket (rtc.port_range_*).
   */
  private useMuxes(ice: IceOptions): void {
    const wants = (p: 'udp' | 'tcp') => ice.protocols === undefined || ice.protocols.includes(p);
    const udp = wants('udp') ? ice.udpMux : undefined;
    const tcp = wants('tcp') ? ice.tcpMux : undefined;
    const stockUdp = wants('udp') && !udp;
    if (!udp && !tcp) {
      // e.g. protocols ['tcp'] without a tcpMux: a transport nobody could ever reach is a configuration bug.
      if (!stockUdp) throw new Error(`IceOptions.protocols [${ice.protocols?.join(', ')}] leaves this transport without any candidate`);
      return; // werift's own UDP gathering, as configured by peerConnectionConfig
    }
    attachMuxes(this.pc, { udp, tcp, advertise: ice.advertiseAddresses, stockUdp });
  }

  get isConnected(): boolean {
    return this.srtpOut !== undefined && !this.closed;
  }

  /** Serializes SDP operations: werift (like browsers) must not interleave them. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn, fn);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** Applies the client's offer and returns Kite's answer SDP. `prepare` runs between the two (codec preferences). */
  answer(offerSdp: string, prepare?: () => void): Promise<string> {
    return this.serial(async () => {
      await this.pc.setRemoteDescription({ type: 'offer', sdp: stripMdnsCandidates(offerSdp) });
      this.onRemoteDescription();
      prepare?.();
      await this.pc.setLocalDescription(await this.pc.createAnswer());
      this.watchDtls();
      return stripTransportCcWhereReceiving(filterCandidates(this.pc.localDescription!.sdp, this.allowCandidate));
    });
  }

  /** Creates Kite's offer (server-initiated negotiation) and returns its SDP. */
  offer(options: { iceRestart?: boolean } = {}): Promise<string> {
    return this.serial(async () => {
      await this.pc.setLocalDescription(await this.pc.createOffer(options));
      this.watchDtls();
      // transport-cc stays: down tracks stamp transport-wide sequence numbers and the client's feedback drives Kite's
      // estimate of its downlink (bwe/).
      return filterCandidates(this.pc.localDescription!.sdp, this.allowCandidate);
    });
  }

  /** Applies the client's answer to Kite's offer. */
  applyAnswer(answerSdp: string): Promise<void> {
    return this.serial(async () => {
      await this.pc.setRemoteDescription({ type: 'answer', sdp: stripMdnsCandidates(answerSdp) });
      this.onRemoteDescription();
    });
  }

  get signalingState(): string {
    return this.pc.signalingState;
  }

  /** A remote ICE candidate; cached until the remote description is set (the client may trickle early). */
  addRemoteCandidate(init: IceCandidateInit): void {
    if (this.closed) return;
    const address = candidateAddress(init.candidate);
    // mDNS (.local) candidates are ignored: the peer-reflexive candidate learned from the client's checks works.
    if (address?.endsWith('.local')) return;
    if (!this.remoteDescriptionSet) {
      this.pendingCandidates.push(init);
      return;
    }
    // Through the same queue as descriptions: a candidate trickled right after a re-offer (an ICE restart's new
    // ufrag) must meet the description it belongs to, not the one being replaced.
    this.serial(() => this.pc.addIceCandidate(init)).catch((err: Error) => this.log?.debug({ transport: this.name, err: err.message }, 'remote candidate refused'));
  }

  private onRemoteDescription(): void {
    this.remoteDescriptionSet = true;
    const pending = this.pendingCandidates;
    this.pendingCandidates = [];
    for (const c of pending) this.addRemoteCandidate(c);
  }

  /** A send-only transceiver for forwarding one track (subscriber side). Its RTP is written by Kite, never by werift. */
  addSendTransceiver(kind: 'audio' | 'video'): RTCRtpTransceiver {
    const t = this.pc.addTransceiver(kind, { direction: 'sendonly' });
    this.manage(t);
    return t;
  }

  /** Marks a transceiver as Kite's: werift runs no RTCP loop and no receive processing for it. */
  manage(t: RTCRtpTransceiver): void {
    senderInternal(t).kiteManaged = true;
    (t.receiver as unknown as { kiteManaged?: boolean }).kiteManaged = true;
  }

  createDataChannel(label: string, options: { ordered?: boolean; maxRetransmits?: number } = {}): RTCDataChannel {
    return this.pc.createDataChannel(label, options);
  }

  private watchDtls(): void {
    if (this.dtls) return;
    const dtls = this.pc.dtlsTransports[0];
    if (!dtls) return;
    const d = dtlsInternal(dtls);
    this.dtls = d;
    d.srtpProfiles = SRTP_PROFILE_PREFERENCE;
    for (const t of this.pc.getTransceivers()) this.manage(t);
    this.pc.onTransceiverAdded.subscribe((t) => this.manage(t));
    const sub = d.onStateChange.subscribe((state) => {
      if (state === 'connected') this.arm();
      else if (state === 'failed' || state === 'closed') this.emit('failed', `dtls ${state}`);
    });
    if (d.state === 'connected') this.arm();
    this.once('failed', () => sub.unSubscribe());
  }

  /** DTLS is up: derive SRTP contexts and hang Kite's media sink on every ICE socket. */
  private arm(): void {
    const d = this.dtls!;
    if (this.srtpOut || this.closed) return;
    const profile = d.dtls?.srtp.srtpProfile;
    if (!d.dtls || profile === undefined || !isSupportedProfile(profile)) {
      this.log?.warn({ transport: this.name, profile }, 'unsupported SRTP profile');
      this.emit('failed', 'unsupported SRTP profile');
      return;
    }
    skipPastHandshakeRecords(d);
    const params = profileParams(profile);
    const keys = d.dtls.extractSessionKeys(params.keyLength, params.saltLength);
    this.srtpProfile = profile;
    this.srtpOut = new SrtpContext(profile, { masterKey: keys.localKey, masterSalt: keys.localSalt });
    this.srtpIn = new SrtpContext(profile, { masterKey: keys.remoteKey, masterSalt: keys.remoteSalt });
    this.srtcpOut = new SrtcpContext(profile, { masterKey: keys.localKey, masterSalt: keys.localSalt });
    this.srtcpIn = new SrtcpContext(profile, { masterKey: keys.remoteKey, masterSalt: keys.remoteSalt });
    this.hookSockets();
    this.lastReceivedAt = Date.now();
    this.log?.debug({ transport: this.name, profile, remote: this.remoteAddr }, 'media path armed');
    this.emit('connected');
  }

  private readonly sink = (data: Buffer, addr: Address): void => {
    this.lastReceivedAt = Date.now();
    this.counters.bytesIn += data.length;
    // RTCP packet types 192–223 (RFC 5761 §4): everything else in 128–191 is RTP.
    const pt = data[1]!;
    if (pt >= 192 && pt <= 223) {
      const plain = this.srtcpIn!.unprotectInPlace(data);
      if (!plain) {
        this.counters.srtpErrors++;
        return;
      }
      this.counters.rtcpIn++;
      try {
        this.rtcpSink?.(plain, plain.length);
      } catch (err) {
        this.sinkError(err);
      }
      return;
    }
    const plain = this.srtpIn!.unprotectInPlace(data);
    if (!plain) {
      this.counters.srtpErrors++;
      return;
    }
    this.counters.rtpIn++;
    // The peer may have moved to another candidate pair (consent/nomination change): follow it.
    if (addr[1] !== this.remoteAddr[1] || addr[0] !== this.remoteAddr[0]) this.refreshPair();
    try {
      this.rtpSink?.(plain, plain.length);
    } catch (err) {
      this.sinkError(err);
    }
  };

  /** A bug on the media path must cost one packet, never the transport (or werift's socket handler). */
  private sinkError(err: unknown): void {
    this.counters.sinkErrors++;
    if (this.counters.sinkErrors <= 5 || this.counters.sinkErrors % 1000 === 0) {
      this.log?.warn({ transport: this.name, err: (err as Error)?.message, count: this.counters.sinkErrors }, 'media path error');
    }
  }

  private hookSockets(): void {
    const conn = this.dtls!.iceTransport.connection;
    for (const p of conn.protocols) p.kiteSink = this.sink;
    this.refreshPair();
  }

  private refreshPair(): void {
    const conn = this.dtls?.iceTransport.connection;
    const pair = conn?.nominated;
    if (!pair) return;
    this.pair = pair;
    this.remoteAddr = pair.remoteAddr;
    const socket = pair.protocol.type === 'stun' ? pair.protocol.transport.socket : undefined;
    this.sendTo = socket as typeof this.sendTo;
    // Sockets can be added by werift after arming (e.g. new candidates): make sure every one feeds Kite.
    for (const p of conn!.protocols) p.kiteSink = this.sink;
  }

  /** Protects and sends one plain RTP packet. Returns false when the transport is not ready. */
  sendRtp(plain: Buffer, length: number): boolean {
    const srtp = this.srtpOut;
    if (!srtp || this.closed) return false;
    if (this.pair !== this.dtls!.iceTransport.connection.nominated) this.refreshPair();
    const out = egressSlot();
    let n: number;
    try {
      n = srtp.protectInto(length === plain.length ? plain : plain.subarray(0, length), out);
    } catch {
      return false;
    }
    this.counters.rtpOut++;
    this.counters.bytesOut += n;
    if (this.sendTo) this.sendTo.send(out, 0, n, this.remoteAddr[1], this.remoteAddr[0]);
    else void this.dtls!.iceTransport.connection.send(Buffer.from(out.subarray(0, n))).catch(() => undefined);
    return true;
  }

  /** Protects and sends one plain RTCP compound packet. */
  sendRtcp(plain: Buffer, length: number = plain.length): boolean {
    const srtcp = this.srtcpOut;
    if (!srtcp || this.closed) return false;
    if (this.pair !== this.dtls!.iceTransport.connection.nominated) this.refreshPair();
    const out = egressSlot();
    let n: number;
    try {
      n = srtcp.protectInto(length === plain.length ? plain : plain.subarray(0, length), out);
    } catch {
      return false;
    }
    this.counters.rtcpOut++;
    if (this.sendTo) this.sendTo.send(out, 0, n, this.remoteAddr[1], this.remoteAddr[0]);
    else void this.dtls!.iceTransport.connection.send(Buffer.from(out.subarray(0, n))).catch(() => undefined);
    return true;
  }

  /** Forget SRTP state for an SSRC that will not be used again. */
  forgetSsrc(ssrc: number): void {
    this.srtpOut?.removeSsrc(ssrc);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const conn = this.dtls?.iceTransport.connection;
    if (conn) for (const p of conn.protocols) delete p.kiteSink;
    this.rtpSink = undefined;
    this.rtcpSink = undefined;
    this.removeAllListeners();
    try {
      await this.pc.close();
    } catch {
      /* closing twice or mid-negotiation is fine */
    }
  }
}
