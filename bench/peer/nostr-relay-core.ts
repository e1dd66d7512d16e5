/**
 * A peer relay assembled from npm for `npm run bench:compare`: @nostr-relay/core with
 * @nostr-relay/validator in front (the pattern of its README) and a `ws` server around it.
 * Run as its own process; prints its port on stdout, exits on SIGTERM.
 *
 * Storage is an in-memory repository written here: the published one
 * (@nostr-relay/event-repository-sqlite) needs better-sqlite3, whose prebuilt binary is
 * downloaded from outside the npm registry, so here it would compile SQLite from source on
 * every `npm ci`. In memory is the peer's best case (no I/O, no durability), so its figures
 * are an upper bound. Signatures are verified with core's defaults: @noble/curves 1.x
 * schnorr (pure JS) on the main thread, in EventUtils.validate.
 */
import { WebSocketServer, type WebSocket } from 'ws';
import { NostrRelay } from '@nostr-relay/core';
import { EventRepository, EventType, EventUtils, LogLevel, type Event, type EventRepositoryUpsertResult, type Filter } from '@nostr-relay/common';
import { Validator } from '@nostr-relay/validator';

/**
 * core's EventUtils.isMatchingFilter checks ids/authors/kinds/since/until only, not `#x` tag
 * filters (its live broadcast has the same gap); stored queries need them, as the sqlite
 * repository's SQL applies them.
 */
function tagsMatch(e: Event, filter: Filter): boolean {
  for (const [key, values] of Object.entries(filter)) {
    if (key[0] !== '#' || !Array.isArray(values)) continue;
    if (!e.tags.some((t) => t[0] === key.slice(1) && (values as string[]).includes(t[1]!))) return false;
  }
  return true;
}
const matches = (e: Event, filter: Filter) => EventUtils.isMatchingFilter(e, filter) && tagsMatch(e, filter);

/** NIP-01 storage in a Map: replaceable/addressable keep the newest, find scans and sorts newest first. */
class MemoryEventRepository extends EventRepository {
  private readonly byId = new Map<string, Event>();
  private readonly latest = new Map<string, Event>();

  isSearchSupported(): boolean {
    return false;
  }

  upsert(e: Event): EventRepositoryUpsertResult {
    if (this.byId.has(e.id)) return { isDuplicate: true };
    const type = EventUtils.getType(e.kind);
    if (type === EventType.REPLACEABLE || type === EventType.PARAMETERIZED_REPLACEABLE) {
      const key = `${e.kind}:${e.pubkey}:${type === EventType.PARAMETERIZED_REPLACEABLE ? (EventUtils.extractDTagValue(e) ?? '') : ''}`;
      const old = this.latest.get(key);
      if (old && (old.created_at > e.created_at || (old.created_at === e.created_at && old.id < e.id))) return { isDuplicate: true };
      if (old) this.byId.delete(old.id);
      this.latest.set(key, e);
    }
    this.byId.set(e.id, e);
    return { isDuplicate: false };
  }

  find(filter: Filter): Event[] {
    if (filter.limit === 0) return [];
    const out: Event[] = [];
    if (filter.ids) {
      for (const id of filter.ids) {
        const e = this.byId.get(id);
        if (e && matches(e, filter)) out.push(e);
      }
    } else for (const e of this.byId.values()) if (matches(e, filter)) out.push(e);
    out.sort((a, b) => b.created_at - a.created_at || (a.id < b.id ? -1 : 1));
    return out.slice(0, filter.limit ?? 1000);
  }

  async destroy(): Promise<void> {}
}

const relay = new NostrRelay(new MemoryEventRepository(), { logLevel: LogLevel.ERROR });
const validator = new Validator();
const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0), maxPayload: 512 * 1024 });

wss.on('connection', (ws: WebSocket, req) => {
  relay.handleConnection(ws, req.socket.remoteAddress);
  ws.on('message', async (data) => {
    try {
      const message = await validator.validateIncomingMessage(data);
      await relay.handleMessage(ws, message);
    } catch (err) {
      ws.send(JSON.stringify(['NOTICE', err instanceof Error ? err.message : String(err)]));
    }
  });
  ws.on('close', () => relay.handleDisconnect(ws));
  ws.on('error', () => ws.terminate());
});

wss.on('listening', () => {
  const addr = wss.address();
  console.log(typeof addr === 'object' && addr ? addr.port : addr);
});

process.once('SIGTERM', () => {
  for (const ws of wss.clients) ws.terminate();
  wss.close(() => void relay.destroy().then(() => process.exit(0)));
});
