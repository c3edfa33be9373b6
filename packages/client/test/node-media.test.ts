// Node media layer: IVF clip, VP8 packetize/assemble, keyframes on demand, Opus through RTP and back, receive streams.
import { describe, expect, it } from 'vitest';
import { MediaStreamTrack, RtpHeader, RtpPacket } from 'werift';
import {
  AudioFrame,
  AudioSource,
  DropQueue,
  OpusDecoder,
  OpusEncoder,
  OpusRtpDecoder,
  RtpStream,
  ToneGenerator,
  VideoSource,
  Vp8FrameAssembler,
  audioFrames,
  defaultVp8Clip,
  packetizeVp8,
  parseIvf,
  playTone,
  vp8Frames,
  weriftPacketSource,
  type DecodedAudioFrame,
  type RtpPacketSource,
  type Vp8Frame,
} from '../src/node/media/index.js';

/** A packet source the test drives by hand. */
class FakeSource implements RtpPacketSource {
  readonly listeners = new Set<(p: RtpPacket) => void>();
  private readonly enders = new Set<() => void>();
  onPacket(cb: (p: RtpPacket) => void, onEnd?: () => void): () => void {
    this.listeners.add(cb);
    if (onEnd) this.enders.add(onEnd);
    return () => {
      this.listeners.delete(cb);
      if (onEnd) this.enders.delete(onEnd);
    };
  }
  emit(p: RtpPacket): void {
    for (const l of this.listeners) l(p);
  }
  end(): void {
    for (const e of [...this.enders]) e();
  }
}

function packet(seq: number, ts = 0, payload: Buffer = Buffer.alloc(10)): RtpPacket {
  return new RtpPacket(new RtpHeader({ payloadType: 96, sequenceNumber: seq & 0xffff, timestamp: ts >>> 0 }), payload);
}

function assemble(packets: RtpPacket[]): { frames: Vp8Frame[]; assembler: Vp8FrameAssembler } {
  const frames: Vp8Frame[] = [];
  const assembler = new Vp8FrameAssembler((f) => frames.push(f));
  for (const p of packets) assembler.push(p);
  return { frames, assembler };
}

/** Relative power of `freq` in `x` (Goertzel). */
function goertzel(x: Int16Array, sampleRate: number, freq: number): number {
  const w = (2 * Math.PI * freq) / sampleRate;
  const c = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < x.length; i++) {
    const s0 = x[i] + c * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return s1 * s1 + s2 * s2 - c * s1 * s2;
}

function dominantFrequency(x: Int16Array, sampleRate: number, from = 100, to = 2000, step = 10): number {
  let best = from;
  let bestPower = -1;
  for (let f = from; f <= to; f += step) {
    const p = goertzel(x, sampleRate, f);
    if (p > bestPower) {
      bestPower = p;
      best = f;
    }
  }
  return best;
}

function rms(x: Int16Array): number {
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += x[i] * x[i];
  return Math.sqrt(sum / x.length);
}

function concat(frames: AudioFrame[]): Int16Array {
  const out = new Int16Array(frames.reduce((n, f) => n + f.data.length, 0));
  let off = 0;
  for (const f of frames) {
    out.set(f.data, off);
    off += f.data.length;
  }
  return out;
}

/** One channel of interleaved PCM. */
function channel(x: Int16Array, channels: number, c: number): Int16Array {
  const out = new Int16Array(x.length / channels);
  for (let i = 0; i < out.length; i++) out[i] = x[i * channels + c];
  return out;
}

describe('IVF clip', () => {
  it('parses the bundled VP8 clip', () => {
    const clip = defaultVp8Clip();
    expect(clip.codec).toBe('VP80');
    expect([clip.width, clip.height]).toEqual([640, 360]);
    expect(clip.fps).toBe(30);
    expect(clip.frames.length).toBe(90);
    expect(clip.keyframes).toEqual([0, 30, 60]);
    expect(clip.frames.map((f, i) => f.pts - i).every((d) => d === 0)).toBe(true);
  });

  it('rejects what is not IVF, and truncated frames', () => {
    expect(() => parseIvf(new Uint8Array(40))).toThrow(/DKIF/);
    const clip = defaultVp8Clip();
    const bytes = new Uint8Array(clip.frames[0].data.buffer, 0, 32 + 12 + 100);
    expect(() => parseIvf(bytes)).toThrow(/truncated/);
  });
});

