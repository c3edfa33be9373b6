// Why a join or a session failed, in the four reasons the error screen distinguishes.

export type FailureReason = 'token' | 'full' | 'unreachable' | 'other';

export interface Failure {
  reason: FailureReason;
  /** One line for people. */
  title: string;
  /** The technical detail (error message). */
  detail: string;
}

const TITLES: Record<FailureReason, string> = {
  token: 'Access refused',
  full: 'This room is full',
  unreachable: "Can't reach the server",
  other: 'Something went wrong',
};

export function failure(reason: FailureReason, detail: string, title = TITLES[reason]): Failure {
  return { reason, title, detail };
}

/**
 * Classifies what `fetchToken` or `room.connect` threw. Duck-typed (name/status/message) so it needs no SDK import:
 * - TokenFetchError: status 0 or 5xx → unreachable, 401/403 → token, other 4xx → other.
 * - ConnectionError: status 401/403 → token; 503 or "full" → full; 404 → other; no status (socket closed, server
 *   unreachable, timeouts, peer connection failures) → unreachable; a `leave` refusal → other (full when it says so).
 * - Anything else (a TypeError from fetch, …) → unreachable when it looks like the network, else other.
 */
export function classifyError(err: unknown): Failure {
  const e = (err ?? {}) as { name?: string; status?: number; message?: string; leave?: unknown };
  const message = typeof e.message === 'string' && e.message ? e.message : String(err);
  const status = typeof e.status === 'number' ? e.status : undefined;
  if (/\bfull\b/i.test(message)) return failure('full', message);
  if (e.name === 'TokenFetchError') {
    if (status === 401 || status === 403) return failure('token', message);
    if (!status || status >= 500) return failure('unreachable', message);
    return failure('other', message);
  }
  if (e.name === 'ConnectionError') {
    if (status === 401 || status === 403) return failure('token', message);
    if (status === 503) return failure('full', message);
    if (status === 404) return failure('other', message, 'Room not found');
    if (status !== undefined) return failure('other', message);
    if (e.leave) return failure('other', message, 'The server refused to let you in');
    return failure('unreachable', message);
  }
  if (e.name === 'TypeError' && /fetch|network|load failed/i.test(message)) return failure('unreachable', message);
  return failure('other', message);
}
