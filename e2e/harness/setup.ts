// The usual e2e fixture: Kite in-process, the static server for the test pages, and Debian's Chromium — started
// before the file's tests and stopped after them. Read the fields inside tests (they are set in beforeAll).
import { afterAll, beforeAll } from 'vitest';
import type { Browser } from 'playwright-core';
import type { KiteConfigInput } from '@kite/server';
import { launchChromium } from './browser.js';
import { startStaticServer, type StaticServer } from './static.js';
import { startKite, type E2eServer } from './kite.js';
import { createCuttableNetwork, type CuttableNetwork } from './netns.js';

export interface E2eEnv {
  kite: E2eServer;
  web: StaticServer;
  browser: Browser;
}

export function e2eEnv(config: KiteConfigInput = {}): E2eEnv {
  const env = {} as E2eEnv;
  beforeAll(async () => {
    [env.kite, env.web, env.browser] = await Promise.all([startKite(config), startStaticServer(), launchChromium()]);
  });
  afterAll(async () => {
    await env.browser?.close();
    await env.web?.close();
    await env.kite?.close();
  });
  return env;
}

export interface NetnsEnv {
  /** The namespace: cut its link or cap its downlink. */
  net: CuttableNetwork;
  /** Kite and the page server, on the host end's address. */
  kite: E2eServer;
  web: StaticServer;
  /** Chromium inside the namespace, and one on the host. */
  inNamespace: Browser;
  onHost: Browser;
}

/**
 * The fixture of the tests whose browser sits behind a network Kite can break or squeeze (netns.ts): a namespace,
 * Kite and the page server on its host end, one Chromium inside it and one outside.
 */
export function netnsEnv(): NetnsEnv {
  const env = {} as NetnsEnv;
  beforeAll(async () => {
    env.net = createCuttableNetwork();
    const hostIp = env.net.hostIp;
    env.kite = await startKite({ bind_addresses: [hostIp], rtc: { node_ip: hostIp, enable_loopback_candidate: false } });
    env.web = await startStaticServer(hostIp);
    [env.inNamespace, env.onHost] = await Promise.all([launchChromium(env.net.chromiumArgs(env.web.url), env.net.chromium), launchChromium(env.net.chromiumArgs(env.web.url))]);
  });
  afterAll(async () => {
    env.net?.restore();
    env.net?.shape();
    await env.inNamespace?.close();
    await env.onHost?.close();
    await env.web?.close();
    await env.kite?.close();
    env.net?.destroy();
  });
  return env;
}
