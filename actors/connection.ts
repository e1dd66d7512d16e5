import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';
import { log } from '../src/log.js';
import { authMsg, closedMsg, countMsg, noticeMsg, okMsg, parseClientMessage } from '../src/protocol/messages.js';
import { parseFilters } from '../src/protocol/filter-parse.js';
import { oversizedEventId } from '../src/protocol/oversized.js';
import { authenticate } from '../src/pipeline/auth.js';
import { firstRejection } from '../src/pipeline/hooks.js';
import type { Subscriber } from '../src/pipeline/fanout.js';
import type { RelayContext } from '../src/relay-context.js';
import { SubscriptionActor, type SubscriptionDeps } from './subscription.js';
import { storeKind } from './store-logic.js';
import type { Supervised } from './supervisor.js';

/** Every frame we send is text; a Buffer holds the frame's UTF-8 already. */
const TEXT = { binary: false } as const;
/** Corked bytes that trigger an early write: ~30 EVENT frames or ~150 OKs share one syscall. */
const CORK_BYTES = 16 * 1024;
/**
 * EVENTs read from one socket and not yet answered, beyond which the socket is not read until
 * some are, so a client that pipelines without waiting for OKs queues in its own TCP send
 * buffer, not in the relay. One connection sending 30,000 at once grew the relay's anonymous
 * memory by 133 MiB without this cap and by 28 MiB with it, in about the same time.
 */
const MAX_UNANSWERED_EVENTS = 256;

interface ConnectionState {
  pubkeys: readonly string[];
  connectedAt: number;
  status: 'open' | 'closed';
}

const NO_PUBKEYS: readonly string[] = Object.freeze([]);

const connectionStore = storeKind<ConnectionState, { type: 'authenticated'; pubkey: string } | { type: 'closed' }>({
  authenticated: (c, e) => (c.pubkeys.includes(e.pubkey) ? c : { ...c, pubkeys: [...c.pubkeys, e.pubkey] }),
  closed: (c) => ({ ...c, status: 'closed' }),
});

/**
 * What every subscription of a relay needs, built once per relay rather than once per REQ (an
 * object and a closure each, held for the life of the subscription). Getters, so a context
 * field set after the first REQ (telemetry at install) is still seen.
 */
const depsByRelay = new WeakMap<RelayContext, SubscriptionDeps>();
function subscriptionDeps(ctx: RelayContext): SubscriptionDeps {
  let deps = depsByRelay.get(ctx);
  if (deps === undefined) {
    deps = {
      get reader() {
        return ctx.reader;
      },
      get match() {
        return ctx.match;
      },
      limits: () => ({ maxLimit: ctx.config().limitation.max_limit, timeoutMs: ctx.config().data.db_query_timeout }),
      get telemetry() {
        return ctx.telemetry;
      },
    };
    depsByRelay.set(ctx, deps);
  }
  return deps;
}

/**
 * One WebSocket. Owns the connection's auth state, its subscriptions and its outbound
 * queue; every client frame is handled here and nowhere else. A failure inside this
 * actor's handling is routed to the supervisor, which closes this connection only.
 */
export class ConnectionActor implements Supervised, Subscriber {
  readonly kind = 'connection';
  readonly id: string;
  readonly challenge = randomBytes(16).toString('hex');
  private readonly subs = new Map<string, SubscriptionActor>();
  /** Last time the client showed life (pong or any frame), for the heartbeat timeout. */
  private lastSeen = Date.now();
  // Per-frame counters stay plain fields: a store transition per frame cost ~2% of the
  // main thread at full ingest, and only the debug view reads them.
  private messagesIn = 0;
  private framesOut = 0;
  private unansweredEvents = 0;
  /** Outbound frames of this event-loop turn are held in the socket and written together. */
  private corked = false;
  private readonly uncork = () => {
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
  };
  readonly state: ReturnType<typeof connectionStore>;

