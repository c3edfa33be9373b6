// Test plumbing for @kite/client in Node: a real Kite server in-process, tokens for its key, rooms released after
// each test, and a promise for "this callback fires".
import { PassThrough } from 'node:stream';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { AccessToken, type VideoGrant } from '@kite/server-sdk';
import { createServer, type KiteServer } from '@kite/server';
import { Room, type RoomOptions } from '@kite/client';

export const KEY = 'clientkey';
export const SECRET = 'client-test-secret-0123456789-0123456789';

export function startKite(port = 0): Promise<KiteServer> {
  return createServer(
    { port, bind_addresses: ['127.0.0.1'], keys: { [KEY]: SECRET }, logging: { level: 'debug', json: true }, rtc: { udp_port: 0, tcp_port: 0, node_ip: '127.0.0.1', enable_loopback_candidate: true } },
    { logDestination: process.env.KITE_LOG_STDOUT ? process.stdout : new PassThrough().resume() },
  );
}

export async function token(identity: string, room: string, grant: VideoGrant = {}, name = identity.toUpperCase()): Promise<string> {
  const at = new AccessToken(KEY, SECRET, { identity, name });
  at.addGrant({ roomJoin: true, room, canPublish: true, canSubscribe: true, canPublishData: true, canUpdateOwnMetadata: true, ...grant });
  return at.toJwt();
}

/** One server for the test file; every Room made through `join` is disconnected after each test. */
export function kiteForTests(defaults: RoomOptions = {}) {
  const env = {
    server: undefined as unknown as KiteServer,
    rooms: [] as Room[],
    async join(identity: string, room: string, opts: { grant?: VideoGrant; room?: RoomOptions; url?: string } = {}): Promise<Room> {
      const r = new Room({ ...defaults, ...opts.room });
      env.rooms.push(r);
      await r.connect(opts.url ?? env.server.url, await token(identity, room, opts.grant));
      return r;
    },
  };
  beforeAll(async () => {
    env.server = await startKite();
  });
  afterAll(() => env.server?.close());
  afterEach(async () => {
    await Promise.allSettled(env.rooms.splice(0).map((r) => r.disconnect()));
  });
  return env;
}

/** Resolves with what `register`'s callback receives, or rejects after `timeoutMs` naming `what`. */
export function waitFor<T>(what: string, register: (resolve: (v: T) => void) => void, timeoutMs = 10_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
    register((v) => {
      clearTimeout(t);
      resolve(v);
    });
  });
}
