import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSocket } from 'node:dgram';
import { TurnServer } from '../../src/turn/index.js';
import type { TurnServerOptions } from '../../src/turn/index.js';
import type { ClientTransport } from './client.js';

export const USERS = new Map([
  ['alice', 'alice-secret'],
  ['bob', 'bob-secret'],
]);

/** Peers on 127.0.0.1 and 127.0.0.2 are allowed, except port 9; everything else (e.g. 127.0.0.3) is refused. */
export const testPolicy = (ip: string, port: number): boolean => (ip === '127.0.0.1' || ip === '127.0.0.2') && port !== 9;

let certCache: { cert: string; key: string } | undefined;

/** Self-signed certificate for localhost / 127.0.0.1, made with the openssl CLI. */
export function selfSignedCert(): { cert: string; key: string } {
  if (certCache) return certCache;
  const dir = mkdtempSync(join(tmpdir(), 'kite-turn-'));
  try {
    execFileSync(
      'openssl',
      [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2',
        '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    certCache = { cert: readFileSync(join(dir, 'cert.pem'), 'utf8'), key: readFileSync(join(dir, 'key.pem'), 'utf8') };
    return certCache;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function startServer(over: Partial<TurnServerOptions> = {}, withTls = true): Promise<TurnServer> {
  const server = new TurnServer({
    realm: 'kite.test',
    getPassword: (u) => USERS.get(u),
    isPeerAllowed: testPolicy,
    listenAddresses: ['127.0.0.1'],
    udpPort: 0,
    relayAddress: '127.0.0.1',
    tls: withTls ? { port: 0, ...selfSignedCert() } : null,
    ...over,
  });
  await server.start();
  return server;
}

export function serverEndpoint(server: TurnServer, transport: ClientTransport): { address: string; port: number } {
  const a = server.addresses()[transport][0];
  return { address: a.address, port: a.port };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** True if a UDP socket can be bound to 127.0.0.1:port right now (i.e. no relay socket holds it). */
export async function udpPortFree(port: number, address = '127.0.0.1'): Promise<boolean> {
  const s = createSocket('udp4');
  return new Promise((resolve) => {
    s.once('error', () => {
      s.close();
      resolve(false);
    });
    s.bind(port, address, () => s.close(() => resolve(true)));
  });
}

export async function waitFor(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('waitFor timed out');
    await sleep(10);
  }
}
