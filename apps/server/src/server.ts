// createServer(config): the whole Kite server in-process. The binary (cli.ts) is a thin layer over this.
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { TypedEventEmitter } from '@kite/protocol';
import { buildConfig, type KiteConfig, type KiteConfigInput } from './config/index.js';
import { createLogger, type Logger } from './logger.js';
import { KeyProvider } from './auth/tokens.js';
import { LocalRoomStore, type RoomStore } from './rooms/store.js';
import { RoomManager } from './rooms/roomManager.js';
import { LocalRoomActions } from './rooms/localActions.js';
import { RoomService } from './api/roomService.js';
import { registerTwirp } from './api/twirp.js';
import { registerRtcService } from './rtc/rtcService.js';
import { registerMeet } from './meet.js';
import { startRtcNetwork } from './rtc/iceConfig.js';
import { startTurnService, type TurnService, type TurnEndpoints } from './turn/turnService.js';
import { newNodeId } from '@kite/protocol';
import { WebhookNotifier, type WebhookTuning } from './webhooks/notifier.js';
import { attachWebhooks } from './webhooks/roomEvents.js';
import { ClusterNode, type ClusterOptions } from './routing/cluster.js';
import { redisConfigured } from './routing/redis.js';
import { LocalRouter } from './routing/router.js';

export interface ServerOptions {
  /** Use this logger instead of creating one from `logging:`. */
  logger?: Logger;
  /** Write logs here instead of stdout (tests capture logs this way). */
  logDestination?: NodeJS.WritableStream;
  /** Webhook delivery tuning (timeouts, retries, queue bounds); the defaults follow LiveKit's. */
  webhook?: Partial<WebhookTuning>;
  /** Multi-node tuning (registry timing, routed call timeout); used only with `redis:`. */
  cluster?: ClusterOptions;
}

export interface KiteServer {
  readonly config: KiteConfig;
  /** The HTTP port actually bound (useful with `port: 0`). */
  readonly port: number;
  /** http://host:port of the first bound address. */
  readonly url: string;
  readonly log: Logger;
  readonly rooms: RoomManager;
  readonly store: RoomStore;
  /** The shared ICE sockets as bound (configured 0 = any free port) and the addresses candidates carry. */
  readonly rtc: KiteRtc;
  /** Kite's TURN server when `turn.enabled`: bound ports (configured 0 = any free port), certificate, allocations. */
  readonly turn?: KiteTurn;
  /** Webhook delivery when `webhook.urls` is set (queue and delivery figures in `stats()`). */
  readonly webhooks?: WebhookNotifier;
  /** This node's id (`node_id`, or generated): its name in the cluster and in ServerInfo. */
  readonly nodeId: string;
  /** Multi-node membership when `redis:` is set: registry, router, signal relay. */
  readonly cluster?: ClusterNode;
  /**
   * Graceful stop. With Redis: this node takes no new rooms, waits up to `timeoutMs` for its rooms to finish, then
   * tells the participants still here to rejoin (they land on another node) and closes. Without: close().
   */
  drain(timeoutMs?: number): Promise<void>;
  /** Stops accepting, disconnects everyone, closes every socket and timer. Idempotent. */
  close(): Promise<void>;
}

export interface KiteTurn extends TurnEndpoints {
  /** PEM certificate of TURN/TLS (public), e.g. the one --dev generated. */
  readonly certificate?: string;
  /** base64 SHA-256 of the certificate's public key (for Chromium's --ignore-certificate-errors-spki-list). */
  readonly certificateSpki?: string;
  readonly service: TurnService;
}

export interface KiteRtc {
  /** The UDP mux's port (rtc.udp_port); undefined in rtc.port_range_* mode. */
  readonly udpPort?: number;
  /** The ICE-TCP mux's port (rtc.tcp_port). */
  readonly tcpPort: number;
  /** Addresses advertised in ICE candidates (rtc.node_ip, STUN-discovered, or this host's filtered interfaces). */
  readonly addresses: readonly string[];
}

function hostForUrl(address: string): string {
  if (address === '0.0.0.0' || address === '' || address === '::') return '127.0.0.1';
  return address.includes(':') ? `[${address}]` : address;
}

