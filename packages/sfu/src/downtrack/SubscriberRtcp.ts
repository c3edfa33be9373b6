// RTCP on a subscriber transport: feedback from the subscriber (NACK, PLI/FIR, receiver reports, REMB) is routed to
// the down track that owns the SSRC, TWCC feedback to the transport's estimator; sender reports for every down track
// go out once a second.
import { NackIterator, RtcpKind, RtcpReader } from '../rtp/rtcp.js';
import type { PeerTransport } from '../transport/PeerTransport.js';
import { TwccSender } from '../bwe/TwccSender.js';
import { StreamAllocator } from './StreamAllocator.js';
import type { DownTrack } from './DownTrack.js';

const REPORT_INTERVAL_MS = 1000;
const rtcpOut = Buffer.allocUnsafe(1400);
const lost = new Uint16Array(1024);

export class SubscriberRtcp {
  private readonly bySsrc = new Map<number, DownTrack>();
  private readonly reader = new RtcpReader();
  private readonly nackIt = new NackIterator();
  private readonly timer: NodeJS.Timeout;
  /** The subscriber's receive-side estimate (REMB), bits/s; 0 until reported (clients send it without transport-cc). */
  estimatedBitrate = 0;
  /** Kite's own estimate of this subscriber's downlink, from the TWCC feedback on what Kite sends. */
  readonly twcc: TwccSender;
  /** Fits the subscriber's video into that estimate. */
  readonly allocator: StreamAllocator;

  constructor(private readonly transport: PeerTransport) {
    this.twcc = transport.twcc ??= new TwccSender();
    this.allocator = new StreamAllocator(this.twcc, () => this.downTracks);
    // Single-PC mode: the transport also carries the client's published tracks, whose ingest reads the same RTCP
    // (sender reports) first. Both only read the packet.
    const ingest = transport.rtcpSink;
    transport.rtcpSink = ingest
      ? (buf, len) => {
          ingest(buf, len);
          this.onRtcp(buf, len);
        }
      : (buf, len) => this.onRtcp(buf, len);
    this.timer = setInterval(() => this.report(), REPORT_INTERVAL_MS);
    this.timer.unref();
  }

  add(dt: DownTrack): void {
    this.bySsrc.set(dt.ssrc, dt);
    if (dt.rtxSsrc) this.bySsrc.set(dt.rtxSsrc, dt);
  }

  remove(dt: DownTrack): void {
    for (const [ssrc, d] of this.bySsrc) if (d === dt) this.bySsrc.delete(ssrc);
  }

  get downTracks(): DownTrack[] {
    return [...new Set(this.bySsrc.values())];
  }

  private onRtcp(buf: Buffer, len: number): void {
    const r = this.reader.reset(buf, 0, len);
    const now = Date.now();
    for (let k = r.next(); k !== RtcpKind.End; k = r.next()) {
      switch (k) {
        case RtcpKind.Nack: {
          const dt = this.bySsrc.get(r.nack.mediaSsrc);
          if (!dt) break;
          const it = this.nackIt.reset(r.buf, r.nack.fciOffset, r.nack.fciLength);
          let n = 0;
          for (let seq = it.next(); seq >= 0 && n < lost.length; seq = it.next()) lost[n++] = seq;
          dt.onNack(lost, n, now);
          break;
        }
        case RtcpKind.Pli:
          this.bySsrc.get(r.pli.mediaSsrc)?.onKeyframeRequest(now);
          break;
        case RtcpKind.Fir:
          for (let i = 0; i < r.fir.entryCount; i++) this.bySsrc.get(r.fir.ssrcs[i]!)?.onKeyframeRequest(now);
          break;
        case RtcpKind.ReceiverReport:
          for (let i = 0; i < r.rr.reportCount; i++) this.bySsrc.get(r.rr.reports[i]!.ssrc)?.onReceiverReport(r.rr.reports[i]!, now);
          break;
        case RtcpKind.SenderReport:
          for (let i = 0; i < r.sr.reportCount; i++) this.bySsrc.get(r.sr.reports[i]!.ssrc)?.onReceiverReport(r.sr.reports[i]!, now);
          break;
        case RtcpKind.Remb:
          this.estimatedBitrate = r.remb.bitrate;
          break;
        case RtcpKind.TransportCc:
          this.twcc.onFeedback(r.buf, r.transportCc.fciOffset, r.transportCc.fciLength, now);
          break;
      }
    }
  }

  private report(): void {
    if (!this.transport.isConnected) return;
    const now = Date.now();
    let off = 0;
    for (const dt of new Set(this.bySsrc.values())) {
      dt.tick(now);
      if (off + 28 > rtcpOut.length) {
        this.transport.sendRtcp(rtcpOut, off);
        off = 0;
      }
      off += dt.writeSenderReport(rtcpOut, off, now);
    }
    if (off > 0) this.transport.sendRtcp(rtcpOut, off);
  }

  close(): void {
    clearInterval(this.timer);
    this.allocator.close();
    this.bySsrc.clear();
  }
}
