// Kite Meet: Vite + Preact. `base: './'` keeps every asset URL relative, so the same build works at / (dev,
// preview) and under /meet/ (served by the Kite server). In dev and preview a middleware answers the token endpoint
// (server/tokenEndpoint.ts) with Kite's --dev keys.
import { defaultClientConditions, defineConfig, type Plugin } from 'vite';
import preact from '@preact/preset-vite';
import { tokenMiddleware, tokenOptionsFromEnv } from './server/tokenEndpoint.ts';

const DEV_PORT = 5173;

function kiteTokenEndpoint(): Plugin {
  const opts = tokenOptionsFromEnv();
  const target = opts.url ?? `ws://<page host>:${opts.port}`;
  return {
    name: 'kite-meet-token-endpoint',
    configureServer(server) {
      server.middlewares.use('/api/token', tokenMiddleware(opts));
      server.httpServer?.once('listening', () => {
        const addr = server.httpServer?.address();
        const port = typeof addr === 'object' && addr ? addr.port : DEV_PORT;
        setTimeout(() => {
          console.log(`\n  Kite Meet dev server: http://localhost:${port}/  (token endpoint /api/token, Kite at ${target}, key ${opts.apiKey})\n`);
        }, 50);
      });
    },
    configurePreviewServer(server) {
      server.middlewares.use('/api/token', tokenMiddleware(opts));
    },
  };
}

export default defineConfig({
  base: './',
  plugins: [preact(), kiteTokenEndpoint()],
  // @kite/client's exports map has a "browser" condition (dist/browser.js, WebRTC); "node" would be werift + ws.
  // Vite's client conditions already include "browser": listed first here to make the choice explicit.
  resolve: { conditions: ['browser', ...defaultClientConditions] },
  // protobufjs probes for Node's `fs` (and finds none in browsers); give the dev pre-bundle an empty module so the
  // probe does not log Vite's "externalized for browser compatibility" warning on every load.
  optimizeDeps: {
    esbuildOptions: {
      plugins: [
        {
          name: 'kite-meet-empty-fs',
          setup(build) {
            build.onResolve({ filter: /^fs$/ }, () => ({ path: 'fs', namespace: 'kite-meet-empty' }));
            build.onLoad({ filter: /.*/, namespace: 'kite-meet-empty' }, () => ({ contents: 'module.exports = {};', loader: 'js' }));
          },
        },
      ],
    },
  },
  server: { host: '0.0.0.0', port: DEV_PORT, strictPort: true },
  preview: { host: '0.0.0.0', port: 4173, strictPort: true },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', sourcemap: true, chunkSizeWarningLimit: 1024 },
});
