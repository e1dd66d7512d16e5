/**
 * The relay's order: every stored event has a position, a positive integer assigned when
 * the event is applied, strictly increasing in apply (arrival/commit) order and never
 * reused. Without a cluster it is the LMDB sequence number the writer assigns at insert;
 * in cluster mode it becomes the log's (JetStream stream) sequence. Everything that takes
 * decisions "in relay order" (catch-up cursors, commit fencing, membership intervals)
 * uses this type and nothing else about how the number is made.
 */
export type Position = number;

/** Before every position: a walk "after NO_POSITION" starts at the first stored event. */
export const NO_POSITION: Position = 0;
/** After every position a store can hand out (keys.ts bounds sequence numbers the same way). */
export const MAX_POSITION: Position = 2 ** 52;

const CURSOR_VERSION = 1;
const CURSOR_BYTES = 9;

/**
 * Catch-up cursors are opaque to clients: base64url of one version byte (1) and the
 * position as an unsigned 64-bit big-endian integer. A cluster log may bump the version.
 */
export function encodeCursor(position: Position): string {
  const b = Buffer.alloc(CURSOR_BYTES);
  b[0] = CURSOR_VERSION;
  b.writeBigUInt64BE(BigInt(position), 1);
  return b.toString('base64url');
}

/** The position a cursor names, or undefined when it is not one this relay issued. */
export function decodeCursor(s: string): Position | undefined {
  if (!/^[A-Za-z0-9_-]{12}$/.test(s)) return undefined;
  const b = Buffer.from(s, 'base64url');
  if (b.length !== CURSOR_BYTES || b[0] !== CURSOR_VERSION) return undefined;
  const n = b.readBigUInt64BE(1);
  return n <= BigInt(MAX_POSITION) ? Number(n) : undefined;
}
