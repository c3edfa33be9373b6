// Kite's configuration: the same keys as LiveKit's YAML (snake_case), so a livekit.yaml works unchanged for the
// parts Kite implements. Unknown keys and bad values are errors that name the key.

export interface RtcConfig {
  /** ICE over TCP, one port for every peer connection. 0 = any free port. */
  tcp_port: number;
  /** One UDP port shared by every peer connection (the UDP mux). 0 = any free port; unset = use port_range_*. */
  udp_port?: number;
  port_range_start: number;
  port_range_end: number;
  /** The address advertised in ICE candidates. Default: the first non-internal IPv4 address (127.0.0.1 in --dev). */
  node_ip?: string;
  /** Discover the public address with STUN (rtc.stun_servers) at start; on failure Kite warns and advertises local addresses. */
  use_external_ip: boolean;
  /** `host:port` STUN servers for use_external_ip. Empty: LiveKit's default (Google's). */
  stun_servers: string[];
  /** Interface name filters for the addresses Kite advertises when node_ip is not set. */
  interfaces: { includes: string[]; excludes: string[] };
  /** IP filters (CIDR) for the addresses Kite advertises when node_ip is not set. */
  ips: { includes: string[]; excludes: string[] };
  /** Offer 127.0.0.1 / ::1 candidates (on by default in --dev so local tests work). */
  enable_loopback_candidate: boolean;
}

export interface TurnConfig {
  enabled: boolean;
  /** Host name clients use for turns: URLs (must match the certificate). */
  domain: string;
  /** TURN over UDP (and TCP on the same port number). 0 = any free port. */
  udp_port: number;
  /**
   * TURN over TLS. TLS is served when cert_file/key_file are set or in --dev (a self-signed certificate is generated at
   * start); 0 then means any free port. With external_tls: a plain TCP listener for the load balancer (0 = none).
   */
  tls_port: number;
  cert_file: string;
  key_file: string;
  /** TLS is terminated by a load balancer in front (clients get turns:<domain>:443). */
  external_tls: boolean;
  /** Relay ports (UDP) handed to clients in allocations. */
  relay_range_start: number;
  relay_range_end: number;
  /**
   * Extra destinations the relay may send to (CIDRs, any port). By default it relays only to Kite's own media ports
   * on this node's addresses, so it is never an open relay into the host's network.
   */
  relay_allow: string[];
}

export interface RedisConfig {
  address: string;
  username: string;
  password: string;
  db: number;
  use_tls: boolean;
  sentinel_master_name: string;
  sentinel_username: string;
  sentinel_password: string;
  sentinel_addresses: string[];
  cluster_addresses: string[];
}

export interface WebhookConfig {
  /** Key (one of `keys`) whose secret signs webhook requests. */
  api_key: string;
  urls: string[];
}

export interface CodecConfig {
  mime: string;
  fmtp_line: string;
}

export interface RoomConfig {
  auto_create: boolean;
  /** Seconds a room stays open when nobody has joined it. */
  empty_timeout: number;
  /** Seconds a room stays open after the last participant left. */
  departure_timeout: number;
  /** 0 = unlimited. */
  max_participants: number;
  enabled_codecs: CodecConfig[];
  enable_remote_unmute: boolean;
}

export interface AudioConfig {
  /** Audio level (0–127, −dBov) at or below which a packet counts as voice. */
  active_level: number;
  /** Percentage of a window that must be voice for the speaker to count as active. */
  min_percentile: number;
  /** Milliseconds between speaker updates (and the observation window). */
  update_interval: number;
  /** Exponential smoothing over this many intervals. */
  smooth_intervals: number;
}

export interface LoggingConfig {
  level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  /** One JSON object per line instead of human-readable lines. */
  json: boolean;
}

export interface LimitConfig {
  /** Largest signalling WebSocket message, bytes. */
  signal_message_size_limit: number;
  max_metadata_size: number;
  max_attributes_size: number;
  max_participant_name_length: number;
  max_room_name_length: number;
}