  constructor(
    private readonly ctx: RelayContext,
    private readonly ws: WebSocket,
    /** The upgraded TCP socket under `ws`, corked per turn (see send). */
    private readonly socket: Duplex,
    readonly connId: number,
    readonly remote: string,
  ) {
    this.id = `conn:${connId}`;
    this.state = connectionStore({ pubkeys: NO_PUBKEYS, connectedAt: Math.floor(Date.now() / 1000), status: 'open' });
  }

  get pubkeys(): readonly string[] {
    return this.state.getSnapshot().context.pubkeys;
  }

  /** Bytes waiting in the socket's send buffer (the outbound queue), read by /metrics at scrape time. */
  get queuedBytes(): number {
    return this.ws.bufferedAmount;
  }

  get open(): boolean {
    return this.state.getSnapshot().context.status === 'open' && this.ws.readyState === WebSocket.OPEN;
  }

  start(): void {
    this.ws.on('message', (data: Buffer, isBinary: boolean) =>
      this.ctx.supervisor.guard(this.id, () => this.onFrame(data, isBinary)),
    );
    this.ws.on('pong', () => {
      this.lastSeen = Date.now();
    });
    this.ws.on('close', () => this.cleanup());
    this.ws.on('error', (err) => log.debug({ conn: this.connId, err: err.message }, 'socket error'));
    this.send(authMsg(this.challenge));
  }

