// Everything a publisher sends on one transport enters here: RTP is demultiplexed by SSRC (learned once from the MID,
// RID and repaired-RID header extensions, or from the SDP's a=ssrc lines) into the right Receiver and layer, RTX is
// unwrapped into its original stream, and RTCP toward the publisher (NACK, receiver reports, REMB, PLI) goes out here.
import { RtpHeaderView } from '../rtp/packet.js';
import { rtxUnwrap } from '../rtp/rtx.js';
import { RtcpKind, RtcpReader, RtcpReportBlock, writeNack, writePli, writeReceiverReport, writeRemb } from '../rtp/rtcp.js';
import { isKeyframe } from '../media/codec.js';
import { readLayerInfo } from './layerInfo.js';
import type { PeerTransport } from '../transport/PeerTransport.js';
import type { Receiver } from './Receiver.js';
import type { StreamBuffer } from './StreamBuffer.js';
import { readAudioLevel } from '../rtp/packet.js';

/** LiveKit's simulcast RIDs: q (quarter) = layer 0, h (half) = 1, f (full) = 2; some clients use 0/1/2 or 2/1/0. */
export function ridToLayer(rid: string): number {
  switch (rid) {
    case 'q':
    case '0':
      return 0;
    case 'h':
    case '1':
      return 1;
    case 'f':
    case '2':
      return 2;
    default:
      return 0;
  }
}

interface Route {
  receiver: Receiver;
  /** Primary stream buffer, or the repaired stream's buffer for an RTX route (resolved lazily). */
  sb: StreamBuffer | undefined;
  layer: number;
  rtx: boolean;
}

export interface IngestOptions {
  /** The receiver for an m-line, once the track it carries is known. */
  resolveMid: (mid: string) => Receiver | undefined;
  /** Header extension IDs the publisher negotiated (from its offer). 0 = not negotiated. */
  extensionIds: { mid: number; rid: number; repairedRid: number };
  /** Upper bound announced with REMB until Kite estimates bandwidth itself (bits/s). */
  rembBitrate?: number;
}

/** How often missing packets are NACKed upstream: a subscriber's own NACKs give up after ~50 ms, so recovery must be quick. */
const NACK_INTERVAL_MS = 10;
const REPORT_INTERVAL_MS = 1000;
const DEFAULT_REMB = 6_000_000;

// Scratch space shared by all ingests: processing is synchronous, one packet at a time.
const rtxScratch = Buffer.allocUnsafe(1500);
const rtcpOut = Buffer.allocUnsafe(1500);
const lostScratch = new Uint16Array(512);
const midDecoder = new TextDecoder();

export class PublisherIngest {
  private readonly routes = new Map<number, Route>();
  /** SSRCs announced in the SDP (a=ssrc), for streams without MID/RID extensions. */
  private readonly sdpSsrcs = new Map<number, { mid: string; rtxOf?: number }>();
  private readonly view = new RtpHeaderView();
  private readonly rtxView = new RtpHeaderView();
  private readonly rtcpReader = new RtcpReader();
  private readonly reportBlock = new RtcpReportBlock();
  private readonly senderSsrc = (Math.random() * 0xffffffff) >>> 0;
  private readonly nackTimer: NodeJS.Timeout;
  private readonly reportTimer: NodeJS.Timeout;
  unknownPackets = 0;

  constructor(
    private readonly transport: PeerTransport,
    private readonly opts: IngestOptions,
  ) {
    transport.rtpSink = (buf, len) => this.onRtp(buf, len);
    transport.rtcpSink = (buf, len) => this.onRtcp(buf, len);
    this.nackTimer = setInterval(() => this.sendNacks(), NACK_INTERVAL_MS);
    this.nackTimer.unref();
    this.reportTimer = setInterval(() => this.sendReports(), REPORT_INTERVAL_MS);
    this.reportTimer.unref();
  }

  setExtensionIds(ids: IngestOptions['extensionIds']): void {
    this.opts.extensionIds = ids;
  }

