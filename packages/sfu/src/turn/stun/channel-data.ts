/** ChannelData messages (RFC 8656 §12.4) and stream framing of STUN + ChannelData over TCP/TLS (§12.5). */

import { CHANNEL_DATA_HEADER_LENGTH, CHANNEL_FRAME_NUMBER_MAX, CHANNEL_NUMBER_MIN, STUN_HEADER_LENGTH, STUN_MAGIC_COOKIE } from './constants.js';

/** True when `channel` is in the range whose first two bits are 01 (0x4000-0x7FFF). */
export function isChannelDataNumber(channel: number): boolean {
  return channel >= CHANNEL_NUMBER_MIN && channel <= CHANNEL_FRAME_NUMBER_MAX;
}

/**
 * Encodes a ChannelData message. `pad` rounds the message up to a multiple of 4 bytes (required over TCP/TLS,
 * optional over UDP). The length field always carries the unpadded data length.
 */
export function encodeChannelData(channel: number, data: Uint8Array, pad = false): Buffer {
  if (data.length > 0xffff) throw new RangeError('ChannelData payload too long');
  const len = CHANNEL_DATA_HEADER_LENGTH + (pad ? (data.length + 3) & ~3 : data.length);
  const buf = Buffer.allocUnsafe(len);
  buf.writeUInt16BE(channel & 0xffff, 0);
  buf.writeUInt16BE(data.length, 2);
  buf.set(data, CHANNEL_DATA_HEADER_LENGTH);
  buf.fill(0, CHANNEL_DATA_HEADER_LENGTH + data.length);
  return buf;
}

export type ChannelDataParseResult =
  | { ok: true; channel: number; data: Buffer }
  | { ok: false; error: 'too-short' | 'not-channel-data' | 'truncated' };

/** Parses a ChannelData message (bytes after the declared length, e.g. padding, are ignored). Never throws. */
export function parseChannelData(buf: Buffer): ChannelDataParseResult {
  if (buf.length < CHANNEL_DATA_HEADER_LENGTH) return { ok: false, error: 'too-short' };
  const channel = (buf[0] << 8) | buf[1];
  if (!isChannelDataNumber(channel)) return { ok: false, error: 'not-channel-data' };
  const len = (buf[2] << 8) | buf[3];
  if (CHANNEL_DATA_HEADER_LENGTH + len > buf.length) return { ok: false, error: 'truncated' };
  return { ok: true, channel, data: buf.subarray(CHANNEL_DATA_HEADER_LENGTH, CHANNEL_DATA_HEADER_LENGTH + len) };
}

/**
 * Size of the frame starting at `buf[offset]` on a stream transport: a STUN message (20 + length) or a ChannelData
 * message (4 + length rounded up to 4). Returns 0 when more bytes are needed to tell, -1 when the bytes cannot start
 * a frame (the stream is then unrecoverable).
 */
export function streamFrameLength(buf: Uint8Array, offset: number, end: number): number {
  const avail = end - offset;
  if (avail < 4) {
    if (avail >= 1 && (buf[offset] & 0xc0) !== 0 && (buf[offset] & 0xc0) !== 0x40) return -1;
    return 0;
  }
  const top = buf[offset] & 0xc0;
  const len = (buf[offset + 2] << 8) | buf[offset + 3];
  if (top === 0x40) return CHANNEL_DATA_HEADER_LENGTH + ((len + 3) & ~3);
  if (top !== 0) return -1;
  if ((len & 3) !== 0) return -1;
  if (avail >= 8) {
    const cookie = ((buf[offset + 4] << 24) | (buf[offset + 5] << 16) | (buf[offset + 6] << 8) | buf[offset + 7]) >>> 0;
    if (cookie !== STUN_MAGIC_COOKIE) return -1;
  }
  return STUN_HEADER_LENGTH + len;
}

/** Receives complete frames from a {@link StreamFramer}. */
export interface StreamFrameSink {
  /** Called once per frame; `frame` is only valid during the call (it may be a view into a reused buffer). */
  onFrame(frame: Buffer): void;
  /** Called once when the stream carries bytes that cannot be framed, or a frame exceeds the size cap. */
  onFrameError(reason: 'garbage' | 'too-large'): void;
}

/**
 * Splits a byte stream into STUN / ChannelData frames. Handles partial reads and many frames per chunk; never holds
 * more than `maxFrameSize` bytes of an incomplete frame, and never copies a byte twice (no quadratic re-concatenation
 * on slow drips). Frames handed to the sink are views into buffers that are never reused afterwards, so the sink may
 * keep them (e.g. for an asynchronous send). After an error it ignores further input.
 */
export class StreamFramer {
  private pend: Buffer | null = null;
  private pendLen = 0;
  private failed = false;

  constructor(
    private readonly sink: StreamFrameSink,
    readonly maxFrameSize = STUN_HEADER_LENGTH + 0xffff,
  ) {}

  /** Bytes currently buffered (part of an incomplete frame). */
  get buffered(): number {
    return this.pendLen;
  }

  push(chunk: Buffer): void {
    if (this.failed) return;
    let off = 0;
    const clen = chunk.length;
    if (this.pend !== null) {
      let pend = this.pend;
      let flen = streamFrameLength(pend, 0, this.pendLen);
      // Fill the header byte by byte until the frame length is known (at most 4 bytes).
      while (flen === 0 && off < clen) {
        pend[this.pendLen++] = chunk[off++];
        flen = streamFrameLength(pend, 0, this.pendLen);
      }
      if (flen < 0) return this.fail('garbage');
      if (flen > this.maxFrameSize) return this.fail('too-large');
      if (flen === 0) return;
      if (pend.length < flen) {
        const grown = Buffer.allocUnsafe(flen);
        pend.copy(grown, 0, 0, this.pendLen);
        this.pend = pend = grown;
      }
      const take = Math.min(flen - this.pendLen, clen - off);
      chunk.copy(pend, this.pendLen, off, off + take);
      this.pendLen += take;
      off += take;
      if (this.pendLen < flen) return;
      this.pend = null;
      this.pendLen = 0;
      this.sink.onFrame(pend.subarray(0, flen));
      if (this.failed) return;
    }
    let flen = 0;
    while (off < clen) {
      flen = streamFrameLength(chunk, off, clen);
      if (flen < 0) return this.fail('garbage');
      if (flen > this.maxFrameSize) return this.fail('too-large');
      if (flen === 0 || off + flen > clen) break;
      this.sink.onFrame(chunk.subarray(off, off + flen));
      if (this.failed) return;
      off += flen;
    }
    const rest = clen - off;
    if (rest > 0) {
      const pend = Buffer.allocUnsafe(flen > rest ? flen : 8);
      chunk.copy(pend, 0, off, clen);
      this.pend = pend;
      this.pendLen = rest;
    }
  }

  private fail(reason: 'garbage' | 'too-large'): void {
    this.failed = true;
    this.pend = null;
    this.pendLen = 0;
    this.sink.onFrameError(reason);
  }
}
