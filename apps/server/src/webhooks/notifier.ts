// Webhook delivery, as LiveKit's (livekit/protocol webhook/resource_url_notifier.go) does it: each event is POSTed to
// every configured URL as the proto3 JSON of WebhookEvent, `Content-Type: application/webhook+json`, `Authorization:`
// a bare JWT by the webhook API key with `sha256` = base64 SHA-256 of the body.
//
// Delivery never blocks the caller: notify() encodes the event and queues it, nothing more. Each URL has its own
// queue, bounded in events and bytes (a full queue drops the new event, counted and logged), ordered per room (events
// with the same key — the room name — go out one after the other, different rooms in parallel up to `concurrency`).
// A failed POST (network error, timeout, 429, 5xx but 501) is retried with exponential backoff; an event that waited
// in the queue longer than `maxAgeMs` is dropped unsent, as LiveKit does. close() waits a bounded time for the queues
// to drain, then aborts what is left.
import { request as httpRequest, Agent as HttpAgent, type IncomingMessage } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import { setMaxListeners } from 'node:events';
import { WebhookEvent, newWebhookEventId, type PartialMessage } from '@kite/protocol';
import { signWebhook, WEBHOOK_CONTENT_TYPE } from '@kite/server-sdk';
import type { Logger } from '../logger.js';

/** Delivery tuning. The defaults follow LiveKit (go-retryablehttp defaults, ResourceURLNotifier defaults). */
export interface WebhookTuning {
  /** One POST attempt may take this long (ms) before it counts as failed. */
  timeoutMs: number;
  /** Retries after the first attempt (LiveKit: 4, i.e. 5 attempts). */
  maxRetries: number;
  /** Backoff before retry n (0-based) is min × 2^n, capped at max (ms). LiveKit: 1 s … 30 s. */
  retryWaitMinMs: number;
  retryWaitMaxMs: number;
  /** Events waiting per URL (queued, not counting those being sent); beyond it new events are dropped. */
  maxQueue: number;
  /** Bytes of encoded events waiting per URL; beyond it new events are dropped. */
  maxQueueBytes: number;
  /** An event that waited in the queue longer than this (ms) is dropped unsent (LiveKit: 30 s). */
  maxAgeMs: number;
  /** POSTs in flight per URL (to different rooms; one room's events go one at a time). */
  concurrency: number;
  /** How long close() waits for the queues to drain (ms) before aborting what is left. */
  closeTimeoutMs: number;
}

export const DEFAULT_WEBHOOK_TUNING: WebhookTuning = {
  timeoutMs: 10_000,
  maxRetries: 4,
  retryWaitMinMs: 1_000,
  retryWaitMaxMs: 30_000,
  maxQueue: 1_000,
  maxQueueBytes: 16 * 1024 * 1024,
  maxAgeMs: 30_000,
  concurrency: 8,
  closeTimeoutMs: 5_000,
};

export interface WebhookNotifierOptions extends Partial<WebhookTuning> {
  urls: readonly string[];
  apiKey: string;
  apiSecret: string;
  log: Logger;
}

export type DropReason = 'queue_full' | 'max_age' | 'shutdown';

export interface WebhookUrlStats {
  /** The URL without credentials or query. */
  url: string;
  queued: number;
  queuedBytes: number;
  inFlight: number;
  /** Events the receiver accepted (2xx). */
  sent: number;
  /** Events given up on after the last attempt, or refused with a status that is not retried. */
  failed: number;
  /** Attempts that were retried. */
  retries: number;
  /** Events never sent, by reason. */
  dropped: Record<DropReason, number>;
  /** The largest number of events ever waiting at once. */
  maxQueued: number;
}

/** `User-Agent` as LiveKit sends it: receivers pin firewall rules to it. */
const USER_AGENT = 'LiveKit';
/** Drops are logged at most this often (with the counts since the last line). */
const DROP_LOG_INTERVAL_MS = 10_000;

interface QueuedEvent {
  key: string;
  body: string;
  bytes: number;
  queuedAt: number;
  event: string;
  id: string;
  room: string;
}

