/** What the media sources write into and the receivers read from: werift's RTP packet, behind two small interfaces. */
import { RtpHeader, RtpPacket } from 'werift';

export { RtpHeader, RtpPacket };

/** Where a source writes its RTP (a werift MediaStreamTrack, or the SDK's local track). */
export interface RtpSink {
  writeRtp(packet: RtpPacket): void;
}

/**
 * Where received RTP comes from. `onPacket` returns the unsubscribe function; `onEnd`, when the source can tell,
 * is called once when no more packets will come.
 */
export interface RtpPacketSource {
  onPacket(cb: (packet: RtpPacket) => void, onEnd?: () => void): () => void;
}

/** The part of a werift receive track (MediaStreamTrack) that we use. */
export interface WeriftReceiveTrack {
  onReceiveRtp: {
    subscribe(execute: (packet: RtpPacket) => void, complete?: () => void): { unSubscribe: () => void };
  };
}

/** Adapts a werift receive track to a packet source. */
export function weriftPacketSource(track: WeriftReceiveTrack): RtpPacketSource {
  return {
    onPacket(cb, onEnd) {
      const { unSubscribe } = track.onReceiveRtp.subscribe((p) => cb(p), onEnd);
      return unSubscribe;
    },
  };
}

export const randomUint16 = (): number => Math.floor(Math.random() * 0x10000);
export const randomUint32 = (): number => Math.floor(Math.random() * 0x100000000) >>> 0;

/** Signed distance from `b` to `a` in 16-bit sequence space. */
export function seqDiff(a: number, b: number): number {
  return (((a - b) & 0xffff) << 16) >> 16;
}

/** Signed distance from `b` to `a` in 32-bit timestamp space. */
export function tsDiff(a: number, b: number): number {
  return (a - b) | 0;
}
