// The peer connection a client publishes on: it answers the client's offers, reports the m-lines it carries
// (mid, kind, msid track id, codecs), and owns the Receivers attached to them.
import type { RTCRtpCodecParameters, RTCRtpTransceiver } from 'werift';
import { PeerTransport, type PeerTransportOptions } from '../transport/PeerTransport.js';
import { parseMediaSections, type MediaSection } from '../transport/sdp.js';
import { PublisherIngest } from '../receiver/PublisherIngest.js';
import { Receiver, type ReceiverExtensionIds } from '../receiver/Receiver.js';
import { negotiatedCodecs, type NegotiatedCodec } from '../media/codec.js';
import { EXT } from '../werift/config.js';

export interface PublishedSection {
  mid: string;
  kind: 'audio' | 'video';
  /** The msid track id: LiveKit clients put the MediaStreamTrack id (AddTrackRequest.cid) there. */
  trackId?: string;
  streamId?: string;
  codecs: NegotiatedCodec[];
  /** RIDs of its simulcast layers (empty when not simulcast). */
  rids: string[];
  direction: MediaSection['direction'];
}

/**
 * Something else that lives on this connection's m-lines: single-PC subscriptions (SinglePcSubscriber), which put
 * Kite's down tracks on the recvonly m-lines the client offers. Told about every offer Kite answers.
 */
export interface AnswerHooks {
  /** The offer is applied and the answer not created yet: set the directions and msids of the m-lines it owns. */
  beforeAnswer(offer: MediaSection[]): void;
  /** The answer is now the local description. */
  afterAnswer(): void;
}

export interface PublisherPeerOptions extends PeerTransportOptions {
  /** REMB announced to the publisher (bits/s). */
  rembBitrate?: number;
}

export class PublisherPeer {
  readonly transport: PeerTransport;
  readonly ingest: PublisherIngest;
  private readonly receivers = new Map<string, Receiver>();
  private sections: PublishedSection[] = [];
  private hooks: AnswerHooks | undefined;

  constructor(opts: PublisherPeerOptions) {
    this.transport = new PeerTransport(opts);
    this.ingest = new PublisherIngest(this.transport, {
      resolveMid: (mid) => this.receivers.get(mid),
      extensionIds: { mid: 0, rid: 0, repairedRid: 0 },
      rembBitrate: opts.rembBitrate,
    });
  }

  /** Lets `hooks` take part in every answer (single-PC mode: the subscriptions on this connection). */
  setAnswerHooks(hooks: AnswerHooks): void {
    this.hooks = hooks;
  }

  /**
   * Answers the client's offer; afterwards `sections` describes every m-line. `preferredCodec` names the codec a
   * track was published with (AddTrackRequest), so the answer lists it first and the client sends with it.
   */
  async answer(offerSdp: string, preferredCodec?: (section: { mid: string; trackId?: string; kind: string }) => string | undefined): Promise<string> {
    const parsed = parseMediaSections(offerSdp);
    const answer = await this.transport.answer(offerSdp, () => {
      if (preferredCodec) this.preferCodecs(parsed, preferredCodec);
      this.hooks?.beforeAnswer(parsed);
    });
    this.ingest.learnSdpSsrcs(parsed);
    const byMid = new Map<string, RTCRtpTransceiver>();
    for (const t of this.transport.pc.getTransceivers()) if (t.mid !== null) byMid.set(t.mid, t);
    this.sections = [];
    let extIds = { mid: 0, rid: 0, repairedRid: 0 };
    for (const s of parsed) {
      if (s.kind !== 'audio' && s.kind !== 'video') continue;
      const t = byMid.get(s.mid);
      if (!t) continue;
      const ids = extensionIds(t);
      if (ids.mid) extIds = { mid: ids.mid, rid: ids.rid || extIds.rid, repairedRid: ids.repairedRid || extIds.repairedRid };
      this.sections.push({
        mid: s.mid,
        kind: s.kind,
        trackId: s.trackId,
        streamId: s.streamId,
        codecs: negotiatedCodecs(t.codecs),
        rids: s.sendRids,
        direction: s.direction,
      });
    }
    this.ingest.setExtensionIds(extIds);
    this.hooks?.afterAnswer();
    return answer;
  }

