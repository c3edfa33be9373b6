// The Node platform: werift peer connections and `ws` sockets behind the SDK's interfaces. Node has no camera:
// "capturing" gives generated media (a looping VP8 test clip, a tone) so bots and tests publish real, decodable
// media; apps publish their own RTP or PCM through the sources in '@kite/client' (node/media).
import WebSocket from 'ws';
import {
  MediaStreamTrack as WeriftTrack,
  type MediaStreamTrack,
  RTCPeerConnection,
  RTCRtpCodecParameters,
  RTCRtpHeaderExtensionParameters,
  RTP_EXTENSION_URI,
  type RTCDataChannel,
  type RTCRtpTransceiver,
} from 'werift';
import { TrackSource } from '@kite/protocol';
import { applyWeriftPatches } from '@kite/sfu';
import type { CaptureRequest, CapturedTrack, DataChannel, EncodingParameters, IceServer, MediaTrack, PeerConfiguration, PeerConnection, PeerConnectionState, Platform, SocketLike, Transceiver } from './types.js';
import { channelFacade } from './channel.js';
import { VideoSource } from '../node/media/VideoSource.js';
import { AudioSource } from '../node/media/AudioSource.js';
import { playTone } from '../node/media/ToneGenerator.js';
import { createMediaReader } from '../node/reader.js';
import { audioSourceMedia, videoSourceMedia } from '../node/tracks.js';

const FEEDBACK = [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'goog-remb' }];

/** What the client negotiates: VP8 (+RTX) and Opus, with the MID header extension (BUNDLE needs it). */
function codecs() {
  return {
    audio: [new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: 111, parameters: 'minptime=10;useinbandfec=1' })],
    video: [
      new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000, payloadType: 96, rtcpFeedback: FEEDBACK }),
      new RTCRtpCodecParameters({ mimeType: 'video/rtx', clockRate: 90000, payloadType: 97, parameters: 'apt=96' }),
    ],
  };
}

function iceServers(list: IceServer[] | undefined) {
  const out: { urls: string; username?: string; credential?: string }[] = [];
  for (const s of list ?? []) for (const urls of s.urls) out.push({ urls, username: s.username, credential: s.credential });
  return out;
}

function wrapChannel(ch: RTCDataChannel): DataChannel {
  const w = channelFacade(ch, (data) => ch.send(Buffer.from(data.buffer, data.byteOffset, data.byteLength)));

  ch.stateChanged.subscribe((state) => {
    if (state === 'open') w.onopen?.();
    else if (state === 'closed') w.onclose?.();
  });
  ch.onMessage.subscribe((data) => w.onmessage?.(typeof data === 'string' ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength)));
  ch.bufferedAmountLow.subscribe(() => w.onbufferedamountlow?.());
  return w;
}

const wrapped = new WeakMap<RTCRtpTransceiver, Transceiver>();

function wrapTransceiver(t: RTCRtpTransceiver): Transceiver {
  let w = wrapped.get(t);
  if (w) return w;
  w = {
    get mid() {
      return t.mid ?? null;
    },
    get direction() {
      return t.direction as Transceiver['direction'];
    },
    set direction(d) {
      t.setDirection(d);
    },
    get msidTrackId() {
      return t.sender.trackId;
    },
    native: t,
    sender: {
      get track() {
        return (t.sender.track ?? null) as MediaTrack | null;
      },
      replaceTrack: async (track) => {
        if (track) await t.sender.replaceTrack(track as unknown as MediaStreamTrack);
      },
      // werift sends one encoding per sender: no simulcast layers to switch.
      getEncodings: () => [] as EncodingParameters[],
      setEncodings: async () => undefined,
    },
    receiver: {
      get track() {
        return t.receiver.track as unknown as MediaTrack;
      },
    },
  };
  wrapped.set(t, w);
  return w;
}

const merged = new WeakMap<RTCRtpTransceiver, MediaStreamTrack>();

/**
 * One stable receive track per transceiver. werift adds a new track object to a receiver for every new SSRC the
 * remote description lists (a reused m-line carries the next subscription with a new SSRC) but keeps announcing the
 * first one: this track forwards the RTP of all of them.
 */
