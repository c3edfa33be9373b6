// One subscription: forwards one published track to one subscriber. It picks the layer (switching only on a
// keyframe of the target layer), rewrites SSRC, sequence numbers, timestamps and payload type so the subscriber sees
// one continuous stream, rebuilds the header extensions with the subscriber's IDs, keeps VP8 PictureID/TL0PICIDX/KEYIDX
// continuous across switches, answers NACKs from the receiver's history (over RTX when negotiated), and writes
// sender reports for its own SSRC.
import type { RTCRtpTransceiver } from 'werift';
import { RtpExtensionWriter, RtpHeaderView, absSendTime24 } from '../rtp/packet.js';
import { seqDiff, isNewerSeq } from '../rtp/seq.js';
import { Vp8Descriptor, Vp8Munger, vp8WriteKeyIdx, vp8WritePictureId, vp8WriteTl0PicIdx } from '../rtp/codecs/vp8.js';
import { NtpTime, msToNtp, ntpMiddle32, rttFromReport, writeSenderReport, type RtcpReportBlock } from '../rtp/rtcp.js';
import { rtxWrap } from '../rtp/rtx.js';
import { CodecKind, negotiatedCodecs } from '../media/codec.js';
import { h264Compatible } from '../werift/patches.js';
import { EXT } from '../werift/config.js';
import { senderInternal } from '../werift/internals.js';
import type { PeerTransport } from '../transport/PeerTransport.js';
import type { PacketSink, Receiver } from '../receiver/Receiver.js';
import { MAX_LAYERS } from '../receiver/Receiver.js';
import type { StreamBuffer } from '../receiver/StreamBuffer.js';
import { Sequencer } from './Sequencer.js';
import { SVC_DROP, SVC_FORWARD_MARKED, SvcFilter } from './SvcFilter.js';
import { readLayerInfo } from '../receiver/layerInfo.js';

// Scratch buffers shared by every down track: building and sending a packet is synchronous.
const scratch = Buffer.allocUnsafe(1500);
const rtxScratch = Buffer.allocUnsafe(1500);
const extWriter = new RtpExtensionWriter();
const vp8 = new Vp8Descriptor();
const nackView = new RtpHeaderView();
const catchUpView = new RtpHeaderView();
/** Packets after a switch point that may already be in history (they overtook the keyframe's first packet). */
const MAX_CATCH_UP = 128;
/**
 * Recent packets dropped on purpose, kept so that a late packet (e.g. recovered by NACK) still gets the outgoing
 * number it had before the drops that followed it. Power of two; at ~75 drops/s (720p, half the frames dropped)
 * it spans over 3 s, longer than any useful retransmission.
 */
const SKIP_HISTORY = 256;
/** Forwarding every temporal layer (VP8 TID 0–2 and anything above). */
const MAX_TEMPORAL = 3;
const ntp = new NtpTime();
const bufferCopy = Buffer.prototype.copy as (this: Uint8Array, target: Uint8Array, targetStart: number, sourceStart: number, sourceEnd: number) => number;

export interface DownTrackStats {
  packetsSent: number;
  octetsSent: number;
  retransmits: number;
  keyframeRequests: number;
  /** Round-trip time from the subscriber's receiver reports (ms), 0 until known. */
  rttMs: number;
  /** Fraction lost (0–1) in the subscriber's last receiver report. */
  fractionLost: number;
  jitterMs: number;
  /** Bytes of padding sent as bandwidth probes. */
  paddingOctets: number;
}

export class DownTrack implements PacketSink {
  readonly receiver: Receiver;
  readonly transport: PeerTransport;
  /**
   * The m-line this down track is sent on. Single-PC mode creates the down track before the client has offered an
   * m-line for it: it waits (unbound, forwarding nothing) until `attach` gives it one.
   */
  transceiver: RTCRtpTransceiver | undefined;
  readonly isVideo: boolean;
  /** Outgoing SSRC: the one werift announced for the transceiver (a=ssrc / msid). */
  ssrc = 0;
  rtxSsrc = 0;

  private ready = false;
  private closed = false;
  /** Publisher payload type → subscriber payload type (−1: not negotiated). */
  private readonly ptMap = new Int16Array(128).fill(-1);
  private readonly rtxPtMap = new Int16Array(128).fill(-1);
  private midBytes: Buffer = Buffer.alloc(0);
  private ext = { mid: 0, audioLevel: 0, absSendTime: 0, transportCc: 0, dependencyDescriptor: 0, videoOrientation: 0 };

