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
import { iceOptions } from './rtc/iceConfig.js';
import { newNodeId } from '@kite/protocol';

export interface ServerOptions {
  /** Use this logger instead of creating one from `logging:`. */
  logger?: Logger;
  /** Write logs here instead of stdout (tests capture logs this way). */
  logDestination?: NodeJS.WritableStream;
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
  /** Stops accepting, disconnects everyone, closes every socket and timer. Idempotent. */
  close(): Promise<void>;
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
  const store: RoomStore = new LocalRoomStore();
  const rooms = new RoomManager(cfg, store, log);
  const roomService = new RoomService(store, new LocalRoomActions(rooms, cfg), cfg.limit);
  const nodeId = cfg.node_id || newNodeId();

  const app: FastifyInstance = Fastify({ logger: false, bodyLimit: 16 * 1024 * 1024, forceCloseConnections: true });

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
  await registerRtcService(app, { config: cfg, keys, rooms, ice: iceOptions(cfg), log, nodeId });

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
  log.info({ url, binds, port, rtc: { tcp_port: cfg.rtc.tcp_port, udp_port: cfg.rtc.udp_port }, dev: cfg.development }, 'Kite server started');

  let closing: Promise<void> | undefined;
  return {
    config: cfg,
    port,
    url,
    log,
    rooms,
    store,
    close() {
      return (closing ??= (async () => {
        await rooms.close();
        await Promise.all(extra.map((s) => new Promise<void>((r) => s.close(() => r()))));
        await app.close();
        await store.close();
        log.info('Kite server stopped');
      })());
    },
  };
}
