// Where a video packet's spatial/temporal layer ids come from: the dependency descriptor when the publisher sends one
// (Chrome does for every video codec once it is negotiated, and then leaves TID out of the VP8 descriptor), else the
// VP9 payload descriptor. VP8 without a dependency descriptor keeps TID in its own descriptor (read by the down track).
import type { RtpHeaderView } from '../rtp/packet.js';
import { CodecKind } from '../media/codec.js';
import type { Receiver } from './Receiver.js';
import type { StreamBuffer } from './StreamBuffer.js';

/** Fills sb.spatialId/temporalId/frameStart/frameEnd for the packet in `buf` (parsed in `view`). */
export function readLayerInfo(receiver: Receiver, sb: StreamBuffer, buf: Uint8Array, view: RtpHeaderView): void {
  const ddId = receiver.extensions.dependencyDescriptor;
  const ddOff = ddId > 0 ? view.findExtension(buf, ddId) : -1;
  const vp9 = ddOff < 0 && receiver.codecByPt.get(view.payloadType)?.kind === CodecKind.VP9;
  sb.readLayerInfo(buf, ddOff, ddOff >= 0 ? view.elementLength : 0, vp9 ? view.payloadOffset : -1, view.payloadLength);
}
