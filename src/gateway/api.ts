import type { IncomingMessage, ServerResponse } from 'node:http';
import { groupsOf, isMember, listMembers } from '../../actors/roster.js';
import { addressDenial, apiDenial, compileRules, type Action, type Denial } from '../access/lists.js';
import { clientAddress } from '../http/client-address.js';
import { sendError, sendJson } from '../http/respond.js';
import { StorageUnavailable } from '../storage/writer.js';
import type { Route } from '../http/router.js';
import type { Client } from '../pipeline/types.js';
import type { NostrEvent } from '../protocol/types.js';
import { decodeCursor, NO_POSITION } from '../storage/position.js';
import { deviceOfRecord, stockOf, suiteOfRecord } from './keypackages.js';
import { claimRequest } from './claim-request.js';
import { suiteHex } from './mls-keypackage.js';
import { DEVICE_RULE, isDeviceId } from './devices.js';
import { readInOrder, type OrderIndex } from './order.js';
import { mailboxFullMessage, randomId, type Gateway } from './gateway.js';
import { checkNip98 } from './nip98.js';
import type { GatewayOps } from './ops.js';
import { mayUseGroup } from './group-policy.js';
import { decodeMailboxCursor, encodeMailboxCursor, itemView } from './mailbox-wire.js';
import { decodesAs, isGroupId, parseKey } from './tags.js';
import { nowSec, type KpRecord, type MailboxItem, type MailboxKind } from './tables.js';

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The request was not read to its end: answer, then close the connection. */
    readonly close = false,
  ) {
    super(message);
  }
}

const bad = (msg: string) => new HttpError(400, 'bad_request', msg);
/** The caller is authenticated (NIP-98) and still not allowed: NIP-42's `restricted:`, code `restricted`. */
const forbidden = (msg: string) => new HttpError(403, 'restricted', `restricted: ${msg}`);
const notFound = (msg: string) => new HttpError(404, 'not_found', msg);
const HOUR = 3_600_000;
const MAX_PAGE = 500;
/** Index entries one catch-up page examines at most (order.ts); a page cut short says has_more. */
const MAX_SCAN = 5000;
const GROUPS_PAGE = 100;

/** Read the raw body (NIP-98 hashes the bytes as sent) with a hard cap. */
function readBody(req: IncomingMessage, cap: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const tooLarge = () => new HttpError(413, 'payload_too_large', `request body larger than ${cap} bytes`, true);
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > cap) return reject(tooLarge());
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size <= cap) return void chunks.push(c);
      // Stop collecting but keep the socket: destroying it here would reset the connection
      // before the 413 is written. The answer carries Connection: close, so Node closes the
      // socket once it is sent instead of reading the rest of the body.
      req.off('data', onData);
      req.pause();
      reject(tooLarge());
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function parseJson(body: Buffer): Record<string, unknown> {
  if (body.length === 0) throw bad('request body must be a JSON object');
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch {
    throw bad('request body is not valid JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad('request body must be a JSON object');
  return v as Record<string, unknown>;
}

function keyField(v: unknown, name: string): string {
  const k = parseKey(v);
  if (k === undefined) throw bad(`${name} must be a hex or npub public key`);
  return k;
}

function intParam(v: unknown, name: string, dflt: number, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined || v === null || v === '') return dflt;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw bad(`${name} must be a non-negative integer`);
  return Math.min(n, max);
}

/** Paging cursors are opaque to clients: base64url of the last group id of the previous page. */
function encodeCursor(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

function cursorParam(v: string | null): string | undefined {
  if (v === null || v === '') return undefined;
  if (!/^[A-Za-z0-9_-]{1,400}$/.test(v)) throw bad('cursor must be the next value of a previous page');
  return Buffer.from(v, 'base64url').toString('utf8');
}

function tagsField(v: unknown): string[][] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.length > 100 || !v.every((t) => Array.isArray(t) && t.every((x) => typeof x === 'string'))) {
    throw bad('tags must be an array of string arrays');
  }
  return v as string[][];
}

function optString(v: unknown, name: string, max: number): string | null | undefined {
  if (v === undefined) return undefined;
  if (v === null) return null;
  if (typeof v !== 'string' || v.length > max) throw bad(`${name} must be a string of at most ${max} characters`);
  return v;
}

function b64Field(v: unknown, name: string, required: boolean): string | null {
  if (v === undefined || v === null) {
    if (required) throw bad(`${name} is required (base64)`);
    return null;
  }
  if (typeof v !== 'string' || !decodesAs(v, 'base64')) throw bad(`${name} must be non-empty base64`);
  return v;
}

