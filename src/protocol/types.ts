/** A NIP-01 event as it travels on the wire. */
export interface NostrEvent {
  id: string;
  pubkey: string;
  created_at: number;
  kind: number;
  tags: string[][];
  content: string;
  sig: string;
}

/**
 * A validated NIP-01 filter. Tag conditions are kept in `tags` keyed by the tag
 * name without the '#' (single- or multi-letter), so matching code never has to
 * look at arbitrary object keys.
 */
export interface Filter {
  ids?: string[];
  authors?: string[];
  kinds?: number[];
  since?: number;
  until?: number;
  limit?: number;
  tags?: Record<string, string[]>;
}

/** Standard machine-readable prefixes of OK / CLOSED messages (NIP-01). */
export type ReasonPrefix =
  | 'duplicate'
  | 'pow'
  | 'blocked'
  | 'rate-limited'
  | 'invalid'
  | 'restricted'
  | 'auth-required'
  | 'error'
  | 'mute';
