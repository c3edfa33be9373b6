// Logging through pino: readable lines for people by default, JSON lines with `logging.json: true`.
// Secrets are redacted by path as a second line of defence; the first is never logging tokens, keys or config.
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { LoggingConfig } from './config/index.js';

export type { Logger };

const REDACT = [
  'secret',
  'apiSecret',
  'password',
  'credential',
  'token',
  'accessToken',
  'authorization',
  'keys',
  '*.secret',
  '*.password',
  '*.credential',
  '*.token',
  '*.authorization',
  '*.keys',
  'req.headers.authorization',
];

export function createLogger(cfg: LoggingConfig, destination?: NodeJS.WritableStream): Logger {
  const options = {
    level: cfg.level,
    base: undefined,
    redact: { paths: REDACT, censor: '[redacted]' },
  };
  if (cfg.json) return destination ? pino(options, destination as never) : pino(options);
  const stream = pretty({
    colorize: !destination && process.stdout.isTTY === true,
    sync: true,
    translateTime: 'HH:MM:ss.l',
    ignore: 'pid,hostname',
    singleLine: true,
    destination: (destination as never) ?? 1,
  });
  return pino(options, stream);
}

/** Strips the access_token query parameter (and anything after a token-looking value) from a URL for logs. */
export function redactUrl(url: string): string {
  return url.replace(/([?&](?:access_token|token|join_request)=)[^&]*/gi, '$1[redacted]');
}
