// Which node hosts a room. One node: this one, always. Several: the room → node map in Redis, where a room nobody
// (alive) hosts is placed on the least-loaded live node, atomically, so two nodes placing the same room agree.
import type { NodeRegistry } from './nodeRegistry.js';
import { keys, type RedisClient } from './redis.js';

export interface Router {
  readonly nodeId: string;
  /**
   * The node hosting `room`. With `create`, a room no live node hosts is placed on one (the least-loaded); without,
   * undefined says no live node hosts it.
   */
  hostOf(room: string, create: boolean): Promise<string | undefined>;
}

export class LocalRouter implements Router {
  constructor(readonly nodeId: string) {}
  async hostOf(): Promise<string> {
    return this.nodeId;
  }
}

/** The mapped node if it is alive; else, given a candidate, maps the room to it. */
const HOST_SCRIPT = `
local n = redis.call('HGET', KEYS[1], ARGV[1])
if n and redis.call('EXISTS', ARGV[2] .. n) == 1 then return n end
if ARGV[3] == '' then return false end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return ARGV[3]
`;

/** Forgets the mapping only if it is still ours (another node may host the room by now). */
const RELEASE_SCRIPT = `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
`;

export class RedisRouter implements Router {
  constructor(
    private readonly redis: RedisClient,
    private readonly registry: NodeRegistry,
  ) {}

  get nodeId(): string {
    return this.registry.nodeId;
  }

  async hostOf(room: string, create: boolean): Promise<string | undefined> {
    const host = (await this.redis.eval(HOST_SCRIPT, 1, keys.roomNodes, room, keys.nodePrefix, '')) as string | null;
    if (host || !create) return host ?? undefined;
    const candidate = await this.registry.selectNode();
    if (!candidate) return undefined;
    // Whoever maps it first wins; a loser gets the winner's node.
    return ((await this.redis.eval(HOST_SCRIPT, 1, keys.roomNodes, room, keys.nodePrefix, candidate)) as string | null) ?? undefined;
  }

  /** Maps a room this node hosts to it (after a resync, when the map may have lost it). */
  async claim(room: string): Promise<void> {
    await this.redis.hset(keys.roomNodes, room, this.nodeId);
  }

  /** The room closed here: unmap it, unless another node took it over meanwhile. */
  async release(room: string): Promise<void> {
    await this.redis.eval(RELEASE_SCRIPT, 1, keys.roomNodes, room, this.nodeId);
  }
}
