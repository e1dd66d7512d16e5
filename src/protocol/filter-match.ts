import type { Filter, NostrEvent } from './types.js';

/**
 * Does one event satisfy one filter (NIP-01)? ids/authors are exact 64-hex values
 * (prefix matching was dropped from NIP-01); since/until are inclusive; a tag
 * condition is met when any of the event's tags with that name has its first value
 * in the list. Pure and allocation-free: it runs in the match worker for every
 * candidate pair.
 */
export function matchFilter(filter: Filter, event: NostrEvent): boolean {
  if (filter.ids !== undefined && !filter.ids.includes(event.id)) return false;
  if (filter.kinds !== undefined && !filter.kinds.includes(event.kind)) return false;
  if (filter.authors !== undefined && !filter.authors.includes(event.pubkey)) return false;
  if (filter.since !== undefined && event.created_at < filter.since) return false;
  if (filter.until !== undefined && event.created_at > filter.until) return false;
  if (filter.tags !== undefined) {
    for (const name in filter.tags) {
      const wanted = filter.tags[name]!;
      let hit = false;
      for (const tag of event.tags) {
        if (tag[0] === name && tag.length > 1 && wanted.includes(tag[1]!)) {
          hit = true;
          break;
        }
      }
      if (!hit) return false;
    }
  }
  return true;
}

/** Several filters of one REQ are OR-ed. */
export function matchFilters(filters: readonly Filter[], event: NostrEvent): boolean {
  for (const f of filters) if (matchFilter(f, event)) return true;
  return false;
}
