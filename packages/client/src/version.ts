// What the client tells the server about itself (the query parameters livekit-client sends as ClientInfo).
export { PROTOCOL_VERSION } from '@kite/protocol';
export const SDK_NAME = 'js';
export const SDK_VERSION = '0.1.0';
