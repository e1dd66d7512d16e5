/**
 * A raw NIP-01 WebSocket client for protocol tests (package `ws`).
 *
 * Every frame the relay sends is recorded in `messages`, must be JSON, and is
 * validated with assertValidRelayMessage (schemata JSON schemas); EVENT payloads
 * are also checked with nostr-tools' verifyEvent (id hash and signature). The
 * first violation is kept in `errors`; from then on every awaiting helper
 * rejects with it, and close() throws it, so no invalid message goes unnoticed.
 *
 * Messages are consumed by the awaiting helpers: `nextMatching(pred)` returns (and
 * removes) the oldest not-yet-consumed message satisfying `pred`, waiting for it
 * if needed, so messages that arrive before a test waits for them are not lost.
 */
import WebSocket from 'ws';
import type { Event } from 'nostr-tools/pure';
import { useWebSocketImplementation as useWsForRelay } from 'nostr-tools/relay';
import { useWebSocketImplementation as useWsForPool } from 'nostr-tools/pool';
import { assertValidRelayMessage } from './schemas.js';
import { crashedRelays } from './relay-process.js';
import { verifySignedEvent } from './events.js';

export { signEvent, newKeys, now, flipHex, eventSeries, nip01Order, plain, type Keys, type Event } from './events.js';

/** Node 20 has no global WebSocket: give nostr-tools the `ws` implementation. */
export function useWsForNostrTools(): void {
  useWsForRelay(WebSocket);
  useWsForPool(WebSocket);
}
useWsForNostrTools();

export const DEFAULT_TIMEOUT_MS = 5_000;

export type RelayMessage = unknown[];
export type OkMessage = ['OK', string, boolean, string];
export type Filter = Record<string, unknown>;

export interface ReqResult {
  /** EVENT payloads for the sub id, in arrival order, up to EOSE/CLOSED. */
  events: Event[];
  /** true when EOSE arrived. */
  eose: boolean;
  /** The CLOSED reason if the relay closed the subscription instead. */
  closed?: string;
}

export interface CountResult {
  count?: number;
  approximate?: boolean;
  /** CLOSED reason for the count's id. */
  closed?: string;
  /** NOTICE text (some relays answer an unsupported COUNT with NOTICE). */
  notice?: string;
}

export interface ConnectOptions {
  timeoutMs?: number;
  /** Answer pings automatically (default true, as any normal client). */
  autoPong?: boolean;
  headers?: Record<string, string>;
  /** Check EVENT signatures with verifyEvent (default true). */
  verifyEvents?: boolean;
}

interface Waiter {
  pred: (m: RelayMessage) => boolean;
  resolve: (m: RelayMessage) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

function preview(x: unknown, max = 300): string {
  const s = typeof x === 'string' ? x : JSON.stringify(x);
  return s.length > max ? s.slice(0, max) + '…' : s;
}

export class RawClient {
  readonly url: string;
  readonly ws: WebSocket;
  /** Every message received, in order (including invalid ones). */
  readonly messages: RelayMessage[] = [];
  /** Schema / JSON / signature violations seen so far. */
  readonly errors: Error[] = [];
  /** Number of WebSocket pings received. */
  pings = 0;
  closed = false;
  closeCode?: number;
  closeReason?: string;

  private pending: RelayMessage[] = [];
  private waiters: Waiter[] = [];
  private closeWaiters: Array<() => void> = [];
  private readonly verifyEvents: boolean;

  private constructor(url: string, ws: WebSocket, verifyEvents: boolean) {
    this.url = url;
    this.ws = ws;
    this.verifyEvents = verifyEvents;
    ws.on('message', (data, isBinary) => this.onFrame(data as Buffer, isBinary));
    ws.on('ping', () => {
      this.pings++;
    });
    ws.on('close', (code, reason) => {
      this.closed = true;
      this.closeCode = code;
      this.closeReason = reason.toString();
      const err = new Error(
        `connection to ${this.url} closed (code ${code}${this.closeReason ? `, reason ${this.closeReason}` : ''})` +
          this.context(),
      );
      for (const w of this.waiters.splice(0)) {
        clearTimeout(w.timer);
        w.reject(err);
      }
      for (const cw of this.closeWaiters.splice(0)) cw();
    });
    ws.on('error', () => {
      /* reported through 'close' */
    });
  }