describe('VP8 packetizer and assembler', () => {
  it('splits frames into balanced payloads with a 15-bit PictureID descriptor', () => {
    const frame = new Uint8Array(2500).map((_, i) => i & 0xff);
    const payloads = packetizeVp8(frame, 0x1234, 1200);
    expect(payloads.map((p) => p.length)).toEqual([838, 837, 837]);
    expect(payloads.map((p) => p[0])).toEqual([0x90, 0x80, 0x80]); // X, S on the first only, PID 0
    for (const p of payloads) expect([...p.subarray(1, 4)]).toEqual([0x80, 0x80 | 0x12, 0x34]);
    expect(Buffer.concat(payloads.map((p) => p.subarray(4)))).toEqual(Buffer.from(frame));
  });

  it('round-trips every frame of the clip byte for byte', () => {
    const clip = defaultVp8Clip();
    const src = new VideoSource({ maxPayloadSize: 400 });
    const packets: RtpPacket[] = [];
    for (let i = 0; i < clip.frames.length; i++) {
      const ps = src.nextFrame();
      expect(ps.map((p) => p.header.marker)).toEqual(ps.map((_, j) => j === ps.length - 1));
      for (const p of ps) expect(p.payload.length).toBeLessThanOrEqual(400);
      packets.push(...ps);
    }
    expect(packets.length).toBeGreaterThan(clip.frames.length); // some frames span packets
    const { frames, assembler } = assemble(packets);
    expect(frames.length).toBe(clip.frames.length);
    frames.forEach((f, i) => {
      expect(f.complete).toBe(true);
      expect(f.keyframe).toBe(clip.frames[i].keyframe);
      expect(Buffer.from(f.data).equals(Buffer.from(clip.frames[i].data))).toBe(true);
      if (f.keyframe) expect([f.width, f.height]).toEqual([640, 360]);
    });
    expect(assembler.stats).toMatchObject({ packets: packets.length, frames: 90, keyframes: 3, incompleteFrames: 0, lostPackets: 0 });
    expect(assembler.stats.bytes).toBe(packets.reduce((n, p) => n + p.payload.length, 0));
  });

  it('flags frames that lost a packet as incomplete, and only those', () => {
    const src = new VideoSource({ maxPayloadSize: 300 });
    const perFrame = Array.from({ length: 6 }, () => src.nextFrame());
    expect(perFrame[0].length).toBeGreaterThanOrEqual(3); // the keyframe spans several packets
    const multi = perFrame.findIndex((ps, i) => i > 1 && ps.length >= 3);
    expect(multi).toBeGreaterThan(1);
    // Frame 0 loses its first packet, frame `multi` a middle one, the frame before it its marker packet.
    const dropped = new Set([perFrame[0][0], perFrame[multi][1], perFrame[multi - 1].at(-1)!]);
    const { frames, assembler } = assemble(perFrame.flat().filter((p) => !dropped.has(p)));
    const byTs = new Map(frames.map((f) => [f.timestamp, f]));
    perFrame.forEach((ps, i) => {
      const f = byTs.get(ps[0].header.timestamp)!;
      expect(f, `frame ${i}`).toBeDefined();
      expect(f.complete, `frame ${i}`).toBe(i !== 0 && i !== multi && i !== multi - 1);
    });
    expect(byTs.get(perFrame[0][0].header.timestamp)!.keyframe).toBe(false); // its start is gone
    // The very first packet's loss is invisible to sequence numbers (nothing came before it); its frame still lacks a start.
    expect(assembler.stats.lostPackets).toBe(2);
    expect(assembler.stats.incompleteFrames).toBe(3);
  });

  it('ignores duplicates and late packets', () => {
    const src = new VideoSource({ maxPayloadSize: 300 });
    const ps = src.nextFrame();
    const { frames, assembler } = assemble([ps[0], ps[0], ...ps.slice(1), ps[1]]);
    expect(frames.length).toBe(1);
    expect(frames[0].complete).toBe(true);
    expect(assembler.stats.discardedPackets).toBe(2);
  });
});

