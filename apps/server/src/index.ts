// @kite/server as a library: createServer(config) starts the whole server in-process; close() stops it.
export { createServer } from './server.js';
export type { KiteServer, ServerOptions } from './server.js';
export type { ClusterNode, ClusterOptions } from './routing/cluster.js';
export type { NodeInfo, RegistryTiming } from './routing/nodeRegistry.js';
export { buildConfig, defaultConfig, loadConfig, parseCliArgs, ConfigError, DEV_KEYS } from './config/index.js';
export type { KiteConfig, KiteConfigInput } from './config/index.js';
export type { RoomStore } from './rooms/store.js';
export { LocalRoomStore } from './rooms/store.js';
export type { WebhookNotifier, WebhookTuning, WebhookUrlStats } from './webhooks/notifier.js';