  static async connect(url: string, opts: ConnectOptions = {}): Promise<RawClient> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const ws = new WebSocket(url, {
      autoPong: opts.autoPong ?? true,
      perMessageDeflate: false,
      headers: opts.headers,
      maxPayload: 64 * 1024 * 1024,
    });
    const client = new RawClient(url, ws, opts.verifyEvents ?? true);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`cannot connect to ${url} within ${timeoutMs} ms${crashNote()}`));
      }, timeoutMs);
      ws.once('open', () => {
        clearTimeout(timer);
        resolve();
      });
      ws.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`cannot connect to ${url}: ${err.message}${crashNote()}`));
      });
    });
    return client;
  }

  private onFrame(data: Buffer, isBinary: boolean): void {
    const text = data.toString('utf8');
    let msg: unknown;
    try {
      if (isBinary) throw new Error('binary frame');
      msg = JSON.parse(text);
    } catch (err) {
      this.fail(new Error(`relay sent a frame that is not JSON text (${(err as Error).message}): ${preview(text)}`));
      this.messages.push([text]);
      return;
    }
    const arr = (Array.isArray(msg) ? msg : [msg]) as RelayMessage;
    this.messages.push(arr);
    try {
      assertValidRelayMessage(msg as unknown[]);
      if (this.verifyEvents && arr[0] === 'EVENT' && !verifySignedEvent(arr[2] as Event)) {
        throw new Error(`relay sent an EVENT whose id or signature does not verify: ${preview(arr)}`);
      }
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    const i = this.waiters.findIndex((w) => w.pred(arr));
    if (i >= 0) {
      const [w] = this.waiters.splice(i, 1);
      clearTimeout(w!.timer);
      w!.resolve(arr);
    } else {
      this.pending.push(arr);
    }
  }

  private fail(err: Error): void {
    this.errors.push(err);
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(err);
    }
  }

  private context(): string {
    const recent = this.messages.slice(-8).map((m) => '    ' + preview(m, 200));
    return `\n  last messages received:\n${recent.length ? recent.join('\n') : '    (none)'}${crashNote()}`;
  }

  /** Throws the first schema/JSON/signature violation seen, if any. */
  assertNoErrors(): void {
    if (this.errors.length) throw this.errors[0];
  }

  /** Sends a message (arrays are JSON-encoded, strings sent as they are). */
  send(msg: unknown[] | string): void {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) {
      throw new Error(`cannot send on a closed connection to ${this.url}${this.context()}`);
    }
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }

  /** The oldest unconsumed message satisfying `pred` (removed from the queue); waits up to timeoutMs. */
  nextMatching(pred: (m: RelayMessage) => boolean, timeoutMs = DEFAULT_TIMEOUT_MS, what = 'matching message'): Promise<RelayMessage> {
    if (this.errors.length) return Promise.reject(this.errors[0]);
    const i = this.pending.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.pending.splice(i, 1)[0]!);
    if (this.closed) {
      return Promise.reject(new Error(`waiting for ${what} on a closed connection (code ${this.closeCode})${this.context()}`));
    }
    return new Promise<RelayMessage>((resolve, reject) => {
      const waiter: Waiter = {
        pred,
        resolve,
        reject,
        timer: setTimeout(() => {
          const j = this.waiters.indexOf(waiter);
          if (j >= 0) this.waiters.splice(j, 1);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} from ${this.url}${this.context()}`));
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  /** Resolves if no unconsumed message satisfying `pred` arrives within `ms`; rejects with it otherwise. */
  async expectNone(pred: (m: RelayMessage) => boolean, ms: number, what = 'unexpected message'): Promise<void> {
    let got: RelayMessage | undefined;
    try {
      got = await this.nextMatching(pred, ms, what);
    } catch (err) {
      if ((err as Error).message.startsWith('timed out')) return;
      throw err;
    }
    throw new Error(`received ${what}: ${preview(got)}`);
  }

  /** Unconsumed messages (for diagnostics). */
  unconsumed(): RelayMessage[] {
    return [...this.pending];
  }

  /** Drops unconsumed messages matching pred (all when omitted). */
  drain(pred: (m: RelayMessage) => boolean = () => true): RelayMessage[] {
    const out = this.pending.filter(pred);
    this.pending = this.pending.filter((m) => !pred(m));
    return out;
  }

  /** Sends ["EVENT", event] and waits for the OK carrying its id. */
  async publish(event: Event | Record<string, unknown>, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<OkMessage> {
    const id = (event as { id?: unknown }).id;
    this.send(['EVENT', event]);
    const m = await this.nextMatching((x) => x[0] === 'OK' && x[1] === id, timeoutMs, `OK for ${String(id)}`);
    return m as OkMessage;
  }

  /** Sends ["REQ", subId, ...filters]; collects EVENTs for subId until EOSE or CLOSED. */
  async req(subId: string, ...filters: Filter[]): Promise<ReqResult> {
    return this.reqWithTimeout(DEFAULT_TIMEOUT_MS, subId, ...filters);
  }

  async reqWithTimeout(timeoutMs: number, subId: string, ...filters: Filter[]): Promise<ReqResult> {
    this.send(['REQ', subId, ...filters]);
    return this.collect(subId, timeoutMs);
  }

  /** Collects EVENTs for subId until EOSE or CLOSED (for a REQ already sent). */
  async collect(subId: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ReqResult> {
    const events: Event[] = [];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const left = Math.max(1, deadline - Date.now());
      const m = await this.nextMatching(
        (x) => (x[0] === 'EVENT' || x[0] === 'EOSE' || x[0] === 'CLOSED') && x[1] === subId,
        left,
        `EOSE/CLOSED for ${JSON.stringify(subId)} (${events.length} events so far)`,
      );
      if (m[0] === 'EVENT') events.push(m[2] as Event);
      else if (m[0] === 'EOSE') return { events, eose: true };
      else return { events, eose: false, closed: m[2] as string };
    }
  }

  /** Next live EVENT for subId. */
  async nextEvent(subId: string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Event> {
    const m = await this.nextMatching((x) => x[0] === 'EVENT' && x[1] === subId, timeoutMs, `EVENT for ${JSON.stringify(subId)}`);
    return m[2] as Event;
  }

  /** Sends ["CLOSE", subId]. */
  closeSub(subId: string): void {
    this.send(['CLOSE', subId]);
  }

  /** Sends ["COUNT", id, ...filters]; resolves with COUNT, CLOSED (same id) or NOTICE. */
  async count(id: string, ...filters: Filter[]): Promise<CountResult> {
    this.send(['COUNT', id, ...filters]);
    const m = await this.nextMatching(
      (x) => ((x[0] === 'COUNT' || x[0] === 'CLOSED') && x[1] === id) || x[0] === 'NOTICE',
      DEFAULT_TIMEOUT_MS,
      `COUNT/CLOSED/NOTICE for ${JSON.stringify(id)}`,
    );
    if (m[0] === 'COUNT') {
      const r = m[2] as { count: number; approximate?: boolean };
      return { count: r.count, approximate: r.approximate };
    }
    if (m[0] === 'CLOSED') return { closed: m[2] as string };
    return { notice: m[1] as string };
  }

  /** Waits until the server closes the connection. */
  waitForClose(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<{ code?: number; reason?: string }> {
    if (this.closed) return Promise.resolve({ code: this.closeCode, reason: this.closeReason });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`connection to ${this.url} still open after ${timeoutMs} ms`)), timeoutMs);
      this.closeWaiters.push(() => {
        clearTimeout(timer);
        resolve({ code: this.closeCode, reason: this.closeReason });
      });
    });
  }

  /** Closes the connection (waits up to 2 s, then terminates) and throws if any relay message was invalid. */
  async close(): Promise<void> {
    if (!this.closed) {
      const done = new Promise<void>((r) => this.closeWaiters.push(r));
      this.ws.close(1000);
      const t = setTimeout(() => this.ws.terminate(), 2_000);
      await done;
      clearTimeout(t);
    }
    this.assertNoErrors();
  }
}

function crashNote(): string {
  const c = crashedRelays();
  return c.length ? `\n  NOTE: a relay process crashed:\n${c.join('\n')}` : '';
}

/** Convenience: connect a raw client. */
export function connect(url: string, opts?: ConnectOptions): Promise<RawClient> {
  return RawClient.connect(url, opts);
}

/** Publishes events on one connection, pipelined; resolves with the OK messages in input order. */
export async function publishAll(client: RawClient, events: Event[], timeoutMs = 15_000): Promise<OkMessage[]> {
  const waits = events.map((e) =>
    client.nextMatching((x) => x[0] === 'OK' && x[1] === e.id, timeoutMs, `OK for ${e.id}`) as Promise<OkMessage>,
  );
  for (const e of events) client.send(['EVENT', e]);
  return Promise.all(waits);
}

/** Sorts a copy by the NIP-01 order and compares ids. */
export function ids(events: Array<{ id: string }>): string[] {
  return events.map((e) => e.id);
}
