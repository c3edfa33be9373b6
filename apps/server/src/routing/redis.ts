// Connections to Redis from `redis:` (a single address, Sentinel or Cluster) and the names of everything Kite keeps
// there. One place for the key layout: the store, the registry and the bus all read it from here.
import { Redis, Cluster, type RedisOptions } from 'ioredis';
import type { RedisConfig } from '../config/index.js';

export type RedisClient = Redis | Cluster;

/** True when `redis:` asks for multi-node. */
export function redisConfigured(cfg: RedisConfig): boolean {
  return !!(cfg.address || cfg.sentinel_addresses.length || cfg.cluster_addresses.length);
}

function hostPort(address: string, defaultPort = 6379): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?(?::(\d+))?$/.exec(address.trim());
  const host = m?.[1] || '127.0.0.1';
  return { host, port: m?.[2] ? Number(m[2]) : defaultPort };
}

/**
 * A new connection. `purpose` names it in Redis (CLIENT LIST) and in errors. Commands wait for the connection rather
 * than fail while Redis restarts, but never longer than `commandTimeout`, so a dead Redis turns into errors, not hangs.
 */
export function connectRedis(cfg: RedisConfig, purpose: string): RedisClient {
  const common: RedisOptions = {
    username: cfg.username || undefined,
    password: cfg.password || undefined,
    db: cfg.db,
    tls: cfg.use_tls ? {} : undefined,
    connectionName: `kite-${purpose}`,
    lazyConnect: true,
    maxRetriesPerRequest: 3,
    commandTimeout: 5000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  };
  if (cfg.cluster_addresses.length) {
    return new Cluster(cfg.cluster_addresses.map((a) => hostPort(a)), { redisOptions: common, lazyConnect: true });
  }
  if (cfg.sentinel_addresses.length) {
    return new Redis({
      ...common,
      sentinels: cfg.sentinel_addresses.map((a) => hostPort(a, 26379)),
      name: cfg.sentinel_master_name,
      sentinelUsername: cfg.sentinel_username || undefined,
      sentinelPassword: cfg.sentinel_password || undefined,
    });
  }
  return new Redis({ ...common, ...hostPort(cfg.address) });
}

/**
 * Key layout. All under `{kite}:`: safe in a Redis shared with other software, and the hash tag puts every key in one
 * Cluster slot, so the scripts below may touch several keys (at the price of one shard holding Kite's state).
 */
export const keys = {
  /** SET of registered node ids: the registry's index; entries whose liveness key expired are dead. */
  nodes: '{kite}:nodes',
  /** STRING (JSON NodeInfo) with a TTL: present while the node is alive. */
  node: (id: string) => `{kite}:node:${id}`,
  /** Prefix of `node`, for scripts that build the key from an id. */
  nodePrefix: '{kite}:node:',
  /** HASH room name → id of the node hosting it. */
  roomNodes: '{kite}:room_node_map',
  /** HASH room name → Room (protobuf). */
  rooms: '{kite}:rooms',
  /** HASH identity → ParticipantInfo (protobuf), one per room. */
  participants: (room: string) => `{kite}:room_participants:${room}`,
  /** Prefix of `participants`, for scripts. */
  participantsPrefix: '{kite}:room_participants:',
  /** STRING lock taken by the one node that cleans up after a dead node. */
  reapLock: (id: string) => `{kite}:reap:${id}`,
  /** Pub/sub channel a node listens on (requests, responses and relayed signalling addressed to it). */
  channel: (id: string) => `kite:bus:${id}`,
} as const;
