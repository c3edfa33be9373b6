// Benchmark child: one publisher (stock werift) sending paced VP8-like RTP.
import { MediaStreamTrack } from 'werift';
import { Vp8Source, loopbackPc, waitConnected, cpuSeconds } from './common.js';

const pc = loopbackPc();
const track = new MediaStreamTrack({ kind: 'video' });
pc.addTransceiver(track, { direction: 'sendonly' });
const source = new Vp8Source();
let sent = 0;
let timer: NodeJS.Timeout | undefined;

process.on('message', async (msg: { type: string; sdp?: string; pps?: number }) => {
  if (msg.type === 'offer') {
    await pc.setLocalDescription(await pc.createOffer());
    process.send!({ type: 'offer', sdp: pc.localDescription!.sdp });
  } else if (msg.type === 'answer') {
    await pc.setRemoteDescription({ type: 'answer', sdp: msg.sdp! });
    await waitConnected(pc);
    process.send!({ type: 'connected' });
  } else if (msg.type === 'start') {
    // Paced in 5 ms ticks; 4 packets per frame.
    const perTick = (msg.pps! * 5) / 1000;
    let credit = 0;
    let inFrame = 0;
    timer = setInterval(() => {
      credit += perTick;
      while (credit >= 1) {
        credit--;
        inFrame = (inFrame + 1) % 4;
        track.writeRtp(source.packet(inFrame === 0));
        sent++;
      }
    }, 5);
  } else if (msg.type === 'stop') {
    if (timer) clearInterval(timer);
    process.send!({ type: 'stopped', sent, cpu: cpuSeconds() });
    await pc.close();
    process.exit(0);
  }
});
process.send!({ type: 'ready' });
