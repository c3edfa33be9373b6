// Multi-node through Redis (`redis:` set), as LiveKit does it: a node registry with liveness, a room → node map, room
// and participant state any node can read, RoomService actions routed to the room's node, signalling relayed to it.
// Without `redis:` none of this exists: the server uses LocalRoomStore and LocalRouter.
import { Room, TypedEventEmitter } from '@kite/protocol';
import type { RoomActions } from '../api/roomService.js';
import type { KiteConfig } from '../config/index.js';
import type { Logger } from '../logger.js';
import type { RoomManager } from '../rooms/roomManager.js';
import { Bus } from './bus.js';
import { DEFAULT_REGISTRY_TIMING, NodeRegistry, type RegistryTiming } from './nodeRegistry.js';
import { connectRedis, type RedisClient } from './redis.js';
import { RedisRoomStore } from './redisStore.js';
import { routedActions, serveActions } from './routedActions.js';
import { RedisRouter } from './router.js';
import { SignalRelay } from './signalRelay.js';

export interface ClusterOptions {
  /** Registry timing (heartbeat, entry lifetime, reaping); tests shorten them. */
  registry?: Partial<RegistryTiming>;
  /** How long a routed RoomService call waits for the room's node. */
  requestTimeoutMs?: number;
}

export interface ClusterEvents {
  /** A dead node's room was removed from Redis by this node (exactly one node sees each). */
  roomReaped: (room: Room, deadNode: string) => void;
}

export class ClusterNode extends TypedEventEmitter<ClusterEvents> {
  readonly store: RedisRoomStore;
  private registryInstance: NodeRegistry | undefined;
  private routerInstance: RedisRouter | undefined;
  private relayInstance: SignalRelay | undefined;
  private busInstance: Bus | undefined;

  private constructor(
    readonly nodeId: string,
    private readonly config: KiteConfig,
    private readonly redis: RedisClient,
    private readonly sub: RedisClient,
    private readonly log: Logger,
    private readonly options: ClusterOptions,
  ) {
    super();
    this.store = new RedisRoomStore(redis);
  }

  /** Connects to Redis (two connections: commands, and the bus subscription). Fails fast when Redis is unreachable. */
  static async connect(config: KiteConfig, nodeId: string, log: Logger, options: ClusterOptions = {}): Promise<ClusterNode> {
    const redis = connectRedis(config.redis, 'cmd');
    const sub = connectRedis(config.redis, 'bus');
    for (const c of [redis, sub]) c.on('error', (err: Error) => log.warn({ err: err.message }, 'redis connection error'));
    try {
      await Promise.all([redis.connect(), sub.connect()]);
    } catch (err) {
      redis.disconnect();
      sub.disconnect();
      throw new Error(`cannot connect to Redis: ${(err as Error).message}`);
    }
    return new ClusterNode(nodeId, config, redis, sub, log.child({ component: 'cluster' }), options);
  }

  get registry(): NodeRegistry {
    return this.registryInstance!;
  }
  get router(): RedisRouter {
    return this.routerInstance!;
  }
  get relay(): SignalRelay {
    return this.relayInstance!;
  }
  get bus(): Bus {
    return this.busInstance!;
  }

  /**
   * Joins the cluster with this node's rooms: registers, listens on the bus, answers routed actions with `local`.
   * Returns the RoomActions the API uses (routed to each room's node).
   */
  async start(rooms: RoomManager, local: RoomActions): Promise<RoomActions> {
    this.busInstance = await Bus.start(this.nodeId, this.redis, this.sub, this.log);
    const registry = new NodeRegistry(this.nodeId, this.redis, () => rooms.stats(), this.config.region, this.log, { ...DEFAULT_REGISTRY_TIMING, ...this.options.registry });
    this.registryInstance = registry;
    this.routerInstance = new RedisRouter(this.redis, registry);
    this.relayInstance = new SignalRelay(this.bus, this.log);
    serveActions(this.bus, local);

    rooms.on('roomFinished', (room) => void this.router.release(room.name).catch((err: Error) => this.log.warn({ err: err.message, room: room.name }, 'room unmapping failed')));
    registry.on('nodeDown', (id) => this.relay.nodeDown(id));
    registry.on('resync', () => {
      void (async () => {
        for (const room of rooms.all()) await this.router.claim(room.name);
        await rooms.persistAll();
      })().catch((err: Error) => this.log.warn({ err: err.message }, 'resync failed'));
    });
    registry.on('reaped', (dead, list) => {
      for (const bytes of list) {
        try {
          this.emit('roomReaped', Room.decode(bytes), dead);
        } catch {
          // undecodable leftovers: nothing to announce
        }
      }
    });
    await registry.start();
    this.log.info({ node: this.nodeId }, 'joined the cluster');
    return routedActions(this.router, this.bus, local, this.options.requestTimeoutMs);
  }

  /** Takes no new rooms from now on (the registry says `draining`). */
  drain(): Promise<void> {
    return this.registry.drain();
  }

  /** Sessions relayed through here and to here, bus traffic: for tests and the closing figures. */
  stats() {
    return { ...this.relay.stats, bus: { ...this.bus.counters } };
  }

  /** Leaves the cluster: relayed sessions end, the registry entry goes, connections close. */
  async close(): Promise<void> {
    this.relayInstance?.close();
    this.busInstance?.close();
    await this.registryInstance?.close();
    await Promise.allSettled([this.redis.quit(), this.sub.quit()]);
  }
}
