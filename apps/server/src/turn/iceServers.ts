// The `ice_servers` of a JoinResponse (and ReconnectResponse): Kite's own TURN server with credentials for that one
// participant, in the shape LiveKit sends (one ICEServer, several URLs) and livekit-client passes to
// RTCPeerConnection as is.
import type { ICEServer } from '@kite/protocol';
import type { KiteConfig } from '../config/index.js';
import { issueTurnCredentials, TURN_CREDENTIAL_TTL_S } from './credentials.js';
import { turnServiceFor } from './turnService.js';

export interface IceServersOptions {
  /**
   * Only turns: (TURN over TLS, LiveKit's force-tls / ICE over TLS). Ignored when Kite serves no TLS, as LiveKit
   * does: better a connection over UDP or TCP than none.
   */
  tlsOnly?: boolean;
  /** Issue time (ms), for tests. */
  now?: number;
  /** Credential lifetime in seconds. */
  ttlS?: number;
}

export interface IceServerParticipant {
  sid: string;
  /** The API key of the participant's token; the first configured key when absent or unknown. */
  apiKey?: string;
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** No servers when TURN is disabled or not running (LiveKit sends none either without TURN or STUN configured). */
export function iceServersFor(cfg: KiteConfig, participant: IceServerParticipant, opts: IceServersOptions = {}): ICEServer[] {
  const svc = turnServiceFor(cfg);
  if (!cfg.turn.enabled || svc === undefined) return [];
  const e = svc.endpoints;
  const tls: string[] = [];
  if (e.externalTls) tls.push(`turns:${e.tlsHost}:443?transport=tcp`);
  else if (e.tlsPort !== undefined) tls.push(`turns:${urlHost(e.tlsHost)}:${e.tlsPort}?transport=tcp`);
  const plain = [`turn:${urlHost(e.host)}:${e.udpPort}?transport=udp`, `turn:${urlHost(e.host)}:${e.tcpPort}?transport=tcp`];
  const urls = opts.tlsOnly && tls.length > 0 ? tls : [...plain, ...tls];

  const apiKey = participant.apiKey !== undefined && Object.hasOwn(cfg.keys, participant.apiKey) ? participant.apiKey : Object.keys(cfg.keys)[0];
  if (apiKey === undefined) return [];
  const c = issueTurnCredentials(apiKey, cfg.keys[apiKey]!, participant.sid, opts.ttlS ?? TURN_CREDENTIAL_TTL_S, opts.now);
  return [{ urls, username: c.username, credential: c.credential }];
}
