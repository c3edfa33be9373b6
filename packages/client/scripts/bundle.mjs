// The browser bundle: one ES module (dist/browser/kite-client.js) usable from a plain <script type="module">,
// with @kite/protocol and protobufjs inside. platform: 'browser' makes any Node built-in an error, so the browser
// build provably has none.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/browser.ts'],
  outfile: 'dist/browser/kite-client.js',
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022'],
  sourcemap: true,
  minify: false,
  legalComments: 'none',
  logLevel: 'warning',
});
