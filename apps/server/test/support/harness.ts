// Test plumbing around LkClient: tokens for the test server's key, joining rooms, and cleaning up every client a test
// created (politely or not).
import { AccessToken, type VideoGrant } from '@kite/server-sdk';
import { API_KEY, API_SECRET, type TestServer } from '../helpers.js';
import { LkClient, type LkClientOptions, type LocalTrack } from './lkClient.js';
import { Vp8Source, pump, type Pump } from './media.js';

export async function makeToken(identity: string, grant: VideoGrant, opts: { name?: string; metadata?: string; ttl?: number | string } = {}): Promise<string> {
  const at = new AccessToken(API_KEY, API_SECRET, { identity, name: opts.name, metadata: opts.metadata, ttl: opts.ttl });
  at.addGrant(grant);
  return at.toJwt();
}

export type JoinOptions = Partial<Omit<LkClientOptions, 'url' | 'token'>> & {
  /** Grants on top of { roomJoin: true, room }. */
  grant?: VideoGrant;
  token?: string;
};

/** Tracks the clients of one test file so afterEach can release them all. */
export class Clients {
  private readonly all: LkClient[] = [];

  constructor(private readonly server: () => TestServer) {}

  async join(identity: string, room: string, opts: JoinOptions = {}): Promise<LkClient> {
    const { grant, token, ...rest } = opts;
    const jwt = token ?? (await makeToken(identity, { roomJoin: true, room, ...grant }));
    const c = await LkClient.connect({ url: this.server().url, token: jwt, label: identity, ...rest });
    this.all.push(c);
    return c;
  }

  /** Adopts a client created elsewhere. */
  add(c: LkClient): LkClient {
    this.all.push(c);
    return c;
  }

  async disposeAll(): Promise<void> {
    const list = this.all.splice(0);
    await Promise.allSettled(list.map((c) => c.dispose()));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 10 ms. */
export async function waitUntil(cond: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Publishes generated VP8 at 30 fps from `c` (keyframes on request); its pump joins `pumps`, for the caller to stop. */
export async function publishGeneratedVideo(c: LkClient, pumps: Pump[]): Promise<LocalTrack> {
  const track = await c.publishVideo();
  const src = new Vp8Source();
  track.onKeyframeRequest = () => src.requestKeyframe();
  pumps.push(pump(src, (p) => track.writeRtp(p), 1000 / 30));
  return track;
}
