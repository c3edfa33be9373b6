import { PassThrough } from 'node:stream';
import { createServer, type KiteServer, type ServerOptions } from '../src/index.js';
import type { KiteConfigInput } from '../src/config/index.js';

export const API_KEY = 'testkey';
export const API_SECRET = 'test-secret-that-is-long-enough-0123456789';

export interface TestServer {
  server: KiteServer;
  url: string;
  /** Everything the server logged so far. */
  logs(): string;
}

/** Starts a real Kite server on free ports, logging into memory. `options`: createServer's, but the log destination. */
export async function startServer(config: KiteConfigInput = {}, options: Omit<ServerOptions, 'logDestination' | 'logger'> = {}): Promise<TestServer> {
  const sink = new PassThrough();
  let text = '';
  sink.on('data', (d: Buffer) => (text += d.toString()));
  const server = await createServer(
    {
      port: 0,
      bind_addresses: ['127.0.0.1'],
      keys: { [API_KEY]: API_SECRET },
      logging: { level: 'debug', json: true },
      ...config,
      rtc: { udp_port: 0, tcp_port: 0, enable_loopback_candidate: true, node_ip: '127.0.0.1', ...(config.rtc ?? {}) },
    },
    { ...options, logDestination: sink },
  );
  return { server, url: server.url, logs: () => text };
}
