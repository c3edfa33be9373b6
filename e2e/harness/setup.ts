// The usual e2e fixture: Kite in-process, the static server for the test pages, and Debian's Chromium — started
// before the file's tests and stopped after them. Read the fields inside tests (they are set in beforeAll).
import { afterAll, beforeAll } from 'vitest';
import type { Browser } from 'playwright-core';
import type { KiteConfigInput } from '@kite/server';
import { launchChromium } from './browser.js';
import { startStaticServer, type StaticServer } from './static.js';
import { startKite, type E2eServer } from './kite.js';

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
