// werift defects Kite works around, each shown with stock werift peers. Every test fails if Kite's fix is removed.
import { afterEach, describe, expect, it } from 'vitest';
import { MediaStreamTrack, RTCRtpCodecParameters, RTCRtpHeaderExtensionParameters, RTP_EXTENSION_URI, type RTCPeerConnection } from 'werift';
import { PublisherPeer, Receiver, SubscriberPeer } from '@kite/sfu';
import { LOOPBACK_ICE, clientPc, waitFor } from './helpers.js';

const cleanup: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  while (cleanup.length) await cleanup.pop()!();
});

const h264 = (pt: number, fmtp: string) =>
  new RTCRtpCodecParameters({ mimeType: 'video/H264', clockRate: 90000, payloadType: pt, parameters: fmtp, rtcpFeedback: [{ type: 'nack' }, { type: 'transport-cc' }] });

describe('werift defects fixed in Kite', () => {
  it('H.264: the answer picks the offered variant with the right packetization mode and profile, not the first H.264', async () => {
    // Chrome offers several H.264 variants; werift matches on the MIME type alone and would answer the first one.
    const client = clientPc({
      codecs: {
        video: [
          h264(102, 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f'),
          h264(127, 'level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f'),
          h264(108, 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f'),
        ],
      },
    });
    client.addTransceiver(new MediaStreamTrack({ kind: 'video' }), { direction: 'sendonly' });
    const pub = new PublisherPeer({ media: { enabledCodecs: ['video/H264'] }, ice: LOOPBACK_ICE });
    cleanup.push(() => client.close(), () => pub.close());
    await client.setLocalDescription(await client.createOffer());
    const answer = await pub.answer(client.localDescription!.sdp);
    const h264Lines = answer.split('\r\n').filter((l) => /^a=rtpmap:\d+ H264/.test(l));
    expect(h264Lines).toEqual(['a=rtpmap:108 H264/90000']);
    expect(pub.publishedSections[0]!.codecs[0]).toMatchObject({ payloadType: 108 });
  });

  it("TWCC: werift's transport-cc feedback is never negotiated on what Kite receives (it drags Chrome's estimate down)", async () => {
    const client = clientPc({
      codecs: { video: [new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000, payloadType: 96, rtcpFeedback: [{ type: 'nack' }, { type: 'transport-cc' }] })] },
      headerExtensions: { video: [new RTCRtpHeaderExtensionParameters({ id: 3, uri: RTP_EXTENSION_URI.transportWideCC }), new RTCRtpHeaderExtensionParameters({ id: 4, uri: RTP_EXTENSION_URI.sdesMid })] },
    });
    client.addTransceiver(new MediaStreamTrack({ kind: 'video' }), { direction: 'sendonly' });
    const pub = new PublisherPeer({ media: {}, ice: LOOPBACK_ICE });
    cleanup.push(() => client.close(), () => pub.close());
    await client.setLocalDescription(await client.createOffer());
    expect(client.localDescription!.sdp).toContain('transport-wide-cc');
    const answer = await pub.answer(client.localDescription!.sdp);
    expect(answer).not.toContain('transport-wide-cc');
    expect(answer).not.toMatch(/a=rtcp-fb:\d+ transport-cc/);
  });

  it('m-lines: 20 subscribe/unsubscribe cycles of a track reuse its transceiver, the SDP stays bounded and m-line 0 is never stopped; another track gets its own', async () => {
    const client: RTCPeerConnection = clientPc();
    let offer: { sdp: string; id: number } | undefined;
    const sub = new SubscriberPeer({ media: {}, ice: LOOPBACK_ICE, sendOffer: (sdp, id) => (offer = { sdp, id }), negotiationDelayMs: 0 });
    cleanup.push(() => client.close(), () => sub.close());
    const receiver = new Receiver({ trackSid: 'TR_x', kind: 'video', codecs: [{ mime: 'video/VP8', kind: 2, payloadType: 96, clockRate: 90000, fmtp: '' }], extensions: { audioLevel: 0, dependencyDescriptor: 0, videoOrientation: 0 }, simulcast: false, sendPli: () => undefined });
    const negotiate = async () => {
      await waitFor(() => offer !== undefined, 5000, 'offer');
      const o = offer!;
      offer = undefined;
      await client.setRemoteDescription({ type: 'offer', sdp: o.sdp });
      await client.setLocalDescription(await client.createAnswer());
      await sub.handleAnswer(client.localDescription!.sdp, o.id);
      return o.sdp;
    };
    let lastOffer = '';
    for (let i = 0; i < 20; i++) {
      const dt = sub.subscribe(receiver, { streamId: 'PA_a|camera', trackId: 'TR_x' });
      lastOffer = await negotiate();
      expect(lastOffer).toContain('a=msid:PA_a|camera TR_x');
      sub.unsubscribe(dt);
      lastOffer = await negotiate();
    }
    const mLines = lastOffer.split('\r\n').filter((l) => l.startsWith('m='));
    expect(sub.mediaSectionCount).toBe(1);
    expect(mLines.filter((l) => l.startsWith('m=video'))).toHaveLength(1);
    // No m-line was rejected/stopped (port 0): Chrome refuses offers that recycle a stopped m-line 0.
    expect(mLines.every((l) => !/^m=\w+ 0 /.test(l))).toBe(true);
    expect(client.getTransceivers().length).toBe(1);
    // A browser keeps a receiver's first track id, so a different track never lands on that m-line.
    sub.subscribe(receiver, { streamId: 'PA_b|camera', trackId: 'TR_y' });
    expect((await negotiate()).split('\r\n').filter((l) => l.startsWith('m=video'))).toHaveLength(2);
    expect(sub.mediaSectionCount).toBe(2);
  });
});
