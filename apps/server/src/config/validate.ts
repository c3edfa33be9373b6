// Validation of a raw (YAML/JSON/object) configuration against Kite's keys. Every error names the key.
import { isIP } from 'node:net';
import { defaultConfig, type KiteConfig } from './schema.js';

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Check = (value: unknown, key: string) => unknown;
interface Section {
  [key: string]: Check | Section;
}

const fail = (key: string, what: string): never => {
  throw new ConfigError(`config key "${key}": ${what}`);
};

const int =
  (min: number, max: number): Check =>
  (v, key) => {
    const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) fail(key, `must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
    return n;
  };
const port = int(0, 65535);
const bool: Check = (v, key) => {
  if (typeof v === 'boolean') return v;
  if (v === 'true') return true;
  if (v === 'false') return false;
  return fail(key, `must be true or false, got ${JSON.stringify(v)}`);
};
const str: Check = (v, key) => {
  if (typeof v === 'number') return String(v);
  if (typeof v !== 'string') fail(key, `must be a string, got ${JSON.stringify(v)}`);
  return v;
};
const ip: Check = (v, key) => {
  const s = str(v, key) as string;
  if (s !== '' && !isIP(s)) fail(key, `must be an IP address, got ${JSON.stringify(v)}`);
  return s === '' ? undefined : s;
};
const list =
  (item: Check): Check =>
  (v, key) => {
    if (v === null || v === undefined) return [];
    if (!Array.isArray(v)) fail(key, 'must be a list');
    return (v as unknown[]).map((x, i) => item(x, `${key}[${i}]`));
  };
const oneOf =
  (...values: string[]): Check =>
  (v, key) => {
    if (typeof v !== 'string' || !values.includes(v)) fail(key, `must be one of ${values.join(', ')}, got ${JSON.stringify(v)}`);
    return v;
  };
const url: Check = (v, key) => {
  const s = str(v, key) as string;
  try {
    const u = new URL(s);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
  } catch {
    fail(key, `must be an http(s) URL, got ${JSON.stringify(v)}`);
  }
  return s;
};
/** LiveKit accepts `udp_port: 7882` or `"7882-7892"`; Kite's UDP mux uses a single port. */
const udpPort: Check = (v, key) => {
  if (typeof v === 'string' && v.includes('-')) fail(key, 'port ranges are not supported for the UDP mux; give one port (or use rtc.port_range_start/end)');
  return port(v, key);
};
/** An IPv4/IPv6 address or CIDR block (`10.0.0.0/8`, `fd00::/8`, `192.0.2.7`). */
const cidr: Check = (v, key) => {
  const s = (str(v, key) as string).trim();
  const slash = s.indexOf('/');
  const addr = slash < 0 ? s : s.slice(0, slash);
  const family = isIP(addr);
  const bits = slash < 0 ? (family === 6 ? 128 : 32) : Number(s.slice(slash + 1));
  if (family === 0 || !Number.isInteger(bits) || bits < 0 || bits > (family === 6 ? 128 : 32) || (slash >= 0 && !/^\d+$/.test(s.slice(slash + 1)))) {
    fail(key, `must be an IP address or CIDR block such as 10.0.0.0/8, got ${JSON.stringify(v)}`);
  }
  return s;
};
const keyMap: Check = (v, key) => {
  if (v === null || v === undefined) return {};
  if (typeof v !== 'object' || Array.isArray(v)) fail(key, 'must be a map of API key to secret');
  const out: Record<string, string> = {};
  for (const [k, s] of Object.entries(v as Record<string, unknown>)) {
    if (typeof s !== 'string' && typeof s !== 'number') fail(`${key}.${k}`, 'secret must be a string');
    if (String(s).length === 0) fail(`${key}.${k}`, 'secret must not be empty');
    out[k] = String(s);
  }
  return out;
};
const codec: Check = (v, key) => {
  if (typeof v !== 'object' || v === null) fail(key, 'must be {mime, fmtp_line}');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'mime' && k !== 'fmtp_line') fail(`${key}.${k}`, 'unknown key');
  const mime = str(o.mime, `${key}.mime`) as string;
  if (!/^(audio|video)\/[A-Za-z0-9.-]+$/.test(mime)) fail(`${key}.mime`, `must look like audio/opus or video/VP8, got ${JSON.stringify(mime)}`);
  return { mime, fmtp_line: o.fmtp_line === undefined ? '' : str(o.fmtp_line, `${key}.fmtp_line`) };
};

const SCHEMA: Section = {
  port,
  bind_addresses: list(ip),
  development: bool,
  keys: keyMap,
  key_file: str,
  node_id: str,
  region: str,
  rtc: {
    tcp_port: port,
    udp_port: udpPort,
    port_range_start: port,
    port_range_end: port,
    node_ip: ip,
    use_external_ip: bool,
    stun_servers: list(str),
    interfaces: { includes: list(str), excludes: list(str) },
    ips: { includes: list(cidr), excludes: list(cidr) },
    enable_loopback_candidate: bool,
  },
  turn: {
    enabled: bool,
    domain: str,
    udp_port: port,
    tls_port: port,
    cert_file: str,
    key_file: str,
    external_tls: bool,
    relay_range_start: port,
    relay_range_end: port,
    relay_allow: list(cidr),
  },
  redis: {
    address: str,
    username: str,
    password: str,
    db: int(0, 1024),
    use_tls: bool,
    sentinel_master_name: str,
    sentinel_username: str,
    sentinel_password: str,
    sentinel_addresses: list(str),
    cluster_addresses: list(str),
  },
  webhook: { api_key: str, urls: list(url) },
  room: {
    auto_create: bool,
    empty_timeout: int(0, 365 * 24 * 3600),
    departure_timeout: int(0, 365 * 24 * 3600),
    max_participants: int(0, 1_000_000),
    enabled_codecs: list(codec),
    enable_remote_unmute: bool,
  },
  audio: {
    active_level: int(0, 127),
    min_percentile: int(0, 100),
    update_interval: int(10, 60_000),
    smooth_intervals: int(0, 100),
  },
  logging: { level: oneOf('trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'), json: bool },
  meet: { enabled: bool, dir: str, path: str, api_key: str },
  limit: {
    signal_message_size_limit: int(1024, 64 * 1024 * 1024),
    max_metadata_size: int(0, 64 * 1024 * 1024),
    max_attributes_size: int(0, 64 * 1024 * 1024),
    max_participant_name_length: int(0, 1_000_000),
    max_room_name_length: int(0, 1_000_000),
  },
};

function applySection(section: Section, raw: unknown, target: Record<string, unknown>, prefix: string): void {
  if (raw === null || raw === undefined) return;
  if (typeof raw !== 'object' || Array.isArray(raw)) fail(prefix || '(root)', 'must be a map');
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    const key = prefix ? `${prefix}.${k}` : k;
    const spec = section[k];
    if (!spec) fail(key, 'unknown key');
    if (typeof spec === 'function') {
      if (v === null || v === undefined) continue; // `key:` with no value keeps the default
      target[k] = spec(v, key);
    } else {
      applySection(spec, v, (target[k] ??= {}) as Record<string, unknown>, key);
    }
  }
}

/** Applies raw layers (lowest precedence first) over the defaults and checks the result for consistency. */
export function buildConfig(...layers: unknown[]): KiteConfig {
  const cfg = defaultConfig();
  for (const layer of layers) applySection(SCHEMA, layer, cfg as unknown as Record<string, unknown>, '');
  checkConsistency(cfg);
  return cfg;
}

function checkConsistency(cfg: KiteConfig): void {
  if (cfg.rtc.port_range_start > cfg.rtc.port_range_end) fail('rtc.port_range_start', 'must not be greater than rtc.port_range_end');
  if (cfg.turn.relay_range_start > cfg.turn.relay_range_end) fail('turn.relay_range_start', 'must not be greater than turn.relay_range_end');
  if (Object.keys(cfg.keys).length === 0) fail('keys', 'at least one API key is required (set keys, key_file, --keys or LIVEKIT_KEYS, or use --dev)');
  if (cfg.meet.enabled) {
    if (!/^\/[A-Za-z0-9._~/-]*[^/]$/.test(cfg.meet.path)) fail('meet.path', 'must start with / and not end with / (e.g. /meet)');
    if (cfg.meet.path === '/rtc' || cfg.meet.path === '/twirp' || cfg.meet.path.startsWith('/rtc/') || cfg.meet.path.startsWith('/twirp/')) fail('meet.path', 'collides with /rtc or /twirp');
    if (cfg.meet.api_key && !cfg.keys[cfg.meet.api_key]) fail('meet.api_key', `"${cfg.meet.api_key}" is not one of the configured keys`);
  }
  if (cfg.webhook.urls.length > 0) {
    if (!cfg.webhook.api_key) fail('webhook.api_key', 'is required when webhook.urls is set');
    if (!cfg.keys[cfg.webhook.api_key]) fail('webhook.api_key', `"${cfg.webhook.api_key}" is not one of the configured keys`);
  }
  if (cfg.turn.enabled && cfg.turn.tls_port > 0 && !cfg.development && !cfg.turn.external_tls && (!cfg.turn.cert_file || !cfg.turn.key_file)) {
    fail('turn.cert_file', 'turn.cert_file and turn.key_file are required for turn.tls_port (or set turn.external_tls)');
  }
  if (!cfg.turn.cert_file !== !cfg.turn.key_file) fail(cfg.turn.cert_file ? 'turn.key_file' : 'turn.cert_file', 'turn.cert_file and turn.key_file go together');
  if (cfg.turn.enabled && cfg.turn.relay_range_start === 0) fail('turn.relay_range_start', 'must be a port from 1 to 65535');
  if (cfg.turn.enabled && cfg.turn.external_tls && !cfg.turn.domain) fail('turn.domain', 'is required with turn.external_tls (clients get turns:<domain>:443)');
}
