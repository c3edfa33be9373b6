// A Kite server in-process for e2e tests, plus token minting with the official server SDK.
import { PassThrough } from 'node:stream';
import { AccessToken, type VideoGrant } from 'livekit-server-sdk';
import { createServer, type KiteServer, type KiteConfigInput } from '@kite/server';

export const API_KEY = 'e2ekey';
export const API_SECRET = 'e2e-secret-0123456789-0123456789-abcdef';

export interface E2eServer {
  server: KiteServer;
  /** ws:// URL for clients. */
  wsUrl: string;
  httpUrl: string;
  logs(): string;
  token(identity: string, grant?: VideoGrant, opts?: { name?: string; metadata?: string; attributes?: Record<string, string> }): Promise<string>;
  close(): Promise<void>;
}

export async function startKite(config: KiteConfigInput = {}): Promise<E2eServer> {
  const sink = new PassThrough();
  let text = '';
  sink.on('data', (d: Buffer) => (text += d.toString()));
  const server = await createServer(
    {
      port: 0,
      bind_addresses: ['127.0.0.1'],
      keys: { [API_KEY]: API_SECRET },
      logging: { level: (process.env.KITE_LOG as never) ?? 'debug', json: true },
      ...config,
      rtc: { udp_port: 0, tcp_port: 0, node_ip: '127.0.0.1', enable_loopback_candidate: true, ...(config.rtc ?? {}) },
    },
    { logDestination: process.env.KITE_LOG_STDOUT ? process.stdout : sink },
  );
  return {
    server,
    httpUrl: server.url,
    wsUrl: server.url.replace(/^http/, 'ws'),
    logs: () => text,
    async token(identity, grant = {}, opts = {}) {
      const at = new AccessToken(API_KEY, API_SECRET, { identity, ...opts });
      at.addGrant({ roomJoin: true, room: 'e2e', canPublish: true, canSubscribe: true, ...grant });
      return at.toJwt();
    },
    close: () => server.close(),
  };
}
