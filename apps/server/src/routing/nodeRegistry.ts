// The node registry: each node announces itself with its load every 2 s under a key that expires after 10 s. A node
// whose key expired is dead: one live node (whoever takes the reap lock) removes its rooms and participants from
// Redis, and every node is told so relayed sessions to it can be closed.
import { cpus, loadavg } from 'node:os';
import { TypedEventEmitter } from '@kite/protocol';
import type { Logger } from '../logger.js';
import { keys, type RedisClient } from './redis.js';

export type NodeState = 'serving' | 'draining';

export interface NodeStats {
  rooms: number;
  participants: number;
}

/** What a node says about itself in `{kite}:node:<id>`. */
export interface NodeInfo extends NodeStats {
  id: string;
  region: string;
  state: NodeState;
  /** 1-minute load average per core. */
  cpuLoad: number;
  startedAt: number;
  updatedAt: number;
}

export interface RegistryTiming {
  /** How often a node refreshes its entry. */
  heartbeatMs: number;
  /** How long an entry lives without a refresh (a node that stops refreshing is dead after this). */
  ttlMs: number;
  /** How often each node looks for dead nodes to clean up. */
  reapMs: number;
}

export const DEFAULT_REGISTRY_TIMING: RegistryTiming = { heartbeatMs: 2000, ttlMs: 10_000, reapMs: 5000 };

export interface RegistryEvents {
  /** A node that was alive is not any more (its entry expired or it deregistered). */
  nodeDown: (id: string) => void;
  /** This node's own entry had expired (it was stalled or cut off from Redis): its state must be written again. */
  resync: () => void;
  /** This node cleaned up after a dead one: the rooms it removed from Redis (Room protobuf bytes). */
  reaped: (deadNode: string, rooms: Buffer[]) => void;
}

/** Removes the dead node's rooms, but only those still mapped to it (a live node may have taken a room over). */
const REAP_SCRIPT = `
local removed = {}
local map = redis.call('HGETALL', KEYS[1])
for i = 1, #map, 2 do
  if map[i + 1] == ARGV[1] then
    local room = map[i]
    redis.call('HDEL', KEYS[1], room)
    local info = redis.call('HGET', KEYS[2], room)
    if info then table.insert(removed, info) end
    redis.call('HDEL', KEYS[2], room)
    redis.call('DEL', ARGV[2] .. room)
  end
end
redis.call('SREM', KEYS[3], ARGV[1])
return removed
`;

export class NodeRegistry extends TypedEventEmitter<RegistryEvents> {
  private state: NodeState = 'serving';
  private readonly startedAt = Date.now();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private reapTimer: NodeJS.Timeout | undefined;
  /** Nodes seen alive at the last look. */
  private alive = new Set<string>();
  private closed = false;

  constructor(
    readonly nodeId: string,
    private readonly redis: RedisClient,
    private readonly stats: () => NodeStats,
    private readonly region: string,
    private readonly log: Logger,
    readonly timing: RegistryTiming = DEFAULT_REGISTRY_TIMING,
  ) {
    super();
  }

  private info(): NodeInfo {
    return {
      id: this.nodeId,
      region: this.region,
      state: this.state,
      cpuLoad: loadavg()[0]! / Math.max(1, cpus().length),
      startedAt: this.startedAt,
      updatedAt: Date.now(),
      ...this.stats(),
    };
  }

