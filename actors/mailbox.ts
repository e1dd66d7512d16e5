import { createStore } from '@xstate/store';
import { ONE, type GatewayTables, type MailboxItem, type MailboxKind } from '../src/gateway/tables.js';
import type { Supervised } from './supervisor.js';

const KEY_END = '\uffff';
const MAX_TS = Number.MAX_SAFE_INTEGER;

/** Inside a write transaction. An item id already present is left as it is (idempotent deposit). */
export function depositItem(t: GatewayTables, item: MailboxItem): boolean {
  if (t.mboxId.doesExist(item.id)) return false;
  t.mbox.putSync([item.recipient_pubkey, item.box, item.created_at, item.id], item);
  t.mboxId.putSync(item.id, [item.recipient_pubkey, item.box, item.created_at]);
  t.mboxExp.putSync([item.expires_at, item.id], ONE);
  return true;
}

function removeItem(t: GatewayTables, item: MailboxItem): void {
  t.mbox.removeSync([item.recipient_pubkey, item.box, item.created_at, item.id]);
  t.mboxId.removeSync(item.id);
  t.mboxExp.removeSync([item.expires_at, item.id]);
}

/**
 * Pickup: the recipient's unexpired items of one box, oldest first, marked picked up
 * (the first pickup time is kept). Never deletes. Inside a write transaction.
 */
export function pickupItems(t: GatewayTables, recipient: string, box: MailboxKind, limit: number, now: number): MailboxItem[] {
  const out: MailboxItem[] = [];
  for (const { key, value } of t.mbox.getRange({ start: [recipient, box], end: [recipient, box, MAX_TS] })) {
    if (value.expires_at <= now) continue;
    let item = value;
    if (item.picked_up_at === null) {
      item = { ...item, picked_up_at: now };
      t.mbox.putSync(key, item);
    }
    out.push(item);
    if (out.length >= limit) break;
  }
  return out;
}

export type AckResult = 'ok' | 'not_found' | 'forbidden';

/** Acknowledgement deletes the item; only its recipient may. Inside a write transaction. */
export function ackItem(t: GatewayTables, id: string, box: MailboxKind, callers: readonly string[], now: number): AckResult {
  const loc = t.mboxId.get(id);
  if (loc === undefined || loc[1] !== box) return 'not_found';
  const item = t.mbox.get([loc[0], loc[1], loc[2], id]);
  if (item === undefined || item.expires_at <= now) return 'not_found';
  if (!callers.includes(item.recipient_pubkey)) return 'forbidden';
  removeItem(t, item);
  return 'ok';
}

/** TTL sweep, inside a write transaction: removes up to `max` expired items; returns their recipients. */
export function sweepMailboxes(t: GatewayTables, now: number, max: number): Set<string> {
  const due: string[] = [];
  for (const k of t.mboxExp.getKeys({ start: [0], end: [now, KEY_END], inclusiveEnd: true, limit: max })) due.push((k as [number, string])[1]);
  const touched = new Set<string>();
  for (const id of due) {
    const loc = t.mboxId.get(id);
    const item = loc && t.mbox.get([loc[0], loc[1], loc[2], id]);
    if (item) {
      removeItem(t, item);
      touched.add(item.recipient_pubkey);
    }
  }
  // Entries whose item is already gone (acked) were removed with it; nothing else to clean.
  return touched;
}

/** Recipients with at least one stored item (start-up rebuild). */
export function mailboxRecipients(t: GatewayTables): string[] {
  const out: string[] = [];
  let last: string | undefined;
  for (const k of t.mbox.getKeys({})) {
    const r = (k as string[])[0]!;
    if (r !== last) out.push(r);
    last = r;
  }
  return out;
}

interface MailboxView {
  recipient: string;
  welcome: number;
  keypackage: number;
  picked_up: number;
  next_expiry: number | null;
}

/**
 * One per recipient with pending items: counts by box, how many were picked up, the next
 * expiry. Item ids and counts only: never content. Rebuilt from gw:mbox.
 */
export class MailboxActor implements Supervised {
  readonly kind = 'mailbox';
  readonly id: string;
  readonly state;

  constructor(
    private readonly tables: GatewayTables,
    readonly recipient: string,
  ) {
    this.id = `mailbox:${recipient}`;
    this.state = createStore({
      context: this.load(),
      on: { loaded: (_c, e: { view: MailboxView }) => e.view },
    });
  }

  private load(): MailboxView {
    const v: MailboxView = { recipient: this.recipient, welcome: 0, keypackage: 0, picked_up: 0, next_expiry: null };
    for (const { value } of this.tables.mbox.getRange({ start: [this.recipient], end: [this.recipient, KEY_END] })) {
      v[value.box]++;
      if (value.picked_up_at !== null) v.picked_up++;
      if (v.next_expiry === null || value.expires_at < v.next_expiry) v.next_expiry = value.expires_at;
    }
    return v;
  }

  get depth(): { welcome: number; keypackage: number } {
    const c = this.state.getSnapshot().context;
    return { welcome: c.welcome, keypackage: c.keypackage };
  }

  get empty(): boolean {
    const c = this.state.getSnapshot().context;
    return c.welcome + c.keypackage === 0;
  }

  refresh(): void {
    this.state.trigger.loaded({ view: this.load() });
  }

  snapshot(): Record<string, unknown> {
    return { ...this.state.getSnapshot().context };
  }

  stop(_reason: string): void {
    /* state is durable; nothing to release */
  }
}