function receiveTrack(t: RTCRtpTransceiver): MediaTrack {
  let track = merged.get(t);
  if (track) return track as unknown as MediaTrack;
  const out = new WeriftTrack({ kind: t.kind, remote: true });
  merged.set(t, out);
  const forward = (from: MediaStreamTrack) => from.onReceiveRtp.subscribe((p) => out.onReceiveRtp.execute(p));
  for (const existing of t.receiver.tracks) forward(existing);
  t.onTrack.subscribe((added) => forward(added));
  track = out;
  return track as unknown as MediaTrack;
}

/** Keyframe requests reach a source-fed video track through this hook (node/tracks.ts sets it). */
interface NodeLocalTrack extends MediaTrack {
  kiteKeyframeRequest?: () => void;
}

class WeriftPeerConnection implements PeerConnection {
  private readonly pc: RTCPeerConnection;
  onicecandidate: PeerConnection['onicecandidate'] = null;
  onconnectionstatechange: PeerConnection['onconnectionstatechange'] = null;
  ontrack: PeerConnection['ontrack'] = null;
  ondatachannel: PeerConnection['ondatachannel'] = null;

  constructor(config: PeerConfiguration) {
    applyWeriftPatches();
    const { iceServers: servers, iceTransportPolicy, serverHost, ...rest } = config as PeerConfiguration & { serverHost?: string };
    const mid = new RTCRtpHeaderExtensionParameters({ uri: RTP_EXTENSION_URI.sdesMid, id: 4 });
    const loopback = serverHost === '127.0.0.1' || serverHost === 'localhost' || serverHost === '[::1]';
    this.pc = new RTCPeerConnection({
      bundlePolicy: 'max-bundle',
      iceServers: iceServers(servers),
      iceTransportPolicy: iceTransportPolicy ?? 'all',
      iceUseIpv6: false,
      // A server on this machine is reached over loopback, which werift does not gather by default.
      ...(loopback ? { iceInterfaceAddresses: { udp4: '127.0.0.1' }, iceAdditionalHostAddresses: ['127.0.0.1'] } : {}),
      codecs: codecs(),
      headerExtensions: { audio: [mid], video: [mid] },
      ...rest,
    } as never);
    this.pc.onIceCandidate.subscribe((c) => c && this.onicecandidate?.(c.toJSON()));
    this.pc.connectionStateChange.subscribe((s) => this.onconnectionstatechange?.(s as PeerConnectionState));
    this.pc.onDataChannel.subscribe((ch) => this.ondatachannel?.(wrapChannel(ch)));
    this.pc.ontrack = (ev) => {
      const r = ev.transceiver.receiver;
      this.ontrack?.({ track: receiveTrack(ev.transceiver), transceiver: wrapTransceiver(ev.transceiver), streamId: r.remoteStreamId ?? '', trackId: r.remoteTrackId ?? '' });
    };
  }