  /** Highest layer the subscriber wants (quality/dimensions); the forwarder never goes above it. */
  maxLayer = MAX_LAYERS - 1;
  /** Allocation priority among the subscriber's video (higher first: the owner sets screen share above camera). */
  priority = 0;
  private targetLayer = -1;
  private currentLayer = -1;
  /** Subscriber disabled the track (setEnabled(false) / not visible): nothing is sent. */
  private paused = false;
  /**
   * The stream allocator's cap for the subscriber's bandwidth: the highest layer that fits, or −1 when not even the
   * lowest does (paused for bandwidth). Never above `maxLayer`'s choice: the subscriber's wish stays the ceiling.
   */
  private allocLayer = MAX_LAYERS - 1;

  private started = false;
  /** Highest source sequence number handled (forwarded or dropped on purpose) on the current layer. */
  private lastSrcSeq = -1;
  private maxFps = 0;
  /** Highest VP8 temporal layer forwarded. */
  private maxTemporal = MAX_TEMPORAL;
  private seqOffset = 0;
  /** Source sequence numbers of the drops that moved seqOffset, in sequence order (a ring of SKIP_HISTORY). */
  private readonly skipped = new Uint16Array(SKIP_HISTORY);
  private skipCount = 0;
  private tsOffset = 0;
  private lastOutSeq = 0;
  private lastOutTs = 0;
  private lastSentAt = 0;
  private switchSrcSeq = 0;
  private rtxSeq = (Math.random() * 0xffff) & 0xffff;
  private readonly munger: Vp8Munger | undefined;
  /** VP9/AV1: spatial/temporal layer selection inside the one stream. */
  private readonly svc: SvcFilter | undefined;
  private readonly sequencer = new Sequencer();
  private clockRate = 90000;

  readonly stats: DownTrackStats = { packetsSent: 0, octetsSent: 0, retransmits: 0, keyframeRequests: 0, rttMs: 0, fractionLost: 0, jitterMs: 0, paddingOctets: 0 };
  private lastSrNtpMiddle = 0;
  private lastSrSentAt = 0;
  /** Called when the forwarding layer changes (for tests, stats and stream-state updates). */
  onLayerChange: ((layer: number) => void) | undefined;

  constructor(receiver: Receiver, transport: PeerTransport, transceiver?: RTCRtpTransceiver) {
    this.receiver = receiver;
    this.transport = transport;
    this.isVideo = receiver.kind === 'video';
    this.munger = receiver.codec?.kind === CodecKind.VP8 ? new Vp8Munger() : undefined;
    this.svc = receiver.codec?.kind === CodecKind.VP9 || receiver.codec?.kind === CodecKind.AV1 ? new SvcFilter() : undefined;
    this.clockRate = receiver.codec?.clockRate ?? (this.isVideo ? 90000 : 48000);
    if (transceiver) this.attach(transceiver);
  }

  /** Takes the down track off its m-line (the client dropped it): nothing is sent until `attach` and `bind`. */
  detach(): void {
    this.transceiver = undefined;
    this.ready = false;
  }

  /** Puts the down track on an m-line (its sender's SSRCs); forwarding starts with the next `bind`. */
  attach(transceiver: RTCRtpTransceiver): void {
    this.transceiver = transceiver;
    this.ready = false;
    // A new stream for the subscriber: it starts again on a keyframe.
    this.currentLayer = -1;
    this.svc?.reset();
    this.munger?.reset();
    const s = senderInternal(transceiver);
    this.ssrc = s.ssrc;
    this.rtxSsrc = s.rtxSsrc;
  }

