// Twirp transport for RoomService: POST /twirp/livekit.RoomService/<Method> with a JSON or protobuf body.
// Every failure is a Twirp error: JSON {code, msg[, meta]} with Content-Type exactly `application/json`
// (livekit-server-sdk reads the code only then) and the HTTP status Twirp assigns to the code.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  ROOM_SERVICE_PREFIX,
  RoomServiceMethods,
  TWIRP_STATUS,
  ProtocolError,
  type MessageCodec,
  type RoomServiceMethod,
  type TwirpErrorCode,
} from '@kite/protocol';
import { ServiceError } from '../errors.js';
import { authenticate, extractToken, tokenErrorMessage, type ClaimGrants, type KeyProvider } from '../auth/tokens.js';
import type { Logger } from '../logger.js';

export type RoomServiceHandler = (request: unknown, grants: ClaimGrants | undefined) => Promise<unknown>;
export type RoomServiceHandlers = Record<RoomServiceMethod, RoomServiceHandler>;

const JSON_TYPE = 'application/json';
const PROTOBUF_TYPE = 'application/protobuf';

function sendError(reply: FastifyReply, code: TwirpErrorCode, msg: string, meta?: Record<string, string>): FastifyReply {
  const body: Record<string, unknown> = { code, msg };
  if (meta && Object.keys(meta).length) body.meta = meta;
  // A Buffer, not a string: fastify would append `; charset=utf-8` to a string's content type.
  return reply.code(TWIRP_STATUS[code]).header('content-type', JSON_TYPE).send(Buffer.from(JSON.stringify(body)));
}

function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase();
}

export interface TwirpOptions {
  keys: KeyProvider;
  handlers: RoomServiceHandlers;
  log: Logger;
  bodyLimit: number;
}

export async function registerTwirp(app: FastifyInstance, opts: TwirpOptions): Promise<void> {
  await app.register(async (scope) => {
    // Bodies are read raw and decoded here, so a bad body is a Twirp `malformed`, not a framework error.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: opts.bodyLimit }, (_req, body, done) => done(null, body));
    scope.setErrorHandler((err: { statusCode?: number; code?: string; message: string }, _req, reply) => {
      if (err.statusCode === 413 || err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendError(reply, 'malformed', 'request body too large');
      if (err.statusCode && err.statusCode < 500) return sendError(reply, 'malformed', err.message);
      opts.log.error({ err }, 'twirp: unexpected error');
      return sendError(reply, 'internal', 'internal error');
    });

    scope.all('/twirp/*', async (req, reply) => {
      const path = req.url.split('?')[0]!;
      if (req.method !== 'POST') return sendError(reply, 'bad_route', `unsupported method ${req.method} (only POST is allowed)`, { twirp_invalid_route: `${req.method} ${path}` });
      if (!path.startsWith(ROOM_SERVICE_PREFIX)) return sendError(reply, 'bad_route', `no handler for path "${path}"`, { twirp_invalid_route: `POST ${path}` });
      const method = path.slice(ROOM_SERVICE_PREFIX.length);
      if (!Object.prototype.hasOwnProperty.call(RoomServiceMethods, method)) {
        return sendError(reply, 'bad_route', `no handler for path "${path}"`, { twirp_invalid_route: `POST ${path}` });
      }
      return handle(req, reply, method as RoomServiceMethod, opts);
    });
  });
}

async function handle(req: FastifyRequest, reply: FastifyReply, method: RoomServiceMethod, opts: TwirpOptions) {
  const contentType = mediaType(req.headers['content-type']);
  if (contentType !== JSON_TYPE && contentType !== PROTOBUF_TYPE) {
    return sendError(reply, 'bad_route', `unexpected Content-Type: "${req.headers['content-type'] ?? ''}"`);
  }

  // Authentication: a present but bad token is refused outright; a missing one fails the grant check below.
  const { token, error } = extractToken(req.headers.authorization, undefined);
  if (error) return sendError(reply, 'unauthenticated', error);
  let grants: ClaimGrants | undefined;
  if (token) {
    try {
      grants = (await authenticate(opts.keys, token)).grants;
    } catch (err) {
      return sendError(reply, 'unauthenticated', tokenErrorMessage(err));
    }
  }

  const { request: reqCodec, response: resCodec } = RoomServiceMethods[method] as unknown as {
    request: MessageCodec<unknown>;
    response: MessageCodec<unknown>;
  };
  const raw = (req.body as Buffer | undefined) ?? Buffer.alloc(0);
  let request: unknown;
  try {
    if (contentType === JSON_TYPE) {
      const text = raw.toString('utf8');
      request = reqCodec.fromJson(text.trim() === '' ? {} : JSON.parse(text));
    } else {
      request = reqCodec.decode(raw);
    }
  } catch (err) {
    const detail = err instanceof ProtocolError || err instanceof SyntaxError ? err.message : 'undecodable body';
    return sendError(reply, 'malformed', `the ${contentType === JSON_TYPE ? 'json' : 'protobuf'} request could not be decoded: ${detail}`);
  }

  let response: unknown;
  try {
    response = await opts.handlers[method](request, grants);
  } catch (err) {
    if (err instanceof ServiceError) return sendError(reply, err.code, err.message, err.meta);
    opts.log.error({ err, method }, 'twirp: handler failed');
    return sendError(reply, 'internal', 'internal error');
  }

  if (contentType === JSON_TYPE) {
    // As LiveKit's Twirp server: proto field names, defaults included.
    const json = resCodec.toJson(response as never, { useProtoNames: true, emitDefaults: true });
    return reply.code(200).header('content-type', JSON_TYPE).send(Buffer.from(JSON.stringify(json)));
  }
  return reply.code(200).header('content-type', PROTOBUF_TYPE).send(Buffer.from(resCodec.encode(response as never)));
}
