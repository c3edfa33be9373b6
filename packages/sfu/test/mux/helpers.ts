// Helpers for the mux tests: werift client/server peers on loopback, socket accounting through /proc.
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { MediaStreamTrack, RTCPeerConnection, RtpHeader, RtpPacket, type RTCDataChannel } from 'werift';

import { clientPc, waitFor } from '../core/helpers.js';

export { clientPc, waitFor };

/** A server peer configured like Kite's (ICE-lite, max-bundle, no ICE servers). */
export function serverPc(extra: Record<string, unknown> = {}): RTCPeerConnection {
  return new RTCPeerConnection({
    iceServers: [],
    iceLite: true,
    bundlePolicy: 'max-bundle',
    iceUseTcp: false,
    iceUseIpv6: false,
    iceInterfaceAddresses: { udp4: '127.0.0.1' },
    iceAdditionalHostAddresses: ['127.0.0.1'],
    ...extra,
  } as never);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Pair {
  client: RTCPeerConnection;
  server: RTCPeerConnection;
  track: MediaStreamTrack;
  clientChannel: RTCDataChannel;
  serverChannel?: RTCDataChannel;
  /** Messages the server received on its data channel. */
  serverMessages: string[];
  /** Messages the client received on its data channel. */
  clientMessages: string[];
  /** RTP packets the server received (payload's first 4 bytes: the pair index). */
  rtpReceived: number[];
  index: number;
}

/**
 * Negotiates one client → server pair: the client offers a data channel and a send-only video m-line, the server
 * answers. `prepare` runs on the server PC right after construction (where attachMuxes goes).
 */
export async function connectPair(
  index: number,
  server: RTCPeerConnection,
  client: RTCPeerConnection,
  opts: { filterClientCandidates?: (candidateLine: string) => boolean } = {},
): Promise<Pair> {
  const track = new MediaStreamTrack({ kind: 'video' });
  client.addTransceiver(track, { direction: 'sendonly' });
  const clientChannel = client.createDataChannel('chat');
  const pair: Pair = { client, server, track, clientChannel, serverMessages: [], clientMessages: [], rtpReceived: [], index };
  clientChannel.onMessage.subscribe((m) => pair.clientMessages.push(m.toString()));
  server.onDataChannel.subscribe((ch) => {
    pair.serverChannel = ch;
    ch.onMessage.subscribe((m) => {
      pair.serverMessages.push(m.toString());
      ch.send(`echo ${m.toString()}`);
    });
  });
  server.onTrack.subscribe((t) => {
    t.onReceiveRtp.subscribe((rtp) => pair.rtpReceived.push(rtp.payload.readUInt32BE(0)));
  });
  await client.setLocalDescription(await client.createOffer());
  await server.setRemoteDescription(client.localDescription!);
  await server.setLocalDescription(await server.createAnswer());
  let sdp = server.localDescription!.sdp;
  if (opts.filterClientCandidates) {
    sdp = sdp
      .split('\r\n')
      .filter((l) => !l.startsWith('a=candidate:') || opts.filterClientCandidates!(l))
      .join('\r\n');
  }
  await client.setRemoteDescription({ type: 'answer', sdp });
  return pair;
}

export function rtpPacket(index: number, seq: number, payloadType = 96): RtpPacket {
  const payload = Buffer.alloc(200);
  payload.writeUInt32BE(index, 0);
  return new RtpPacket(new RtpHeader({ payloadType, sequenceNumber: seq & 0xffff, timestamp: seq * 3000, marker: true }), payload);
}

// ------------------------------------------------------------------------------------------------------------------
// Socket accounting: this process's sockets (fd → inode) joined with /proc/net/{udp,udp6,tcp,tcp6} (inode → port).

export interface SocketInfo {
  inode: string;
  proto: 'udp' | 'tcp';
  localPort: number;
  state: number;
}

function procNet(file: string, proto: 'udp' | 'tcp'): Map<string, SocketInfo> {
  const out = new Map<string, SocketInfo>();
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const port = parseInt(f[1]!.split(':')[1]!, 16);
    out.set(f[9]!, { inode: f[9]!, proto, localPort: port, state: parseInt(f[3]!, 16) });
  }
  return out;
}

/** UDP and TCP sockets held by this process. */
export function processSockets(): SocketInfo[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      /* fd closed meanwhile */
    }
  }
  const all = new Map([...procNet('/proc/net/udp', 'udp'), ...procNet('/proc/net/udp6', 'udp'), ...procNet('/proc/net/tcp', 'tcp'), ...procNet('/proc/net/tcp6', 'tcp')]);
  const out: SocketInfo[] = [];
  for (const inode of inodes) {
    const s = all.get(inode);
    if (s) out.push(s);
  }
  return out;
}

export { MediaStreamTrack };

/** VP8-like frames (15-bit PictureID descriptor, keyframe every `gop`), `packetsPerFrame` packets per frame. */
export class Vp8Frames {
  private seq = Math.floor(Math.random() * 60000);
  private ts = Math.floor(Math.random() * 1e9);
  private pictureId = 100;
  frame = 0;
  constructor(
    readonly payloadType = 96,
    readonly packetsPerFrame = 3,
    readonly gop = 30,
  ) {}

  next(): RtpPacket[] {
    const key = this.frame % this.gop === 0;
    const out: RtpPacket[] = [];
    for (let i = 0; i < this.packetsPerFrame; i++) {
      const payload = Buffer.alloc(800);
      payload[0] = 0x80 | (i === 0 ? 0x10 : 0);
      payload[1] = 0x80;
      payload[2] = 0x80 | ((this.pictureId >> 8) & 0x7f);
      payload[3] = this.pictureId & 0xff;
      payload[4] = key ? 0x00 : 0x01;
      payload.writeUInt32BE(this.frame, 8);
      payload.writeUInt16BE(i, 12);
      const header = new RtpHeader({ payloadType: this.payloadType, sequenceNumber: this.seq, timestamp: this.ts, marker: i === this.packetsPerFrame - 1 });
      this.seq = (this.seq + 1) & 0xffff;
      out.push(new RtpPacket(header, payload));
    }
    this.frame++;
    this.pictureId = (this.pictureId + 1) & 0x7fff;
    this.ts = (this.ts + 3000) >>> 0;
    return out;
  }
}
