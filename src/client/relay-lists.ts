/** Replaceable relay lists: 10051 (where my KeyPackages live), 10050 (my inbox), 10002 (NIP-65). */
import type { NostrEvent } from '../protocol/types.js';
import { KIND } from './kinds.js';
import { signEvent } from './sign.js';

export function buildKeyPackageRelayList(sk: Uint8Array, relays: string[], created_at?: number): NostrEvent {
  return signEvent(sk, { kind: KIND.KEY_PACKAGE_RELAYS, content: '', tags: relays.map((r) => ['relay', r]), created_at });
}

export function buildInboxRelayList(sk: Uint8Array, relays: string[], created_at?: number): NostrEvent {
  return signEvent(sk, { kind: KIND.INBOX_RELAYS, content: '', tags: relays.map((r) => ['relay', r]), created_at });
}

export interface RelayListEntry {
  url: string;
  /** NIP-65: omitted means both read and write. */
  marker?: 'read' | 'write';
}

export function buildRelayList(sk: Uint8Array, entries: RelayListEntry[], created_at?: number): NostrEvent {
  const tags = entries.map((e) => (e.marker ? ['r', e.url, e.marker] : ['r', e.url]));
  return signEvent(sk, { kind: KIND.RELAY_LIST, content: '', tags, created_at });
}
