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

export interface MailboxItem {
  id: string;
  recipient_pubkey: string;
  sender_pubkey: string;
  content_b64?: string;
  tags?: string[][];
  created_at: number;
  expires_at: number;
  picked_up_at?: number | null;
  group_id?: string;
  welcome_b64?: string;
  ratchet_tree_b64?: string;
  /** The device of the recipient the item is addressed to; null: any. */
  device?: string | null;
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
  messages: NostrEvent[];
  count: number;
  has_more: boolean;
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

  keyPackageMailbox(recipient: string, limit = 50) {
    return this.request<{ ok: true; items: MailboxItem[] }>('GET', `/keypackages${query({ recipient, limit })}`);
  }

  ackKeyPackage(id: string) {
    return this.request<{ ok: true }>('POST', `/keypackages/${encodeURIComponent(id)}/ack`);
  }

  depositWelcome(body: { recipient: string; sender: string; group_id?: string; welcome_b64: string; ratchet_tree_b64?: string; tags?: string[][]; device?: string }) {
    return this.request<{ ok: true; id: string }>('POST', '/welcome', body);
  }

  /** With `device`: the items addressed to that device and those addressed to none. */
  welcomeMailbox(recipient: string, limit = 20, device?: string) {
    return this.request<{ ok: true; items: MailboxItem[] }>('GET', `/welcome${query({ recipient, limit, device })}`);
  }

  ackWelcome(id: string, device?: string) {
    return this.request<{ ok: true }>('POST', `/welcome/${encodeURIComponent(id)}/ack${query({ device })}`);
  }

  missedMessages(body: { since: number; limit?: number }) {
    return this.request<MessagesResult>('POST', '/messages/missed', body);
  }

  groupMessages(body: { group_id: string; since: number; limit?: number }) {
    return this.request<MessagesResult>('POST', '/messages/group', body);
  }
}

function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
