// One published track: its incoming streams (one StreamBuffer per simulcast layer), the down tracks it feeds, and
// keyframe requests toward the publisher. The forwarding hot path goes through `onPacket`.
import type { RtpHeaderView } from '../rtp/packet.js';
import type { NegotiatedCodec } from '../media/codec.js';
import { StreamBuffer } from './StreamBuffer.js';

/** What a receiver feeds: DownTrack implements it. */
export interface PacketSink {
  write(sb: StreamBuffer, buf: Buffer, len: number, view: RtpHeaderView, keyframe: boolean, now: number): void;
  /** The highest layer this sink wants now (−1: none, e.g. paused). Dynacast takes the maximum over all sinks. */
  readonly requestedLayer?: number;
  /** A layer appeared or disappeared (simulcast): the sink may change its target. */
  onLayersChanged?(): void;
  close(): void;
}

export interface ReceiverOptions {
  trackSid: string;
  kind: 'audio' | 'video';
  /** The codecs negotiated on the publisher's m-line (payload type → codec). */
  codecs: NegotiatedCodec[];
  /** Header extension IDs on the publisher's m-line for the extensions Kite copies downstream. */
  extensions: ReceiverExtensionIds;
  simulcast: boolean;
  /** Sends a keyframe request (PLI) for a publisher SSRC. */
  sendPli: (ssrc: number) => void;
}

export interface ReceiverExtensionIds {
  audioLevel: number;
  dependencyDescriptor: number;
  videoOrientation: number;
}

/** Minimum spacing of keyframe requests per layer: a PLI storm makes encoders spend all their bits on keyframes. */
const PLI_THROTTLE_MS = 500;
export const MAX_LAYERS = 3;

export class Receiver {
  readonly trackSid: string;
  readonly kind: 'audio' | 'video';
  readonly simulcast: boolean;
  readonly extensions: ReceiverExtensionIds;
  /** payload type → codec. */
  readonly codecByPt = new Map<number, NegotiatedCodec>();
  readonly layers: (StreamBuffer | undefined)[] = new Array(MAX_LAYERS).fill(undefined);
  private sinks: PacketSink[] = [];
  private readonly lastPli = new Float64Array(MAX_LAYERS);
  private readonly deferredPli: (NodeJS.Timeout | undefined)[] = new Array(MAX_LAYERS).fill(undefined);
  private readonly sendPli: (ssrc: number) => void;
  private closed = false;
  /** Set by the owner: called once when the first packet arrives (the track becomes visible to others). */
  onFirstPacket: (() => void) | undefined;
  /** Audio level observer (speaker detection) for audio tracks: level 0–127 (−dBov), packet duration in ms. */
  onAudioLevel: ((level: number, durationMs: number) => void) | undefined;
  /** A sink came, went, or changed what it wants (dynacast re-evaluates). */
  onSinksChanged: (() => void) | undefined;
  private firstPacketSeen = false;
  packets = 0;
  bytes = 0;

  constructor(opts: ReceiverOptions) {
    this.trackSid = opts.trackSid;
    this.kind = opts.kind;
    this.simulcast = opts.simulcast;
    this.extensions = opts.extensions;
    this.sendPli = opts.sendPli;
    for (const c of opts.codecs) this.codecByPt.set(c.payloadType, c);
  }

  /** The primary codec (first negotiated). */
  get codec(): NegotiatedCodec | undefined {
    return this.codecByPt.values().next().value;
  }

  get sinkCount(): number {
    return this.sinks.length;
  }

  /** Creates (or returns) the stream buffer for a layer. */
  layerBuffer(layer: number, ssrc: number, clockRate: number): StreamBuffer {
    let sb = this.layers[layer];
    if (sb && sb.ssrc === ssrc) return sb;
    sb = new StreamBuffer({ ssrc, layer, clockRate, video: this.kind === 'video' });
    this.layers[layer] = sb;
    for (const s of this.sinks) s.onLayersChanged?.();
    return sb;
  }

  addSink(sink: PacketSink): void {
    if (this.closed) return;
    this.sinks = [...this.sinks, sink];
    this.onSinksChanged?.();
  }

  removeSink(sink: PacketSink): void {
    this.sinks = this.sinks.filter((s) => s !== sink);
    this.onSinksChanged?.();
  }

  /** Called by a sink whose wanted layer changed. */
  sinkChanged(): void {
    this.onSinksChanged?.();
  }

  /** The highest layer any sink wants (−1 when nobody wants video from this track). */
  maxRequestedLayer(): number {
    let max = -1;
    for (const s of this.sinks) {
      const l = s.requestedLayer ?? MAX_LAYERS - 1;
      if (l > max) max = l;
    }
    return max;
  }

  /** Hot path: one packet of layer `sb`, already recorded in its history. */
  onPacket(sb: StreamBuffer, buf: Buffer, len: number, view: RtpHeaderView, keyframe: boolean, now: number): void {
    this.packets++;
    this.bytes += len;
    if (!this.firstPacketSeen) {
      this.firstPacketSeen = true;
      this.onFirstPacket?.();
    }
    const sinks = this.sinks;
    for (let i = 0; i < sinks.length; i++) sinks[i]!.write(sb, buf, len, view, keyframe, now);
  }

  /** Asks the publisher for a keyframe on a layer (throttled). Falls back to the nearest existing layer. */
  requestKeyframe(layer: number, now = Date.now()): void {
    let l = Math.min(layer, MAX_LAYERS - 1);
    while (l > 0 && !this.layers[l]) l--;
    if (!this.layers[l]) l = this.layers.findIndex((x) => x !== undefined);
    const sb = l >= 0 ? this.layers[l] : undefined;
    if (!sb || this.kind !== 'video' || this.closed) return;
    const wait = PLI_THROTTLE_MS - (now - this.lastPli[l]!);
    if (wait <= 0) {
      this.lastPli[l] = now;
      this.sendPli(sb.ssrc);
      return;
    }
    // Throttled: ask once the window is over (a switch waiting for this keyframe should not wait for the next tick),
    // unless a keyframe arrived meanwhile.
    if (this.deferredPli[l]) return;
    const target = l;
    this.deferredPli[l] = setTimeout(() => {
      this.deferredPli[target] = undefined;
      const current = this.layers[target];
      if (this.closed || !current || current.lastKeyframeAt >= now) return;
      this.lastPli[target] = Date.now();
      this.sendPli(current.ssrc);
    }, wait);
    this.deferredPli[l]!.unref();
  }

  /** Highest layer that received a packet within `withinMs`. -1 if none. */
  highestActiveLayer(now: number, withinMs = 2000): number {
    for (let l = MAX_LAYERS - 1; l >= 0; l--) {
      const sb = this.layers[l];
      if (sb && now - sb.lastPacketAt < withinMs) return l;
    }
    return -1;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.deferredPli) if (t) clearTimeout(t);
    const sinks = this.sinks;
    this.sinks = [];
    for (const s of sinks) s.close();
  }
}
