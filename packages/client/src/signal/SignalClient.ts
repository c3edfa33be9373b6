// The signalling WebSocket: /rtc (protocol v0, two peer connections) as livekit-client 2.x speaks it. Binary
// protobuf both ways; every SignalResponse is dispatched by its oneof member (`signal.on('update', …)`); ping /
// ping_req on the server's interval, and a pong timeout that reports the connection as lost. While the engine
// recovers, requests that describe the session (metadata, mute, subscriptions…) wait in a queue and go out on the
// new connection, as livekit-client's queuedRequests.
import {
  SignalRequest,
  SignalResponse,
  TypedEventEmitter,
  type LeaveRequest,
  type PartialMessage,
} from '@kite/protocol';
import { platform, type SocketLike } from '../platform/types.js';
import { PROTOCOL_VERSION, SDK_NAME, SDK_VERSION } from '../version.js';
import { CLIENT_PROTOCOL } from '../data/types.js';

export type SignalKind = NonNullable<SignalResponse['message']>;
export type Payload<K extends SignalKind> = NonNullable<SignalResponse[K]>;

type SignalEvents = { [K in SignalKind]: (msg: Payload<K>) => void } & {
  /** The socket closed or stopped answering (not after close()). */
  lost: (reason: string) => void;
};

export interface ConnectParams {
  autoSubscribe: boolean;
  adaptiveStream: boolean;
  /** Resume: the participant sid to reconnect as. */
  reconnectSid?: string;
  reconnectReason?: number;
}

/** The server refused the connection (HTTP error on /rtc, explained by /rtc/validate) or sent a leave first. */
export class ConnectionError extends Error {
  constructor(
    message: string,
    /** HTTP status from /rtc/validate when known: 401 bad token, 403 not allowed, 404 room not found… */
    readonly status?: number,
    readonly leave?: LeaveRequest,
  ) {
    super(message);
    this.name = 'ConnectionError';
  }
}

/** Requests that go out (or are dropped) at once even while recovering: connection plumbing, not session state. */
const PASS_THROUGH = new Set<string>(['syncState', 'trickle', 'offer', 'answer', 'simulate', 'leave', 'ping', 'pingReq']);

/** The oneof member a request sets (`{ addTrack: … }` → 'addTrack'). */
export function requestKind(req: PartialMessage<SignalRequest>): string {
  const r = req as Record<string, unknown>;
  if (typeof r.message === 'string') return r.message;
  for (const k of Object.keys(r)) if (k !== 'message' && r[k] !== undefined) return k;
  return '';
}

/** How long close() waits for the server to acknowledge the close (a dead network never does). */
const CLOSE_WAIT_MS = 500;

export class SignalClient extends TypedEventEmitter<SignalEvents> {
  private ws: SocketLike | undefined;
  /** Rejects the connect() in flight (close() or a newer connect() abandons it). */
  private abandonConnect: ((err: Error) => void) | undefined;
  /** Requests held back while the engine recovers (undefined: not recovering). */
  private queued: PartialMessage<SignalRequest>[] | undefined;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private pongTimer: ReturnType<typeof setTimeout> | undefined;
  private pingTimeoutMs = 0;
  private closedByUs = false;
  /** Messages after the first wait here until the caller has set up for them (see dispatchQueued). */
  private held: SignalResponse[] | undefined;
  rttMs = 0;

  get isOpen(): boolean {
    return this.ws?.readyState === 1;
  }

  /** The /rtc URL for a base URL and token (query parameters as livekit-client sends them). */
  static rtcUrl(url: string, token: string, params: ConnectParams, path = '/rtc'): string {
    const u = new URL(url.replace(/^http/, 'ws'));
    u.pathname = u.pathname.replace(/\/$/, '') + path;
    u.searchParams.set('access_token', token);
    u.searchParams.set('auto_subscribe', params.autoSubscribe ? '1' : '0');
    u.searchParams.set('sdk', SDK_NAME);
    u.searchParams.set('version', SDK_VERSION);
    u.searchParams.set('protocol', String(PROTOCOL_VERSION));
    // What peers may send us: RPC over data streams and single-packet streams (data/types.ts).
    u.searchParams.set('client_protocol', String(CLIENT_PROTOCOL));
    u.searchParams.set('adaptive_stream', params.adaptiveStream ? '1' : '0');
    if (params.reconnectSid) {
      u.searchParams.set('reconnect', '1');
      u.searchParams.set('sid', params.reconnectSid);
      if (params.reconnectReason !== undefined) u.searchParams.set('reconnect_reason', String(params.reconnectReason));
    }
    return u.toString();
  }