  /**
   * Reads the subscriber's negotiation of this transceiver (after its answer was applied) and starts forwarding.
   * Returns false when no codec of the track was accepted.
   */
  bind(): boolean {
    const t = this.transceiver;
    if (this.closed || !t) return false;
    const subCodecs = negotiatedCodecs(t.codecs);
    this.ptMap.fill(-1);
    this.rtxPtMap.fill(-1);
    let any = false;
    for (const pub of this.receiver.codecByPt.values()) {
      const sub = subCodecs.find(
        (c) => c.mime.toLowerCase() === pub.mime.toLowerCase() && (pub.kind !== CodecKind.H264 || h264Compatible({ mimeType: pub.mime, parameters: pub.fmtp }, { mimeType: c.mime, parameters: c.fmtp })),
      );
      if (!sub) continue;
      this.ptMap[pub.payloadType] = sub.payloadType;
      if (sub.rtxPayloadType !== undefined) this.rtxPtMap[pub.payloadType] = sub.rtxPayloadType;
      any = true;
    }
    const ids: Record<string, number> = {};
    for (const e of t.headerExtensions) ids[e.uri] = e.id;
    this.ext = {
      mid: ids[EXT.mid] ?? 0,
      audioLevel: this.isVideo ? 0 : (ids[EXT.audioLevel] ?? 0),
      absSendTime: ids[EXT.absSendTime] ?? 0,
      transportCc: ids[EXT.transportCc] ?? 0,
      dependencyDescriptor: this.isVideo ? (ids[EXT.dependencyDescriptor] ?? 0) : 0,
      videoOrientation: this.isVideo ? (ids[EXT.videoOrientation] ?? 0) : 0,
    };
    this.midBytes = Buffer.from(t.mid ?? '');
    const s = senderInternal(t);
    this.ssrc = s.ssrc;
    this.rtxSsrc = s.rtxSsrc;
    this.ready = any;
    if (any) this.updateTarget(Date.now(), true);
    return any;
  }

  get isReady(): boolean {
    return this.ready && !this.closed;
  }

  /** The layer being forwarded now (−1 before the first keyframe): the simulcast layer, or the SVC spatial layer. */
  get layer(): number {
    return this.svc !== undefined && this.currentLayer >= 0 ? this.svc.currentSpatial : this.currentLayer;
  }

  /** What this subscriber wants from the publisher: the layer cap, or −1 while paused (dynacast). */
  get requestedLayer(): number {
    return this.paused || this.closed ? -1 : this.isVideo ? this.maxLayer : 0;
  }

  /** One stream carrying spatial layers (VP9/AV1 SVC) rather than one stream per layer (simulcast). */
  get isSvc(): boolean {
    return this.svc !== undefined;
  }

  /** Layers the subscriber's bandwidth allows (StreamAllocator): −1 pauses the track, else the highest layer. */
  get allocatedLayer(): number {
    return this.allocLayer;
  }

  setAllocation(layer: number): void {
    const l = Math.max(-1, Math.min(MAX_LAYERS - 1, layer));
    if (l === this.allocLayer) return;
    const wasPaused = this.allocLayer < 0;
    this.allocLayer = l;
    if (l < 0) return;
    if (wasPaused) {
      // Back from a bandwidth pause: like a resume, wait for a keyframe of the new layer.
      this.currentLayer = -1;
      this.svc?.reset();
      this.munger?.reset();
    }
    this.updateTarget(Date.now(), true);
  }

  /** Paused by the subscriber or for bandwidth: nothing is forwarded. */
  private get silenced(): boolean {
    return this.paused || this.allocLayer < 0;
  }

  /** The highest layer forwarded: the subscriber's cap, lowered by the allocator. */
  private get layerCap(): number {
    return this.allocLayer < 0 ? this.maxLayer : Math.min(this.maxLayer, this.allocLayer);
  }

  /** The layer being forwarded, or about to be (−1 when none). */
  get wantedTargetLayer(): number {
    return this.targetLayer;
  }

  /**
   * Sends about `bytes` of padding-only packets on the RTX stream (bandwidth probes: the subscriber's estimator
   * counts them, its jitter buffer drops them). Returns the bytes sent; 0 when there is no RTX stream or nothing was
   * forwarded yet (padding needs a timestamp to go with).
   */
  sendPadding(bytes: number, now: number, cluster = -1): number {
    if (!this.ready || !this.started || !this.rtxSsrc || !this.isVideo) return 0;
    let rtxPt = -1;
    for (let i = 0; i < 128 && rtxPt < 0; i++) if (this.rtxPtMap[i]! >= 0) rtxPt = this.rtxPtMap[i]!;
    if (rtxPt < 0) return 0;
    let sent = 0;
    while (sent < bytes) {
      const n = this.writePadding(rtxScratch, rtxPt, now);
      if (n <= 0 || !this.transport.sendRtp(rtxScratch, n)) break;
      if (this.ext.transportCc) this.transport.twcc?.onSent(n, cluster);
      sent += n;
    }
    this.stats.paddingOctets += sent;
    return sent;
  }

