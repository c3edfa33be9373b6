// The `join_request` query parameter of /rtc/v1 (LiveKit protocol v1): base64url of a WrappedJoinRequest, whose
// `join_request` bytes are a JoinRequest, gzipped or not. Decoded the way LiveKit's rtcservice.validateInternal does,
// with the same limit (1 MiB, Go's http.DefaultMaxHeaderBytes) and a 400 naming what was wrong.
import { gunzipSync, gzipSync } from 'node:zlib';
import { JoinRequest, WrappedJoinRequest, WrappedJoinRequest_Compression } from '@kite/protocol';

/** Largest JoinRequest accepted, compressed or not (bytes). */
export const MAX_JOIN_REQUEST_BYTES = 1 << 20;

export type JoinRequestResult = { ok: true; request: JoinRequest; compression: WrappedJoinRequest_Compression } | { ok: false; status: 400; message: string };

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

const refuse = (message: string): JoinRequestResult => ({ ok: false, status: 400, message });

/** Decodes the `join_request` parameter (standard or URL-safe base64, padded or not). */
export function decodeJoinRequest(param: string | undefined): JoinRequestResult {
  if (!param) return refuse('join_request is required');
  if (!BASE64.test(param) || param.length % 4 === 1) return refuse('cannot base64 decode wrapped join request');
  // The base64 text is larger than the bytes it holds; a wrapper is a few bytes more than its JoinRequest.
  if (param.length > ((MAX_JOIN_REQUEST_BYTES + 64) * 4) / 3) return refuse('join request too large');
  const wrappedBytes = Buffer.from(param, 'base64');
  let wrapped: WrappedJoinRequest;
  try {
    wrapped = WrappedJoinRequest.decode(wrappedBytes);
  } catch (err) {
    return refuse(`cannot unmarshal wrapped join request: ${(err as Error).message}`);
  }
  let bytes: Uint8Array;
  switch (wrapped.compression) {
    case WrappedJoinRequest_Compression.NONE:
      if (wrapped.joinRequest.length > MAX_JOIN_REQUEST_BYTES) return refuse('join request too large');
      bytes = wrapped.joinRequest;
      break;
    case WrappedJoinRequest_Compression.GZIP:
      try {
        bytes = gunzipSync(wrapped.joinRequest, { maxOutputLength: MAX_JOIN_REQUEST_BYTES });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ERR_BUFFER_TOO_LARGE') return refuse('join request too large');
        return refuse(`cannot read decompressed join request: ${(err as Error).message}`);
      }
      break;
    default:
      return refuse(`unknown join request compression ${String(wrapped.compression)}`);
  }
  try {
    return { ok: true, request: JoinRequest.decode(bytes), compression: wrapped.compression };
  } catch (err) {
    return refuse(`cannot unmarshal join request: ${(err as Error).message}`);
  }
}

/** Builds a `join_request` parameter the way livekit-client does (URL-safe base64, padded; gzip when asked). */
export function encodeJoinRequest(request: Parameters<typeof JoinRequest.encode>[0], opts: { gzip?: boolean } = {}): string {
  const inner = JoinRequest.encode(request);
  const wrapped = WrappedJoinRequest.encode({
    compression: opts.gzip ? WrappedJoinRequest_Compression.GZIP : WrappedJoinRequest_Compression.NONE,
    joinRequest: opts.gzip ? gzipSync(inner) : inner,
  });
  return Buffer.from(wrapped).toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}
