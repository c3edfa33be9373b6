// Fetching a join token from the app's own endpoint: `api/token` relative to the page, so the same code works at /
// (Vite dev server) and under /meet/ (the Kite server).

export interface TokenResponse {
  token: string;
  url: string;
}

/** The token endpoint refused or could not be reached. `status` 0: the request never got an answer. */
export class TokenFetchError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'TokenFetchError';
  }
}

/** `api/token?room=&identity=&name=` resolved against `base` (the document's URL). */
export function tokenUrl(base: string, room: string, identity: string, name: string): string {
  const u = new URL('api/token', base);
  u.searchParams.set('room', room);
  u.searchParams.set('identity', identity);
  u.searchParams.set('name', name);
  return u.toString();
}

export async function fetchToken(room: string, identity: string, name: string, signal?: AbortSignal): Promise<TokenResponse> {
  let res: Response;
  try {
    res = await fetch(tokenUrl(document.baseURI, room, identity, name), { signal, cache: 'no-store', headers: { accept: 'application/json' } });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new TokenFetchError(`could not reach the token endpoint (${(err as Error).message})`, 0);
  }
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  const b = (body ?? {}) as { token?: unknown; url?: unknown; error?: unknown };
  if (!res.ok) {
    const why = typeof b.error === 'string' ? b.error : res.statusText || 'request failed';
    throw new TokenFetchError(`token endpoint: ${why} (HTTP ${res.status})`, res.status);
  }
  if (typeof b.token !== 'string' || typeof b.url !== 'string') throw new TokenFetchError('token endpoint: the answer has no token or url', res.status);
  return { token: b.token, url: b.url };
}
