// A network namespace joined to this host by a veth pair, so that one browser's network can be cut while everything
// else keeps running: Chromium runs inside it through a wrapper executable (`ip netns exec`), Kite listens on the
// host end. Needs root (CAP_NET_ADMIN) and iproute2, as on CI (.ci/run installs iproute2).
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHROMIUM } from './browser.js';

export interface CuttableNetwork {
  /** The host end's address: Kite and the page server listen here. */
  hostIp: string;
  /** The namespace end's address (the browser's). */
  nsIp: string;
  /** An executable that runs Chromium inside the namespace (for launchChromium). */
  chromium: string;
  /** Chromium flags the namespace needs: pages from http://hostIp are treated as a secure context (getUserMedia). */
  chromiumArgs(pageOrigin: string): string[];
  /** Takes the link down: nothing gets in or out of the namespace. */
  cut(): void;
  restore(): void;
  /**
   * Caps what reaches the namespace (the browser's downlink) with a token bucket (`tc … tbf`: rate, a burst of 20 ms
   * of it but at least 1600 bytes, 50 ms of queue), or removes the cap when `kbps` is undefined.
   */
  shape(kbps?: number): void;
  destroy(): void;
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
const tc = (...args: string[]) => execFileSync('tc', args, { stdio: ['ignore', 'ignore', 'pipe'] });

export function createCuttableNetwork(index = process.pid % 200): CuttableNetwork {
  const ns = `kite-cut-${process.pid}`;
  const host = `kc${process.pid % 100000}h`;
  const peer = `kc${process.pid % 100000}n`;
  const hostIp = `10.77.${index}.1`;
  const nsIp = `10.77.${index}.2`;
  const dir = mkdtempSync(join(tmpdir(), 'kite-netns-'));
  const chromium = join(dir, 'chromium-in-netns');
  const destroy = () => {
    try {
      ip('netns', 'del', ns);
    } catch {
      /* already gone */
    }
    try {
      ip('link', 'del', host);
    } catch {
      /* removed with the namespace */
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    ip('netns', 'add', ns);
    ip('link', 'add', host, 'type', 'veth', 'peer', 'name', peer);
    ip('link', 'set', peer, 'netns', ns);
    ip('addr', 'add', `${hostIp}/24`, 'dev', host);
    ip('link', 'set', host, 'up');
    ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${nsIp}/24`, 'dev', peer);
    ip('netns', 'exec', ns, 'ip', 'link', 'set', peer, 'up');
    ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
  } catch (err) {
    destroy();
    const detail = (err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message;
    throw new Error(`cannot create a network namespace (needs root and iproute2): ${detail}`);
  }
  writeFileSync(chromium, `#!/bin/sh\nexec ip netns exec ${ns} ${CHROMIUM} "$@"\n`);
  chmodSync(chromium, 0o755);
  return {
    hostIp,
    nsIp,
    chromium,
    chromiumArgs: (origin) => [`--unsafely-treat-insecure-origin-as-secure=${origin}`],
    cut: () => ip('link', 'set', host, 'down'),
    restore: () => ip('link', 'set', host, 'up'),
    shape: (kbps) => {
      if (kbps === undefined) {
        try {
          tc('qdisc', 'del', 'dev', host, 'root');
        } catch {
          /* no cap in place */
        }
        return;
      }
      const burst = Math.max(1600, Math.round((kbps * 1000) / 8 / 50));
      tc('qdisc', 'replace', 'dev', host, 'root', 'tbf', 'rate', `${kbps}kbit`, 'burst', String(burst), 'latency', '50ms');
    },
    destroy,
  };
}
