/**
 * IVF container reader (the libvpx test format): a 32-byte file header, then frames each with a 12-byte header
 * (32-bit size, 64-bit pts), all little-endian.
 */
import { readFileSync } from 'node:fs';
import { vp8FrameInfo } from './vp8.js';

export interface IvfFrame {
  /** A view into the file's bytes. */
  data: Uint8Array;
  pts: number;
  /** VP8 keyframe (for other codecs always false: we only know VP8's frame tag). */
  keyframe: boolean;
}

export interface IvfFile {
  /** FourCC, e.g. "VP80". */
  codec: string;
  width: number;
  height: number;
  /** Time base of `pts`: timebaseNum / timebaseDen seconds. */
  timebaseNum: number;
  timebaseDen: number;
  /** Frames per second from the time base and the pts spacing. */
  fps: number;
  frames: IvfFrame[];
  /** Indices of the keyframes in `frames`. */
  keyframes: number[];
}

export function parseIvf(buf: Uint8Array): IvfFile {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (buf.length < 32 || String.fromCharCode(buf[0], buf[1], buf[2], buf[3]) !== 'DKIF') {
    throw new Error('not an IVF file (no DKIF signature)');
  }
  const headerSize = view.getUint16(6, true);
  const codec = String.fromCharCode(buf[8], buf[9], buf[10], buf[11]);
  const width = view.getUint16(12, true);
  const height = view.getUint16(14, true);
  // The header stores the frame rate as rate/scale, i.e. a time base of scale/rate seconds.
  const timebaseDen = view.getUint32(16, true);
  const timebaseNum = view.getUint32(20, true);
  const vp8 = codec === 'VP80';
  const frames: IvfFrame[] = [];
  const keyframes: number[] = [];
  let off = Math.max(32, headerSize);
  while (off + 12 <= buf.length) {
    const size = view.getUint32(off, true);
    const pts = Number(view.getBigUint64(off + 4, true));
    off += 12;
    if (off + size > buf.length) throw new Error(`IVF frame ${frames.length} is truncated`);
    const data = buf.subarray(off, off + size);
    off += size;
    const keyframe = vp8 && vp8FrameInfo(data).keyframe;
    if (keyframe) keyframes.push(frames.length);
    frames.push({ data, pts, keyframe });
  }
  if (frames.length === 0) throw new Error('IVF file has no frames');
  return { codec, width, height, timebaseNum, timebaseDen, fps: frameRate(frames, timebaseNum, timebaseDen), frames, keyframes };
}

export function readIvfFile(path: string | URL): IvfFile {
  return parseIvf(readFileSync(path));
}

/** Median pts step in seconds, inverted; ffmpeg writes 1/fps time bases, other muxers may write 1/1000. */
function frameRate(frames: IvfFrame[], num: number, den: number): number {
  if (den === 0 || num === 0) return 30;
  const steps: number[] = [];
  for (let i = 1; i < frames.length; i++) {
    const d = frames[i].pts - frames[i - 1].pts;
    if (d > 0) steps.push(d);
  }
  steps.sort((a, b) => a - b);
  const step = steps.length > 0 ? steps[steps.length >> 1] : 1;
  return den / (num * step);
}