  /** Send one frame unless the client has stopped reading: then cut it off before it costs the process memory. */
  send(frame: string | Buffer): void {
    if (!this.open) return;
    const cap = this.ctx.config().limitation.max_outbound_bytes;
    if (this.ws.bufferedAmount > cap) {
      this.ctx.metrics.slowConsumerCutoffs++;
      this.ctx.telemetry?.sessionStopped('slow consumer');
      log.warn({ conn: this.connId, remote: this.remote, queued: this.ws.bufferedAmount }, 'slow consumer cut off');
      this.ws.terminate();
      return;
    }
    // A burst (the OKs of one writer commit, a REQ's stored events, several live events)
    // leaves in one write syscall instead of one per frame: the socket stays corked until
    // the end of this turn, or until CORK_BYTES are waiting, so corked bytes never make up
    // more than a sliver of what the slow-consumer check above counts.
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(this.uncork);
    }
    this.ws.send(frame, TEXT);
    this.framesOut++;
    if (this.socket.writableLength > Math.min(CORK_BYTES, cap / 4)) this.uncork();
  }

  deliver(subId: string, frame: Buffer): void {
    this.subs.get(subId)?.deliver(frame);
  }

  private onFrame(data: Buffer, isBinary: boolean): void {
    this.lastSeen = Date.now();
    this.messagesIn++;
    const max = this.ctx.config().limitation.max_message_length;
    if (data.length > max) {
      const id = isBinary ? undefined : oversizedEventId(data);
      this.ctx.telemetry?.message(id === undefined ? 'unknown' : 'EVENT');
      // An EVENT whose id can be read gets its OK (NIP-01: every EVENT is answered with one).
      if (id !== undefined) this.send(okMsg(id, false, `invalid: event too large (${data.length} bytes, max ${max})`));
      else this.send(noticeMsg(`invalid: message too large (${data.length} bytes, max ${max})`));
      return;
    }
    if (isBinary) {
      this.ctx.telemetry?.message('unknown');
      this.send(noticeMsg('invalid: binary frames are not supported'));
      return;
    }
    const msg = parseClientMessage(data.toString('utf8'));
    this.ctx.telemetry?.message(msg.type);
    switch (msg.type) {
      case 'notice':
        return this.send(noticeMsg(msg.message));
      case 'EVENT':
        return this.onEvent(msg.event);
      case 'REQ':
        return this.onReq(msg.subId, msg.filters);
      case 'CLOSE':
        return this.closeSub(msg.subId);
      case 'COUNT':
        return this.onCount(msg.subId, msg.filters);
      case 'AUTH':
        return void this.onAuth(msg.event).catch((err) => this.ctx.supervisor.fail(this.id, err));
    }
  }

  private onEvent(raw: unknown): void {
    const t0 = performance.now();
    // Frames ws had already buffered are still emitted after pause(), so the count may pass the cap a little.
    if (++this.unansweredEvents >= MAX_UNANSWERED_EVENTS && !this.ws.isPaused) this.ws.pause();
    this.ctx.ingest.submit(raw, this).then(
      (r) => {
        this.answered();
        this.ctx.telemetry?.published(this.connId, raw, r, t0);
        if (r.id === undefined) this.send(noticeMsg(r.notice));
        else this.refuseOrAnswer(r.message, okMsg(r.id, r.ok, r.message));
      },
      (err: unknown) => {
        this.answered();
        this.ctx.telemetry?.published(this.connId, raw, undefined, t0);
        // The event's fate is unknown to the client: say so, and keep the connection.
        log.error({ conn: this.connId, err: err instanceof Error ? err.message : String(err) }, 'ingest failed');
        const id = (raw as { id?: unknown } | null)?.id;
        if (typeof id === 'string') this.send(okMsg(id, false, 'error: could not process event'));
      },
    );
  }

  private answered(): void {
    if (--this.unansweredEvents < MAX_UNANSWERED_EVENTS && this.ws.isPaused) this.ws.resume();
  }

  /** Sub id rules shared by REQ and COUNT; returns false after answering when the id is unusable. */
  private checkSubId(subId: unknown): subId is string {
    if (typeof subId !== 'string') {
      this.send(noticeMsg('invalid: subscription id must be a string'));
      return false;
    }
    const max = this.ctx.config().limitation.max_subid_length;
    if (subId.length === 0 || subId.length > max) {
      this.send(closedMsg(subId, `invalid: subscription id must be 1 to ${max} characters`));
      return false;
    }
    return true;
  }

  private onReq(subId: unknown, rawFilters: unknown[]): void {
    if (!this.checkSubId(subId)) return;
    const lim = this.ctx.config().limitation;
    const parsed = parseFilters(rawFilters, { maxFilters: lim.max_filters, maxLimit: lim.max_limit, minPrefix: lim.min_prefix });
    if (!parsed.ok) return this.send(closedMsg(subId, parsed.reason));
    if (parsed.filters.length === 0) return this.send(closedMsg(subId, 'invalid: REQ needs at least one filter'));
    if (!this.subs.has(subId) && this.subs.size >= lim.max_subscriptions) {
      return this.send(closedMsg(subId, `blocked: too many subscriptions (max ${lim.max_subscriptions})`));
    }
    this.closeSub(subId);
    const gate = firstRejection(this.ctx.hooks.req, parsed.filters, this, 'REQ');
    if (gate !== undefined) {
      this.closeSub(subId);
      return this.refuseOrAnswer(gate, closedMsg(subId, gate));
    }
    const sub = new SubscriptionActor(this, subId, parsed.filters, subscriptionDeps(this.ctx));
    this.subs.set(subId, sub);
    this.ctx.supervisor.add({ actor: sub, onFailure: 'stop' });
    sub.start();
    if (sub.state.getSnapshot().context.status === 'closed') this.forgetSub(subId);
  }

  private closeSub(subId: string): void {
    const sub = this.subs.get(subId);
    if (!sub) return;
    sub.stop('closed');
    this.forgetSub(subId);
  }

  private forgetSub(subId: string): void {
    const sub = this.subs.get(subId);
    if (!sub) return;
    this.subs.delete(subId);
    this.ctx.supervisor.remove(sub.id);
  }

  private onCount(subId: unknown, rawFilters: unknown[]): void {
    if (!this.checkSubId(subId)) return;
    const cfg = this.ctx.config();
    if (!cfg.count.enabled) return this.send(closedMsg(subId, 'error: COUNT (NIP-45) is disabled on this relay'));
    const lim = cfg.limitation;
    const parsed = parseFilters(rawFilters, { maxFilters: lim.max_filters, maxLimit: lim.max_limit, minPrefix: lim.min_prefix });
    if (!parsed.ok) return this.send(closedMsg(subId, parsed.reason));
    const gate = firstRejection(this.ctx.hooks.req, parsed.filters, this, 'COUNT');
    if (gate !== undefined) return this.refuseOrAnswer(gate, closedMsg(subId, gate));
    const t0 = performance.now();
    const { count, timedOut } = this.ctx.reader.count(parsed.filters, this, cfg.data.db_query_timeout);
    this.ctx.telemetry?.queried('COUNT', this.connId, subId, parsed.filters.length, count, timedOut, t0);
    // NIP-45: a count the deadline cut is answered as what was counted, marked approximate.
    this.send(countMsg(subId, count, timedOut));
  }

  /**
   * An `auth-required:` answer is preceded by the challenge again (NIP-42 lets a relay send AUTH at any
   * time). rust-nostr's SDK (0.43, WASM on Node) drops the challenge sent at connect when it arrives with
   * the handshake, then waits for one on `auth-required:` and reports a timeout instead of the reason.
   */
  private refuseOrAnswer(reason: string | undefined, frame: string): void {
    if (reason?.startsWith('auth-required:')) this.send(authMsg(this.challenge));
    this.send(frame);
  }

  /** NIP-42 (src/pipeline/auth.ts): every AUTH is answered with an OK; a NOTICE only when it has no id. */
  private async onAuth(raw: unknown): Promise<void> {
    const r = await authenticate(this.ctx, raw, {
      challenge: this.challenge,
      localPort: (this.socket as { localPort?: number }).localPort,
      pubkeys: () => this.pubkeys,
      admit: (pubkey) => this.state.trigger.authenticated({ pubkey }),
    });
    // Debug only: at info, the log would be a record of who was online when.
    if (r.pubkey !== undefined) log.debug({ conn: this.connId, pubkey: r.pubkey }, 'authenticated');
    this.send(r.id === undefined ? noticeMsg(r.message) : okMsg(r.id, r.ok, r.message));
  }

  snapshot(): Record<string, unknown> {
    const c = this.state.getSnapshot().context;
    return {
      conn: this.connId,
      remote: this.remote,
      pubkeys: c.pubkeys,
      subscriptions: [...this.subs.keys()],
      queued_bytes: this.ws.bufferedAmount,
      connected_at: c.connectedAt,
      messages_in: this.messagesIn,
      frames_out: this.framesOut,
      status: c.status,
    };
  }

  /** Heartbeat tick: ping, or terminate a connection silent for longer than the timeout. */
  heartbeat(now: number, timeoutMs: number): void {
    if (now - this.lastSeen > timeoutMs) {
      log.debug({ conn: this.connId, remote: this.remote }, 'heartbeat timeout');
      this.ctx.telemetry?.sessionStopped('heartbeat timeout');
      this.ws.terminate();
      return;
    }
    if (this.ws.readyState === WebSocket.OPEN) this.ws.ping();
  }

  stop(reason: string): void {
    if (this.ws.readyState === WebSocket.OPEN) {
      if (reason.startsWith('error:')) this.send(noticeMsg(reason));
      this.ws.close(reason.startsWith('error:') ? 1011 : 1001, reason.slice(0, 120));
    }
    this.cleanup();
  }

  private cleanup(): void {
    if (this.state.getSnapshot().context.status === 'closed') return;
    this.state.trigger.closed();
    for (const sub of this.subs.values()) {
      sub.stop('connection closed');
      this.ctx.supervisor.remove(sub.id);
    }
    this.subs.clear();
    this.ctx.match.removeConnection(this.connId);
    this.ctx.connections.delete(this.connId);
    this.ctx.supervisor.remove(this.id);
  }
}
