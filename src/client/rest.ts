/** A small fetch client for every REST endpoint of PROTOCOL.md, signing each request with NIP-98. */
import type { NostrEvent } from '../protocol/types.js';
import { httpAuthHeader } from './nip98.js';

export interface ApiError {
  error: string;
  code: string;
}

/** Never throws on an HTTP status: callers (and tests) decide what a 403 or 404 means. */
export interface ApiResponse<T> {
  status: number;
  /** 2xx */
  ok: boolean;
  /** Parsed body when ok. */
  data?: T;
  /** Parsed body when not ok. */
  error?: ApiError;
  /** Raw body, for diagnostics. */
  text: string;
}

export interface KeyPackageMeta {
  id: string;
  owner: string;
  kind: number;
  ciphersuite?: string;
  key_ref?: string;
  /** The `device` tag of the KeyPackage; null: the identity's default device. */
  device?: string | null;
  /** Carries the last_resort extension: claims hand it out without consuming it. */
  last_resort?: boolean;
  created_at: number;
  expires_at: number;
}

export interface ClaimResult {
  ok: true;
  event: NostrEvent;
  /** Handed out but kept in the owner's stock (not consumed). */
  last_resort: boolean;
  remaining: number;
  device?: string | null;
}

/** What a claim may ask for; `device: null` is the default device (KeyPackages without a device tag). */
export interface ClaimFilter {
  /** Hex (`0x0001`), decimal (`1`) or the RFC 9420 name. */
  ciphersuite?: string | number;
  /** A specific KeyPackage event id. */
  id?: string;
  device?: string | null;
}

export interface PerDeviceClaimResult {
  ok: true;
  /** One KeyPackage per device of the owner. */
  events: NostrEvent[];
  claims: Array<{ id: string; device: string | null; last_resort: boolean; remaining: number }>;
}

/**
 * One mailbox item; its payload appears exactly once: `event` (welcome box, from a kind 1059
 * the relay accepted: the signed gift wrap), `welcome_b64` (welcome box, deposited over REST)
 * or `content_b64` (key-package box).
 */
export interface MailboxItem {
  id: string;
  recipient_pubkey: string;
  sender_pubkey: string;
  tags: string[][];
  created_at: number;
  expires_at: number;
  picked_up_at: number | null;
  content_b64?: string;
  group_id?: string | null;
  welcome_b64?: string;
  ratchet_tree_b64?: string | null;
  event?: NostrEvent;
  /** The device of the recipient the item is addressed to; null: any. */
  device?: string | null;
}

/** A pickup page: `next` (when `has_more`) is the cursor of the following page. */
export interface MailboxPage {
  ok: true;
  items: MailboxItem[];
  has_more: boolean;
  next: string | null;
}

/** Page size, or page size and the cursor of a previous page's `next`. */
export type PageRequest = number | { limit?: number; cursor?: string | null };

function pageQuery(recipient: string, page: PageRequest, dflt: number, device?: string): string {
  const p = typeof page === 'number' ? { limit: page } : page;
  return query({ recipient, limit: p.limit ?? dflt, cursor: p.cursor ?? undefined, device });
}

export interface GroupInfo {
  group_id: string;
  display_name?: string | null;
  avatar_url?: string | null;
  owner_pubkey?: string | null;
  admin_pubkeys: string[];
  member_count: number;
  last_epoch?: number | null;
  last_event_ts?: number | null;
  created_at?: number;
  updated_at?: number;
}

export interface RosterResult {
  ok: true;
  owner: string | null;
  admins: string[];
  members: string[];
  last_seq: number;
  history: NostrEvent[];
  next: string | null;
}

export interface MessagesResult {
  /** Oldest first, in the relay's order. */
  messages: NostrEvent[];
  count: number;
  /** More events follow `next`: ask again with `cursor: next`. */
  has_more: boolean;
  /** Opaque cursor after the last event returned (keep it to resume later); null for an empty page. */
  next: string | null;
}

/** A catch-up page: `cursor` (exclusive, a previous page's `next`) and/or `since` (created_at >= since). */
export interface CatchUpQuery {
  since?: number;
  cursor?: string | null;
  /** At most 500 (default 100). */
  limit?: number;
}

export interface RestClientOptions {
  /** http(s)://host:port of the relay. */
  baseUrl: string;
  /** Defaults to /api/v1 (config api_prefix). */
  prefix?: string;
  /** Key that signs NIP-98 headers; without it requests go out unauthenticated. */
  secretKey?: Uint8Array;
  timeoutMs?: number;
}

export class MlsRestClient {
  readonly baseUrl: string;
  readonly prefix: string;
  private readonly sk?: Uint8Array;
  private readonly timeoutMs: number;

  constructor(o: RestClientOptions) {
    this.baseUrl = o.baseUrl.replace(/\/+$/, '');
    this.prefix = o.prefix ?? '/api/v1';
    this.sk = o.secretKey;
    this.timeoutMs = o.timeoutMs ?? 10_000;
  }

  /** The same client signing as another key. */
  as(secretKey: Uint8Array | undefined): MlsRestClient {
    return new MlsRestClient({ baseUrl: this.baseUrl, prefix: this.prefix, secretKey, timeoutMs: this.timeoutMs });
  }