  /**
   * werift answers with its own codec order (the client then sends with Kite's first codec, VP8); as LiveKit does, the
   * codec a track was announced with goes first on its transceiver, the others stay negotiable behind it.
   */
  private preferCodecs(parsed: MediaSection[], preferredCodec: (section: { mid: string; trackId?: string; kind: string }) => string | undefined): void {
    const configured = (this.transport.pc as unknown as { config: { codecs: Record<string, RTCRtpCodecParameters[] | undefined> } }).config.codecs;
    for (const t of this.transport.pc.getTransceivers()) {
      const s = parsed.find((x) => x.mid === t.mid);
      const local = s ? configured[s.kind] : undefined;
      const mime = s && local ? preferredCodec(s)?.toLowerCase() : undefined;
      if (!mime || !local) continue;
      const first = local.filter((c) => c.mimeType.toLowerCase() === mime);
      if (first.length === 0 || local[0]!.mimeType.toLowerCase() === mime) continue;
      t.setCodecPreferences([...first, ...local.filter((c) => !first.includes(c))]);
    }
  }

  /** The m-lines of the last negotiation on which the client sends media. */
  get publishedSections(): PublishedSection[] {
    return this.sections.filter((s) => s.direction === 'sendonly' || s.direction === 'sendrecv');
  }

  section(mid: string): PublishedSection | undefined {
    return this.sections.find((s) => s.mid === mid);
  }

  /** Creates the Receiver for an m-line (once the track it carries is known). */
  attachReceiver(mid: string, trackSid: string): Receiver | undefined {
    const existing = this.receivers.get(mid);
    if (existing) return existing;
    const s = this.section(mid);
    if (!s) return undefined;
    const t = this.transport.pc.getTransceivers().find((x) => x.mid === mid);
    const ids = t ? extensionIds(t) : undefined;
    const extensions: ReceiverExtensionIds = {
      audioLevel: ids?.audioLevel ?? 0,
      dependencyDescriptor: ids?.dependencyDescriptor ?? 0,
      videoOrientation: ids?.videoOrientation ?? 0,
    };
    const receiver = new Receiver({
      trackSid,
      kind: s.kind,
      codecs: s.codecs,
      extensions,
      simulcast: s.rids.length > 1,
      sendPli: (ssrc) => this.ingest.sendPli(ssrc),
    });
    this.receivers.set(mid, receiver);
    return receiver;
  }

  receiver(mid: string): Receiver | undefined {
    return this.receivers.get(mid);
  }

  /** Stops a track's receiver (unpublish); its down tracks close with it. */
  detachReceiver(mid: string): void {
    const r = this.receivers.get(mid);
    if (!r) return;
    this.receivers.delete(mid);
    this.ingest.removeReceiver(r);
    r.close();
  }

  async close(): Promise<void> {
    for (const mid of [...this.receivers.keys()]) this.detachReceiver(mid);
    this.ingest.close();
    await this.transport.close();
  }
}

function extensionIds(t: RTCRtpTransceiver) {
  const ids: Record<string, number> = {};
  for (const e of t.headerExtensions) ids[e.uri] = e.id;
  return {
    mid: ids[EXT.mid] ?? 0,
    rid: ids[EXT.rid] ?? 0,
    repairedRid: ids[EXT.repairedRid] ?? 0,
    audioLevel: ids[EXT.audioLevel] ?? 0,
    dependencyDescriptor: ids[EXT.dependencyDescriptor] ?? 0,
    videoOrientation: ids[EXT.videoOrientation] ?? 0,
  };
}
