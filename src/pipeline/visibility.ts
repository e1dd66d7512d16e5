import type { Filter, NostrEvent } from '../protocol/types.js';
import type { Position } from '../storage/position.js';
import type { Client, ReadRule } from './types.js';

/**
 * The read rules of the relay, in one place so REQ results, live fan-out, COUNT and REST
 * all apply the same ones. The core has none; the MLS gateway adds its kind rules.
 * Rules are registered for the kinds they concern, so an ordinary event costs one Map
 * lookup on delivery and a COUNT that cannot touch restricted kinds keeps the store's
 * index-only fast path.
 */
export class Visibility {
  private readonly byKind = new Map<number, ReadRule[]>();

  /** Register `rule` for events of `kinds`. */
  add(rule: ReadRule, kinds: Iterable<number>): void {
    for (const k of kinds) {
      const list = this.byKind.get(k);
      if (list) list.push(rule);
      else this.byKind.set(k, [rule]);
    }
  }

  /** May some filter of this request match an event a rule applies to? */
  restricts(filters: readonly Filter[]): boolean {
    if (this.byKind.size === 0) return false;
    return filters.some((f) => f.kinds === undefined || f.kinds.some((k) => this.byKind.has(k)));
  }

  /** Does some rule apply to events of this kind? (Events of other kinds need not be parsed to judge them.) */
  concerns(kind: number): boolean {
    return this.byKind.has(kind);
  }

  /** `position`: for stored results only (see ReadRule). */
  mayRead(event: NostrEvent, client: Client, position?: Position): boolean {
    const rules = this.byKind.get(event.kind);
    if (rules === undefined) return true;
    for (const rule of rules) if (!rule(event, client, position)) return false;
    return true;
  }
}
