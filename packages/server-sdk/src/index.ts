export { AccessToken, TokenVerifier, TokenError, verifyToken, peekIssuer } from './AccessToken.js';
export type { AccessTokenOptions, VerifyOptions } from './AccessToken.js';
export { trackSourceToString, parseTrackSource, claimsToJwtPayload } from './grants.js';
export type { VideoGrant, SIPGrant, InferenceGrant, ObservabilityGrant, ClaimGrants, TrackSourceName } from './grants.js';
export { RoomServiceClient } from './RoomServiceClient.js';
export type { CreateOptions, SendDataOptions, UpdateParticipantOptions, ClientOptions } from './RoomServiceClient.js';
export { TwirpRpc, TwirpError } from './TwirpRpc.js';
export { ServiceBase } from './ServiceBase.js';
export { WebhookReceiver, signWebhook, WEBHOOK_CONTENT_TYPE } from './webhook.js';
export type { WebhookEventName } from './webhook.js';
// Protocol types users need with this SDK, re-exported as livekit-server-sdk does.
export { DataPacket_Kind, TrackSource, TrackType, Room, ParticipantInfo, TrackInfo, ParticipantPermission, WebhookEvent } from '@kite/protocol';