export interface KiteConfig {
  /** HTTP / WebSocket port (signalling, Twirp API, health). 0 = any free port. */
  port: number;
  /** Addresses to listen on; empty = all interfaces. */
  bind_addresses: string[];
  development: boolean;
  /** API key → secret. */
  keys: Record<string, string>;
  /** A YAML file with more keys (key: secret per line). */
  key_file: string;
  /** A name for this node (multi-node); generated when empty. */
  node_id: string;
  region: string;
  rtc: RtcConfig;
  turn: TurnConfig;
  /** Multi-node: set `redis.address` (or sentinel/cluster addresses) to share state through Redis. */
  redis: RedisConfig;
  webhook: WebhookConfig;
  room: RoomConfig;
  audio: AudioConfig;
  logging: LoggingConfig;
  limit: LimitConfig;
  /** Kite's demo meeting app, served by this server (on in --dev). */
  meet: MeetConfig;
}

export interface MeetConfig {
  /**
   * Serve the app at `path` and mint tokens for it at `<path>/api/token`. Anyone who can reach the port can then
   * join any room: meant for development and trying Kite on a LAN, not for production behind a real backend.
   */
  enabled: boolean;
  /** Where the built app is (default: apps/meet/dist next to this server). */
  dir: string;
  path: string;
  /** Which of `keys` signs the app's tokens (default: the first). */
  api_key: string;
}

/** What a caller may pass: any subset, nested. */
export type KiteConfigInput = DeepPartial<KiteConfig>;
type DeepPartial<T> = { [K in keyof T]?: T[K] extends (infer U)[] ? U[] : T[K] extends object ? DeepPartial<T[K]> : T[K] };

export const DEFAULT_CODECS: CodecConfig[] = [
  { mime: 'audio/opus', fmtp_line: '' },
  { mime: 'audio/red', fmtp_line: '' },
  { mime: 'video/VP8', fmtp_line: '' },
  { mime: 'video/H264', fmtp_line: '' },
  { mime: 'video/VP9', fmtp_line: '' },
  { mime: 'video/AV1', fmtp_line: '' },
  { mime: 'video/rtx', fmtp_line: '' },
];

export function defaultConfig(): KiteConfig {
  return {
    port: 7880,
    bind_addresses: [],
    development: false,
    keys: {},
    key_file: '',
    node_id: '',
    region: '',
    rtc: {
      tcp_port: 7881,
      udp_port: undefined,
      port_range_start: 50000,
      port_range_end: 60000,
      node_ip: undefined,
      use_external_ip: false,
      stun_servers: [],
      interfaces: { includes: [], excludes: [] },
      ips: { includes: [], excludes: [] },
      enable_loopback_candidate: false,
    },
    turn: {
      enabled: false,
      domain: '',
      udp_port: 3478,
      tls_port: 0,
      cert_file: '',
      key_file: '',
      external_tls: false,
      relay_range_start: 30000,
      relay_range_end: 40000,
      relay_allow: [],
    },
    redis: {
      address: '',
      username: '',
      password: '',
      db: 0,
      use_tls: false,
      sentinel_master_name: '',
      sentinel_username: '',
      sentinel_password: '',
      sentinel_addresses: [],
      cluster_addresses: [],
    },
    webhook: { api_key: '', urls: [] },
    room: {
      auto_create: true,
      empty_timeout: 300,
      departure_timeout: 20,
      max_participants: 0,
      enabled_codecs: DEFAULT_CODECS.map((c) => ({ ...c })),
      enable_remote_unmute: false,
    },
    audio: { active_level: 35, min_percentile: 40, update_interval: 400, smooth_intervals: 2 },
    logging: { level: 'info', json: false },
    meet: { enabled: false, dir: '', path: '/meet', api_key: '' },
    limit: {
      signal_message_size_limit: 2 * 1024 * 1024,
      max_metadata_size: 512 * 1024,
      max_attributes_size: 64 * 1024,
      max_participant_name_length: 256,
      max_room_name_length: 256,
    },
  };
}
