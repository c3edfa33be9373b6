// Twirp wire facts shared by the server (which writes errors) and the SDKs (which read them).

/** Twirp error codes and the HTTP status each one is sent with (twirp's ServerHTTPStatusFromErrorCode). */
export const TWIRP_STATUS = {
  canceled: 408,
  unknown: 500,
  invalid_argument: 400,
  malformed: 400,
  deadline_exceeded: 408,
  not_found: 404,
  bad_route: 404,
  already_exists: 409,
  permission_denied: 403,
  unauthenticated: 401,
  resource_exhausted: 429,
  failed_precondition: 412,
  aborted: 409,
  out_of_range: 400,
  unimplemented: 501,
  internal: 500,
  unavailable: 503,
  dataloss: 500,
} as const;

export type TwirpErrorCode = keyof typeof TWIRP_STATUS;

/** The JSON body of a Twirp error response. */
export interface TwirpErrorBody {
  code: TwirpErrorCode;
  msg: string;
  meta?: Record<string, string>;
}

export function isTwirpErrorCode(code: unknown): code is TwirpErrorCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(TWIRP_STATUS, code);
}

/** URL path prefix of LiveKit's RoomService. */
export const ROOM_SERVICE_PREFIX = '/twirp/livekit.RoomService/';
