// What Kite negotiates: codecs with fixed payload types, header extensions with a fixed ID plan, ICE options.
import { RTCRtpCodecParameters, RTCRtpHeaderExtensionParameters, RTP_EXTENSION_URI, type RTCPeerConnection } from 'werift';
import type { TcpMux } from '../transport/mux/TcpMux.js';
import type { UdpMux } from '../transport/mux/UdpMux.js';

export const EXT = {
  mid: RTP_EXTENSION_URI.sdesMid,
  rid: RTP_EXTENSION_URI.sdesRTPStreamID,
  repairedRid: RTP_EXTENSION_URI.repairedRtpStreamId,
  audioLevel: RTP_EXTENSION_URI.audioLevelIndication,
  absSendTime: RTP_EXTENSION_URI.absSendTime,
  dependencyDescriptor: RTP_EXTENSION_URI.dependencyDescriptor,
  videoOrientation: RTP_EXTENSION_URI.videoOrientation,
  transportCc: RTP_EXTENSION_URI.transportWideCC,
} as const;

/**
 * The IDs Kite uses in its own offers (subscriber PCs). One ID per URI across audio and video, as BUNDLE needs;
 * chosen to match Chrome's own numbering so remapping is often the identity.
 */
export const KITE_EXT_IDS: Record<string, number> = {
  [EXT.audioLevel]: 1,
  [EXT.absSendTime]: 2,
  [EXT.transportCc]: 3,
  [EXT.mid]: 4,
  [EXT.videoOrientation]: 7,
  [EXT.dependencyDescriptor]: 8,
  [EXT.rid]: 10,
  [EXT.repairedRid]: 11,
};

// transport-cc: on what Kite sends, the client's TWCC feedback drives Kite's estimate of its downlink (bwe/); on what
// Kite receives it is removed from the answer (transport/sdp.ts) and goog-remb bounds the publisher.
const VIDEO_FEEDBACK = [{ type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'goog-remb' }, { type: 'transport-cc' }, { type: 'ccm', parameter: 'fir' }];
const AUDIO_FEEDBACK = [{ type: 'transport-cc' }];

export interface CodecSpec {
  mime: string;
  clockRate: number;
  channels?: number;
  payloadType: number;
  fmtp?: string;
  /** Payload type of its RTX stream, for video. */
  rtxPayloadType?: number;
}

