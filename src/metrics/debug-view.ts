import type { Filter } from '../protocol/types.js';

/**
 * A filter as a client wrote it (NIP-01), for the debug view: tag conditions as `#t` keys
 * instead of the internal `tags` object, so an operator can paste it back into a REQ.
 */
export function filterToWire(f: Filter): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (f.ids) out.ids = f.ids;
  if (f.authors) out.authors = f.authors;
  if (f.kinds) out.kinds = f.kinds;
  if (f.tags) for (const [name, values] of Object.entries(f.tags)) out[`#${name}`] = values;
  if (f.since !== undefined) out.since = f.since;
  if (f.until !== undefined) out.until = f.until;
  if (f.limit !== undefined) out.limit = f.limit;
  return out;
}

/**
 * Keys whose values must never leave the process through the debug view, whatever actor
 * holds them. Actors are written not to put such things in their snapshots; this is the
 * second line, for the actor kinds (group, roster, mailbox) that other people add later.
 */
const SECRET_KEY = /^(content|sig|ciphertext|plaintext|secret|secrets|password|passphrase|token|auth_?key|authorization|nsec|challenge|private_?key|secret_?key|sk|init_?key|key_?material)$/i;

/** Longer strings are not identifiers or counts: they are shown by length only. */
const MAX_STRING = 512;
const MAX_DEPTH = 8;

export const REDACTED = '[redacted]';

/** A JSON-safe copy of an actor snapshot with secrets and bulky strings removed. */
export function safeView(value: unknown, depth = 0): unknown {
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value === 'string') return value.length > MAX_STRING ? `[${value.length} chars]` : value;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value !== 'object') return undefined; // functions, symbols, undefined
  if (depth >= MAX_DEPTH) return '[too deep]';
  if (value instanceof Uint8Array) return `[${value.length} bytes]`;
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Set) return [...value].map((v) => safeView(v, depth + 1));
  if (Array.isArray(value)) return value.map((v) => safeView(v, depth + 1));
  const entries = value instanceof Map ? [...value.entries()].map(([k, v]) => [String(k), v] as const) : Object.entries(value);
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries) out[k] = SECRET_KEY.test(k) ? REDACTED : safeView(v, depth + 1);
  return out;
}
