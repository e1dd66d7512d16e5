import { createStore } from '@xstate/store';
import { ONE, type GatewayTables, type MailboxCount, type MailboxItem, type MailboxKind } from '../src/gateway/tables.js';
import type { Supervised } from './supervisor.js';

const KEY_END = '\uffff';
const MAX_TS = Number.MAX_SAFE_INTEGER;
const NO_ITEMS: MailboxCount = { welcome: 0, keypackage: 0, picked_up: 0 };

export function mailboxCount(t: GatewayTables, recipient: string): MailboxCount {
  return t.mboxCount.get(recipient) ?? NO_ITEMS;
}

function addToCount(t: GatewayTables, recipient: string, box: MailboxKind | undefined, items: number, pickedUp: number): void {
  const c = { ...mailboxCount(t, recipient) };
  if (box !== undefined) c[box] += items;
  c.picked_up += pickedUp;
  if (c.welcome + c.keypackage <= 0) t.mboxCount.removeSync(recipient);
  else t.mboxCount.putSync(recipient, c);
}

export type DepositResult = 'ok' | 'duplicate' | 'full';

/**
 * Inside a write transaction. The cap is decided here, where deposits are serialized, so
 * concurrent deposits cannot overshoot it. An item id already present is left as it is
 * (idempotent deposit).
 */
export function depositItem(t: GatewayTables, item: MailboxItem, cap: number): DepositResult {
  if (t.mboxId.doesExist(item.id)) return 'duplicate';
  if (mailboxCount(t, item.recipient_pubkey)[item.box] >= cap) return 'full';
  t.mbox.putSync([item.recipient_pubkey, item.box, item.created_at, item.id], item);
  t.mboxId.putSync(item.id, [item.recipient_pubkey, item.box, item.created_at]);
  t.mboxExp.putSync([item.expires_at, item.id], ONE);
  addToCount(t, item.recipient_pubkey, item.box, 1, 0);
  return 'ok';
}

function removeItem(t: GatewayTables, item: MailboxItem): void {
  t.mbox.removeSync([item.recipient_pubkey, item.box, item.created_at, item.id]);
  t.mboxId.removeSync(item.id);
  t.mboxExp.removeSync([item.expires_at, item.id]);
  addToCount(t, item.recipient_pubkey, item.box, -1, item.picked_up_at === null ? 0 : -1);
}

/** Where a pickup page ended: the key of its last item within one recipient's box. */
export type MailboxPosition = { created_at: number; id: string };

export interface PickupQuery {
  limit: number;
  /** Resume after this item (exclusive); absent: from the oldest. */
  after?: MailboxPosition;
  now: number;
  /** Only items addressed to this device or to none; absent: every item of the recipient. */
  device?: string;
}

export interface PickupPage {
  items: MailboxItem[];
  /** Whether unexpired items follow the page. */
  more: boolean;
}

/**
 * Pickup: one page of the recipient's unexpired items of one box, oldest first (deposit
 * order, the key order), marked picked up (the first pickup time is kept). Never deletes.
 * Inside a write transaction. The range holds at most the box's count (capped), and the
 * walk stops at the first item past the page.
 */
export function pickupItems(t: GatewayTables, recipient: string, box: MailboxKind, q: PickupQuery): PickupPage {
  const out: MailboxItem[] = [];
  let marked = 0;
  let more = false;
  const start = q.after ? [recipient, box, q.after.created_at, q.after.id] : [recipient, box];
  for (const { key, value } of t.mbox.getRange({ start, end: [recipient, box, MAX_TS] })) {
    if (value.expires_at <= q.now || !forDevice(value, q.device)) continue;
    if (q.after && value.created_at === q.after.created_at && value.id === q.after.id) continue;
    if (out.length >= q.limit) {
      more = true;
      break;
    }
    let item = value;
    if (item.picked_up_at === null) {
      item = { ...item, picked_up_at: q.now };
      t.mbox.putSync(key, item);
      marked++;
    }
    out.push(item);
  }
  if (marked > 0) addToCount(t, recipient, undefined, 0, marked);
  return { items: out, more };
}

/** A pickup for `device` sees the items addressed to it and those addressed to no device; without one, all. */
function forDevice(item: MailboxItem, device: string | undefined): boolean {
  return device === undefined || item.device == null || item.device === device;
}

export type AckResult = 'ok' | 'not_found' | 'forbidden' | 'other_device';

/**
 * Acknowledgement deletes the item; only its recipient may, and an ack that names a device
 * may not delete an item addressed to another one. Inside a write transaction.
 */
export function ackItem(t: GatewayTables, id: string, box: MailboxKind, callers: readonly string[], now: number, device?: string): AckResult {
  const loc = t.mboxId.get(id);
  if (loc === undefined || loc[1] !== box) return 'not_found';
  const item = t.mbox.get([loc[0], loc[1], loc[2], id]);
  if (item === undefined || item.expires_at <= now) return 'not_found';
  if (!callers.includes(item.recipient_pubkey)) return 'forbidden';
  if (!forDevice(item, device)) return 'other_device';
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

/** Recipients with at least one stored item (start-up rebuild): one row each, not one per item. */
export function mailboxRecipients(t: GatewayTables): string[] {
  return [...t.mboxCount.getKeys({})] as string[];
}

/**
 * gw:mbox_count from the items themselves: the one full read, run once by upgrade.ts on a
 * store written before the counts existed. Inside a write transaction.
 */
export function rebuildMailboxCounts(t: GatewayTables): void {
  for (const k of [...t.mboxCount.getKeys({})]) t.mboxCount.removeSync(k as string);
  const counts = new Map<string, MailboxCount>();
  for (const { value } of t.mbox.getRange({})) {
    let c = counts.get(value.recipient_pubkey);
    if (c === undefined) counts.set(value.recipient_pubkey, (c = { ...NO_ITEMS }));
    c[value.box]++;
    if (value.picked_up_at !== null) c.picked_up++;
  }
  for (const [r, c] of counts) t.mboxCount.putSync(r, c);
}

/** Expiry of the oldest item of one box (items are kept in deposit order): one key read. */
function oldestExpiry(t: GatewayTables, recipient: string, box: MailboxKind): number | null {
  for (const { value } of t.mbox.getRange({ start: [recipient, box], end: [recipient, box, MAX_TS], limit: 1 })) return value.expires_at;
  return null;
}

interface MailboxView {
  recipient: string;
  welcome: number;
  keypackage: number;
  picked_up: number;
  next_expiry: number | null;
}

/**
 * One per recipient with pending items: counts by box, how many were picked up, the expiry
 * of the oldest item. Counts only: never content. Read from gw:mbox_count and the first key
 * of each box, so a refresh after each deposit costs the same however full the mailbox is.
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
    const c = mailboxCount(this.tables, this.recipient);
    const expiries = [oldestExpiry(this.tables, this.recipient, 'welcome'), oldestExpiry(this.tables, this.recipient, 'keypackage')].filter(
      (x): x is number => x !== null,
    );
    return { recipient: this.recipient, ...c, next_expiry: expiries.length > 0 ? Math.min(...expiries) : null };
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
