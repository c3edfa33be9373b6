// Real processes for the multi-node tests: a redis-server on a free port, and Kite nodes run by the built binary
// (so a node can be killed with SIGKILL like a crashed machine).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A TCP port nobody listens on right now (UDP is asked for the same number: Kite binds both). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface RedisProcess {
  port: number;
  address: string;
  stop(): Promise<void>;
}

/** Starts `redis-server` on a free port without persistence. Fails with the way to install it when it is missing. */
export async function startRedis(): Promise<RedisProcess> {
  const which = spawnSync('sh', ['-c', 'command -v redis-server']);
  if (which.status !== 0) {
    throw new Error(
      'redis-server is not installed, and the multi-node tests need a real one. On Debian/Ubuntu: ' +
        '`sudo apt-get update && sudo apt-get install -y redis-server` (.ci/run does this); elsewhere install Redis ≥ 6 so that `redis-server` is on PATH.',
    );
  }
  const port = await freePort();
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const deadline = Date.now() + 10_000;
  while (!/Ready to accept connections/.test(out)) {
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`redis-server did not start:\n${out}`);
    await sleep(20);
  }
  return {
    port,
    address: `127.0.0.1:${port}`,
    stop: () => stopProcess(proc),
  };
}

async function stopProcess(proc: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  proc.kill(signal);
  await Promise.race([exited, sleep(5000).then(() => proc.kill('SIGKILL'))]);
  await exited;
}

export interface KiteProcess {
  url: string;
  port: number;
  proc: ChildProcess;
  /** Everything it printed. */
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Resolves with the exit code/signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

/** Runs the built `kite` binary with `config` (as --config-body), on free ports; resolves once GET / answers 200. */
export async function startKiteProcess(config: Record<string, unknown>, env: Record<string, string> = {}): Promise<KiteProcess> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`pnpm build\` first (pnpm test does)`);
  const [port, udp, tcp] = [await freePort(), await freePort(), await freePort()];
  const body = JSON.stringify({
    port,
    bind_addresses: ['127.0.0.1'],
    logging: { level: 'debug', json: true },
    ...config,
    rtc: { udp_port: udp, tcp_port: tcp, node_ip: '127.0.0.1', enable_loopback_candidate: true, ...((config.rtc as object) ?? {}) },
  });
  const proc = spawn(process.execPath, [CLI, '--config-body', body], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => proc.once('exit', (code, signal) => r({ code, signal })));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`kite exited with ${proc.exitCode}:\n${out}`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`kite did not answer GET / within 20 s:\n${out}`);
    }
    const ok = await fetch(url).then((r) => r.ok, () => false);
    if (ok) break;
    await sleep(50);
  }
  return { url, port, proc, output: () => out, stop: (signal) => stopProcess(proc, signal), exited };
}