  /** One padding-only RTX packet (255 bytes of padding, the most one packet can say): header, mid, abs-send-time, transport-wide sequence number. */
  private writePadding(out: Buffer, pt: number, now: number): number {
    out[0] = 0xa0; // V=2, P=1
    out[1] = pt;
    out[2] = (this.rtxSeq >> 8) & 0xff;
    out[3] = this.rtxSeq & 0xff;
    this.rtxSeq = (this.rtxSeq + 1) & 0xffff;
    out.writeUInt32BE(this.lastOutTs, 4);
    out.writeUInt32BE(this.rtxSsrc, 8);
    let hdr = 12;
    const e = this.ext;
    const twcc = e.transportCc ? this.transport.twcc : undefined;
    if (e.mid || e.absSendTime || twcc) {
      extWriter.begin(out, 0, false);
      if (e.mid && this.midBytes.length) extWriter.addBytes(e.mid, this.midBytes, 0, this.midBytes.length);
      if (e.absSendTime) extWriter.addUint24(e.absSendTime, absSendTime24(now));
      if (twcc) extWriter.addUint16(e.transportCc, twcc.nextSeq);
      hdr = extWriter.end();
      if (hdr < 0) return -1;
    }
    const pad = 255;
    out.fill(0, hdr, hdr + pad - 1);
    out[hdr + pad - 1] = pad;
    return hdr + pad;
  }

  /** Pause (the subscriber disabled the track) or resume; resuming asks for a keyframe. */
  setPaused(paused: boolean): void {
    if (this.paused === paused) return;
    this.paused = paused;
    this.receiver.sinkChanged();
    if (!paused) {
      // Resume like a fresh start: wait for a keyframe, keep sequence numbers continuous.
      this.currentLayer = -1;
      this.svc?.reset();
      this.munger?.reset();
      this.updateTarget(Date.now(), true);
    }
  }

  get isPaused(): boolean {
    return this.paused;
  }

  setMaxLayer(layer: number): void {
    const l = Math.max(0, Math.min(MAX_LAYERS - 1, layer));
    if (l === this.maxLayer) return;
    this.maxLayer = l;
    this.receiver.sinkChanged();
    this.updateTarget(Date.now(), true);
  }

  /**
   * Caps the frame rate (UpdateTrackSettings.fps): VP8 temporal layers above the one that gives at least `fps` are
   * dropped. Temporal layers halve the rate each (TL0 = ¼, TL1 = ½, TL2 = all of the layer's measured rate).
   * 0 = no cap.
   */
  setMaxFps(fps: number): void {
    this.maxFps = fps > 0 ? fps : 0;
    this.maxTemporal = this.temporalForFps();
  }

  private temporalForFps(): number {
    if (!this.maxFps) return MAX_TEMPORAL;
    const sb = this.currentLayer >= 0 ? this.receiver.layers[this.currentLayer] : undefined;
    const full = sb?.frameRate || 30;
    for (let t = 0; t < MAX_TEMPORAL; t++) if (full / (1 << (MAX_TEMPORAL - 1 - t)) >= this.maxFps * 0.9) return t;
    return MAX_TEMPORAL;
  }

  onLayersChanged(): void {
    this.updateTarget(Date.now(), false);
  }

  /** Re-evaluates which layer to forward: the highest active one at or below maxLayer. */
  private updateTarget(now: number, forceKeyframe: boolean): void {
    if (!this.ready || this.silenced) return;
    let target = 0;
    if (this.isVideo) {
      target = -1;
      for (let l = Math.min(this.layerCap, MAX_LAYERS - 1); l >= 0; l--) {
        const sb = this.receiver.layers[l];
        if (sb && (sb.lastPacketAt === 0 || now - sb.lastPacketAt < 2000)) {
          target = l;
          break;
        }
      }
      // Nothing at or below the cap: take the lowest layer that exists rather than nothing.
      if (target < 0) target = this.receiver.layers.findIndex((x) => x !== undefined);
      if (target < 0) return;
    }
    const changed = target !== this.targetLayer;
    this.targetLayer = target;
    if (this.isVideo && (changed || forceKeyframe) && target !== this.currentLayer) {
      this.stats.keyframeRequests++;
      this.receiver.requestKeyframe(target, now);
    } else if (this.isVideo && (this.currentLayer < 0 || this.svcUpswitchPending())) {
      this.receiver.requestKeyframe(target, now);
    }
  }