/** The suite of a stock entry in hex (`0x0001`), as the KeyPackage itself says; the tag for records older than that. */
function suiteName(k: KpRecord): string | null {
  const id = suiteOfRecord(k);
  return id === undefined ? k.ciphersuite : suiteHex(id);
}

/** `device=ID` on a pickup or an ack (devices.ts); absent: the whole identity. */
function deviceParam(url: URL): string | undefined {
  const v = url.searchParams.get('device');
  if (v === null) return undefined;
  if (!isDeviceId(v)) throw bad(`device must be a device id (${DEVICE_RULE})`);
  return v;
}

/** `device` of a deposit: the one device of the recipient the item is for, or null for any. */
function deviceField(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  if (!isDeviceId(v)) throw bad(`device must be null or a device id (${DEVICE_RULE})`);
  return v;
}

/**
 * The REST API of PROTOCOL.md under api_prefix (fixed at start; enable_api is read on each
 * request). Every endpoint but none authenticates with NIP-98 first; every answer is JSON.
 */
export function gatewayRoutes(gw: Gateway, ops: GatewayOps): Route[] {
  const ctx = gw.ctx;
  const prefix = gw.cfg().api_prefix.replace(/\/+$/, '');
  const esc = prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const path = (p: string) => new RegExp(`^${esc}${p}$`);

  type Call = { pubkey: string; client: Client; body: Buffer; url: URL; params: string[]; req: IncomingMessage };
  const refuse = (d: Denial) => {
    ctx.telemetry?.unauthorized('API', d.label);
    // `blocked:` (address, blacklist) keeps code `forbidden`; a signer the lists refuse is `restricted`.
    return new HttpError(403, d.message.startsWith('restricted:') ? 'restricted' : 'forbidden', d.message);
  };
  /**
   * `action` says which [auth] table judges the call: GET reads ([auth.req]), POST writes
   * ([auth.event]), except the POST /messages/* queries, which only return stored events
   * as REQ does. The address is judged before the body is read or the token checked, the
   * NIP-98 signer right after the token.
   */
  const route = (method: string, p: string, fn: (call: Call) => Promise<[number, unknown]> | [number, unknown], action: Action = method === 'GET' ? 'read' : 'publish'): Route => ({
    method,
    path: path(p),
    handler: async (req: IncomingMessage, res: ServerResponse, params: string[], url: URL) => {
      try {
        if (!gw.cfg().enable_api) throw notFound('not found');
        const cfg = ctx.config();
        const remote = clientAddress(req, cfg.network.real_ip_header, cfg.network.trusted_proxies);
        const rules = cfg.auth.enabled ? compileRules(action === 'read' ? cfg.auth.req : cfg.auth.event) : undefined;
        const byAddress = rules && addressDenial(rules, remote, action);
        if (byAddress) throw refuse(byAddress);
        const body = await readBody(req, cfg.limitation.max_message_length);
        const auth = await checkNip98(req, body, cfg.information.relay_url, ctx.verify, nowSec());
        if (!auth.ok) throw new HttpError(auth.status ?? 401, auth.code ?? 'unauthorized', auth.error);
        const client: Client = { connId: 0, remote, pubkeys: [auth.pubkey] };
        const byList = rules && apiDenial(rules, client, action);
        if (byList) throw refuse(byList);
        const [status, out] = await fn({ pubkey: auth.pubkey, client, body, url, params, req });
        sendJson(res, status, out);
      } catch (err) {
        if (err instanceof HttpError) {
          if (err.close) res.setHeader('connection', 'close');
          return sendError(res, err.status, err.code, err.message);
        }
        // A full disk is the relay's condition, not a bug: the client may retry later.
        if (err instanceof StorageUnavailable) return sendError(res, 503, 'storage_unavailable', `error: ${err.message}`);
        throw err;
      }
    },
  });
  const rateLimited = (msg: string) => new HttpError(429, 'rate_limited', `rate-limited: ${msg}`);

  const groupView = (id: string) => {
    const g = gw.t.groups.get(id);
    const r = gw.t.roster.get(id);
    if (!g && !r) return undefined;
    return {
      group_id: id,
      display_name: g?.display_name ?? null,
      avatar_url: g?.avatar_url ?? null,
      relays: g?.relays ?? [],
      owner_pubkey: r?.owner ?? null,
      admin_pubkeys: r?.admins ?? [],
      member_count: r?.member_count ?? 0,
      last_epoch: g?.last_epoch ?? null,
      last_event_ts: g?.last_event_ts ?? null,
      created_at: g?.created_at ?? r?.created_at ?? null,
      updated_at: Math.max(g?.updated_at ?? 0, r?.updated_at ?? 0) || null,
    };
  };
  const registryPage = (after: string | undefined, limit: number): string[] => {
    const out: string[] = [];
    for (const k of gw.t.groups.getKeys({ start: after ?? '' })) {
      if (k === after) continue;
      out.push(k as string);
      if (out.length >= limit) break;
    }
    return out;
  };
  // The registry row follows the group's 445 read rule; the roster (450s) stays with members and admins.
  const mayView = (id: string, pk: string) => gw.isRelayAdmin(pk) || mayUseGroup(gw.t, gw.cfg().group_policy, id, [pk]);
  const mayViewRoster = (id: string, pk: string) => gw.isRelayAdmin(pk) || isMember(gw.t, id, pk);
  const mayEditGroup = (id: string, pk: string) => {
    if (gw.isRelayAdmin(pk)) return true;
    const r = gw.t.roster.get(id);
    return r !== undefined && (r.owner === pk || r.admins.includes(pk));
  };

  const pickup = async (url: URL, caller: string, box: MailboxKind, dflt: number): Promise<[number, unknown]> => {
    const recipient = keyField(url.searchParams.get('recipient'), 'recipient');
    if (recipient !== caller) throw forbidden('only the recipient may pick up its mailbox');
    const limit = Math.max(1, intParam(url.searchParams.get('limit'), 'limit', dflt, MAX_PAGE));
    const after = decodeMailboxCursor(url.searchParams.get('cursor'));
    if (after === null) throw bad('cursor must be the next value of a previous page');
    const device = deviceParam(url);
    const { items, more } = await ctx.commit.op(ops.pickup, { recipient, box, q: { limit, after, device } });
    gw.stats.mailbox_pickups += items.length;
    // null on the last page, as GET /groups: a new pass starts without a cursor (acked items are gone).
    const next = more ? encodeMailboxCursor(items[items.length - 1]!) : null;
    return [200, { ok: true, items: items.map(itemView), has_more: more, next }];
  };

  const ack = async (id: string, caller: string, box: MailboxKind, url: URL): Promise<[number, unknown]> => {
    const device = deviceParam(url);
    const r = await ctx.commit.op(ops.ack, { id, box, caller, device });
    if (r === 'not_found') throw notFound(`no ${box} mailbox item ${id}`);
    if (r === 'forbidden') throw forbidden('only the recipient may acknowledge this item');
    if (r === 'other_device') throw forbidden('this item is addressed to another device of the recipient');
    gw.stats.mailbox_acks++;
    return [200, { ok: true }];
  };

  /**
   * A full mailbox answers 409 Conflict: the request is fine but the recipient's mailbox is
   * in a state that refuses it until the recipient acknowledges items. Not 507: that says
   * the server is out of storage, which it is not, and a 5xx would page the operator and
   * invite automatic retries.
   */
  const mailboxFull = (recipient: string) => new HttpError(409, 'mailbox_full', mailboxFullMessage(recipient));

  const deposit = async (item: MailboxItem, client: Client): Promise<[number, unknown]> => {
    const full = gw.mailboxFull(item.recipient_pubkey, item.box);
    if (full) throw mailboxFull(item.recipient_pubkey);
    const limited = gw.depositRate(client);
    if (limited) throw new HttpError(429, 'rate_limited', limited);
    const r = await ctx.commit.op(ops.deposit, item);
    if (r === 'full') throw mailboxFull(item.recipient_pubkey);
    gw.stats.mailbox_deposits++;
    return [200, { ok: true, id: item.id }];
  };

  const senderOf = (v: unknown, caller: string) => {
    const sender = v === undefined || v === null ? caller : keyField(v, 'sender');
    if (sender !== caller) throw forbidden('sender must be the authenticated caller');
    return sender;
  };

  /** Catch-up in relay order (order.ts): `cursor` (exclusive) and/or `since`, oldest first. */
  const page = (index: OrderIndex, key: string, b: Record<string, unknown>, client: Client): [number, unknown] => {
    const since = intParam(b.since, 'since', 0);
    const limit = Math.max(1, intParam(b.limit, 'limit', 100, MAX_PAGE));
    let after = NO_POSITION;
    if (b.cursor !== undefined && b.cursor !== null) {
      const pos = typeof b.cursor === 'string' ? decodeCursor(b.cursor) : undefined;
      if (pos === undefined) throw bad('cursor must be the next value of a previous page');
      after = pos;
    }
    const out = readInOrder(gw.t, {
      index,
      key,
      after,
      since,
      limit,
      now: nowSec(),
      deadline: Date.now() + Math.max(ctx.config().data.db_query_timeout, 1000),
      maxScan: MAX_SCAN,
      load: (pos) => ctx.store.getAt(pos),
      accept: (e, pos) => ctx.visibility.mayRead(e, client, pos),
    });
    return [200, { ok: true, ...out }];
  };

  return [
    route('GET', '/groups', ({ pubkey, url }) => {
      // One page of the caller's own rows in gw:by_member (admins: of the registry), never a pass over every group.
      const limit = Math.max(1, intParam(url.searchParams.get('limit'), 'limit', GROUPS_PAGE, MAX_PAGE));
      const after = cursorParam(url.searchParams.get('cursor'));
      const ids = gw.isRelayAdmin(pubkey) ? registryPage(after, limit + 1) : groupsOf(gw.t, pubkey, after, limit + 1);
      const page = ids.slice(0, limit);
      const groups = page.map(groupView).filter((g) => g !== undefined);
      const next = ids.length > limit ? encodeCursor(page[page.length - 1]!) : null;
      return [200, { ok: true, groups, next }];
    }),
    route('POST', '/groups', async ({ pubkey, body }) => {
      const b = parseJson(body);
      const id = b.group_id;
      if (typeof id !== 'string' || !isGroupId(id)) throw bad('group_id must be a non-empty string of at most 256 characters');
      if (!mayEditGroup(id, pubkey)) throw forbidden('only relay admins or the group owner/admins may edit the registry');
      const display_name = optString(b.display_name, 'display_name', 256);
      const avatar_url = optString(b.avatar_url, 'avatar_url', 2048);
      if (avatar_url && !/^https?:\/\//i.test(avatar_url)) throw bad('avatar_url must be an http(s) URL');
      let relays: string[] | undefined;
      if (b.relays !== undefined) {
        if (!Array.isArray(b.relays) || b.relays.length > 20 || !b.relays.every((r) => typeof r === 'string' && /^wss?:\/\/\S+$/i.test(r))) {
          throw bad('relays must be an array of at most 20 ws(s) URLs');
        }
        relays = b.relays as string[];
      }
      await ctx.commit.op(ops.groupMeta, { id, meta: { display_name, avatar_url, relays } });
      gw.stats.groups_updated++;
      return [200, { ok: true, group: groupView(id) }];
    }),
    // An unknown group and one the caller may not read get the same 404: the answer must not tell who exists.
    route('GET', '/groups/([^/]+)', ({ pubkey, params }) => {
      const id = params[0]!;
      const g = mayView(id, pubkey) ? groupView(id) : undefined;
      if (!g) throw notFound(`group ${id} not found`);
      return [200, { ok: true, group: g }];
    }),
    route('GET', '/groups/([^/]+)/roster', ({ pubkey, params, url }) => {
      const id = params[0]!;
      const r = mayViewRoster(id, pubkey) ? gw.t.roster.get(id) : undefined;
      if (!r) throw notFound(`group ${id} not found`);
      const limit = Math.max(1, intParam(url.searchParams.get('limit'), 'limit', 50, MAX_PAGE));
      const cursor = intParam(url.searchParams.get('cursor'), 'cursor', Number.MAX_SAFE_INTEGER);
      const history: NostrEvent[] = [];
      let next: string | null = null;
      let lastSeq = 0;
      for (const { key, value } of gw.t.rosterLog.getRange({ start: [id, cursor], end: [id, -1], reverse: true })) {
        const seq = (key as [string, number])[1];
        if (seq >= cursor) continue;
        if (history.length >= limit) {
          next = String(lastSeq);
          break;
        }
        const ev = ctx.store.get(value.id);
        if (ev) history.push(ev);
        lastSeq = seq;
      }
      return [200, { ok: true, group_id: id, owner: r.owner, admins: r.admins, members: listMembers(gw.t, id), last_seq: r.last_seq, history, next }];
    }),
    route('GET', '/keypackages', ({ pubkey, url }) => {
      if (url.searchParams.has('recipient')) return pickup(url, pubkey, 'keypackage', 50);
      if (!url.searchParams.has('owner')) throw bad('give owner=KEY (stock) or recipient=KEY (mailbox)');
      const owner = keyField(url.searchParams.get('owner'), 'owner');
      const keypackages = stockOf(gw.t, owner, nowSec()).map((k) => ({
        id: k.id,
        owner: k.owner,
        kind: k.kind,
        ciphersuite: suiteName(k),
        key_ref: k.key_ref,
        device: deviceOfRecord(k),
        last_resort: k.last_resort ?? false,
        created_at: k.created_at,
        expires_at: k.expires_at,
      }));
      return [200, { ok: true, keypackages }];
    }),
    route('POST', '/keypackages/claim', async ({ pubkey, body }) => {
      const want = claimRequest(parseJson(body), bad);
      const owner = want.owner;
      const lim = gw.cfg().rate_limits.max_claims_per_hour;
      if (!gw.rates.hit(`claim:${pubkey}:${owner}`, lim, HOUR)) throw rateLimited(`at most ${lim} claims per owner per hour`);
      const got = await ctx.commit.op(ops.claim, want);
      if (got.length === 0) throw notFound('no KeyPackage available');
      gw.stats.keypackages_claimed += got.length;
      void gw.requestKeyPackages(owner);
      const view = (c: (typeof got)[number]) => ({ id: c.record.id, device: deviceOfRecord(c.record), last_resort: c.lastResort, remaining: c.remaining });
      if (want.perDevice) return [200, { ok: true, events: got.map((c) => c.event), claims: got.map(view) }];
      const c = got[0]!;
      return [200, { ok: true, event: c.event, last_resort: c.lastResort, remaining: c.remaining, device: deviceOfRecord(c.record) }];
    }),
    route('POST', '/keypackages', async ({ pubkey, client, body }) => {
      const b = parseJson(body);
      const recipient = keyField(b.recipient, 'recipient');
      const sender = senderOf(b.sender, pubkey);
      const content_b64 = b64Field(b.content_b64, 'content_b64', true)!;
      const lim = gw.cfg().rate_limits.max_keypackages_per_hour;
      if (!gw.rates.hit(`kp:${sender}`, lim, HOUR)) throw rateLimited(`at most ${lim} KeyPackages per owner per hour`);
      const now = nowSec();
      return deposit({
        id: randomId(),
        box: 'keypackage',
        recipient_pubkey: recipient,
        sender_pubkey: sender,
        content_b64,
        tags: tagsField(b.tags),
        created_at: now,
        expires_at: now + Math.max(1, Math.floor(gw.cfg().keypackage_ttl / 1000)),
        picked_up_at: null,
        device: deviceField(b.device),
      }, client);
    }),
    route('POST', '/keypackages/([^/]+)/ack', ({ pubkey, params, url }) => ack(params[0]!, pubkey, 'keypackage', url)),
    route('POST', '/welcome', async ({ pubkey, client, body }) => {
      const b = parseJson(body);
      const recipient = keyField(b.recipient, 'recipient');
      const sender = senderOf(b.sender, pubkey);
      const welcome_b64 = b64Field(b.welcome_b64, 'welcome_b64', true)!;
      const ratchet_tree_b64 = b64Field(b.ratchet_tree_b64, 'ratchet_tree_b64', false);
      const group_id = optString(b.group_id, 'group_id', 256) ?? null;
      const now = nowSec();
      return deposit({
        id: randomId(),
        box: 'welcome',
        recipient_pubkey: recipient,
        sender_pubkey: sender,
        content_b64: welcome_b64,
        welcome_b64,
        ratchet_tree_b64,
        group_id,
        tags: tagsField(b.tags),
        created_at: now,
        expires_at: now + Math.max(1, Math.floor(gw.cfg().welcome_ttl / 1000)),
        picked_up_at: null,
        device: deviceField(b.device),
      }, client);
    }),
    route('GET', '/welcome', ({ pubkey, url }) => pickup(url, pubkey, 'welcome', 20)),
    route('POST', '/welcome/([^/]+)/ack', ({ pubkey, params, url }) => ack(params[0]!, pubkey, 'welcome', url)),
    route('POST', '/messages/missed', ({ pubkey, client, body }) => page('recipient', pubkey, parseJson(body), client), 'read'),
    route('POST', '/messages/group', ({ pubkey, client, body }) => {
      const b = parseJson(body);
      const group = b.group_id;
      if (typeof group !== 'string' || !isGroupId(group)) throw bad('group_id must be a non-empty string');
      if (!mayUseGroup(gw.t, gw.cfg().group_policy, group, [pubkey])) throw forbidden(`not a member of group ${group}`);
      return page('group', group, b, client);
    }, 'read'),
  ];
}