describe('VideoSource', () => {
  it('sends keyframes on demand with monotonic PictureID, sequence numbers and timestamps', () => {
    const src = new VideoSource();
    const frames: RtpPacket[][] = [];
    // Ask for a keyframe when the clip reaches these positions, in turn: mid-GOP (→ the next keyframe), after the
    // last keyframe (→ back to the first), and on a keyframe (→ that one).
    const askAt = [5, 75, 40, 60];
    const expected = [30, 0, 60, 60];
    const requested = new Map<number, number>(); // frame index → clip index it must be
    for (let i = 0; i < 300; i++) {
      if (requested.size < askAt.length && src.position === askAt[requested.size]) {
        requested.set(i, expected[requested.size]);
        src.requestKeyframe();
      }
      frames.push(src.nextFrame());
    }
    expect(requested.size).toBe(askAt.length);
    const all = frames.flat();
    const { frames: out } = assemble(all);
    expect(out.length).toBe(300);
    expect(out.every((f) => f.complete)).toBe(true);
    for (const [i, clipIndex] of requested) {
      expect(out[i].keyframe, `frame ${i}`).toBe(true);
      expect(Buffer.from(out[i].data).equals(Buffer.from(src.clip.frames[clipIndex].data))).toBe(true);
    }
    // Keyframes: 0, the three requested, and the clip's own.
    expect(out.filter((f) => f.keyframe).length).toBe(src.stats.keyframes);
    for (let i = 1; i < out.length; i++) {
      expect((out[i].pictureId - out[i - 1].pictureId) & 0x7fff).toBe(1);
      expect((out[i].timestamp - out[i - 1].timestamp) >>> 0).toBe(3000);
    }
    for (let i = 1; i < all.length; i++) {
      expect((all[i].header.sequenceNumber - all[i - 1].header.sequenceNumber) & 0xffff).toBe(1);
    }
    expect(src.stats.loops).toBeGreaterThan(0);
    expect([src.width, src.height, src.fps]).toEqual([640, 360, 30]);
  });

  it('writes to its sink in real time', async () => {
    const src = new VideoSource({ fps: 30 });
    const got: RtpPacket[] = [];
    src.start({ writeRtp: (p) => got.push(p) });
    await new Promise((r) => setTimeout(r, 500));
    src.stop();
    const frames = new Set(got.map((p) => p.header.timestamp)).size;
    expect(frames).toBeGreaterThanOrEqual(8); // 15 on an idle machine; timers run late under load
    expect(frames).toBeLessThanOrEqual(17);
    expect(src.running).toBe(false);
  });
});

describe('Opus', () => {
  it('encodes and decodes with many instances alive at once', () => {
    const tone = new ToneGenerator({ frequency: 1000, frameMs: 20, channels: 2 });
    const frames = Array.from({ length: 10 }, () => tone.nextFrame());
    const run = (enc: OpusEncoder, dec: OpusDecoder) => frames.map((f) => Buffer.from(dec.decode(enc.encode(f.data)).buffer));
    const ref = run(new OpusEncoder(48000, 2), new OpusDecoder(48000, 2));
    // opusscript's own wrapper overlaps instances' buffers; ours must not.
    const pairs = Array.from({ length: 8 }, () => [new OpusEncoder(48000, 2), new OpusDecoder(48000, 2)] as const);
    const outs = pairs.map(() => [] as Buffer[]);
    for (let i = 0; i < frames.length; i++) {
      pairs.forEach(([e, d], k) => outs[k].push(Buffer.from(d.decode(e.encode(frames[i].data)).buffer)));
    }
    for (const o of outs) expect(o.every((b, i) => b.equals(ref[i]))).toBe(true);
    for (const [e, d] of pairs) {
      e.close();
      d.close();
    }
  });

  it('refuses sample rates Opus does not take', () => {
    expect(() => new AudioSource(44100, 1)).toThrow(/resample/);
  });
});

