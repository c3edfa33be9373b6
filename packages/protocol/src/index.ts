export * from './gen/messages.js';
export { codec, ProtocolError } from './codec.js';
export type { MessageCodec, PartialMessage, JsonValue, JsonObject, JsonWriteOptions } from './codec.js';
export { base64Encode, base64Decode, base64UrlEncode } from './base64.js';
export * from './twirp.js';
export * from './ids.js';
export * from './version.js';
export { TypedEventEmitter } from './events.js';
export type { EventMap } from './events.js';