  get native(): RTCPeerConnection {
    return this.pc;
  }
  get connectionState() {
    return this.pc.connectionState as PeerConnectionState;
  }
  get localDescription() {
    const d = this.pc.localDescription;
    return d ? { type: d.type as 'offer' | 'answer', sdp: d.sdp } : null;
  }
  get remoteDescription() {
    const d = this.pc.remoteDescription;
    return d ? { type: d.type as 'offer' | 'answer', sdp: d.sdp } : null;
  }
  async createOffer(opts?: { iceRestart?: boolean }) {
    if (opts?.iceRestart) this.pc.restartIce();
    const o = await this.pc.createOffer();
    return { type: 'offer' as const, sdp: o.sdp };
  }
  async createAnswer() {
    const a = await this.pc.createAnswer();
    return { type: 'answer' as const, sdp: a.sdp };
  }
  async setLocalDescription(d: { type: 'offer' | 'answer'; sdp: string }) {
    await this.pc.setLocalDescription(d);
  }
  async setRemoteDescription(d: { type: 'offer' | 'answer'; sdp: string }) {
    // werift restarts ICE/DTLS on every answer it applies and fails the connection when the first DTLS handshake
    // is still running: a re-answer waits for the handshake to finish.
    if (d.type === 'answer' && this.pc.remoteDescription) {
      const start = Date.now();
      while (this.pc.connectionState === 'connecting' && Date.now() - start < 15_000) await new Promise((r) => setTimeout(r, 20));
    }
    await this.pc.setRemoteDescription(d);
  }
  async addIceCandidate(c: { candidate?: string; sdpMid?: string | null; sdpMLineIndex?: number | null }) {
    if (!c.candidate) return;
    await this.pc.addIceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid ?? undefined, sdpMLineIndex: c.sdpMLineIndex ?? undefined });
  }
  addTransceiver(track: MediaTrack, init: { direction: Transceiver['direction']; streams?: string[] }): Transceiver {
    const t = this.pc.addTransceiver(track as unknown as MediaStreamTrack, { direction: init.direction });
    if (init.streams?.length) t.sender.streamIds = init.streams;
    const local = track as NodeLocalTrack;
    t.sender.onPictureLossIndication.subscribe(() => local.kiteKeyframeRequest?.());
    return wrapTransceiver(t);
  }
  removeTransceiver(t: Transceiver): void {
    const native = t.native as RTCRtpTransceiver;
    try {
      this.pc.removeTrack(native.sender);
    } catch {
      // already removed
    }
  }
  createDataChannel(label: string, init: { ordered?: boolean; maxRetransmits?: number }): DataChannel {
    return wrapChannel(this.pc.createDataChannel(label, init));
  }
  setConfiguration(config: PeerConfiguration): void {
    this.pc.setConfiguration({ iceServers: iceServers(config.iceServers) } as never);
  }
  async getStats() {
    const out = new Map<string, Record<string, unknown>>();
    try {
      const report = await this.pc.getStats();
      for (const [k, v] of report as unknown as Map<string, Record<string, unknown>>) out.set(k, v);
    } catch {
      // werift's stats are partial; an empty report is fine
    }
    return out;
  }
  close(): void {
    void this.pc.close();
  }
}

/** A frame rate from a MediaTrackConstraints value (number, {ideal}, {exact} or {max}). */
function frameRate(c: unknown): number | undefined {
  if (typeof c === 'number') return c;
  if (c && typeof c === 'object') {
    const o = c as { ideal?: number; exact?: number; max?: number };
    return o.exact ?? o.ideal ?? o.max;
  }
  return undefined;
}

/** Node's "devices": a looping VP8 test clip for video, a tone for audio (660 Hz for screen-share audio). */
function generatedTrack(req: CaptureRequest): CapturedTrack {
  if (req.kind === 'video') {
    const fps = frameRate(req.constraints.frameRate);
    const source = new VideoSource(fps ? { fps } : {});
    return { track: videoSourceMedia(source), width: source.width, height: source.height, settings: { width: source.width, height: source.height, frameRate: source.fps, deviceId: 'kite-test-clip' } };
  }
  const source = new AudioSource(48000, 1);
  const controller = new AbortController();
  const track = audioSourceMedia(source, () => {
    controller.abort();
    source.close();
  });
  void playTone(source, { frequency: req.source === TrackSource.SCREEN_SHARE_AUDIO ? 660 : 440, amplitude: 0.3, signal: controller.signal } as never).catch(() => undefined);
  return { track, settings: { sampleRate: 48000, channelCount: 1, deviceId: 'kite-test-tone' } };
}

export const nodePlatform: Platform = {
  name: 'node',
  // werift sends one encoding per sender, and there are no elements to size video for.
  simulcast: false,
  mediaElements: false,
  createPeerConnection: (config) => new WeriftPeerConnection(config),
  createWebSocket: (url) => new WebSocket(url, { perMessageDeflate: false }) as unknown as SocketLike,
  async capture(requests) {
    return requests.map(generatedTrack);
  },
  async listDevices(kind) {
    const all = [
      { deviceId: 'kite-test-clip', kind: 'videoinput', label: 'Kite test clip (VP8)' },
      { deviceId: 'kite-test-tone', kind: 'audioinput', label: 'Kite test tone (Opus)' },
    ];
    return all.filter((d) => !kind || d.kind === kind);
  },
  trackDimensions: () => undefined,
  // Generated media never ends on its own.
  onEnded: () => undefined,
  mediaReader: (track, kind) => createMediaReader(track as never, kind),
};
