#!/usr/bin/env node
// The Kite binary: `kite --dev`, `kite --config kite.yaml`, `kite generate-keys`.
import { randomId } from '@kite/protocol';
import { ConfigError, loadConfig, parseCliArgs } from './config/index.js';
import { createServer } from './server.js';

const HELP = `Kite: a LiveKit-compatible real-time server

Usage: kite [flags]            start the server
       kite generate-keys      print a new API key and secret

Flags:
  --dev                 development mode: keys devkey/secret, bind 127.0.0.1, UDP mux on 7882
  --config FILE         YAML configuration file (LiveKit's keys)
  --config-body YAML    configuration as a string (also LIVEKIT_CONFIG)
  --keys "KEY: SECRET"  API keys (also LIVEKIT_KEYS)
  --bind ADDR           address to listen on (repeatable)
  --node-ip IP          IP address advertised to clients
  --udp-port PORT       UDP mux port (rtc.udp_port)
  --redis-host HOST     Redis address for multi-node
  --port PORT           HTTP port (default 7880)
`;

const DRAIN_TIMEOUT_MS = Number(process.env.KITE_DRAIN_TIMEOUT_MS ?? 30_000);

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseCliArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`kite: ${(err as Error).message}\n\n${HELP}`);
    process.exit(2);
  }
  if (parsed.command === 'help') {
    console.log(HELP);
    return;
  }
  if (parsed.command === 'generate-keys') {
    console.log(`API Key: ${randomId('API', 12)}`);
    console.log(`API Secret: ${randomId('', 43)}`);
    return;
  }
  let config;
  try {
    config = loadConfig(parsed.options);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`kite: invalid configuration: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const server = await createServer(config);
  // In a cluster, a stop drains: rooms here may finish for DRAIN_TIMEOUT_MS, then their participants rejoin on
  // another node. A second signal stops at once.
  let stopping = false;
  const stop = (signal: string) => {
    const done = (p: Promise<void>) =>
      p.then(
        () => process.exit(0),
        (err) => {
          server.log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    if (stopping) {
      server.log.info({ signal }, 'stopping now');
      void done(server.close());
      return;
    }
    stopping = true;
    const drainMs = server.cluster ? DRAIN_TIMEOUT_MS : 0;
    server.log.info({ signal, drainMs }, 'shutting down');
    const force = setTimeout(() => process.exit(1), drainMs + 15_000);
    force.unref();
    void done(server.drain(drainMs));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err) => {
  console.error('kite: failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
