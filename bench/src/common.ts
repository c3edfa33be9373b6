// Shared by the benchmark processes: loopback peer connections and a VP8-like packet source.
import { RTCPeerConnection, RtpHeader, RtpPacket } from 'werift';

export function loopbackPc(): RTCPeerConnection {
  return new RTCPeerConnection({
    iceServers: [],
    bundlePolicy: 'max-bundle',
    iceUseIpv6: false,
    iceInterfaceAddresses: { udp4: '127.0.0.1' },
    iceAdditionalHostAddresses: ['127.0.0.1'],
  } as never);
}

export const LOOPBACK_ICE = { bindAddresses: ['127.0.0.1'], advertiseAddresses: ['127.0.0.1'], candidateAllowList: ['127.0.0.1'] };

export function waitConnected(pc: RTCPeerConnection, timeoutMs = 20_000): Promise<void> {
  return new Promise((resolve, reject) => {
    if (pc.connectionState === 'connected') return resolve();
    const t = setTimeout(() => reject(new Error(`peer connection not connected: ${pc.connectionState}`)), timeoutMs);
    pc.connectionStateChange.subscribe((s) => {
      if (s === 'connected') {
        clearTimeout(t);
        resolve();
      }
    });
  });
}

/** VP8-like frames: 15-bit PictureID descriptors, a keyframe every `gop` frames. */
export class Vp8Source {
  private seq = 1000;
  private ts = 90_000;
  private pictureId = 1;
  private frame = 0;
  constructor(
    readonly payloadSize = 1200,
    readonly gop = 60,
  ) {}

  packet(last: boolean): RtpPacket {
    const key = this.frame % this.gop === 0;
    const payload = Buffer.alloc(this.payloadSize);
    payload[0] = 0x90;
    payload[1] = 0x80;
    payload[2] = 0x80 | ((this.pictureId >> 8) & 0x7f);
    payload[3] = this.pictureId & 0xff;
    payload[4] = key ? 0x00 : 0x01;
    const header = new RtpHeader({ payloadType: 96, sequenceNumber: this.seq, timestamp: this.ts, marker: last });
    this.seq = (this.seq + 1) & 0xffff;
    if (last) {
      this.frame++;
      this.pictureId = (this.pictureId + 1) & 0x7fff;
      this.ts = (this.ts + 3000) >>> 0;
    }
    return new RtpPacket(header, payload);
  }
}

export function cpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}
