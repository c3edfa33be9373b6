/**
 * Opus encoder and decoder on libopus 1.4 compiled to WebAssembly (the `opusscript` package), Node only.
 *
 * We drive opusscript's emscripten module directly instead of its `OpusScript` class: that class places its PCM
 * buffers at twice the address it allocated (it indexes a Uint16Array with a byte pointer), so with a few instances
 * in one process one instance's PCM lands on another's codec state. Here every buffer is a real allocation and the
 * heap views are re-read on every call (the wasm memory may grow and replace them).
 *
 * The native handler's quirk we must honour: it takes and returns PCM with each byte of a 16-bit sample in its own
 * 16-bit slot (low byte first), i.e. 4 bytes of wasm memory per sample.
 */
import { createRequire } from 'node:module';

/** Sample rates libopus takes and gives natively. */
export const OPUS_SAMPLE_RATES = [8000, 12000, 16000, 24000, 48000] as const;
export type OpusSampleRate = (typeof OPUS_SAMPLE_RATES)[number];
export type OpusApplication = 'voip' | 'audio' | 'lowdelay';

const APPLICATION: Record<OpusApplication, number> = { voip: 2048, audio: 2049, lowdelay: 2051 };
const OPUS_SET_BITRATE = 4002;
const OPUS_SET_COMPLEXITY = 4010;
const OPUS_SET_INBAND_FEC = 4012;
const OPUS_SET_PACKET_LOSS_PERC = 4014;
const OPUS_SET_DTX = 4016;
/** The native handler decodes into a 120 ms buffer (960 * 6 samples at 48 kHz). */
const MAX_FRAME_SAMPLES = 5760;
const MAX_PACKET = 1276 * 3;
const ERRORS: Record<number, string> = {
  [-1]: 'bad argument',
  [-2]: 'buffer too small',
  [-3]: 'internal error',
  [-4]: 'invalid packet',
  [-5]: 'unimplemented',
  [-6]: 'invalid state',
  [-7]: 'memory allocation failed',
};

interface NativeHandler {
  _encode(input: number, samples: number, output: number, frameSize: number): number;
  _decode(input: number, bytes: number, output: number): number;
  _encoder_ctl(ctl: number, arg: number): number;
  _decoder_ctl(ctl: number, arg: number): number;
  delete(): void;
}
interface NativeModule {
  HEAPU8: Uint8Array;
  HEAPU16: Uint16Array;
  _malloc(size: number): number;
  _free(ptr: number): void;
  OpusScriptHandler: new (sampleRate: number, channels: number, application: number) => NativeHandler;
}

let native: NativeModule | undefined;
/** One wasm instance per process, created on first use (synchronous: the module compiles its wasm with `new WebAssembly.Module`). */
function opusNative(): NativeModule {
  if (!native) {
    const require = createRequire(import.meta.url);
    const factory = require('opusscript/build/opusscript_native_wasm.js') as () => NativeModule;
    native = factory();
  }
  return native;
}

function check(ret: number, what: string): number {
  if (ret < 0) throw new Error(`opus ${what} failed: ${ERRORS[ret] ?? ret}`);
  return ret;
}

function checkRate(sampleRate: number): asserts sampleRate is OpusSampleRate {
  if (!(OPUS_SAMPLE_RATES as readonly number[]).includes(sampleRate)) {
    throw new RangeError(`Opus takes ${OPUS_SAMPLE_RATES.join('/')} Hz, not ${sampleRate} Hz: resample first`);
  }
}

export interface OpusEncoderOptions {
  application?: OpusApplication;
  /** Target bitrate in bit/s (libopus picks one when unset). */
  bitrate?: number;
  /** 0–10; libopus defaults to 9 or 10, which is more CPU than a bot usually wants. */
  complexity?: number;
  /** In-band forward error correction (what Chrome negotiates with useinbandfec=1). */
  fec?: boolean;
  /** Expected loss percentage, tunes FEC. */
  packetLossPercent?: number;
  dtx?: boolean;
}

export class OpusEncoder {
  private readonly m = opusNative();
  private readonly handler: NativeHandler;
  private readonly inPtr: number;
  private readonly inSlots: number;
  private readonly outPtr: number;
  private closed = false;

  constructor(
    readonly sampleRate: number,
    readonly channels: 1 | 2,
    opts: OpusEncoderOptions = {},
  ) {
    checkRate(sampleRate);
    this.handler = new this.m.OpusScriptHandler(sampleRate, channels, APPLICATION[opts.application ?? 'audio']);
    // Up to 120 ms of input, two 16-bit slots per sample.
    this.inSlots = (sampleRate / 1000) * 120 * channels * 2;
    this.inPtr = this.m._malloc(this.inSlots * 2);
    this.outPtr = this.m._malloc(MAX_PACKET);
    if (opts.bitrate !== undefined) this.ctl(OPUS_SET_BITRATE, opts.bitrate);
    if (opts.complexity !== undefined) this.ctl(OPUS_SET_COMPLEXITY, opts.complexity);
    if (opts.fec !== undefined) this.ctl(OPUS_SET_INBAND_FEC, opts.fec ? 1 : 0);
    if (opts.packetLossPercent !== undefined) this.ctl(OPUS_SET_PACKET_LOSS_PERC, opts.packetLossPercent);
    if (opts.dtx !== undefined) this.ctl(OPUS_SET_DTX, opts.dtx ? 1 : 0);
  }

