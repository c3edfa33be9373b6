// @kite/client for browsers: the shared API on the browser's WebRTC, WebSocket and media devices.
import { setPlatform } from './platform/types.js';
import { browserPlatform } from './platform/browser.js';

setPlatform(browserPlatform);

export * from './index.js';
