// A static file server for the test pages, on 127.0.0.1 (a secure context, so getUserMedia/getDisplayMedia work).
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';

const here = fileURLToPath(new URL('..', import.meta.url));
const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.map': 'application/json',
  '.css': 'text/css',
};

/** URL path prefix → directory. */
const ROOTS: [string, string][] = [
  ['/lib/livekit-client/', join(here, 'node_modules/livekit-client/dist')],
  ['/lib/kite-client/', join(here, '../packages/client/dist/browser')],
  ['/', join(here, 'pages')],
];

export interface StaticServer {
  url: string;
  close(): Promise<void>;
}

/** `host`: where to listen (another address than 127.0.0.1 is not a secure context: see netns.ts). */
export async function startStaticServer(host = '127.0.0.1'): Promise<StaticServer> {
  const server: Server = createServer(async (req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]!);
    for (const [prefix, dir] of ROOTS) {
      if (!path.startsWith(prefix)) continue;
      const rel = normalize(path.slice(prefix.length) || 'index.html');
      if (rel.startsWith('..')) break;
      try {
        const body = await readFile(join(dir, rel));
        res.writeHead(200, { 'content-type': MIME[extname(rel)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
        res.end(body);
        return;
      } catch {
        break;
      }
    }
    res.writeHead(404).end('not found');
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  return {
    url: `http://${host}:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
