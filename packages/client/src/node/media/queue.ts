/**
 * A bounded single-consumer queue that is also an async iterator. When the consumer falls behind, the oldest items
 * are dropped (and counted): for live media, late data is worth less than new data, and the producer (a network
 * callback) must never wait.
 *
 * `push` allocates nothing beyond the ring's slot; a Promise exists only while the consumer is waiting in `next()`.
 */
export class DropQueue<T> implements AsyncIterableIterator<T> {
  private readonly ring: (T | undefined)[];
  private head = 0;
  private count = 0;
  private waiter: ((r: IteratorResult<T>) => void) | undefined;
  private ended = false;
  private onReturn: (() => void) | undefined;
  /** Items pushed, including those dropped. */
  pushed = 0;
  /** Items dropped because the queue was full. */
  dropped = 0;

  constructor(readonly capacity: number = 256) {
    if (!(capacity >= 1)) throw new RangeError('capacity must be >= 1');
    this.ring = new Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  get closed(): boolean {
    return this.ended;
  }

  /** Called once when the queue ends for any reason (end, the consumer's `break`, `return`). */
  onClose(cb: () => void): void {
    this.onReturn = cb;
  }

  push(item: T): void {
    if (this.ended) return;
    this.pushed++;
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w({ value: item, done: false });
      return;
    }
    if (this.count === this.capacity) {
      this.ring[this.head] = item; // overwrite the oldest
      this.head = (this.head + 1) % this.capacity;
      this.dropped++;
      return;
    }
    this.ring[(this.head + this.count) % this.capacity] = item;
    this.count++;
  }

  /** Ends the queue: the consumer still gets what is queued, then `done`. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    const w = this.waiter;
    this.waiter = undefined;
    w?.({ value: undefined, done: true });
    this.fireClose();
  }

  next(): Promise<IteratorResult<T>> {
    if (this.count > 0) {
      const value = this.ring[this.head] as T;
      this.ring[this.head] = undefined;
      this.head = (this.head + 1) % this.capacity;
      this.count--;
      return Promise.resolve({ value, done: false });
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    if (this.waiter) return Promise.reject(new Error('DropQueue has one consumer: next() is already pending'));
    return new Promise((resolve) => (this.waiter = resolve));
  }

  /** The consumer stops (a `break` out of `for await`): drops what is queued and ends. */
  return(): Promise<IteratorResult<T>> {
    this.ring.fill(undefined);
    this.count = 0;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private fireClose(): void {
    const cb = this.onReturn;
    this.onReturn = undefined;
    cb?.();
  }
}