  /**
   * Opens the socket and resolves with the first message: `join` (a new session) or `reconnect` (a resume).
   * A `leave` first, an HTTP error or a timeout rejects with ConnectionError.
   */
  connect(url: string, token: string, params: ConnectParams, timeoutMs: number): Promise<SignalResponse> {
    void this.close();
    this.closedByUs = false;
    const wsUrl = SignalClient.rtcUrl(url, token, params);
    const ws = platform().createWebSocket(wsUrl);
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.held = [];
    return new Promise<SignalResponse>((resolve, reject) => {
      let settled = false;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (this.abandonConnect === fail) this.abandonConnect = undefined;
        // Only this attempt's socket: a newer connect() may own `this.ws` by now.
        if (this.ws === ws) void this.close();
        else dropSocket(ws);
        reject(err);
      };
      this.abandonConnect = fail;
      const timer = setTimeout(() => fail(new ConnectionError(`could not establish signal connection: no answer within ${timeoutMs} ms`)), timeoutMs);
      ws.onerror = () => undefined;
      ws.onclose = (ev) => {
        if (!settled) {
          // Browsers hide the HTTP status of a refused upgrade: ask /rtc/validate why, as livekit-client does.
          void validate(url, token, params).then(
            (why) => fail(why ?? new ConnectionError(`could not establish signal connection (socket closed: ${ev.code} ${ev.reason})`)),
            () => fail(new ConnectionError(`could not establish signal connection: server unreachable (${ev.code})`)),
          );
          return;
        }
        this.onSocketClosed(ws, `${ev.code} ${ev.reason}`);
      };
      ws.onmessage = (ev) => {
        const msg = decode(ev.data);
        if (!msg) return;
        if (!settled) {
          if (msg.message === 'leave') {
            fail(new ConnectionError(`connection refused by the server (leave, reason ${msg.leave!.reason})`, undefined, msg.leave));
            return;
          }
          if (msg.message !== 'join' && msg.message !== 'reconnect') return;
          settled = true;
          clearTimeout(timer);
          if (this.abandonConnect === fail) this.abandonConnect = undefined;
          resolve(msg);
          // The first message is handled by the caller; later ones wait until it is ready (`ws` in Node delivers
          // several frames of one TCP read in a row, before the caller's continuation runs).
          return;
        }
        if (this.held) this.held.push(msg);
        else this.dispatch(msg);
      };
    });
  }

  /** The caller is set up for the session: deliver what arrived after the first message, then everything live. */
  dispatchQueued(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const msg of held) this.dispatch(msg);
  }

  /** Starts pinging (after join/reconnect): ping + ping_req every interval; no pong within the timeout = lost. */
  startPing(intervalS: number, timeoutS: number): void {
    this.stopPing();
    if (intervalS <= 0) return;
    this.pingTimeoutMs = timeoutS * 1000;
    this.pingTimer = setInterval(() => this.ping(), intervalS * 1000);
    this.armPongTimer();
  }

  private ping(): void {
    const now = Date.now();
    this.send({ ping: now });
    this.send({ pingReq: { timestamp: now, rtt: this.rttMs } });
  }

  private armPongTimer(): void {
    if (this.pongTimer) clearTimeout(this.pongTimer);
    if (this.pingTimeoutMs <= 0) return;
    const ws = this.ws;
    this.pongTimer = setTimeout(() => ws && this.onSocketClosed(ws, 'ping timeout', true), this.pingTimeoutMs);
  }

  private stopPing(): void {
    if (this.pingTimer) clearInterval(this.pingTimer);
    if (this.pongTimer) clearTimeout(this.pongTimer);
    this.pingTimer = this.pongTimer = undefined;
  }

  private dispatch(msg: SignalResponse): void {
    const kind = msg.message;
    if (!kind) return;
    if (kind === 'pong' || kind === 'pongResp') {
      if (kind === 'pongResp') this.rttMs = Date.now() - Number(msg.pongResp!.lastPingTimestamp);
      this.armPongTimer();
    }
    (this.emit as (k: SignalKind, m: unknown) => boolean)(kind, msg[kind]);
  }

  /**
   * The connection is gone (closed under us, or silent past the ping timeout: `dead`, then it is torn down rather
   * than closed politely — a stalled TCP connection would hold a close handshake for half a minute).
   */
  private onSocketClosed(ws: SocketLike, reason: string, dead = false): void {
    if (ws !== this.ws) return;
    this.stopPing();
    this.ws = undefined;
    ws.onmessage = null;
    ws.onclose = null;
    if (dead) dropSocket(ws);
    else {
      try {
        ws.close();
      } catch {
        // already closed
      }
    }
    if (!this.closedByUs) this.emit('lost', reason);
  }

  /**
   * Test hook (simulateScenario): the connection is given up as if it had been lost. It is closed normally, so a
   * request sent just before (a SimulateScenario) still reaches the server first.
   */
  simulateLoss(reason = 'simulated signal loss'): void {
    if (this.ws) this.onSocketClosed(this.ws, reason);
  }

  /**
   * Sends a request (false when it could not go out). While requests are queued (queueRequests) the ones that
   * describe the session wait for the new connection and count as sent.
   */
  send(req: PartialMessage<SignalRequest>): boolean {
    if (this.queued && !PASS_THROUGH.has(requestKind(req))) {
      this.queued.push(req);
      return true;
    }
    const ws = this.ws;
    if (!ws || ws.readyState !== 1) return false;
    ws.send(SignalRequest.encode(req));
    return true;
  }

  /** From now on session requests wait (the engine is recovering). */
  queueRequests(): void {
    this.queued ??= [];
  }

  /** Sends the queued requests `keep` accepts (all by default), drops the others, and stops queueing. */
  releaseRequests(keep: (kind: string) => boolean = () => true): void {
    const list = this.queued ?? [];
    this.queued = undefined;
    for (const req of list) if (keep(requestKind(req))) this.send(req);
  }

  /**
   * Sends a leave (when open) and closes the socket; no `lost` event follows, and a connect() in flight is
   * abandoned. Resolves once the server acknowledged the close (at most CLOSE_WAIT_MS).
   */
  close(leave?: PartialMessage<LeaveRequest>): Promise<void> {
    this.closedByUs = true;
    this.stopPing();
    const abandon = this.abandonConnect;
    this.abandonConnect = undefined;
    const ws = this.ws;
    this.ws = undefined;
    this.held = undefined;
    abandon?.(new ConnectionError('signal connection closed'));
    if (!ws) return Promise.resolve();
    if (leave && ws.readyState === 1) ws.send(SignalRequest.encode({ leave }));
    ws.onmessage = null;
    if (ws.readyState >= 2) {
      ws.onclose = null;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, CLOSE_WAIT_MS);
      function done() {
        clearTimeout(timer);
        ws!.onclose = null;
        resolve();
      }
      ws.onclose = done;
      try {
        ws.close(1000);
      } catch {
        done();
      }
    });
  }
}

