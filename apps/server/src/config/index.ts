export { defaultConfig, DEFAULT_CODECS } from './schema.js';
export type * from './schema.js';
export { buildConfig, ConfigError } from './validate.js';
export { loadConfig, parseCliArgs, devLayer, DEV_KEYS } from './load.js';
export type { CliOptions } from './load.js';