  ctl(request: number, value: number): void {
    check(this.handler._encoder_ctl(request, value), 'encoder ctl');
  }

  setBitrate(bitrate: number): void {
    this.ctl(OPUS_SET_BITRATE, bitrate);
  }

  /**
   * Encodes one frame of interleaved PCM (`pcm.length / channels` samples per channel: 2.5, 5, 10, 20, 40 or 60 ms)
   * into a new buffer holding one Opus packet.
   */
  encode(pcm: Int16Array): Buffer {
    if (this.closed) throw new Error('OpusEncoder is closed');
    const samples = pcm.length;
    if (samples * 2 > this.inSlots) throw new RangeError('frame longer than 120 ms');
    const heap = this.m.HEAPU16;
    let slot = this.inPtr >> 1;
    for (let i = 0; i < samples; i++) {
      const s = pcm[i];
      heap[slot++] = s & 0xff;
      heap[slot++] = (s >> 8) & 0xff;
    }
    const len = check(this.handler._encode(this.inPtr, samples, this.outPtr, samples / this.channels), 'encode');
    return Buffer.from(this.m.HEAPU8.subarray(this.outPtr, this.outPtr + len));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handler.delete();
    this.m._free(this.inPtr);
    this.m._free(this.outPtr);
  }
}

export class OpusDecoder {
  private readonly m = opusNative();
  private readonly handler: NativeHandler;
  private readonly inPtr: number;
  private readonly outPtr: number;
  private closed = false;

  /** Output is always `sampleRate` Hz with `channels` channels, whatever the packets carry (libopus converts). */
  constructor(
    readonly sampleRate: number = 48000,
    readonly channels: 1 | 2 = 1,
  ) {
    checkRate(sampleRate);
    // The encoder half of the handler is unused but comes with it.
    this.handler = new this.m.OpusScriptHandler(sampleRate, channels, APPLICATION.audio);
    this.inPtr = this.m._malloc(MAX_PACKET);
    this.outPtr = this.m._malloc(MAX_FRAME_SAMPLES * channels * 4);
  }

  /**
   * Decodes one Opus packet into interleaved PCM (a new array). A packet of just a TOC byte makes libopus conceal
   * (PLC) for that TOC's frame duration: see {@link concealPacket}.
   */
  decode(packet: Uint8Array): Int16Array {
    if (this.closed) throw new Error('OpusDecoder is closed');
    if (packet.length === 0 || packet.length > MAX_PACKET) throw new RangeError(`bad Opus packet length ${packet.length}`);
    this.m.HEAPU8.set(packet, this.inPtr);
    const samples = check(this.handler._decode(this.inPtr, packet.length, this.outPtr), 'decode');
    const n = samples * this.channels;
    const out = new Int16Array(n);
    const heap = this.m.HEAPU16;
    let slot = this.outPtr >> 1;
    for (let i = 0; i < n; i++, slot += 2) out[i] = ((heap[slot + 1] << 8) | (heap[slot] & 0xff)) << 16 >> 16;
    return out;
  }

  decoderCtl(request: number, value: number): void {
    check(this.handler._decoder_ctl(request, value), 'decoder ctl');
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handler.delete();
    this.m._free(this.inPtr);
    this.m._free(this.outPtr);
  }
}

/**
 * A TOC-only Opus packet (code 0, empty frame) with the mode, bandwidth and frame duration of `lastPacket`:
 * decoding it runs libopus's packet loss concealment for exactly one frame of that duration.
 */
export function concealPacket(lastPacket: Uint8Array): Uint8Array {
  return Uint8Array.of(lastPacket[0] & 0xfc);
}

/** Samples per channel at 48 kHz of one Opus packet (RFC 6716 §3.1), or 0 when malformed. */
export function opusPacketSamples(packet: Uint8Array): number {
  if (packet.length < 1) return 0;
  const toc = packet[0];
  const config = toc >> 3;
  let frame: number;
  if (config < 12) frame = [480, 960, 1920, 2880][config & 3]; // SILK 10/20/40/60 ms
  else if (config < 16) frame = (config & 1) === 0 ? 480 : 960; // Hybrid 10/20 ms
  else frame = [120, 240, 480, 960][config & 3]; // CELT 2.5/5/10/20 ms
  const code = toc & 3;
  let frames: number;
  if (code === 0) frames = 1;
  else if (code !== 3) frames = 2;
  else if (packet.length < 2) return 0;
  else frames = packet[1] & 0x3f;
  return frames * frame;
}