describe('AudioSource → RTP → OpusRtpDecoder', () => {
  const roundTrip = (sampleRate: number, channels: 1 | 2, outChannels: 1 | 2) => {
    const packets: RtpPacket[] = [];
    const src = new AudioSource(sampleRate, channels, { queueSizeMs: 0 });
    src.setSink({ writeRtp: (p) => packets.push(p) });
    const tone = new ToneGenerator({ frequency: 440, amplitude: 0.5, sampleRate, channels, frameMs: 10 });
    for (let i = 0; i < 100; i++) void src.captureFrame(tone.nextFrame()); // 1 s
    src.close();
    const frames: DecodedAudioFrame[] = [];
    const dec = new OpusRtpDecoder((f) => frames.push(f), { channels: outChannels });
    for (const p of packets) dec.push(p);
    dec.close();
    return { packets, frames, stats: dec.stats };
  };

  it.each([
    [48000, 1, 1],
    [48000, 2, 2],
    [16000, 1, 1],
    [48000, 2, 1],
  ] as const)('%i Hz, %i channel(s) in, %i out: 440 Hz at the right level', (rate, ch, outCh) => {
    const { packets, frames, stats } = roundTrip(rate, ch, outCh);
    expect(packets.length).toBe(50);
    for (let i = 1; i < packets.length; i++) {
      const h = packets[i].header;
      expect((h.timestamp - packets[i - 1].header.timestamp) >>> 0).toBe(960);
      expect((h.sequenceNumber - packets[i - 1].header.sequenceNumber) & 0xffff).toBe(1);
      expect(h.marker).toBe(false);
      expect(h.payloadType).toBe(111);
    }
    expect(stats.decodedFrames).toBe(50);
    expect(frames.every((f) => f.sampleRate === 48000 && f.samplesPerChannel === 960 && f.channels === outCh)).toBe(true);
    const pcm = concat(frames);
    // Skip the codec's start-up; compare the steady part.
    for (let c = 0; c < outCh; c++) {
      const x = channel(pcm, outCh, c).subarray(4800);
      expect(dominantFrequency(x, 48000)).toBe(440);
      expect(rms(x) / ((0.5 * 32767) / Math.SQRT2)).toBeGreaterThan(0.85);
      expect(rms(x) / ((0.5 * 32767) / Math.SQRT2)).toBeLessThan(1.15);
    }
  });

  it('conceals lost packets and zero-fills silent gaps, keeping the timeline', () => {
    const { packets } = roundTrip(48000, 1, 1);
    const frames: DecodedAudioFrame[] = [];
    const dec = new OpusRtpDecoder((f) => frames.push(f));
    // Lose packets 20 and 21; then a 100 ms timestamp jump without loss (sender silent) before packet 40.
    const shifted = packets.map((p, i) => {
      if (i < 40) return p;
      const h = new RtpHeader({ ...p.header, timestamp: (p.header.timestamp + 4800) >>> 0 });
      return new RtpPacket(h, p.payload);
    });
    for (const [i, p] of shifted.entries()) if (i !== 20 && i !== 21) dec.push(p);
    expect(dec.stats).toMatchObject({ lostPackets: 2, decodedFrames: 48, concealedFrames: 2, silenceFrames: 5 });
    const total = frames.reduce((n, f) => n + f.samplesPerChannel, 0);
    expect(total).toBe(50 * 960 + 4800);
    for (let i = 1; i < frames.length; i++) {
      expect((frames[i].timestamp - frames[i - 1].timestamp) >>> 0).toBe(frames[i - 1].samplesPerChannel);
    }
    // Concealment continues the tone rather than dropping to silence.
    const concealed = frames.filter((f) => f.kind === 'concealed');
    expect(rms(concealed[0].data)).toBeGreaterThan(1000);
    expect(frames.filter((f) => f.kind === 'silence').every((f) => rms(f.data) === 0)).toBe(true);
    dec.close();
  });

  it('paces queued audio in real time and applies backpressure', async () => {
    const got: { at: number; p: RtpPacket }[] = [];
    const src = new AudioSource(48000, 1, 100);
    src.setSink({ writeRtp: (p) => got.push({ at: performance.now(), p }) });
    const tone = new ToneGenerator({ frameMs: 10 });
    const start = performance.now();
    for (let i = 0; i < 30; i++) await src.captureFrame(tone.nextFrame()); // 300 ms into a 100 ms queue
    const fed = performance.now() - start;
    expect(fed).toBeGreaterThan(120); // waited for room
    expect(src.queuedDuration).toBeLessThanOrEqual(100);
    await src.waitForPlayout();
    const elapsed = performance.now() - start;
    expect(got.length).toBe(15);
    expect(elapsed).toBeGreaterThan(250);
    expect(elapsed).toBeLessThan(1500);
    for (let i = 1; i < got.length; i++) expect((got[i].p.header.timestamp - got[i - 1].p.header.timestamp) >>> 0).toBe(960);
    src.close();
  });

  it('playTone feeds a source for a duration in real time', async () => {
    const got: RtpPacket[] = [];
    const src = new AudioSource(48000, 2);
    src.setSink({ writeRtp: (p) => got.push(p) });
    const start = performance.now();
    await playTone(src, { frequency: 440, durationMs: 300 });
    await src.waitForPlayout();
    expect(performance.now() - start).toBeGreaterThan(250);
    expect(got.length).toBe(15);
    src.close();
  });

  it('silence encodes to silence', () => {
    const packets: RtpPacket[] = [];
    const src = new AudioSource(48000, 1, 0);
    src.setSink({ writeRtp: (p) => packets.push(p) });
    const gen = ToneGenerator.silence();
    for (let i = 0; i < 20; i++) void src.captureFrame(gen.nextFrame());
    src.close();
    const frames: DecodedAudioFrame[] = [];
    const dec = new OpusRtpDecoder((f) => frames.push(f));
    for (const p of packets) dec.push(p);
    expect(frames.length).toBe(10);
    expect(rms(concat(frames))).toBeLessThan(5);
    dec.close();
  });
});

