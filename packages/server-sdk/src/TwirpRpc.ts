// Twirp over fetch, the way livekit-server-sdk talks to LiveKit's /twirp API (JSON bodies).
import { type JsonObject, type TwirpErrorCode, isTwirpErrorCode } from '@kite/protocol';

/** An error answered by the server. `code` is the Twirp code when the server sent a Twirp JSON error. */
export class TwirpError extends Error {
  constructor(
    name: string,
    message: string,
    readonly status: number,
    readonly code?: TwirpErrorCode | string,
    readonly metadata?: Record<string, string>,
  ) {
    super(message);
    this.name = name;
  }
}

export interface TwirpRpcOptions {
  /** Milliseconds. Default 10 s. */
  requestTimeout?: number;
}

export class TwirpRpc {
  readonly host: string;
  readonly requestTimeout: number;

  constructor(host: string, readonly pkg = 'livekit', options: TwirpRpcOptions = {}) {
    // ws(s):// URLs are accepted and mean http(s)://, as LiveKit users pass the same URL to both SDKs.
    this.host = host.replace(/^ws(s?):\/\//, 'http$1://').replace(/\/+$/, '');
    this.requestTimeout = options.requestTimeout ?? 10_000;
  }

  async request(service: string, method: string, data: JsonObject, headers: Record<string, string>): Promise<unknown> {
    const url = `${this.host}/twirp/${this.pkg}.${service}/${method}`;
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json;charset=UTF-8', ...headers },
      body: JSON.stringify(data),
      signal: AbortSignal.timeout(this.requestTimeout),
    });
    if (!res.ok) {
      const text = await res.text();
      if (res.headers.get('content-type')?.split(';')[0]?.trim() === 'application/json') {
        try {
          const body = JSON.parse(text) as { code?: unknown; msg?: unknown; meta?: Record<string, string> };
          const code = isTwirpErrorCode(body.code) ? body.code : undefined;
          throw new TwirpError(res.statusText, String(body.msg ?? text), res.status, code, body.meta);
        } catch (err) {
          if (err instanceof TwirpError) throw err;
        }
      }
      throw new TwirpError(res.statusText, text, res.status);
    }
    return res.json();
  }
}
