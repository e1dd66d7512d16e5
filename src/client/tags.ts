/** Tiny tag readers, so callers never index into tags by hand. */
import type { NostrEvent } from '../protocol/types.js';

export function tagValue(e: Pick<NostrEvent, 'tags'>, name: string): string | undefined {
  return e.tags.find((t) => t[0] === name)?.[1];
}

export function tagValues(e: Pick<NostrEvent, 'tags'>, name: string): string[] {
  return e.tags.filter((t) => t[0] === name && t[1] !== undefined).map((t) => t[1]!);
}