  /** SSRCs from the publisher's SDP: `a=ssrc` per m-line and FID groups (primary, rtx). */
  learnSdpSsrcs(sections: { mid: string; ssrcs: number[]; ssrcGroups: { semantics: string; ssrcs: number[] }[] }[]): void {
    for (const s of sections) {
      for (const ssrc of s.ssrcs) if (!this.sdpSsrcs.has(ssrc)) this.sdpSsrcs.set(ssrc, { mid: s.mid });
      for (const g of s.ssrcGroups) {
        if (g.semantics === 'FID' && g.ssrcs.length === 2) this.sdpSsrcs.set(g.ssrcs[1]!, { mid: s.mid, rtxOf: g.ssrcs[0] });
      }
    }
  }

  /** Forget the routes of a receiver (track unpublished). */
  removeReceiver(receiver: Receiver): void {
    for (const [ssrc, r] of this.routes) if (r.receiver === receiver) this.routes.delete(ssrc);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // RTP

  private onRtp(buf: Buffer, len: number): void {
    const view = this.view;
    if (!view.parse(buf, 0, len)) return;
    let route = this.routes.get(view.ssrc);
    if (route === undefined) {
      route = this.identify(buf, view);
      if (route === undefined) {
        this.unknownPackets++;
        return;
      }
    }
    const now = Date.now();
    if (route.rtx) {
      this.onRtx(route, buf, view, now);
      return;
    }
    this.process(route.receiver, route.sb!, buf, len, view, now, false);
  }

  private process(receiver: Receiver, sb: StreamBuffer, buf: Buffer, len: number, view: RtpHeaderView, now: number, retransmission: boolean): void {
    const codec = receiver.codecByPt.get(view.payloadType);
    if (codec === undefined) return; // a payload type this m-line did not negotiate
    const keyframe = view.payloadLength > 0 && isKeyframe(codec.kind, buf, view.payloadOffset, view.payloadLength);
    const prevTs = sb.lastTimestamp;
    if (!sb.onPacket(buf, len, view.sequenceNumber, view.timestamp, now, keyframe, retransmission, view.marker)) return;
    if (receiver.onAudioLevel !== undefined && receiver.extensions.audioLevel > 0) {
      const off = view.findExtension(buf, receiver.extensions.audioLevel);
      if (off >= 0) {
        // Duration from the timestamp step (20 ms for typical Opus), bounded against gaps and reordering.
        const step = prevTs < 0 ? 0 : ((view.timestamp - prevTs) >>> 0) / (sb.clockRate / 1000);
        receiver.onAudioLevel(readAudioLevel(buf, off), step > 0 && step <= 120 ? step : 20);
      }
    }
    if (!retransmission) sb.lastTimestamp = view.timestamp;
    // The layer ids of this packet, read once here for every down track.
    if (sb.video) readLayerInfo(receiver, sb, buf, view);
    receiver.onPacket(sb, buf, len, view, keyframe, now);
  }

  private onRtx(route: Route, buf: Buffer, view: RtpHeaderView, now: number): void {
    // Padding-only RTX packets are bandwidth probes: nothing to recover.
    if (view.payloadLength <= 2) return;
    const receiver = route.receiver;
    let sb = route.sb;
    if (sb === undefined) {
      sb = receiver.layers[route.layer];
      if (sb === undefined) return;
      route.sb = sb;
      sb.rtxSsrc = view.ssrc;
    }
    // The original payload type is the one whose RTX payload type this is.
    let originalPt = -1;
    for (const c of receiver.codecByPt.values()) if (c.rtxPayloadType === view.payloadType) originalPt = c.payloadType;
    if (originalPt < 0) return;
    const n = rtxUnwrap(buf, view.offset, view.length, rtxScratch, 0, originalPt, sb.ssrc);
    if (n <= 0) return;
    const rv = this.rtxView;
    if (!rv.parse(rtxScratch, 0, n)) return;
    this.process(receiver, sb, rtxScratch, n, rv, now, true);
  }

  /** First packet of an SSRC: find its track and layer. */
  private identify(buf: Buffer, view: RtpHeaderView): Route | undefined {
    const ids = this.opts.extensionIds;
    const mid = this.readString(buf, view, ids.mid) ?? this.sdpSsrcs.get(view.ssrc)?.mid;
    if (mid === undefined) return undefined;
    const receiver = this.opts.resolveMid(mid);
    if (receiver === undefined) return undefined;
    const rid = this.readString(buf, view, ids.rid);
    const rrid = this.readString(buf, view, ids.repairedRid);
    const codec = receiver.codecByPt.get(view.payloadType);
    let route: Route;
    if (rrid !== undefined) {
      route = { receiver, sb: undefined, layer: ridToLayer(rrid), rtx: true };
    } else if (codec === undefined) {
      // Not a media payload type: RTX of a non-simulcast track (paired by the SDP's FID group, else layer 0).
      const isRtxPt = [...receiver.codecByPt.values()].some((c) => c.rtxPayloadType === view.payloadType);
      if (!isRtxPt) return undefined;
      const primary = this.sdpSsrcs.get(view.ssrc)?.rtxOf;
      const layer = primary !== undefined ? (this.routes.get(primary)?.layer ?? 0) : 0;
      route = { receiver, sb: undefined, layer, rtx: true };
    } else {
      const layer = rid !== undefined ? ridToLayer(rid) : 0;
      route = { receiver, sb: receiver.layerBuffer(layer, view.ssrc, codec.clockRate), layer, rtx: false };
    }
    this.routes.set(view.ssrc, route);
    return route;
  }

  private readString(buf: Buffer, view: RtpHeaderView, id: number): string | undefined {
    if (id <= 0) return undefined;
    const off = view.findExtension(buf, id);
    if (off < 0 || view.elementLength === 0) return undefined;
    return midDecoder.decode(buf.subarray(off, off + view.elementLength));
  }

  // ---------------------------------------------------------------------------------------------------------------
  // RTCP from the publisher

  private onRtcp(buf: Buffer, len: number): void {
    const r = this.rtcpReader.reset(buf, 0, len);
    const now = Date.now();
    for (let k = r.next(); k !== RtcpKind.End; k = r.next()) {
      if (k === RtcpKind.SenderReport) {
        const route = this.routes.get(r.sr.ssrc);
        route?.sb?.onSenderReport(r.sr.ntpSec, r.sr.ntpFrac, r.sr.rtpTimestamp, now);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // RTCP to the publisher

  /** A keyframe request for one of the publisher's SSRCs. */
  sendPli(ssrc: number): void {
    const n = writePli(rtcpOut, 0, this.senderSsrc, ssrc);
    if (n > 0) this.transport.sendRtcp(rtcpOut, n);
  }

  private sendNacks(): void {
    if (!this.transport.isConnected) return;
    const now = Date.now();
    let off = 0;
    for (const route of this.routes.values()) {
      const sb = route.sb;
      if (route.rtx || !sb?.nack || sb.nack.outstanding === 0) continue;
      const count = sb.nack.getNacks(now, lostScratch);
      if (count === 0) continue;
      if (off + 12 + count * 4 > rtcpOut.length) break;
      const n = writeNack(rtcpOut, off, this.senderSsrc, sb.ssrc, lostScratch, count);
      if (n > 0) off += n;
      if (sb.nack.takeKeyframeNeeded()) route.receiver.requestKeyframe(sb.layer, now);
    }
    if (off > 0) this.transport.sendRtcp(rtcpOut, off);
  }

  private sendReports(): void {
    if (!this.transport.isConnected) return;
    const now = Date.now();
    const blocks: RtcpReportBlock[] = [];
    const videoSsrcs: number[] = [];
    for (const route of this.routes.values()) {
      const sb = route.sb;
      if (route.rtx || !sb) continue;
      const b = new RtcpReportBlock();
      if (sb.stats.fillReportBlock(b, sb.ssrc, now)) blocks.push(b);
      if (sb.video) videoSsrcs.push(sb.ssrc);
    }
    if (blocks.length === 0) return;
    let off = 0;
    // At most 31 report blocks per RR; more go in further RRs of the same compound packet.
    for (let i = 0; i < blocks.length; i += 31) {
      const n = writeReceiverReport(rtcpOut, off, this.senderSsrc, blocks.slice(i, i + 31));
      if (n < 0) break;
      off += n;
    }
    if (videoSsrcs.length) {
      const n = writeRemb(rtcpOut, off, this.senderSsrc, this.opts.rembBitrate ?? DEFAULT_REMB, videoSsrcs);
      if (n > 0) off += n;
    }
    this.transport.sendRtcp(rtcpOut, off);
    void this.reportBlock;
  }

  close(): void {
    clearInterval(this.nackTimer);
    clearInterval(this.reportTimer);
    this.routes.clear();
  }
}
