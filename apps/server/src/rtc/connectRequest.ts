// Validation of a signalling connection (/rtc, /rtc/v1 and their /validate): the same checks and answers as LiveKit's
// rtcservice.validateInternal, so the official client's error handling (it fetches /rtc[/v1]/validate when the
// upgrade fails) shows the right message.
import { ClientInfo_SDK, PROTOCOL_VERSION, type AddTrackRequest, type ClientInfo, type PartialMessage, type SessionDescription } from '@kite/protocol';
import { authenticate, extractToken, tokenErrorMessage, type ClaimGrants, type KeyProvider } from '../auth/tokens.js';
import { decodeJoinRequest } from './joinRequest.js';

export interface ConnectParams {
  grants: ClaimGrants;
  apiKey: string;
  identity: string;
  roomName: string;
  autoSubscribe: boolean;
  adaptiveStream: boolean;
  /** Signalling protocol version the client speaks. */
  protocol: number;
  clientProtocol: number;
  reconnect: boolean;
  /** Participant sid to resume (reconnect=1). */
  sid: string;
  reconnectReason: number;
  clientInfo: PartialMessage<ClientInfo>;
  /** Publishing data channels etc. on the subscriber PC is allowed to pause (subscriber_allow_pause). */
  subscriberAllowPause?: boolean;
  disableIceLite: boolean;
  /** LiveKit protocol v1 (/rtc/v1): one peer connection, the client always offers. */
  singlePeerConnection?: boolean;
  /** v1: what the JoinRequest carried for the session itself: tracks to announce and the first publisher offer. */
  joinRequest?: { addTrackRequests: AddTrackRequest[]; publisherOffer?: SessionDescription };
}

export type ConnectCheck = { ok: true; params: ConnectParams } | { ok: false; status: number; message: string };

const truthy = (v: string | undefined) => v === '1' || v === 'true';

const SDKS: Record<string, ClientInfo_SDK> = {
  js: ClientInfo_SDK.JS,
  swift: ClientInfo_SDK.SWIFT,
  ios: ClientInfo_SDK.SWIFT,
  android: ClientInfo_SDK.ANDROID,
  flutter: ClientInfo_SDK.FLUTTER,
  go: ClientInfo_SDK.GO,
  unity: ClientInfo_SDK.UNITY,
  reactnative: ClientInfo_SDK.REACT_NATIVE,
  rust: ClientInfo_SDK.RUST,
  python: ClientInfo_SDK.PYTHON,
  cpp: ClientInfo_SDK.CPP,
  unityweb: ClientInfo_SDK.UNITY_WEB,
  node: ClientInfo_SDK.NODE,
};

const MAX_IDENTITY_LENGTH = 256;

export async function checkConnect(
  query: Record<string, string | undefined>,
  authorization: string | undefined,
  keys: KeyProvider,
  userAgent?: string,
): Promise<ConnectCheck> {
  const { token, error } = extractToken(authorization, query.access_token);
  if (error) return { ok: false, status: 401, message: error };
  if (!token) return { ok: false, status: 401, message: 'permissions denied' };
  let grants: ClaimGrants;
  let apiKey: string;
  try {
    ({ grants, apiKey } = await authenticate(keys, token));
  } catch (err) {
    return { ok: false, status: 401, message: tokenErrorMessage(err) };
  }
  if (!grants.video?.roomJoin) return { ok: false, status: 401, message: 'permissions denied' };
  const roomName = grants.video.room ?? '';
  if (!roomName) return { ok: false, status: 400, message: 'no room name' };
  // LiveKit falls back to jti when sub is empty.
  const identity = grants.sub || grants.jti || '';
  if (!identity) return { ok: false, status: 400, message: 'identity cannot be empty' };
  if (identity.length > MAX_IDENTITY_LENGTH) return { ok: false, status: 400, message: 'participant identity length exceeds limits' };

  const protocol = Number(query.protocol ?? PROTOCOL_VERSION);
  const sdkName = (query.sdk ?? '').toLowerCase();
  return {
    ok: true,
    params: {
      grants,
      apiKey,
      identity,
      roomName,
      autoSubscribe: query.auto_subscribe === undefined ? true : truthy(query.auto_subscribe),
      adaptiveStream: truthy(query.adaptive_stream),
      protocol: Number.isFinite(protocol) ? protocol : PROTOCOL_VERSION,
      clientProtocol: Number(query.client_protocol ?? 0) || 0,
      reconnect: truthy(query.reconnect),
      sid: query.sid ?? '',
      reconnectReason: Number(query.reconnect_reason ?? 0) || 0,
      subscriberAllowPause: query.subscriber_allow_pause === undefined ? undefined : truthy(query.subscriber_allow_pause),
      disableIceLite: truthy(query.disable_ice_lite),
      clientInfo: {
        sdk: SDKS[sdkName] ?? ClientInfo_SDK.UNKNOWN,
        version: query.version ?? '',
        protocol: Number.isFinite(protocol) ? protocol : 0,
        os: query.os ?? '',
        osVersion: query.os_version ?? '',
        deviceModel: query.device_model ?? '',
        browser: query.browser ?? '',
        browserVersion: query.browser_version ?? '',
        network: query.network ?? '',
        clientProtocol: Number(query.client_protocol ?? 0) || 0,
      },
    },
  };
}

/**
 * /rtc/v1: the token as for /rtc, everything else from the `join_request` parameter (a JoinRequest). Its metadata
 * and attributes override the token's, which takes canUpdateOwnMetadata (as LiveKit's ValidateConnectRequest).
 */
export async function checkConnectV1(
  query: Record<string, string | undefined>,
  authorization: string | undefined,
  keys: KeyProvider,
  userAgent?: string,
): Promise<ConnectCheck> {
  const base = await checkConnect({ access_token: query.access_token }, authorization, keys, userAgent);
  if (!base.ok && base.status === 401) return base; // a bad token is refused before anything else
  const decoded = decodeJoinRequest(query.join_request);
  if (!decoded.ok) return decoded;
  if (!base.ok) return base;
  const jr = decoded.request;
  let grants = base.params.grants;
  const attributes = Object.entries(jr.participantAttributes).filter(([, v]) => v !== ''); // no deleting the token's
  if (jr.metadata || attributes.length) {
    if (!grants.video?.canUpdateOwnMetadata) return { ok: false, status: 401, message: 'permissions denied' };
    grants = { ...grants, metadata: jr.metadata || grants.metadata, attributes: { ...(grants.attributes ?? {}), ...Object.fromEntries(attributes) } };
  }
  const settings = jr.connectionSettings;
  const info = jr.clientInfo;
  const protocol = info?.protocol || PROTOCOL_VERSION;
  return {
    ok: true,
    params: {
      ...base.params,
      grants,
      // Unlike /rtc, auto_subscribe is false when unset (the clients always set it).
      autoSubscribe: settings?.autoSubscribe ?? false,
      adaptiveStream: settings?.adaptiveStream ?? false,
      subscriberAllowPause: settings?.subscriberAllowPause,
      disableIceLite: settings?.disableIceLite ?? false,
      protocol,
      clientProtocol: info?.clientProtocol ?? 0,
      reconnect: jr.reconnect,
      sid: jr.participantSid,
      reconnectReason: jr.reconnectReason,
      clientInfo: { ...(info ?? {}), protocol },
      singlePeerConnection: true,
      joinRequest: { addTrackRequests: jr.addTrackRequests, publisherOffer: jr.publisherOffer },
    },
  };
}
