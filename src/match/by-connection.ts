/**
 * Values keyed by (connId, subId), dropped a connection at a time. Most connections hold one
 * subscription, so that one is stored as it is and a Map is made only for a second: an inner
 * Map per connection cost about 180 bytes, on the main thread and again in the match worker.
 */
export class ByConnection<V extends { readonly subId: string }> {
  private readonly conns = new Map<number, V | Map<string, V>>();

  /** Connections holding at least one value. */
  get size(): number {
    return this.conns.size;
  }

  get(connId: number, subId: string): V | undefined {
    const held = this.conns.get(connId);
    if (held instanceof Map) return held.get(subId);
    return held?.subId === subId ? held : undefined;
  }

  /** Adds or replaces the value under (connId, value.subId). */
  set(connId: number, value: V): void {
    const held = this.conns.get(connId);
    if (held === undefined || (!(held instanceof Map) && held.subId === value.subId)) this.conns.set(connId, value);
    else if (held instanceof Map) held.set(value.subId, value);
    else this.conns.set(connId, new Map([[held.subId, held], [value.subId, value]]));
  }

  /** Removes and returns the value under (connId, subId). */
  delete(connId: number, subId: string): V | undefined {
    const held = this.conns.get(connId);
    if (held instanceof Map) {
      const v = held.get(subId);
      if (v === undefined) return undefined;
      held.delete(subId);
      if (held.size === 0) this.conns.delete(connId);
      return v;
    }
    if (held?.subId !== subId) return undefined;
    this.conns.delete(connId);
    return held;
  }

  /** Removes the connection and returns what it held. */
  deleteConnection(connId: number): V[] {
    const held = this.conns.get(connId);
    if (held === undefined) return [];
    this.conns.delete(connId);
    return held instanceof Map ? [...held.values()] : [held];
  }

  *values(): IterableIterator<V> {
    for (const held of this.conns.values()) {
      if (held instanceof Map) yield* held.values();
      else yield held;
    }
  }

  clear(): void {
    this.conns.clear();
  }
}