  /** SVC: a higher spatial layer is wanted than forwarded, which takes a keyframe. */
  private svcUpswitchPending(): boolean {
    const svc = this.svc;
    if (svc === undefined || this.currentLayer < 0) return false;
    svc.targetSpatial = Math.min(this.layerCap, this.receiver.layers[this.currentLayer]?.maxSpatialId ?? 0);
    return svc.wantsKeyframe;
  }

  /** Periodic housekeeping (about once a second): fall back when the forwarded layer went quiet. */
  tick(now: number): void {
    if (!this.ready || this.silenced || !this.isVideo) return;
    if (this.maxFps) this.maxTemporal = this.temporalForFps();
    const cur = this.currentLayer >= 0 ? this.receiver.layers[this.currentLayer] : undefined;
    if (this.currentLayer < 0 || (cur && now - cur.lastPacketAt > 1500) || this.targetLayer !== this.currentLayer) {
      this.updateTarget(now, false);
      if (this.currentLayer < 0 || this.targetLayer !== this.currentLayer) this.receiver.requestKeyframe(this.targetLayer, now);
    } else if (this.svcUpswitchPending()) {
      this.receiver.requestKeyframe(this.currentLayer, now);
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Hot path

  write(sb: StreamBuffer, buf: Buffer, _len: number, view: RtpHeaderView, keyframe: boolean, now: number): void {
    if (!this.ready || this.paused || this.allocLayer < 0) return;
    const layer = sb.layer;
    if (layer !== this.currentLayer) {
      if (layer !== this.targetLayer || (this.isVideo && !keyframe)) return;
      this.switchTo(layer, view, now);
      this.forward(sb, buf, view, now, keyframe);
      // Packets of this layer that arrived before the keyframe's first packet (it was late, e.g. recovered by NACK)
      // were dropped while we waited: send them now from history, in order, so the keyframe is complete.
      if (sb.highestSeq >= 0 && seqDiff(sb.highestSeq, view.sequenceNumber) > 0) this.catchUp(sb, view.sequenceNumber, now);
      return;
    }
    if (seqDiff(view.sequenceNumber, this.switchSrcSeq) < 0) return; // older than the switch: its outgoing number belongs to the previous layer
    this.forward(sb, buf, view, now, keyframe);
  }

  private catchUp(sb: StreamBuffer, fromSeq: number, now: number): void {
    const last = sb.highestSeq;
    for (let i = 1, seq = (fromSeq + 1) & 0xffff; i <= MAX_CATCH_UP && seqDiff(seq, last) <= 0; i++, seq = (seq + 1) & 0xffff) {
      const pkt = sb.history.get(seq);
      if (!pkt || !catchUpView.parse(pkt, 0, pkt.length)) continue;
      readLayerInfo(this.receiver, sb, pkt, catchUpView);
      this.forward(sb, pkt as Buffer, catchUpView, now, false);
    }
  }

  /** Rewrites and sends one packet of the current layer (`sb`; for SVC its layer ids describe this packet). */
  private forward(sb: StreamBuffer, buf: Uint8Array, view: RtpHeaderView, now: number, keyframe: boolean): void {
    const layer = sb.layer;
    const outPt = this.ptMap[view.payloadType]!;
    if (outPt < 0) return;
    let marker = view.marker;
    const svc = this.svc;
    if (svc !== undefined) {
      svc.targetSpatial = Math.min(this.layerCap, sb.maxSpatialId);
      svc.targetTemporal = this.maxTemporal >= MAX_TEMPORAL ? 7 : this.maxTemporal;
      const inOrder = this.lastSrcSeq < 0 || seqDiff(view.sequenceNumber, this.lastSrcSeq) > 0;
      const verdict = svc.accept(sb.spatialId, sb.temporalId, sb.frameStart, sb.frameEnd, keyframe, marker, inOrder);
      if (verdict === SVC_DROP) {
        this.skip(view.sequenceNumber);
        return;
      }
      if (verdict === SVC_FORWARD_MARKED) marker = true;
    }
    const outSeq = this.outSeqFor(view.sequenceNumber);
    if (outSeq < 0) return;
    const outTs = (view.timestamp - this.tsOffset) >>> 0;
    const n = this.build(scratch, buf, view, outPt, outSeq, outTs, marker, now);
    if (n < 0) return;
    let pid = -1;
    let tl0 = -1;
    let keyIdx = -1;
    if (this.munger !== undefined) {
      const hdr = n - view.payloadLength - view.paddingLength;
      if (view.payloadLength > 0 && vp8.parse(scratch, hdr, view.payloadLength)) {
        // Chrome omits TID from the VP8 descriptor when it sends a dependency descriptor: then that one tells.
        const drop = (vp8.tid >= 0 ? vp8.tid : sb.temporalId) > this.maxTemporal;
        if (!this.munger.process(layer, vp8, drop)) {
          if (drop) this.skip(view.sequenceNumber);
          return;
        }
        pid = this.munger.pictureId;
        tl0 = this.munger.tl0PicIdx;
        keyIdx = this.munger.keyIdx;
        if (pid >= 0) vp8WritePictureId(scratch, vp8, pid);
        if (tl0 >= 0) vp8WriteTl0PicIdx(scratch, vp8, tl0);
        if (keyIdx >= 0) vp8WriteKeyIdx(scratch, vp8, keyIdx);
      }
    } else if (svc === undefined && sb.temporalId > this.maxTemporal) {
      // Other codecs (H.264) carry their temporal layer in the dependency descriptor only.
      this.skip(view.sequenceNumber);
      return;
    }
    if (this.lastSrcSeq < 0 || seqDiff(view.sequenceNumber, this.lastSrcSeq) > 0) this.lastSrcSeq = view.sequenceNumber;
    if (!this.sent(scratch, n)) return;
    this.sequencer.push(outSeq, view.sequenceNumber, layer, outTs, marker, pid, tl0, keyIdx);
    if (!this.started || isNewerSeq(outSeq, this.lastOutSeq)) {
      this.lastOutSeq = outSeq;
      this.lastOutTs = outTs;
    }
    this.started = true;
    this.lastSentAt = now;
    this.stats.packetsSent++;
    this.stats.octetsSent += view.payloadLength;
  }

  /**
   * A packet dropped on purpose (temporal layer filtering): when it is newer than every packet handled so far, later
   * packets move up by one so the subscriber sees no gap. Packets missing before it (lost, or late) keep the numbers
   * they had: see outSeqFor. (A dropped packet that itself arrives late leaves a hole — the packets after it were
   * sent already — which the subscriber counts as one lost packet.)
   */
  private skip(srcSeq: number): void {
    if (this.lastSrcSeq >= 0 && seqDiff(srcSeq, this.lastSrcSeq) > 0) {
      this.seqOffset = (this.seqOffset + 1) & 0xffff;
      this.lastSrcSeq = srcSeq;
      this.skipped[this.skipCount & (SKIP_HISTORY - 1)] = srcSeq;
      this.skipCount++;
    }
  }

  /**
   * The outgoing sequence number of a source packet of the current layer, or −1 when it can't be known. A packet older
   * than the newest one handled (late: reordered or recovered by NACK) takes the offset in effect at its place in
   * the sequence: drops after it moved only the packets after them. Using the current offset would give it the
   * number of a packet already sent.
   */
  private outSeqFor(srcSeq: number): number {
    let off = this.seqOffset;
    if (this.skipCount > 0 && this.lastSrcSeq >= 0 && seqDiff(srcSeq, this.lastSrcSeq) < 0) {
      const n = Math.min(this.skipCount, SKIP_HISTORY);
      let i = 1;
      for (; i <= n; i++) {
        if (seqDiff(this.skipped[(this.skipCount - i) & (SKIP_HISTORY - 1)]!, srcSeq) <= 0) break;
        off = (off - 1) & 0xffff;
      }
      // Older than every drop remembered, with more drops forgotten: its number is unknown, don't guess.
      if (i > n && this.skipCount > SKIP_HISTORY) return -1;
    }
    return (srcSeq - off) & 0xffff;
  }

  /** Starts forwarding `layer` at this packet, continuing the outgoing sequence and timestamp lines. */
  private switchTo(layer: number, view: RtpHeaderView, now: number): void {
    let outSeq: number;
    let outTs: number;
    if (this.started) {
      outSeq = (this.lastOutSeq + 1) & 0xffff;
      // The new layer's timestamps are unrelated to the old one's: continue from the last outgoing timestamp by the
      // wall-clock time elapsed since (at least one tick, so frames never share a timestamp across the switch).
      const elapsed = Math.max(1, Math.round(((now - this.lastSentAt) * this.clockRate) / 1000));
      outTs = (this.lastOutTs + elapsed) >>> 0;
    } else {
      outSeq = view.sequenceNumber;
      outTs = view.timestamp;
    }
    this.seqOffset = (view.sequenceNumber - outSeq) & 0xffff;
    this.tsOffset = (view.timestamp - outTs) >>> 0;
    this.switchSrcSeq = view.sequenceNumber;
    this.lastSrcSeq = -1;
    this.skipCount = 0;
    const previous = this.currentLayer;
    this.currentLayer = layer;
    this.maxTemporal = this.temporalForFps();
    if (previous !== layer) this.onLayerChange?.(layer);
  }

  /** Sends a packet build() wrote; its transport-wide sequence number (if any) counts as sent. */
  private sent(buf: Buffer, n: number): boolean {
    if (!this.transport.sendRtp(buf, n)) return false;
    if (this.ext.transportCc) this.transport.twcc?.onSent(n);
    return true;
  }

  /** Writes header (own SSRC/PT/seq/ts, subscriber's extension IDs) and payload into `out`. Returns the length. */
  private build(out: Buffer, src: Uint8Array, view: RtpHeaderView, pt: number, seq: number, ts: number, marker: boolean, now: number): number {
    out[0] = 0x80;
    out[1] = (marker ? 0x80 : 0) | pt;
    out[2] = (seq >> 8) & 0xff;
    out[3] = seq & 0xff;
    out.writeUInt32BE(ts, 4);
    out.writeUInt32BE(this.ssrc, 8);
    const e = this.ext;
    let hdr = 12;
    const twcc = e.transportCc ? this.transport.twcc : undefined;
    if (e.mid || e.absSendTime || twcc || e.audioLevel || e.dependencyDescriptor || e.videoOrientation) {
      const receiverExt = this.receiver.extensions;
      let ddOff = -1;
      let ddLen = 0;
      if (e.dependencyDescriptor && receiverExt.dependencyDescriptor) {
        ddOff = view.findExtension(src, receiverExt.dependencyDescriptor);
        ddLen = view.elementLength;
      }
      // A dependency descriptor longer than 16 bytes needs the two-byte header form.
      extWriter.begin(out, 0, ddOff >= 0 && ddLen > 16);
      if (e.mid && this.midBytes.length) extWriter.addBytes(e.mid, this.midBytes, 0, this.midBytes.length);
      if (e.absSendTime) extWriter.addUint24(e.absSendTime, absSendTime24(now));
      // The number is used up only when the packet leaves (sent()): a packet that is built but not sent reuses it.
      if (twcc) extWriter.addUint16(e.transportCc, twcc.nextSeq);
      if (e.audioLevel && receiverExt.audioLevel) {
        const off = view.findExtension(src, receiverExt.audioLevel);
        if (off >= 0) extWriter.addUint8(e.audioLevel, src[off]!);
      }
      if (ddOff >= 0) extWriter.addBytes(e.dependencyDescriptor, src, ddOff, ddLen);
      if (e.videoOrientation && receiverExt.videoOrientation) {
        const off = view.findExtension(src, receiverExt.videoOrientation);
        if (off >= 0) extWriter.addUint8(e.videoOrientation, src[off]!);
      }
      hdr = extWriter.end();
      if (hdr < 0) return -1;
    }
    const body = view.payloadLength + view.paddingLength;
    if (hdr + body > out.length) return -1;
    // History entries are Uint8Array views, not Buffers: Buffer's copy works on any Uint8Array without allocating.
    bufferCopy.call(src, out, hdr, view.payloadOffset, view.payloadOffset + body);
    if (view.paddingLength > 0) out[0]! |= 0x20;
    return hdr + body;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Feedback from the subscriber

  /** Retransmits NACKed packets (outgoing sequence numbers) from the receiver's history. */
  onNack(lost: ArrayLike<number>, count: number, now: number): void {
    if (!this.ready || this.closed) return;
    // Don't resend the same packet more often than about once per round trip (a subscriber repeats its NACK until the
    // packet arrives). Before the first receiver report there is no RTT: 10 ms keeps several tries inside the ~50 ms
    // a receiver keeps asking.
    const minInterval = this.stats.rttMs > 0 ? Math.max(5, this.stats.rttMs) : 10;
    for (let i = 0; i < count; i++) {
      const slot = this.sequencer.forNack(lost[i]!, now, minInterval);
      if (slot < 0) continue;
      const sb = this.receiver.layers[this.sequencer.layer[slot]!];
      const src = sb?.history.get(this.sequencer.srcSeq[slot]!);
      if (!src || !nackView.parse(src, 0, src.length)) continue;
      const outPt = this.ptMap[nackView.payloadType]!;
      if (outPt < 0) continue;
      const outSeq = lost[i]! & 0xffff;
      const n = this.build(scratch, src, nackView, outPt, outSeq, this.sequencer.outTs[slot]!, this.sequencer.marker[slot] === 1, now);
      if (n < 0) continue;
      if (this.munger !== undefined && this.sequencer.pictureId[slot]! >= 0) {
        const hdr = n - nackView.payloadLength - nackView.paddingLength;
        if (vp8.parse(scratch, hdr, nackView.payloadLength)) {
          vp8WritePictureId(scratch, vp8, this.sequencer.pictureId[slot]!);
          if (this.sequencer.tl0PicIdx[slot]! >= 0) vp8WriteTl0PicIdx(scratch, vp8, this.sequencer.tl0PicIdx[slot]!);
          if (this.sequencer.keyIdx[slot]! >= 0) vp8WriteKeyIdx(scratch, vp8, this.sequencer.keyIdx[slot]!);
        }
      }
      const rtxPt = this.rtxPtMap[nackView.payloadType]!;
      if (rtxPt >= 0 && this.rtxSsrc) {
        const m = rtxWrap(scratch, 0, n, rtxScratch, 0, rtxPt, this.rtxSsrc, this.rtxSeq);
        this.rtxSeq = (this.rtxSeq + 1) & 0xffff;
        if (m > 0) this.sent(rtxScratch, m);
      } else {
        this.sent(scratch, n);
      }
      this.stats.retransmits++;
    }
  }

  /** PLI/FIR from the subscriber. */
  onKeyframeRequest(now: number): void {
    if (!this.ready || !this.isVideo) return;
    this.stats.keyframeRequests++;
    this.receiver.requestKeyframe(this.currentLayer >= 0 ? this.currentLayer : this.targetLayer, now);
  }

  onReceiverReport(block: RtcpReportBlock, now: number): void {
    if (block.lastSr !== 0 && block.lastSr === this.lastSrNtpMiddle) {
      const rtt = rttFromReport(now, block.lastSr, block.delaySinceLastSr);
      if (rtt >= 0 && rtt < 10_000) this.stats.rttMs = rtt;
    }
    this.stats.fractionLost = block.fractionLost / 256;
    this.stats.jitterMs = (block.jitter * 1000) / this.clockRate;
  }

  /** Writes a sender report for this track into buf at off; returns its length (0 when there is nothing to report). */
  writeSenderReport(buf: Buffer, off: number, now: number): number {
    if (!this.started || this.closed) return 0;
    const sb = this.currentLayer >= 0 ? this.receiver.layers[this.currentLayer] : undefined;
    // Map "now" to the outgoing timeline: through the publisher's own sender report when there is one (keeps audio and
    // video of one publisher in sync at the subscriber), else by extrapolating from the last packet sent.
    const rtpTs = sb?.hasSenderReport
      ? (sb.rtpTimestampAt(now) - this.tsOffset) >>> 0
      : (this.lastOutTs + Math.round(((now - this.lastSentAt) * this.clockRate) / 1000)) >>> 0;
    msToNtp(now, ntp);
    const n = writeSenderReport(buf, off, this.ssrc, ntp.sec, ntp.frac, rtpTs, this.stats.packetsSent, this.stats.octetsSent);
    if (n > 0) {
      this.lastSrNtpMiddle = ntpMiddle32(ntp.sec, ntp.frac);
      this.lastSrSentAt = now;
    }
    return n;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ready = false;
    this.receiver.removeSink(this);
    this.transport.forgetSsrc(this.ssrc);
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
