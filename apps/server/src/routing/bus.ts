// The message bus between nodes: Redis pub/sub, one channel per node. A frame is a small JSON header plus opaque
// bytes (protobuf requests and responses, signalling frames), so nothing binary is re-encoded as text. Pub/sub keeps
// the order of what one connection publishes to one channel, which the signal relay relies on.
import { isTwirpErrorCode, randomId, TypedEventEmitter } from '@kite/protocol';
import type { Logger } from '../logger.js';
import { ServiceError } from '../errors.js';
import { keys, type RedisClient } from './redis.js';

/** A frame's header. `t` says what it is; the other fields belong to some kinds only. */
export interface BusHeader {
  /** rq: request, rs: response, ss: signal session start, sm: signal message, sc: signal session close. */
  t: 'rq' | 'rs' | 'ss' | 'sm' | 'sc';
  /** Sender node. */
  from: string;
  /** Request id (rq/rs). */
  id?: string;
  /** Method (rq). */
  m?: string;
  /** Error (rs). */
  e?: { code: string; msg: string; meta?: Record<string, string> };
  /** Relayed signal session (ss/sm/sc). */
  s?: string;
  /** sm: a binary WebSocket frame (else text). */
  b?: boolean;
  /** sc: WebSocket close code and reason. */
  c?: number;
  r?: string;
}

export interface BusEvents {
  /** A signalling frame (ss/sm/sc) for this node. */
  signal: (header: BusHeader, payload: Buffer) => void;
}

export type RequestHandler = (method: string, payload: Buffer, from: string) => Promise<Uint8Array>;

export function encodeFrame(header: BusHeader, payload?: Uint8Array): Buffer {
  const h = Buffer.from(JSON.stringify(header));
  const out = Buffer.allocUnsafe(4 + h.length + (payload?.length ?? 0));
  out.writeUInt32BE(h.length, 0);
  h.copy(out, 4);
  if (payload) out.set(payload, 4 + h.length);
  return out;
}

export function decodeFrame(frame: Buffer): { header: BusHeader; payload: Buffer } {
  const len = frame.readUInt32BE(0);
  const header = JSON.parse(frame.subarray(4, 4 + len).toString()) as BusHeader;
  return { header, payload: frame.subarray(4 + len) };
}

interface Pending {
  resolve: (payload: Buffer) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class Bus extends TypedEventEmitter<BusEvents> {
  private readonly pending = new Map<string, Pending>();
  private handler: RequestHandler | undefined;
  /** Frames published / received, for the closing figures (Redis ops per join). */
  readonly counters = { published: 0, received: 0 };

  private constructor(
    private readonly nodeId: string,
    private readonly pub: RedisClient,
    private readonly sub: RedisClient,
    private readonly log: Logger,
  ) {
    super();
  }

  /** Subscribes to this node's channel; frames for it flow once this resolves. */
  static async start(nodeId: string, pub: RedisClient, sub: RedisClient, log: Logger): Promise<Bus> {
    const bus = new Bus(nodeId, pub, sub, log);
    sub.on('messageBuffer', (_channel: Buffer, message: Buffer) => bus.onFrame(message));
    await sub.subscribe(keys.channel(nodeId));
    return bus;
  }

  /** Who answers requests addressed to this node. */
  serve(handler: RequestHandler): void {
    this.handler = handler;
  }

  /** Sends a frame to a node; resolves once Redis took it. */
  async send(node: string, header: Omit<BusHeader, 'from'>, payload?: Uint8Array): Promise<void> {
    this.counters.published++;
    await this.pub.publish(keys.channel(node), encodeFrame({ ...header, from: this.nodeId } as BusHeader, payload));
  }

  /**
   * Asks `node` to run `method`; resolves with its answer. A ServiceError the other node threw is thrown here as the
   * same ServiceError; no answer within `timeoutMs` (the node died or is stuck) is `unavailable`.
   */
  request(node: string, method: string, payload: Uint8Array, timeoutMs = 5000): Promise<Buffer> {
    const id = randomId('', 12);
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ServiceError('unavailable', `node ${node} did not answer ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.send(node, { t: 'rq', id, m: method }, payload).catch((err: Error) => {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(new ServiceError('unavailable', `message bus: ${err.message}`));
      });
    });
  }

  private onFrame(frame: Buffer): void {
    this.counters.received++;
    let header: BusHeader;
    let payload: Buffer;
    try {
      ({ header, payload } = decodeFrame(frame));
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'bus: undecodable frame dropped');
      return;
    }
    switch (header.t) {
      case 'rq':
        void this.answer(header, payload);
        return;
      case 'rs': {
        const p = this.pending.get(header.id ?? '');
        if (!p) return; // timed out already
        this.pending.delete(header.id!);
        clearTimeout(p.timer);
        if (header.e) {
          const code = isTwirpErrorCode(header.e.code) ? header.e.code : 'internal';
          p.reject(new ServiceError(code, header.e.msg, header.e.meta));
        } else p.resolve(payload);
        return;
      }
      default:
        this.emit('signal', header, payload);
    }
  }

  private async answer(header: BusHeader, payload: Buffer): Promise<void> {
    let body: Uint8Array | undefined;
    let e: BusHeader['e'];
    try {
      if (!this.handler) throw new ServiceError('unavailable', 'node is not serving requests');
      body = await this.handler(header.m ?? '', payload, header.from);
    } catch (err) {
      if (err instanceof ServiceError) e = { code: err.code, msg: err.message, meta: err.meta };
      else {
        this.log.error({ err, method: header.m }, 'bus: request failed');
        e = { code: 'internal', msg: 'internal error' };
      }
    }
    await this.send(header.from, { t: 'rs', id: header.id, e }, body).catch((err: Error) =>
      this.log.warn({ err: err.message, to: header.from }, 'bus: response not sent'),
    );
  }

  close(): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new ServiceError('unavailable', 'node shutting down'));
    }
    this.pending.clear();
  }
}