  /** Low-level: `path` is relative to the prefix unless `raw` is set. */
  async request<T>(method: 'GET' | 'POST', path: string, body?: unknown, raw = false): Promise<ApiResponse<T>> {
    const url = this.baseUrl + (raw ? '' : this.prefix) + path;
    const text = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (text !== undefined) headers['content-type'] = 'application/json';
    // Signed over the exact bytes we send, so the relay's payload hash matches.
    if (this.sk) headers.authorization = httpAuthHeader(this.sk, { url, method, body: text });
    const res = await fetch(url, { method, headers, body: text, signal: AbortSignal.timeout(this.timeoutMs) });
    const resText = await res.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(resText);
    } catch {
      parsed = undefined;
    }
    return res.ok
      ? { status: res.status, ok: true, data: parsed as T, text: resText }
      : { status: res.status, ok: false, error: parsed as ApiError | undefined, text: resText };
  }

  health() {
    return this.request<{ status: string; version: string; uptime_seconds: number }>('GET', '/health', undefined, true);
  }

  ready() {
    return this.request<unknown>('GET', '/ready', undefined, true);
  }

  listGroups() {
    return this.request<{ ok: true; groups: GroupInfo[] }>('GET', '/groups');
  }

  getGroup(groupId: string) {
    return this.request<{ ok: true; group: GroupInfo }>('GET', `/groups/${encodeURIComponent(groupId)}`);
  }

  upsertGroup(body: { group_id: string; display_name?: string; avatar_url?: string; relays?: string[] }) {
    return this.request<{ ok: true; group: GroupInfo }>('POST', '/groups', body);
  }

  getRoster(groupId: string, page: { cursor?: string; limit?: number } = {}) {
    return this.request<RosterResult>('GET', `/groups/${encodeURIComponent(groupId)}/roster${query(page)}`);
  }

  listKeyPackages(owner: string) {
    return this.request<{ ok: true; keypackages: KeyPackageMeta[] }>('GET', `/keypackages${query({ owner })}`);
  }

  claimKeyPackage(owner: string, want: ClaimFilter = {}) {
    return this.request<ClaimResult>('POST', '/keypackages/claim', { owner, ...want });
  }

  /** One KeyPackage for each device of the owner, taken atomically. */
  claimPerDevice(owner: string, want: Pick<ClaimFilter, 'ciphersuite'> = {}) {
    return this.request<PerDeviceClaimResult>('POST', '/keypackages/claim', { owner, ...want, per_device: true });
  }

  depositKeyPackage(body: { recipient: string; sender: string; content_b64: string; tags?: string[][] }) {
    return this.request<{ ok: true; id: string }>('POST', '/keypackages', body);
  }

  keyPackageMailbox(recipient: string, page: PageRequest = 50) {
    return this.request<MailboxPage>('GET', `/keypackages${pageQuery(recipient, page, 50)}`);
  }

  ackKeyPackage(id: string) {
    return this.request<{ ok: true }>('POST', `/keypackages/${encodeURIComponent(id)}/ack`);
  }

  depositWelcome(body: { recipient: string; sender: string; group_id?: string; welcome_b64: string; ratchet_tree_b64?: string; tags?: string[][]; device?: string }) {
    return this.request<{ ok: true; id: string }>('POST', '/welcome', body);
  }

  /** With `device`: the items addressed to that device and those addressed to none. */
  welcomeMailbox(recipient: string, page: PageRequest = 20, device?: string) {
    return this.request<MailboxPage>('GET', `/welcome${pageQuery(recipient, page, 20, device)}`);
  }

  /** Every pending item of one box, page by page (each item once); stops after `maxPages`. */
  async drainMailbox(box: 'welcome' | 'keypackage', recipient: string, limit = 100, maxPages = 100): Promise<MailboxItem[]> {
    const out: MailboxItem[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < maxPages; i++) {
      const page: PageRequest = { limit, cursor };
      const r: ApiResponse<MailboxPage> = box === 'welcome' ? await this.welcomeMailbox(recipient, page) : await this.keyPackageMailbox(recipient, page);
      if (!r.ok || !r.data) throw new Error(`mailbox pickup failed: ${r.status} ${r.text}`);
      out.push(...r.data.items);
      if (!r.data.has_more || r.data.next === null) return out;
      cursor = r.data.next;
    }
    return out;
  }

  ackWelcome(id: string, device?: string) {
    return this.request<{ ok: true }>('POST', `/welcome/${encodeURIComponent(id)}/ack${query({ device })}`);
  }

  missedMessages(body: CatchUpQuery) {
    return this.request<MessagesResult>('POST', '/messages/missed', body);
  }

  groupMessages(body: CatchUpQuery & { group_id: string }) {
    return this.request<MessagesResult>('POST', '/messages/group', body);
  }

  /**
   * Every stored 445 of the group after `cursor`, in relay order, page by page; resolves
   * with them and the cursor to resume from later (the last `next` that was not null).
   */
  async groupCatchUp(groupId: string, cursor: string | null = null, limit = 500): Promise<{ messages: NostrEvent[]; cursor: string | null }> {
    const messages: NostrEvent[] = [];
    for (;;) {
      const r = await this.groupMessages({ group_id: groupId, cursor, limit });
      if (r.status !== 200 || !r.data) throw new Error(`catch-up of group ${groupId} failed: ${r.status} ${r.text.slice(0, 200)}`);
      messages.push(...r.data.messages);
      if (r.data.next !== null) cursor = r.data.next;
      if (!r.data.has_more) return { messages, cursor };
    }
  }
}

function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
