// Validation of a signalling connection (/rtc and /rtc/validate): the same checks and answers as LiveKit's
// rtcservice.validateInternal, so the official client's error handling (it fetches /rtc/validate when the upgrade
// fails) shows the right message.
import { ClientInfo_SDK, PROTOCOL_VERSION, type ClientInfo, type PartialMessage } from '@kite/protocol';
import { authenticate, extractToken, tokenErrorMessage, type ClaimGrants, type KeyProvider } from '../auth/tokens.js';

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
