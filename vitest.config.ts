import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

// Tests import the workspace packages from source, so they never run against a stale build.
// (Anything spawned as a separate process — the server binary, browser bundles — uses the build; `pnpm test` builds first.)
const src = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const alias = {
  '@kite/protocol': src('./packages/protocol/src/index.ts'),
  '@kite/sfu': src('./packages/sfu/src/index.ts'),
  '@kite/server-sdk': src('./packages/server-sdk/src/index.ts'),
  '@kite/client': src('./packages/client/src/node.ts'),
  '@kite/server': src('./apps/server/src/index.ts'),
};

export default defineConfig({
  resolve: { alias },
  test: {
    projects: [
      {
        resolve: { alias },
        test: {
          name: 'unit',
          include: ['packages/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts'],
          // Micro-benchmarks print figures and assert nothing about time: they run with `pnpm bench`, not in CI.
          exclude: ['**/bench.test.ts', '**/throughput.test.ts', '**/node_modules/**'],
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'bench',
          include: ['packages/*/test/**/bench.test.ts', 'packages/*/test/**/throughput.test.ts'],
          testTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'e2e',
          include: ['e2e/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