  /** Announces this node and starts refreshing it and watching the others. */
  async start(): Promise<void> {
    await this.redis.multi().sadd(keys.nodes, this.nodeId).set(keys.node(this.nodeId), JSON.stringify(this.info()), 'PX', this.timing.ttlMs).exec();
    this.alive = new Set((await this.liveNodes()).map((n) => n.id));
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.timing.heartbeatMs);
    this.reapTimer = setInterval(() => void this.reap(), this.timing.reapMs);
    this.heartbeatTimer.unref();
    this.reapTimer.unref();
  }

  get draining(): boolean {
    return this.state === 'draining';
  }

  /** Draining: this node takes no new rooms; the ones it hosts carry on. */
  async drain(): Promise<void> {
    this.state = 'draining';
    await this.heartbeat();
  }

  private async heartbeat(): Promise<void> {
    if (this.closed) return;
    try {
      // XX: only refresh. A missing key means the others consider this node dead and may have cleaned its state out.
      const refreshed = await this.redis.set(keys.node(this.nodeId), JSON.stringify(this.info()), 'PX', this.timing.ttlMs, 'XX');
      if (refreshed === null && !this.closed) {
        this.log.warn('registry: this node had expired (stalled or cut off from Redis); registering again');
        await this.redis.multi().sadd(keys.nodes, this.nodeId).set(keys.node(this.nodeId), JSON.stringify(this.info()), 'PX', this.timing.ttlMs).exec();
        this.emit('resync');
      }
      const now = new Set((await this.liveNodes()).map((n) => n.id));
      for (const id of this.alive) if (!now.has(id)) this.emit('nodeDown', id);
      this.alive = now;
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'registry: heartbeat failed');
    }
  }

  /** Every registered node whose entry has not expired. */
  async liveNodes(): Promise<NodeInfo[]> {
    const ids = await this.redis.smembers(keys.nodes);
    if (!ids.length) return [];
    const values = await this.redis.mget(...ids.map((id) => keys.node(id)));
    const out: NodeInfo[] = [];
    for (const v of values) {
      if (!v) continue;
      try {
        out.push(JSON.parse(v) as NodeInfo);
      } catch {
        // a foreign or corrupt entry: not a node we can use
      }
    }
    return out;
  }

  async isAlive(id: string): Promise<boolean> {
    if (id === this.nodeId) return !this.closed;
    return (await this.redis.exists(keys.node(id))) === 1;
  }

  /**
   * The node a new room goes to: the least-loaded serving node (participants, then rooms, then CPU); on a tie this
   * node, so a room created through a node stays there when it can.
   */
  async selectNode(): Promise<string | undefined> {
    // Others' load is as of their last heartbeat; ours is known now.
    const nodes = (await this.liveNodes()).map((n) => (n.id === this.nodeId ? this.info() : n)).filter((n) => n.state === 'serving');
    nodes.sort((a, b) => a.participants - b.participants || a.rooms - b.rooms || Number(b.id === this.nodeId) - Number(a.id === this.nodeId) || a.cpuLoad - b.cpuLoad);
    return nodes[0]?.id;
  }

  /** Cleans up after every registered node whose entry expired. Safe to run on every node at once. */
  async reap(): Promise<void> {
    if (this.closed) return;
    try {
      const ids = await this.redis.smembers(keys.nodes);
      for (const id of ids) {
        if (id === this.nodeId || (await this.isAlive(id))) continue;
        // One node reaps; the lock outlives the work, so nobody reaps the same node twice.
        const locked = await this.redis.set(keys.reapLock(id), this.nodeId, 'PX', 60_000, 'NX');
        if (locked === null) continue;
        // As buffers: the script returns Room protobuf bytes.
        const rooms = (await this.redis.callBuffer('EVAL', [REAP_SCRIPT, 3, keys.roomNodes, keys.rooms, keys.nodes, id, keys.participantsPrefix])) as Buffer[];
        this.log.warn({ node: id, rooms: rooms.length }, 'registry: node is gone; its rooms and participants were removed');
        if (this.alive.delete(id)) this.emit('nodeDown', id);
        this.emit('reaped', id, rooms);
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'registry: reaping failed');
    }
  }

  /** Removes this node from the registry (graceful stop). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeatTimer);
    clearInterval(this.reapTimer);
    await this.redis
      .multi()
      .srem(keys.nodes, this.nodeId)
      .del(keys.node(this.nodeId))
      .exec()
      .catch((err: Error) => this.log.warn({ err: err.message }, 'registry: deregistration failed'));
  }
}