/** Starts a Kite server. `config` is validated like a YAML file (unknown keys and bad values throw ConfigError). */
export async function createServer(config: KiteConfigInput | KiteConfig, options: ServerOptions = {}): Promise<KiteServer> {
  const cfg = buildConfig(config);
  const log = options.logger ?? createLogger(cfg.logging, options.logDestination);
  TypedEventEmitter.onListenerError = (err, event) => log.error({ err, event }, 'event listener failed');

  const keys = new KeyProvider(cfg.keys);
  const nodeId = cfg.node_id || newNodeId();
  // With `redis:`, state goes to Redis and rooms may live on other nodes; without, everything stays in this process.
  const cluster = redisConfigured(cfg.redis) ? await ClusterNode.connect(cfg, nodeId, log, options.cluster) : undefined;
  const store: RoomStore = cluster?.store ?? new LocalRoomStore();
  const rooms = new RoomManager(cfg, store, log);
  // Webhooks: listening before anything can create a room.
  const webhooks = cfg.webhook.urls.length
    ? new WebhookNotifier({ ...options.webhook, urls: cfg.webhook.urls, apiKey: cfg.webhook.api_key, apiSecret: keys.secret(cfg.webhook.api_key)!, log: log.child({ component: 'webhook' }) })
    : undefined;
  if (webhooks) attachWebhooks(rooms, webhooks);
  // A dead node's rooms are finished by the one node that cleaned them up.
  if (webhooks) cluster?.on('roomReaped', (room) => webhooks.notify({ event: 'room_finished', room }));
  const localActions = new LocalRoomActions(rooms, cfg);
  const actions = cluster ? await cluster.start(rooms, localActions) : localActions;
  const router = cluster?.router ?? new LocalRouter(nodeId);
  const roomService = new RoomService(store, actions, cfg.limit);

  // Headers up to 1 MiB, as LiveKit (Go's http.DefaultMaxHeaderBytes): /rtc/v1 carries the whole JoinRequest, with the
  // client's first offer, in its URL (Node's default 16 KB would refuse an uncompressed one with 431).
  const app: FastifyInstance = Fastify({ logger: false, bodyLimit: 16 * 1024 * 1024, forceCloseConnections: true, http: { maxHeaderSize: 1 << 20 } });

  // CORS: browsers fetch /rtc/validate and may call the API directly; LiveKit allows every origin.
  app.addHook('onRequest', async (req, reply) => {
    reply.header('access-control-allow-origin', '*');
    if (req.method === 'OPTIONS') {
      reply
        .header('access-control-allow-methods', 'GET, POST, OPTIONS')
        .header('access-control-allow-headers', req.headers['access-control-request-headers'] ?? 'authorization, content-type')
        .header('access-control-max-age', '600')
        .code(204)
        .send();
    }
  });
  app.get('/', async (_req, reply) => reply.type('text/plain').send('OK'));
  await registerTwirp(app, { keys, handlers: roomService.handlers(), log, bodyLimit: 16 * 1024 * 1024 });
  // One UDP socket and one TCP listener for every peer connection, opened before anything can join.
  const rtcNet = await startRtcNetwork(cfg, log);
  const ice = rtcNet.ice;
  // TURN first: JoinResponses name its bound ports. The relay may reach Kite's media ports only (turn/relayPolicy.ts).
  const turnService = cfg.turn.enabled ? await startTurnService(cfg, { log, ice, muxPort: () => rtcNet.udpMux?.port }) : undefined;
  turnService?.watchRooms(rooms);
  await registerRtcService(app, { config: cfg, keys, rooms, store, router, relay: cluster?.relay, ice, log, nodeId });
  await registerMeet(app, cfg, log);

  // Listen: the first address through fastify, any others through plain servers that hand requests to it.
  const binds = cfg.bind_addresses.length ? cfg.bind_addresses : ['0.0.0.0'];
  await app.listen({ port: cfg.port, host: binds[0] });
  const port = (app.server.address() as AddressInfo).port;
  const extra: HttpServer[] = [];
  for (const host of binds.slice(1)) {
    const s = createHttpServer((req, res) => app.server.emit('request', req, res));
    s.on('upgrade', (req, socket, head) => app.server.emit('upgrade', req, socket, head));
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(port, host, () => resolve());
    });
    extra.push(s);
  }
  const url = `http://${hostForUrl(binds[0]!)}:${port}`;
  const rtc: KiteRtc = { udpPort: rtcNet.udpMux?.port, tcpPort: rtcNet.tcpMux.port, addresses: rtcNet.addresses };
  log.info({ url, node: nodeId, cluster: !!cluster, binds, port, rtc: { tcp_port: rtc.tcpPort, udp_port: rtc.udpPort, port_range: rtc.udpPort === undefined ? ice.portRange : undefined, addresses: rtc.addresses }, dev: cfg.development, webhooks: webhooks?.urls, meet: cfg.meet.enabled ? `${url}${cfg.meet.path}/` : undefined }, 'Kite server started');

  let closing: Promise<void> | undefined;
  const turn: KiteTurn | undefined = turnService && {
    ...turnService.endpoints,
    certificate: turnService.certificate?.cert,
    certificateSpki: turnService.certificate?.spki,
    service: turnService,
  };
  const close = () =>
    (closing ??= (async () => {
      // In a cluster the participants still here rejoin, and land on another node: stop taking rooms first.
      if (cluster && !cluster.registry.draining) await cluster.drain().catch((err: Error) => log.warn({ err: err.message }, 'drain announcement failed'));
      await rooms.close(!!cluster);
      // The rooms' last events (participant_left, room_finished) are queued: deliver them while the rest stops,
      // for at most the webhook close timeout.
      const flushed = webhooks?.close();
      await turnService?.close();
      await rtcNet.close();
      await Promise.all(extra.map((s) => new Promise<void>((r) => s.close(() => r()))));
      await app.close();
      await store.close();
      await cluster?.close();
      await flushed;
      log.info('Kite server stopped');
    })());
  return {
    config: cfg,
    port,
    url,
    log,
    rooms,
    store,
    rtc,
    turn,
    webhooks,
    nodeId,
    cluster,
    async drain(timeoutMs = 0) {
      if (cluster && !closing) {
        await cluster.drain();
        log.info({ rooms: rooms.size, timeoutMs }, 'draining: no new rooms; waiting for rooms to finish');
        const until = Date.now() + timeoutMs;
        while (rooms.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
      }
      await close();
    },
    close,
  };
}
