// Benchmark child: N subscribers (stock werift for ICE/DTLS) whose media is only counted, never decrypted, so this
// process stays cheap and the server's cost is what gets measured.
import { applyWeriftPatches } from '@kite/sfu';
import type { RTCPeerConnection } from 'werift';
import { loopbackPc, waitConnected, cpuSeconds } from './common.js';

applyWeriftPatches();
const pcs = new Map<number, RTCPeerConnection>();
const counts = new Map<number, number>();

interface Tappable {
  dtlsTransports: { iceTransport: { connection: { protocols: { kiteSink?: (d: Buffer) => void }[] } } }[];
}

process.on('message', async (msg: { type: string; id?: number; sdp?: string }) => {
  if (msg.type === 'offer') {
    const id = msg.id!;
    let pc = pcs.get(id);
    if (!pc) {
      pc = loopbackPc();
      pcs.set(id, pc);
      counts.set(id, 0);
    }
    await pc.setRemoteDescription({ type: 'offer', sdp: msg.sdp! });
    await pc.setLocalDescription(await pc.createAnswer());
    process.send!({ type: 'answer', id, sdp: pc.localDescription!.sdp });
    void waitConnected(pc).then(() => {
      // Count RTP datagrams as they arrive (RTCP has packet types 192–223).
      for (const proto of (pc as unknown as Tappable).dtlsTransports[0]!.iceTransport.connection.protocols) {
        proto.kiteSink = (d: Buffer) => {
          const pt = d[1]!;
          if (pt < 192 || pt > 223) counts.set(id, counts.get(id)! + 1);
        };
      }
      process.send!({ type: 'connected', id });
    });
  } else if (msg.type === 'stats') {
    let total = 0;
    for (const c of counts.values()) total += c;
    process.send!({ type: 'stats', total, cpu: cpuSeconds() });
  } else if (msg.type === 'stop') {
    for (const pc of pcs.values()) await pc.close();
    process.exit(0);
  }
});
process.send!({ type: 'ready' });