/** Every codec Kite can forward, in preference order. `room.enabled_codecs` filters it. */
export const KITE_CODECS: CodecSpec[] = [
  { mime: 'audio/opus', clockRate: 48000, channels: 2, payloadType: 111, fmtp: 'minptime=10;useinbandfec=1' },
  { mime: 'video/VP8', clockRate: 90000, payloadType: 96, rtxPayloadType: 97 },
  { mime: 'video/H264', clockRate: 90000, payloadType: 125, rtxPayloadType: 107, fmtp: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f' },
  { mime: 'video/VP9', clockRate: 90000, payloadType: 98, rtxPayloadType: 99, fmtp: 'profile-id=0' },
  { mime: 'video/AV1', clockRate: 90000, payloadType: 35, rtxPayloadType: 36 },
];

export interface MediaConfig {
  /** MIME types enabled (case-insensitive), e.g. from room.enabled_codecs. Empty = all of KITE_CODECS. */
  enabledCodecs?: string[];
}

function codecParameters(cfg: MediaConfig): { audio: RTCRtpCodecParameters[]; video: RTCRtpCodecParameters[] } {
  const enabled = new Set((cfg.enabledCodecs ?? []).map((m) => m.toLowerCase()));
  const rtxEnabled = enabled.size === 0 || enabled.has('video/rtx');
  const on = (mime: string) => enabled.size === 0 || enabled.has(mime.toLowerCase());
  const audio: RTCRtpCodecParameters[] = [];
  const video: RTCRtpCodecParameters[] = [];
  for (const c of KITE_CODECS) {
    if (!on(c.mime)) continue;
    const isVideo = c.mime.startsWith('video/');
    const params = new RTCRtpCodecParameters({
      mimeType: c.mime,
      clockRate: c.clockRate,
      channels: c.channels,
      payloadType: c.payloadType,
      parameters: c.fmtp,
      rtcpFeedback: isVideo ? VIDEO_FEEDBACK : AUDIO_FEEDBACK,
    });
    (isVideo ? video : audio).push(params);
    if (isVideo && rtxEnabled && c.rtxPayloadType) {
      video.push(new RTCRtpCodecParameters({ mimeType: 'video/rtx', clockRate: 90000, payloadType: c.rtxPayloadType, parameters: `apt=${c.payloadType}` }));
    }
  }
  return { audio, video };
}

function headerExtensions() {
  const he = (uri: string) => new RTCRtpHeaderExtensionParameters({ uri, id: KITE_EXT_IDS[uri]! });
  return {
    audio: [he(EXT.mid), he(EXT.audioLevel), he(EXT.absSendTime), he(EXT.transportCc)],
    video: [he(EXT.mid), he(EXT.rid), he(EXT.repairedRid), he(EXT.absSendTime), he(EXT.transportCc), he(EXT.dependencyDescriptor), he(EXT.videoOrientation)],
  };
}

/** Candidate transport protocols. */
export type IceProtocol = 'udp' | 'tcp';

export interface IceOptions {
  /** Addresses to gather host candidates on (bind). Empty: werift's default (every non-internal interface). */
  bindAddresses?: string[];
  /**
   * Addresses to advertise as host candidates (rtc.node_ip, loopback). With a mux these are the only host
   * candidates (each with the mux's port); default then: the mux's bound address when it is a specific one.
   */
  advertiseAddresses?: string[];
  /**
   * The shared UDP socket (rtc.udp_port): every transport's ICE/UDP goes through it and werift opens no socket of
   * its own. Without it, werift binds one UDP socket per transport (in `portRange` when given).
   */
  udpMux?: UdpMux;
  /** The shared ICE-TCP listener (rtc.tcp_port): a passive TCP host candidate on its port. */
  tcpMux?: TcpMux;
  /**
   * Candidate protocols this transport offers; default every configured one. `['tcp']` offers only the TCP mux's
   * candidate (LiveKit's force-tcp: a client whose UDP is blocked, or that asked for TCP, gets nothing it cannot use).
   * Asking for a protocol with nothing to serve it (`['tcp']` without `tcpMux`) is an error at transport creation.
   */
  protocols?: readonly IceProtocol[];
  /** Only these addresses appear in Kite's candidates (others are filtered out of SDP and trickle). */
  candidateAllowList?: string[];
  portRange?: [number, number];
  iceServers?: { urls: string; username?: string; credential?: string }[];
  /**
   * ICE-lite (default true, as LiveKit): the client's full ICE agent controls and nominates. Needed with browsers
   * that only reveal mDNS (.local) host candidates: Kite ignores those and learns the peer-reflexive address from the
   * browser's own checks.
   */
  iceLite?: boolean;
}

/** RTCPeerConnection options for one Kite transport. */
export function peerConnectionConfig(media: MediaConfig, ice: IceOptions): ConstructorParameters<typeof RTCPeerConnection>[0] {
  const bind = ice.bindAddresses?.[0];
  return {
    iceServers: ice.iceServers ?? [],
    iceLite: ice.iceLite ?? true,
    bundlePolicy: 'max-bundle',
    iceUseTcp: false,
    iceUseIpv6: false,
    icePortRange: ice.portRange,
    iceInterfaceAddresses: bind ? { udp4: bind } : undefined,
    iceAdditionalHostAddresses: ice.advertiseAddresses,
    codecs: codecParameters(media),
    headerExtensions: headerExtensions(),
  } as ConstructorParameters<typeof RTCPeerConnection>[0];
}

/** werift's setConfiguration renumbers header extensions 1..n; put Kite's fixed plan back. */
export function applyExtensionIds(pc: RTCPeerConnection): void {
  const exts = (pc as unknown as { config: { headerExtensions: Record<string, { uri: string; id: number }[] | undefined> } }).config.headerExtensions;
  for (const kind of ['audio', 'video']) {
    for (const e of exts[kind] ?? []) {
      const id = KITE_EXT_IDS[e.uri];
      if (id) e.id = id;
    }
  }
}

/** SRTP profiles in Kite's order of preference: Kite's own AES-CM path is cheaper than GCM in Node (see srtp/). */
export const SRTP_PROFILE_PREFERENCE = [0x0001, 0x0007];
