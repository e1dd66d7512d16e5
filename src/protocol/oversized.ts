/**
 * The event id of an EVENT frame that is too large to handle, so the client gets an OK
 * for the event it sent instead of a bare NOTICE. Only frames within the WebSocket hard
 * cap reach us (ws closes beyond it), so the parse is bounded: JSON.parse costs about as
 * much per byte as the parse every accepted frame already gets. Only raw[1].id counts: an
 * "id" inside a tag or the content is never taken for the event's.
 */
const HEX64 = /^[0-9a-f]{64}$/;

export function oversizedEventId(frame: Buffer): string | undefined {
  // Cheap shape check first: anything that cannot be an EVENT frame is not parsed at all.
  const head = frame.subarray(0, 32).toString('latin1');
  if (!/^\s*\[\s*"EVENT"\s*,/.test(head)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(frame.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!Array.isArray(raw) || raw[0] !== 'EVENT') return undefined;
  const ev = raw[1] as { id?: unknown } | null;
  const id = typeof ev === 'object' && ev !== null ? ev.id : undefined;
  return typeof id === 'string' && HEX64.test(id) ? id : undefined;
}