describe('receive streams', () => {
  it('DropQueue drops the oldest when full and counts', async () => {
    const q = new DropQueue<number>(4);
    for (let i = 0; i < 10; i++) q.push(i);
    expect([q.size, q.dropped, q.pushed]).toEqual([4, 6, 10]);
    q.end();
    q.push(99); // ignored after the end
    const got: number[] = [];
    for await (const v of q) got.push(v);
    expect(got).toEqual([6, 7, 8, 9]);
  });

  it('RtpStream hands a waiting consumer packets, drops for a slow one, and unsubscribes', async () => {
    const source = new FakeSource();
    const stream = new RtpStream(source, { maxQueue: 3 });
    expect(source.listeners.size).toBe(1);
    const first = stream.next();
    source.emit(packet(1));
    expect((await first).value!.header.sequenceNumber).toBe(1);
    for (let s = 2; s <= 9; s++) source.emit(packet(s));
    expect(stream.dropped).toBe(5);
    const got: number[] = [];
    for await (const p of stream) {
      got.push(p.header.sequenceNumber);
      if (got.length === 2) break;
    }
    expect(got).toEqual([7, 8]);
    expect(source.listeners.size).toBe(0); // break unsubscribed
    expect((await stream.next()).done).toBe(true);
  });

  it('RtpStream delivers what is queued after close() and ends with the source', async () => {
    const source = new FakeSource();
    const a = new RtpStream(source);
    source.emit(packet(1));
    source.emit(packet(2));
    a.close();
    source.emit(packet(3));
    expect(source.listeners.size).toBe(0);
    const got: number[] = [];
    for await (const p of a) got.push(p.header.sequenceNumber);
    expect(got).toEqual([1, 2]);

    const b = new RtpStream(source);
    const pending = b.next();
    source.end();
    expect((await pending).done).toBe(true);
  });

  it('vp8Frames assembles a VideoSource stream', async () => {
    const source = new FakeSource();
    const frames = vp8Frames(source);
    const video = new VideoSource();
    for (let i = 0; i < 40; i++) for (const p of video.nextFrame()) source.emit(p);
    source.end();
    const got: Vp8Frame[] = [];
    for await (const f of frames) got.push(f);
    expect(got.length).toBe(40);
    expect(got.filter((f) => f.keyframe).length).toBe(2);
    expect(got.every((f) => f.complete)).toBe(true);
    expect(frames.assembler.stats).toMatchObject({ frames: 40, keyframes: 2 });
    expect(frames.dropped).toBe(0);
  });

  it('audioFrames decodes an AudioSource stream and drops for a slow consumer', async () => {
    const source = new FakeSource();
    const stream = audioFrames(source, { maxQueue: 20 });
    const src = new AudioSource(48000, 1, 0);
    src.setSink({ writeRtp: (p) => source.emit(p) });
    const tone = new ToneGenerator({ frameMs: 20 });
    for (let i = 0; i < 30; i++) void src.captureFrame(tone.nextFrame());
    src.close();
    source.end();
    const got: AudioFrame[] = [];
    for await (const f of stream) got.push(f);
    expect(got.length).toBe(20);
    expect(stream.dropped).toBe(10);
    expect(stream.decoder.stats.decodedFrames).toBe(30);
  });

  it('reads a werift track, and ends when the track stops', async () => {
    const track = new MediaStreamTrack({ kind: 'video' }); // a local track loops writeRtp back to onReceiveRtp
    const frames = vp8Frames(weriftPacketSource(track));
    const video = new VideoSource();
    for (let i = 0; i < 10; i++) for (const p of video.nextFrame()) track.writeRtp(p);
    track.stop();
    const got: Vp8Frame[] = [];
    for await (const f of frames) got.push(f);
    expect(got.length).toBe(10);
    expect(got[0]).toMatchObject({ keyframe: true, width: 640, height: 360, complete: true });
  });
});