/** Tears a socket down without a close handshake (`ws` in Node), or closes it (browsers have no other way). */
function dropSocket(ws: SocketLike): void {
  ws.onmessage = null;
  ws.onclose = null;
  const terminate = (ws as SocketLike & { terminate?: () => void }).terminate;
  try {
    if (typeof terminate === 'function') terminate.call(ws);
    else ws.close();
  } catch {
    // already closed
  }
}

function decode(data: unknown): SignalResponse | undefined {
  try {
    if (typeof data === 'string') return SignalResponse.fromJson(JSON.parse(data));
    if (data instanceof ArrayBuffer) return SignalResponse.decode(new Uint8Array(data));
    if (ArrayBuffer.isView(data)) return SignalResponse.decode(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  } catch {
    // A frame we cannot read is dropped; the session goes on.
  }
  return undefined;
}

/** GET /rtc/validate with the same parameters: the server explains a refusal in text with an HTTP status. */
async function validate(url: string, token: string, params: ConnectParams): Promise<ConnectionError | undefined> {
  const u = new URL(SignalClient.rtcUrl(url, token, params, '/rtc/validate').replace(/^ws/, 'http'));
  const res = await fetch(u);
  if (res.ok) return undefined;
  const body = (await res.text()).trim();
  return new ConnectionError(`could not establish signal connection: ${body || res.statusText} (HTTP ${res.status})`, res.status);
}
