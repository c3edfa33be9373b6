// The parts of werift 0.25.2's internals Kite touches, typed. werift is pinned to that exact version; every access
// to something werift does not document goes through these types, so an upgrade shows up here first.
import type { RTCDtlsTransport, RTCPeerConnection, RTCRtpTransceiver } from 'werift';

export type Address = [string, number];

/** werift's per-socket ICE protocol (StunProtocol); Kite hangs its media sink on it. */
export interface StunProtocolInternal {
  type: string;
  transport: { socket?: { send(buf: Uint8Array, port: number, address: string): void } };
  /** Set by Kite: receives every RTP/RTCP datagram that arrives on this socket (werift then never sees it). */
  kiteSink?: (data: Buffer, addr: Address) => void;
}

export interface CandidatePairInternal {
  protocol: StunProtocolInternal;
  remoteAddr: Address;
}

export interface IceConnectionInternal {
  nominated?: CandidatePairInternal;
  protocols: StunProtocolInternal[];
  send(data: Buffer): Promise<void>;
  localUsername: string;
  remoteUsername: string;
}

export interface DtlsInternal {
  srtp: { srtpProfile?: number };
  /** The DTLS record state: `recordSequenceNumber` is the last sequence number used in the current epoch. */
  dtls?: { epoch: number; recordSequenceNumber: number };
  extractSessionKeys(keyLength: number, saltLength: number): { localKey: Buffer; localSalt: Buffer; remoteKey: Buffer; remoteSalt: Buffer };
}

export interface DtlsTransportInternal {
  state: string;
  role: 'auto' | 'server' | 'client';
  srtpProfiles: number[];
  dtls?: DtlsInternal;
  iceTransport: { connection: IceConnectionInternal; state: string };
  onStateChange: { subscribe(cb: (state: string) => void): { unSubscribe(): void } };
}

export function dtlsInternal(dtls: RTCDtlsTransport): DtlsTransportInternal {
  return dtls as unknown as DtlsTransportInternal;
}

export interface SenderInternal {
  ssrc: number;
  rtxSsrc: number;
  streamIds: string[];
  trackId: string;
  kiteManaged?: boolean;
}

export function senderInternal(t: RTCRtpTransceiver): SenderInternal {
  return t.sender as unknown as SenderInternal;
}

export function firstDtls(pc: RTCPeerConnection): RTCDtlsTransport | undefined {
  return pc.dtlsTransports[0];
}
