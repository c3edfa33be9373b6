/** Interleaved 16-bit PCM, the shape @livekit/rtc-node's AudioFrame has. */
export class AudioFrame {
  constructor(
    public data: Int16Array,
    public sampleRate: number,
    public channels: number,
    public samplesPerChannel: number,
  ) {
    if (data.length < channels * samplesPerChannel) {
      throw new RangeError(`AudioFrame data has ${data.length} samples, needs ${channels * samplesPerChannel}`);
    }
  }

  /** A silent frame. */
  static create(sampleRate: number, channels: number, samplesPerChannel: number): AudioFrame {
    return new AudioFrame(new Int16Array(channels * samplesPerChannel), sampleRate, channels, samplesPerChannel);
  }

  get durationMs(): number {
    return (this.samplesPerChannel * 1000) / this.sampleRate;
  }
}
