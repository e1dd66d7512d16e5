import type { MailboxPosition } from '../../actors/mailbox.js';
import type { MailboxItem } from './tables.js';

/**
 * The wire shape of a mailbox item: its payload exactly once, never our bookkeeping fields.
 *   - from an accepted kind 1059 (welcome box): `event`, the signed gift wrap as stored;
 *   - deposited over REST, welcome box: `welcome_b64` (+ `ratchet_tree_b64`);
 *   - deposited over REST, key-package box: `content_b64`.
 * Before, a 1059 item also carried base64 of the wrap's JSON twice (`welcome_b64`,
 * `content_b64`): a 343 KB Welcome was a 3.2 MB pickup.
 */
export function itemView(item: MailboxItem): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: item.id,
    recipient_pubkey: item.recipient_pubkey,
    sender_pubkey: item.sender_pubkey,
    tags: item.tags,
    created_at: item.created_at,
    expires_at: item.expires_at,
    picked_up_at: item.picked_up_at,
    device: item.device ?? null,
  };
  if (item.box === 'keypackage') {
    out.content_b64 = item.content_b64;
    return out;
  }
  out.group_id = item.group_id ?? null;
  if (item.event) {
    out.event = item.event;
  } else {
    out.welcome_b64 = item.welcome_b64 ?? item.content_b64;
    out.ratchet_tree_b64 = item.ratchet_tree_b64 ?? null;
  }
  return out;
}

/** Pickup cursors are opaque to clients: base64url of "<created_at>.<item id>" of the page's last item. */
export function encodeMailboxCursor(p: MailboxPosition): string {
  return Buffer.from(`${p.created_at}.${p.id}`, 'utf8').toString('base64url');
}

/** The position, undefined when absent, or null when it is not a cursor this relay wrote. */
export function decodeMailboxCursor(v: string | null): MailboxPosition | undefined | null {
  if (v === null || v === '') return undefined;
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(v)) return null;
  const m = /^(\d{1,16})\.([0-9a-f]{64})$/.exec(Buffer.from(v, 'base64url').toString('utf8'));
  if (!m || !Number.isSafeInteger(Number(m[1]))) return null;
  return { created_at: Number(m[1]), id: m[2]! };
}
