// The claims of a LiveKit access token, as livekit-server-sdk and the Go server write and read them.
import { TrackSource } from '@kite/protocol';

export interface VideoGrant {
  roomCreate?: boolean;
  roomJoin?: boolean;
  roomList?: boolean;
  roomRecord?: boolean;
  roomAdmin?: boolean;
  room?: string;
  ingressAdmin?: boolean;
  /** Defaults to true when absent. */
  canPublish?: boolean;
  /** Empty or absent: every source. In the JWT these are lower-case names (`camera`, `screen_share`, …). */
  canPublishSources?: (TrackSource | TrackSourceName)[];
  /** Defaults to true when absent. */
  canSubscribe?: boolean;
  /** Defaults to `canPublish` when absent. */
  canPublishData?: boolean;
  /** Defaults to false when absent. */
  canUpdateOwnMetadata?: boolean;
  hidden?: boolean;
  recorder?: boolean;
  agent?: boolean;
  canSubscribeMetrics?: boolean;
  canManageAgentSession?: boolean;
  destinationRoom?: string;
}

export interface SIPGrant {
  admin?: boolean;
  call?: boolean;
}
export interface InferenceGrant {
  perform?: boolean;
}
export interface ObservabilityGrant {
  write?: boolean;
}

export interface ClaimGrants {
  /** API key that signed the token. */
  iss?: string;
  /** Participant identity. */
  sub?: string;
  jti?: string;
  exp?: number;
  nbf?: number;
  iat?: number;
  name?: string;
  video?: VideoGrant;
  sip?: SIPGrant;
  inference?: InferenceGrant;
  observability?: ObservabilityGrant;
  kind?: string;
  metadata?: string;
  attributes?: Record<string, string>;
  /** base64 SHA-256 of a webhook body. */
  sha256?: string;
  roomPreset?: string;
  roomConfig?: Record<string, unknown>;
  [claim: string]: unknown;
}

export type TrackSourceName = 'camera' | 'microphone' | 'screen_share' | 'screen_share_audio' | 'unknown';

const SOURCE_NAMES: Record<number, TrackSourceName> = {
  [TrackSource.UNKNOWN]: 'unknown',
  [TrackSource.CAMERA]: 'camera',
  [TrackSource.MICROPHONE]: 'microphone',
  [TrackSource.SCREEN_SHARE]: 'screen_share',
  [TrackSource.SCREEN_SHARE_AUDIO]: 'screen_share_audio',
};

export function trackSourceToString(source: TrackSource | TrackSourceName): TrackSourceName {
  if (typeof source === 'string') return source;
  const name = SOURCE_NAMES[source];
  if (!name) throw new Error(`unknown track source ${source}`);
  return name;
}

/** Parses a source as it appears in a JWT (case-insensitive name) or as a number. Undefined when unknown. */
export function parseTrackSource(source: unknown): TrackSource | undefined {
  if (typeof source === 'number') return SOURCE_NAMES[source] ? source : undefined;
  if (typeof source !== 'string') return undefined;
  const lower = source.toLowerCase();
  for (const [n, name] of Object.entries(SOURCE_NAMES)) if (name === lower) return Number(n);
  return undefined;
}

/** The JWT payload for a set of grants: sources become lower-case names. */
export function claimsToJwtPayload(grants: ClaimGrants): Record<string, unknown> {
  const payload: Record<string, unknown> = { ...grants };
  if (grants.video?.canPublishSources) {
    payload.video = { ...grants.video, canPublishSources: grants.video.canPublishSources.map(trackSourceToString) };
  }
  return payload;
}
