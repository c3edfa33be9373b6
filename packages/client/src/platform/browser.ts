// The browser platform: RTCPeerConnection, WebSocket, getUserMedia / getDisplayMedia, behind the SDK's interfaces.
import { TrackSource } from '@kite/protocol';
import type {
  CaptureRequest,
  CapturedTrack,
  DataChannel,
  EncodingParameters,
  MediaTrack,
  PeerConfiguration,
  PeerConnection,
  Platform,
  Transceiver,
} from './types.js';
import { channelFacade } from './channel.js';

function wrapChannel(ch: RTCDataChannel): DataChannel {
  ch.binaryType = 'arraybuffer';
  const w = channelFacade(ch, (data) => ch.send(data as Uint8Array<ArrayBuffer>));

  ch.onopen = () => w.onopen?.();
  ch.onclose = () => w.onclose?.();
  ch.onbufferedamountlow = () => w.onbufferedamountlow?.();
  ch.onmessage = (ev: MessageEvent) => {
    const d = ev.data as unknown;
    w.onmessage?.(typeof d === 'string' ? d : new Uint8Array(d as ArrayBuffer));
  };
  return w;
}

const wrapped = new WeakMap<RTCRtpTransceiver, Transceiver>();

function wrapTransceiver(t: RTCRtpTransceiver, msidTrackId?: string): Transceiver {
  let w = wrapped.get(t);
  if (w) return w;
  w = {
    get mid() {
      return t.mid;
    },
    get direction() {
      return t.direction as Transceiver['direction'];
    },
    set direction(d) {
      t.direction = d;
    },
    msidTrackId: msidTrackId ?? t.sender.track?.id ?? '',
    native: t,
    sender: {
      get track() {
        return t.sender.track;
      },
      replaceTrack: (track) => t.sender.replaceTrack(track as MediaStreamTrack | null),
      getEncodings: () => (t.sender.getParameters().encodings ?? []) as EncodingParameters[],
      async setEncodings(encodings) {
        const params = t.sender.getParameters();
        params.encodings = params.encodings.map((e, i) => ({ ...e, active: encodings[i]?.active ?? e.active, maxBitrate: encodings[i]?.maxBitrate ?? e.maxBitrate }));
        await t.sender.setParameters(params);
      },
    },
    receiver: {
      get track() {
        return t.receiver.track;
      },
    },
  };
  wrapped.set(t, w);
  return w;
}

class BrowserPeerConnection implements PeerConnection {
  private readonly pc: RTCPeerConnection;
  onicecandidate: PeerConnection['onicecandidate'] = null;
  onconnectionstatechange: PeerConnection['onconnectionstatechange'] = null;
  ontrack: PeerConnection['ontrack'] = null;
  ondatachannel: PeerConnection['ondatachannel'] = null;

  constructor(config: PeerConfiguration) {
    this.pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', ...(config as RTCConfiguration) });
    this.pc.onicecandidate = (ev) => ev.candidate && this.onicecandidate?.(ev.candidate.toJSON());
    this.pc.onconnectionstatechange = () => this.onconnectionstatechange?.(this.pc.connectionState);
    this.pc.ondatachannel = (ev) => this.ondatachannel?.(wrapChannel(ev.channel));
    this.pc.ontrack = (ev) => {
      // msid "<stream id> <track id>": the stream id names the publisher and track (`PA_x|TR_y`).
      const streamId = ev.streams[0]?.id ?? '';
      this.ontrack?.({ track: ev.track, transceiver: wrapTransceiver(ev.transceiver), streamId, trackId: ev.track.id });
    };
  }

  get native(): RTCPeerConnection {
    return this.pc;
  }
  get connectionState() {
    return this.pc.connectionState;
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
    const o = await this.pc.createOffer(opts);
    return { type: 'offer' as const, sdp: o.sdp ?? '' };
  }
  async createAnswer() {
    const a = await this.pc.createAnswer();
    return { type: 'answer' as const, sdp: a.sdp ?? '' };
  }
  setLocalDescription(d: { type: 'offer' | 'answer'; sdp: string }) {
    return this.pc.setLocalDescription(d);
  }
  setRemoteDescription(d: { type: 'offer' | 'answer'; sdp: string }) {
    return this.pc.setRemoteDescription(d);
  }
  addIceCandidate(c: RTCIceCandidateInit) {
    return this.pc.addIceCandidate(c);
  }
  addTransceiver(track: MediaTrack, init: { direction: Transceiver['direction']; streams?: string[]; sendEncodings?: EncodingParameters[] }): Transceiver {
    const t = this.pc.addTransceiver(track as MediaStreamTrack, {
      direction: init.direction,
      streams: [new MediaStream([track as MediaStreamTrack])],
      sendEncodings: init.sendEncodings as RTCRtpEncodingParameters[] | undefined,
    });
    return wrapTransceiver(t, track.id);
  }
  removeTransceiver(t: Transceiver): void {
    const native = t.native as RTCRtpTransceiver;
    if (this.pc.connectionState === 'closed') return;
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
    this.pc.setConfiguration({ ...this.pc.getConfiguration(), ...(config as RTCConfiguration) });
  }
  async getStats() {
    const report = await this.pc.getStats();
    const out = new Map<string, Record<string, unknown>>();
    report.forEach((v: Record<string, unknown>, k: string) => out.set(k, v));
    return out;
  }
  close(): void {
    this.pc.close();
  }
}

async function capture(requests: CaptureRequest[]): Promise<CapturedTrack[]> {
  const md = navigator.mediaDevices;
  const screen = requests.find((r) => r.source === TrackSource.SCREEN_SHARE);
  let tracks: MediaStreamTrack[];
  if (screen) {
    const wantsAudio = requests.some((r) => r.source === TrackSource.SCREEN_SHARE_AUDIO);
    const stream = await md.getDisplayMedia({ video: screen.constraints as MediaTrackConstraints, audio: wantsAudio });
    tracks = [...stream.getVideoTracks(), ...stream.getAudioTracks()];
  } else {
    const audio = requests.find((r) => r.kind === 'audio');
    const video = requests.find((r) => r.kind === 'video');
    const stream = await md.getUserMedia({ audio: audio ? (audio.constraints as MediaTrackConstraints) : false, video: video ? (video.constraints as MediaTrackConstraints) : false });
    // Keep the order of the requests.
    tracks = requests.map((r) => (r.kind === 'audio' ? stream.getAudioTracks()[0]! : stream.getVideoTracks()[0]!));
  }
  return tracks.map((track) => {
    const settings = track.getSettings() as Record<string, unknown>;
    return { track, width: settings.width as number | undefined, height: settings.height as number | undefined, settings };
  });
}

export const browserPlatform: Platform = {
  name: 'browser',
  simulcast: true,
  mediaElements: true,
  createPeerConnection: (config) => new BrowserPeerConnection(config),
  createWebSocket: (url) => new WebSocket(url) as unknown as ReturnType<Platform['createWebSocket']>,
  capture,
  async listDevices(kind) {
    const all = await navigator.mediaDevices.enumerateDevices();
    return all.filter((d) => !kind || d.kind === kind).map((d) => ({ deviceId: d.deviceId, kind: d.kind, label: d.label, groupId: d.groupId }));
  },
  onEnded(track, cb) {
    (track as MediaStreamTrack).addEventListener('ended', cb, { once: true });
  },
  trackDimensions(track) {
    const s = (track as MediaStreamTrack).getSettings?.();
    return s?.width && s.height ? { width: s.width, height: s.height } : undefined;
  },
};
