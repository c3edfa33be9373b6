// Where configuration comes from, as livekit-server reads it: defaults, then --dev, then YAML (--config file,
// --config-body or LIVEKIT_CONFIG), then key sources (key_file, --keys / LIVEKIT_KEYS), then flags.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { ConfigError, buildConfig } from './validate.js';
import type { KiteConfig } from './schema.js';

export const DEV_KEYS = { devkey: 'secret' } as const;

/** What --dev changes (before the config file, which may override any of it). */
export function devLayer(): Record<string, unknown> {
  return {
    development: true,
    bind_addresses: ['127.0.0.1'],
    rtc: { udp_port: 7882, tcp_port: 7881, enable_loopback_candidate: true },
    // Kite's own TURN on its usual ports; TLS with a self-signed certificate generated at start (no cert_file needed).
    turn: { enabled: true, udp_port: 3478, tls_port: 5349 },
    // The demo meeting app at /meet (when it is built).
    meet: { enabled: true },
  };
}

export interface CliOptions {
  dev: boolean;
  config?: string;
  configBody?: string;
  keys?: string;
  bind: string[];
  nodeIp?: string;
  udpPort?: string;
  redisHost?: string;
  port?: string;
}

export function parseCliArgs(argv: string[]): { command: 'serve' | 'generate-keys' | 'help'; options: CliOptions } {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      dev: { type: 'boolean', default: false },
      config: { type: 'string' },
      'config-body': { type: 'string' },
      keys: { type: 'string' },
      bind: { type: 'string', multiple: true },
      'node-ip': { type: 'string' },
      'udp-port': { type: 'string' },
      'redis-host': { type: 'string' },
      port: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const cmd = positionals[0];
  if (cmd && cmd !== 'generate-keys') throw new ConfigError(`unknown command "${cmd}" (commands: generate-keys)`);
  if (positionals.length > 1) throw new ConfigError(`unexpected argument "${positionals[1]}"`);
  return {
    command: values.help ? 'help' : cmd === 'generate-keys' ? 'generate-keys' : 'serve',
    options: {
      dev: values.dev ?? false,
      config: values.config,
      configBody: values['config-body'],
      keys: values.keys,
      bind: values.bind ?? [],
      nodeIp: values['node-ip'],
      udpPort: values['udp-port'],
      redisHost: values['redis-host'],
      port: values.port,
    },
  };
}

function yaml(text: string, source: string): unknown {
  try {
    return parseYaml(text) ?? {};
  } catch (err) {
    throw new ConfigError(`${source} is not valid YAML: ${(err as Error).message}`);
  }
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Builds the configuration from CLI options and the environment. Throws ConfigError naming the bad key. */
export function loadConfig(opts: CliOptions, env: NodeJS.ProcessEnv = process.env): KiteConfig {
  const layers: unknown[] = [];
  if (opts.dev) layers.push(devLayer());

  let fileLayer: Record<string, unknown> | undefined;
  if (opts.config) fileLayer = yaml(readText(opts.config, 'config file'), `config file ${opts.config}`) as Record<string, unknown>;
  else if (opts.configBody) fileLayer = yaml(opts.configBody, '--config-body') as Record<string, unknown>;
  else if (env.LIVEKIT_CONFIG) fileLayer = yaml(env.LIVEKIT_CONFIG, 'LIVEKIT_CONFIG') as Record<string, unknown>;
  if (fileLayer !== undefined && (typeof fileLayer !== 'object' || Array.isArray(fileLayer))) {
    throw new ConfigError('configuration must be a YAML map');
  }
  if (fileLayer) layers.push(fileLayer);

  // Keys: key_file adds to keys:, --keys / LIVEKIT_KEYS replace them; --dev supplies devkey only when nothing else does.
  const keyFile = (fileLayer?.key_file as string | undefined) ?? undefined;
  const keySources: unknown[] = [];
  if (typeof keyFile === 'string' && keyFile) keySources.push(yaml(readText(keyFile, 'key_file'), `key_file ${keyFile}`));
  const keysText = opts.keys ?? env.LIVEKIT_KEYS;
  if (keysText) keySources.push(yaml(keysText, opts.keys ? '--keys' : 'LIVEKIT_KEYS'));
  for (const k of keySources) layers.push({ keys: k });

  const flags: Record<string, unknown> = {};
  const rtc: Record<string, unknown> = {};
  if (opts.bind.length) flags.bind_addresses = opts.bind;
  if (opts.port !== undefined) flags.port = opts.port;
  if (opts.nodeIp) rtc.node_ip = opts.nodeIp;
  if (opts.udpPort !== undefined) rtc.udp_port = opts.udpPort;
  if (Object.keys(rtc).length) flags.rtc = rtc;
  if (opts.redisHost) flags.redis = { address: opts.redisHost };
  layers.push(flags);

  const hasKeys = layers.some((l) => l && typeof l === 'object' && 'keys' in l && Object.keys((l as { keys: object }).keys ?? {}).length > 0);
  if (opts.dev && !hasKeys) layers.push({ keys: { ...DEV_KEYS } });
  return buildConfig(...layers);
}