class TimeoutError extends Error {
  constructor(ms: number) {
    super(`no response within ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

/** The URL as logs may show it: no user:password, no query (tokens live there), no fragment. */
export function redactWebhookUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '[invalid url]';
  }
}

/** LiveKit's event key (notifier.go EventKey): the room name for every event Kite sends. */
function eventKey(ev: PartialMessage<WebhookEvent>): string {
  return ev.room?.name ?? ev.participant?.identity ?? ev.track?.sid ?? 'default';
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

/** One URL's queue and its deliveries. */
class UrlQueue {
  readonly display: string;
  private readonly target: URL;
  private readonly agent: HttpAgent;
  /** Waiting events by key, keys in the order they get served (a key goes to the back after each send). */
  private readonly byKey = new Map<string, QueuedEvent[]>();
  /** Keys with an event being sent: their next event waits for it. */
  private readonly busy = new Set<string>();
  private queued = 0;
  private queuedBytes = 0;
  private maxQueued = 0;
  private inFlight = 0;
  private sent = 0;
  private failed = 0;
  private retries = 0;
  private readonly dropped: Record<DropReason, number> = { queue_full: 0, max_age: 0, shutdown: 0 };
  private dropsUnlogged = 0;
  private lastDropLog = 0;
  private dropLogTimer: NodeJS.Timeout | undefined;
  private idleWaiters: (() => void)[] = [];

  constructor(
    url: string,
    private readonly n: WebhookNotifier,
  ) {
    this.target = new URL(url);
    this.display = redactWebhookUrl(url);
    const agentOptions = { keepAlive: true, maxSockets: n.tuning.concurrency };
    this.agent = this.target.protocol === 'https:' ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions);
  }

  enqueue(e: QueuedEvent): void {
    const t = this.n.tuning;
    if (this.n.aborted) return this.drop('shutdown', e);
    if (this.queued >= t.maxQueue || this.queuedBytes + e.bytes > t.maxQueueBytes) return this.drop('queue_full', e);
    let list = this.byKey.get(e.key);
    if (!list) this.byKey.set(e.key, (list = []));
    list.push(e);
    this.queued++;
    this.queuedBytes += e.bytes;
    if (this.queued > this.maxQueued) this.maxQueued = this.queued;
    if (this.inFlight < t.concurrency && !this.busy.has(e.key)) this.pump();
  }

  get idle(): boolean {
    return this.queued === 0 && this.inFlight === 0;
  }

  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stats(): WebhookUrlStats {
    return {
      url: this.display,
      queued: this.queued,
      queuedBytes: this.queuedBytes,
      inFlight: this.inFlight,
      sent: this.sent,
      failed: this.failed,
      retries: this.retries,
      dropped: { ...this.dropped },
      maxQueued: this.maxQueued,
    };
  }

  /** Shutdown: what is still waiting will not be sent. */
  abort(): void {
    for (const list of this.byKey.values()) for (const e of list) this.drop('shutdown', e, false);
    this.byKey.clear();
    this.queued = 0;
    this.queuedBytes = 0;
    this.flushDropLog();
    this.checkIdle();
  }

  destroy(): void {
    this.flushDropLog();
    this.agent.destroy();
  }

  /** Starts sends for keys that have nothing in flight, up to `concurrency`. */
  private pump(): void {
    const t = this.n.tuning;
    for (const [key, list] of this.byKey) {
      if (this.inFlight >= t.concurrency) break;
      if (this.busy.has(key)) continue;
      let e: QueuedEvent | undefined;
      while ((e = list.shift())) {
        this.queued--;
        this.queuedBytes -= e.bytes;
        if (Date.now() - e.queuedAt <= t.maxAgeMs) break;
        this.drop('max_age', e);
      }
      // Served: to the back of the line (or out of it), so a busy room does not starve the others.
      this.byKey.delete(key);
      if (list.length) this.byKey.set(key, list);
      if (!e) continue;
      this.busy.add(key);
      this.inFlight++;
      void this.deliver(e).finally(() => {
        this.busy.delete(key);
        this.inFlight--;
        this.pump();
        this.checkIdle();
      });
    }
    this.checkIdle();
  }

  private checkIdle(): void {
    if (!this.idle || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private drop(reason: DropReason, e: QueuedEvent, log = true): void {
    this.dropped[reason]++;
    this.dropsUnlogged++;
    if (!log) return;
    const now = Date.now();
    if (now - this.lastDropLog >= DROP_LOG_INTERVAL_MS) {
      this.lastDropLog = now;
      this.n.log.warn({ url: this.display, reason, event: e.event, id: e.id, room: e.room, droppedSinceLastLog: this.dropsUnlogged, dropped: this.dropped, queued: this.queued }, 'webhook dropped');
      this.dropsUnlogged = 0;
    } else if (!this.dropLogTimer) {
      // The drops of a burst are summed up in one line at the end of the interval.
      this.dropLogTimer = setTimeout(() => this.flushDropLog(), this.lastDropLog + DROP_LOG_INTERVAL_MS - now);
      this.dropLogTimer.unref();
    }
  }

  private flushDropLog(): void {
    clearTimeout(this.dropLogTimer);
    this.dropLogTimer = undefined;
    if (this.dropsUnlogged === 0) return;
    this.n.log.warn({ url: this.display, droppedSinceLastLog: this.dropsUnlogged, dropped: this.dropped }, 'webhooks dropped');
    this.dropsUnlogged = 0;
    this.lastDropLog = Date.now();
  }

  /** Sends one event, retrying failures with backoff, until it is accepted, refused for good, or given up. */
  private async deliver(e: QueuedEvent): Promise<void> {
    const t = this.n.tuning;
    const signal = this.n.signal;
    const fields = { url: this.display, event: e.event, id: e.id, room: e.room };
    for (let attempt = 0; ; attempt++) {
      if (signal.aborted) {
        this.drop('shutdown', e, false);
        return;
      }
      const started = Date.now();
      let status = 0;
      let retryAfter: string | undefined;
      let error: string | undefined;
      try {
        const token = await signWebhook(e.body, this.n.apiKey, this.n.apiSecret);
        ({ status, retryAfter } = await this.post(e.body, token, signal));
      } catch (err) {
        error = (err as Error).message;
      }
      if (status >= 200 && status < 300) {
        this.sent++;
        this.n.log.debug({ ...fields, status, attempt, sendMs: Date.now() - started, queueMs: started - e.queuedAt }, 'webhook sent');
        return;
      }
      if (signal.aborted) {
        this.drop('shutdown', e, false);
        return;
      }
      // go-retryablehttp's DefaultRetryPolicy: connection errors, 429 and 5xx except 501 are retried.
      const retryable = error !== undefined || status === 429 || (status >= 500 && status !== 501);
      if (!retryable || attempt >= t.maxRetries) {
        this.failed++;
        this.n.log.warn({ ...fields, status: status || undefined, error, attempts: attempt + 1 }, retryable ? 'webhook failed; giving up' : 'webhook refused by the receiver');
        return;
      }
      this.retries++;
      const wait = this.backoff(attempt, status, retryAfter);
      this.n.log.debug({ ...fields, status: status || undefined, error, attempt, retryInMs: wait }, 'webhook failed; retrying');
      await sleep(wait, signal);
    }
  }

  /** go-retryablehttp's DefaultBackoff: min × 2^attempt capped at max; Retry-After (seconds) on 429/503. */
  private backoff(attempt: number, status: number, retryAfter: string | undefined): number {
    const t = this.n.tuning;
    if ((status === 429 || status === 503) && retryAfter && /^\d+$/.test(retryAfter.trim())) {
      return Math.min(Number(retryAfter.trim()) * 1000, t.retryWaitMaxMs);
    }
    return Math.min(t.retryWaitMinMs * 2 ** attempt, t.retryWaitMaxMs);
  }

  private post(body: string, token: string, signal: AbortSignal): Promise<{ status: number; retryAfter?: string }> {
    const timeoutMs = this.n.tuning.timeoutMs;
    const payload = Buffer.from(body, 'utf8');
    const send = this.target.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = send(this.target, {
        method: 'POST',
        agent: this.agent,
        signal,
        headers: {
          'Content-Type': WEBHOOK_CONTENT_TYPE,
          'Content-Length': payload.length,
          Authorization: token,
          'User-Agent': USER_AGENT,
        },
      });
      // A deadline for the whole exchange, body included: a receiver that never answers frees the socket.
      const timer = setTimeout(() => req.destroy(new TimeoutError(timeoutMs)), timeoutMs);
      req.once('close', () => clearTimeout(timer));
      req.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      req.once('response', (res: IncomingMessage) => {
        res.on('error', () => undefined);
        res.once('end', () => clearTimeout(timer));
        res.resume();
        const ra = res.headers['retry-after'];
        resolve({ status: res.statusCode ?? 0, retryAfter: Array.isArray(ra) ? ra[0] : ra });
      });
      req.end(payload);
    });
  }
}

/** Queues webhook events and delivers them to every configured URL. */
export class WebhookNotifier {
  readonly tuning: WebhookTuning;
  readonly apiKey: string;
  readonly apiSecret: string;
  readonly log: Logger;
  private readonly queues: UrlQueue[];
  private readonly abortController = new AbortController();
  private closing: Promise<void> | undefined;

  constructor(opts: WebhookNotifierOptions) {
    const { urls, apiKey, apiSecret, log, ...tuning } = opts;
    const t: WebhookTuning = { ...DEFAULT_WEBHOOK_TUNING, ...Object.fromEntries(Object.entries(tuning).filter(([, v]) => v !== undefined)) };
    t.concurrency = Math.max(1, Math.floor(t.concurrency));
    t.maxRetries = Math.max(0, Math.floor(t.maxRetries));
    this.tuning = t;
    // Every request and backoff in flight listens to this one signal.
    setMaxListeners(0, this.abortController.signal);
    this.apiKey = apiKey;
    this.apiSecret = apiSecret;
    this.log = log;
    this.queues = urls.map((u) => new UrlQueue(u, this));
  }

  get signal(): AbortSignal {
    return this.abortController.signal;
  }

  get aborted(): boolean {
    return this.abortController.signal.aborted;
  }

  get urls(): string[] {
    return this.queues.map((q) => q.display);
  }

  /**
   * Queues an event for every URL; returns at once. `id` and `createdAt` are filled in (EV_…, unix seconds) unless
   * given. The event is encoded now: later changes to the objects it references do not show.
   */
  notify(event: PartialMessage<WebhookEvent>): void {
    const ev: PartialMessage<WebhookEvent> = { ...event, id: event.id || newWebhookEventId(), createdAt: event.createdAt || Math.floor(Date.now() / 1000) };
    let body: string;
    try {
      body = JSON.stringify(WebhookEvent.toJson(ev));
    } catch (err) {
      this.log.error({ err, event: ev.event }, 'webhook: could not encode event');
      return;
    }
    const queued: QueuedEvent = {
      key: eventKey(ev),
      body,
      bytes: Buffer.byteLength(body),
      queuedAt: Date.now(),
      event: ev.event ?? '',
      id: ev.id!,
      room: ev.room?.name ?? '',
    };
    for (const q of this.queues) q.enqueue(queued);
  }

  stats(): WebhookUrlStats[] {
    return this.queues.map((q) => q.stats());
  }

  /** Resolves once nothing is waiting or being sent. */
  async idle(): Promise<void> {
    while (!this.queues.every((q) => q.idle)) await Promise.all(this.queues.map((q) => q.whenIdle()));
  }

  /**
   * Graceful stop: delivers what is queued (events queued meanwhile too) for up to `timeoutMs`, then aborts the
   * requests in flight and drops what is left (counted, logged). Idempotent.
   */
  close(timeoutMs = this.tuning.closeTimeoutMs): Promise<void> {
    return (this.closing ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      const drained = await Promise.race([this.idle().then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs)))]);
      clearTimeout(timer);
      this.abortController.abort();
      if (!drained) {
        const before = this.stats();
        for (const q of this.queues) q.abort();
        await this.idle();
        const left = before.reduce((n, s) => n + s.queued + s.inFlight, 0);
        this.log.warn({ undelivered: left, waitedMs: timeoutMs }, 'webhooks not delivered before shutdown');
      }
      for (const q of this.queues) q.destroy();
    })());
  }
}
