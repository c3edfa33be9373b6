// A small typed event emitter that works in Node and browsers (the client SDK runs in both).
// Event maps are interfaces of listener signatures: `interface Events { joined: (p: Participant) => void }`.

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type EventMap<E> = { [K in keyof E]: (...args: any[]) => void };

export class TypedEventEmitter<E extends EventMap<E>> {
  private listeners = new Map<keyof E, Set<E[keyof E]>>();

  on<K extends keyof E>(event: K, listener: E[K]): this {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return this;
  }

  once<K extends keyof E>(event: K, listener: E[K]): this {
    const wrapped = ((...args: Parameters<E[K]>) => {
      this.off(event, wrapped);
      listener(...args);
    }) as E[K];
    return this.on(event, wrapped);
  }

  off<K extends keyof E>(event: K, listener: E[K]): this {
    this.listeners.get(event)?.delete(listener);
    return this;
  }

  removeAllListeners(event?: keyof E): this {
    if (event === undefined) this.listeners.clear();
    else this.listeners.delete(event);
    return this;
  }

  listenerCount(event: keyof E): number {
    return this.listeners.get(event)?.size ?? 0;
  }

  /** Where errors thrown by listeners go. A throwing listener never stops the others or the emitter. */
  static onListenerError: (err: unknown, event: string) => void = (err, event) => {
    console.error(`error in a "${event}" listener:`, err);
  };

  /** Calls every listener in order; a listener that throws is reported through onListenerError. */
  emit<K extends keyof E>(event: K, ...args: Parameters<E[K]>): boolean {
    const set = this.listeners.get(event);
    if (!set || set.size === 0) return false;
    for (const l of [...set]) {
      try {
        l(...args);
      } catch (err) {
        TypedEventEmitter.onListenerError(err, String(event));
      }
    }
    return true;
  }
}
