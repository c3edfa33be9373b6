/**
 * RTX retransmission payload format (RFC 4588 §4): the RTX packet carries the original header fields except PT, SSRC
 * and sequence number (its own), and its payload starts with the 2-byte original sequence number (OSN) followed by
 * the original payload. Padding is not carried over in either direction (the P bit is cleared).
 *
 * Both functions write into a caller-provided buffer and return the new packet length, or -1 when the input is not a
 * valid RTP packet, an RTX packet has no OSN (e.g. a padding-only probe), or the output does not fit.
 * `dst` may be `src` at the same offset (in-place rewrite); other overlapping ranges are not supported.
 */

import { RtpHeaderView, copyBytes, setPayloadType, setSequenceNumber, setSsrc } from './packet.js';

const view = new RtpHeaderView();

/** Original sequence number of a parsed RTX packet, or -1 if it has no OSN. */
export function rtxOriginalSeq(buf: Uint8Array, v: RtpHeaderView): number {
  if (v.payloadLength < 2) return -1;
  return (buf[v.payloadOffset] << 8) | buf[v.payloadOffset + 1];
}

/** Rebuilds the original packet from the RTX packet src[srcOff, srcOff+srcLen) with the original PT and SSRC. */
export function rtxUnwrap(
  src: Uint8Array,
  srcOff: number,
  srcLen: number,
  dst: Uint8Array,
  dstOff: number,
  originalPt: number,
  originalSsrc: number,
): number {
  if (!view.parse(src, srcOff, srcLen) || view.payloadLength < 2) return -1;
  const hdr = view.headerLength;
  const plen = view.payloadLength - 2;
  const outLen = hdr + plen;
  if (dstOff < 0 || dstOff + outLen > dst.length) return -1;
  const osn = (src[view.payloadOffset] << 8) | src[view.payloadOffset + 1];
  copyBytes(src, srcOff, dst, dstOff, hdr);
  copyBytes(src, view.payloadOffset + 2, dst, dstOff + hdr, plen);
  dst[dstOff] &= ~0x20; // no padding
  setSequenceNumber(dst, dstOff, osn);
  setPayloadType(dst, dstOff, originalPt);
  setSsrc(dst, dstOff, originalSsrc);
  return outLen;
}

/** Wraps the packet src[srcOff, srcOff+srcLen) as RTX with its own PT, SSRC and sequence number. */
export function rtxWrap(
  src: Uint8Array,
  srcOff: number,
  srcLen: number,
  dst: Uint8Array,
  dstOff: number,
  rtxPt: number,
  rtxSsrc: number,
  rtxSeq: number,
): number {
  if (!view.parse(src, srcOff, srcLen)) return -1;
  const hdr = view.headerLength;
  const plen = view.payloadLength;
  const outLen = hdr + 2 + plen;
  if (dstOff < 0 || dstOff + outLen > dst.length) return -1;
  const osn = view.sequenceNumber;
  // Payload first: in place it moves right by 2 and must not be overwritten by the OSN.
  copyBytes(src, view.payloadOffset, dst, dstOff + hdr + 2, plen);
  copyBytes(src, srcOff, dst, dstOff, hdr);
  dst[dstOff + hdr] = osn >> 8;
  dst[dstOff + hdr + 1] = osn & 0xff;
  dst[dstOff] &= ~0x20;
  setSequenceNumber(dst, dstOff, rtxSeq);
  setPayloadType(dst, dstOff, rtxPt);
  setSsrc(dst, dstOff, rtxSsrc);
  return outLen;
}
