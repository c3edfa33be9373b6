// Codec facts the forwarding path needs: what kind a MIME type is, and whether a packet starts a keyframe.
import { av1IsKeyframe } from '../rtp/codecs/av1.js';
import { h264IsKeyframe } from '../rtp/codecs/h264.js';
import { vp8IsKeyframe } from '../rtp/codecs/vp8.js';
import { vp9IsKeyframe } from '../rtp/codecs/vp9.js';

export const CodecKind = { Unknown: 0, Opus: 1, VP8: 2, VP9: 3, H264: 4, AV1: 5, Other: 6 } as const;
export type CodecKind = (typeof CodecKind)[keyof typeof CodecKind];

export function codecKindOf(mime: string): CodecKind {
  switch (mime.toLowerCase()) {
    case 'audio/opus':
      return CodecKind.Opus;
    case 'video/vp8':
      return CodecKind.VP8;
    case 'video/vp9':
      return CodecKind.VP9;
    case 'video/h264':
      return CodecKind.H264;
    case 'video/av1':
      return CodecKind.AV1;
    default:
      return CodecKind.Other;
  }
}

/** True when the RTP payload at buf[off, off+len) starts a keyframe (audio: always false). */
export function isKeyframe(kind: CodecKind, buf: Uint8Array, off: number, len: number): boolean {
  switch (kind) {
    case CodecKind.VP8:
      return vp8IsKeyframe(buf, off, len);
    case CodecKind.VP9:
      return vp9IsKeyframe(buf, off, len);
    case CodecKind.H264:
      return h264IsKeyframe(buf, off, len);
    case CodecKind.AV1:
      return av1IsKeyframe(buf, off, len);
    default:
      return false;
  }
}

/** A negotiated codec on one m-line: its payload type, and the payload type of its RTX stream if any. */
export interface NegotiatedCodec {
  mime: string;
  kind: CodecKind;
  payloadType: number;
  clockRate: number;
  fmtp: string;
  rtxPayloadType?: number;
}

/** Reads the negotiated codecs of a werift transceiver (after the negotiation completed). */
export function negotiatedCodecs(codecs: { mimeType: string; payloadType: number; clockRate: number; parameters?: string }[]): NegotiatedCodec[] {
  const out: NegotiatedCodec[] = [];
  const rtx = new Map<number, number>();
  for (const c of codecs) {
    if (c.mimeType.toLowerCase() === 'video/rtx') {
      const apt = /apt=(\d+)/.exec(c.parameters ?? '');
      if (apt) rtx.set(Number(apt[1]), c.payloadType);
    }
  }
  for (const c of codecs) {
    const mime = c.mimeType.toLowerCase();
    if (mime === 'video/rtx' || mime === 'audio/red' || mime === 'video/red' || mime === 'video/ulpfec') continue;
    out.push({ mime: c.mimeType, kind: codecKindOf(c.mimeType), payloadType: c.payloadType, clockRate: c.clockRate, fmtp: c.parameters ?? '', rtxPayloadType: rtx.get(c.payloadType) });
  }
  return out;
}
