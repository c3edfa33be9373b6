// Test peers: plain (stock) werift RTCPeerConnections playing the client side, and generated VP8-like RTP.
import { MediaStreamTrack, RTCPeerConnection, RtpHeader, RtpPacket } from 'werift';

export const LOOPBACK_ICE = { bindAddresses: ['127.0.0.1'], advertiseAddresses: ['127.0.0.1'], candidateAllowList: ['127.0.0.1'] };

export function clientPc(extra: Record<string, unknown> = {}): RTCPeerConnection {
  return new RTCPeerConnection({
    iceServers: [],
    bundlePolicy: 'max-bundle',
    iceUseIpv6: false,
    iceInterfaceAddresses: { udp4: '127.0.0.1' },
    iceAdditionalHostAddresses: ['127.0.0.1'],
    ...extra,
  } as never);
}

export function waitFor(cond: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const t = setInterval(() => {
      if (cond()) {
        clearInterval(t);
        resolve();
      } else if (Date.now() - start > timeoutMs) {
        clearInterval(t);
        reject(new Error(`timed out waiting for ${what}`));
      }
    }, 10);
  });
}

/**
 * A VP8-like stream: 15-bit PictureID descriptors, a keyframe every `gop` frames, `packetsPerFrame` packets per frame,
 * each payload carrying the frame number and packet index so the receiver can check completeness.
 */
export class Vp8Generator {
  private seq = Math.floor(Math.random() * 60000);
  private ts = Math.floor(Math.random() * 1e9);
  private pictureId = 100;
  private keyframeRequested = false;
  frame = 0;
  constructor(
    readonly payloadType = 96,
    readonly packetsPerFrame = 3,
    readonly gop = 30,
    readonly payloadSize = 1000,
  ) {}

  /** Like an encoder answering a PLI: the next frame is a keyframe. */
  requestKeyframe(): void {
    this.keyframeRequested = true;
  }

  nextFrame(): RtpPacket[] {
    const key = this.frame % this.gop === 0 || this.keyframeRequested;
    this.keyframeRequested = false;
    const out: RtpPacket[] = [];
    for (let i = 0; i < this.packetsPerFrame; i++) {
      const payload = Buffer.alloc(this.payloadSize);
      // VP8 payload descriptor: X=1, S=(first packet), PID=0; I=1; M=1 15-bit PictureID.
      payload[0] = 0x80 | (i === 0 ? 0x10 : 0);
      payload[1] = 0x80;
      payload[2] = 0x80 | ((this.pictureId >> 8) & 0x7f);
      payload[3] = this.pictureId & 0xff;
      // VP8 payload header: bit 0 is the inverse keyframe flag (0 = keyframe).
      payload[4] = key ? 0x00 : 0x01;
      payload.writeUInt32BE(this.frame, 8);
      payload.writeUInt16BE(i, 12);
      const header = new RtpHeader({
        payloadType: this.payloadType,
        sequenceNumber: this.seq,
        timestamp: this.ts,
        marker: i === this.packetsPerFrame - 1,
      });
      this.seq = (this.seq + 1) & 0xffff;
      out.push(new RtpPacket(header, payload));
    }
    this.frame++;
    this.pictureId = (this.pictureId + 1) & 0x7fff;
    this.ts = (this.ts + 3000) >>> 0;
    return out;
  }
}

export { MediaStreamTrack };
