import { readFile } from 'node:fs/promises';
import {
  connect,
  createInbox,
  credsAuthenticator,
  headers,
  nanos,
  nkeyAuthenticator,
  type ConnectionOptions,
  type Msg,
  type NatsConnection,
} from '@nats-io/transport-node';
import {
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  StorageType,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import type { ClusterConfig } from '../config/types.js';
import { log } from '../log.js';

/** How long JetStream remembers an append id: a retried append within it is stored once. */
const DUPLICATE_WINDOW_MS = 120_000;
/** A pull request's life, the heartbeat the server sends on it, and the silence that ends a read (see read). */
const PULL_EXPIRES_MS = 5_000;
const HEARTBEAT_MS = 1_000;
const STALL_MS = 4_000;
/** How often appends still waiting for their ack are checked against their deadline. */
const ACK_SWEEP_MS = 50;
/** Largest log message: a maximal EVENT (max_message_length, 512 KiB by default) plus its envelope. */
const MAX_MSG_BYTES = 8 * 1024 * 1024;

/** An append published and not yet acknowledged by the stream. */
interface PendingAck {
  deadline: number;
  resolve: (seq: number) => void;
  reject: (err: Error) => void;
}

/** What JetStream answers to a publish: its ack, or an API error. */
interface PubAckBody {
  stream?: string;
  seq?: number;
  error?: { code?: number; err_code?: number; description?: string };
}

/**
 * The replicated log on NATS JetStream: one stream (file storage, `replicas` copies, a
 * 2-minute duplicate window), one subject `<stream>.log`. It appends and reads in order;
 * what the bytes mean is entry.ts's, what applying them means is applier.ts's.
 */
export class NatsLog {
  /** False while the client is disconnected from every server (writes are refused at once). */
  connected = true;
  /** Told of every change of `connected`. */
  onConnection: ((up: boolean) => void) | undefined;
  private readonly subject: string;
  /** Reply subjects of appends are `<inbox><token>`; one subscription on `<inbox>*` takes every ack. */
  private readonly inbox: string;
  private readonly acks = new Map<string, PendingAck>();
  private tokens = 0;
  private sweeper: NodeJS.Timeout | undefined;

  private constructor(
    readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
    readonly stream: string,
  ) {
    this.subject = `${stream}.log`;
    this.inbox = `${createInbox()}.`;
    nc.subscribe(`${this.inbox}*`, { callback: (err, m) => this.onAck(err, m) });
    void this.watchStatus();
  }

  static async open(cfg: ClusterConfig, instanceId: string): Promise<NatsLog> {
    const nc = await connect(await connectionOptions(cfg, instanceId));
    try {
      const jsm = await jetstreamManager(nc, { timeout: cfg.append_timeout });
      await ensureStream(jsm, cfg);
      return new NatsLog(nc, jetstream(nc, { timeout: cfg.append_timeout }), jsm, cfg.stream);
    } catch (err) {
      await nc.close().catch(() => undefined);
      throw err;
    }
  }

  /**
   * Append one message; resolves with its sequence once the stream's replicas have it.
   * `id` makes a retry of the same append (after a timeout) a no-op on the stream.
   */
  append(id: string, data: Uint8Array, timeoutMs: number): Promise<number> {
    // What js.publish does (the same headers, the same ack), without its per-call request
    // machinery: nats.js gives every request its own timer, promise pair and a "cancelled"
    // Error built on success; here one subscription takes every ack and one sweep times them
    // out (bench/cluster-parts.ts: about 28 -> 10 µs of client CPU per append).
    return new Promise<number>((resolve, reject) => {
      const token = (this.tokens++).toString(36);
      const h = headers();
      h.set('Nats-Msg-Id', id);
      h.set('Nats-Expected-Stream', this.stream);
      try {
        this.nc.publish(this.subject, data, { reply: this.inbox + token, headers: h });
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      this.acks.set(token, { deadline: Date.now() + timeoutMs, resolve, reject });
      if (this.sweeper === undefined) {
        this.sweeper = setInterval(this.sweep, ACK_SWEEP_MS);
        this.sweeper.unref();
      }
    });
  }

  private onAck(err: Error | null, m: Msg): void {
    if (err !== null) {
      // The ack subscription itself failed (e.g. a permissions violation): nothing published
      // now can be confirmed, so every waiting append fails (and is retried by the caller).
      log.warn({ err: err.message }, 'cluster: the append acknowledgement subscription failed');
      this.rejectAll(err);
      return;
    }
    const token = m.subject.slice(this.inbox.length);
    const p = this.acks.get(token);
    if (p === undefined) return; // timed out already
    this.acks.delete(token);
    // A status message instead of an ack: 503 no responders (no stream leader takes the subject now).
    if (m.headers?.hasError === true) return p.reject(new Error(`append not acknowledged: ${m.headers.code} ${m.headers.description}`));
    let ack: PubAckBody;
    try {
      ack = m.json<PubAckBody>();
    } catch {
      return p.reject(new Error('append acknowledgement is not JSON'));
    }
    if (ack.error !== undefined) return p.reject(new Error(`append refused: ${ack.error.description ?? ack.error.code ?? 'unknown error'}`));
    if (ack.stream !== this.stream || typeof ack.seq !== 'number' || !Number.isSafeInteger(ack.seq) || ack.seq < 1) return p.reject(new Error('invalid append acknowledgement'));
    p.resolve(ack.seq);
  }

  private readonly sweep = (): void => {
    const now = Date.now();
    for (const [token, p] of this.acks) {
      if (p.deadline > now) continue;
      this.acks.delete(token);
      p.reject(new Error('timeout'));
    }
    if (this.acks.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  };

  private rejectAll(err: Error): void {
    const pending = [...this.acks.values()];
    this.acks.clear();
    for (const p of pending) p.reject(err);
  }

  /** First and last sequence the stream holds (first > last when it is empty). */
  async bounds(): Promise<{ first: number; last: number; messages: number }> {
    const si = await this.jsm.streams.info(this.stream);
    return { first: si.state.first_seq, last: si.state.last_seq, messages: si.state.messages };
  }

  /**
   * Messages from `seq` on, in order, live after the end. The ordered consumer behind it lives on one
   * NATS server (R1, in memory): when that server dies, the library keeps asking the dead consumer
   * for its info (and after a reconnect elsewhere it stops watching heartbeats too), so the log
   * would stop arriving here for good while appends go on. So the server's heartbeats are short and
   * a read that hears neither a message nor a heartbeat for STALL_MS while connected is ended: the
   * applier reads again from its own position, on a new consumer that a live server holds.
   */
  async read(seq: number): Promise<ConsumerMessages> {
    const c = await this.js.consumers.get(this.stream, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: seq });
    const messages = await c.consume({ max_messages: 1024, expires: PULL_EXPIRES_MS, idle_heartbeat: HEARTBEAT_MS });
    let heard = Date.now();
    let received = 0;
    void (async () => {
      for await (const s of messages.status()) if (s.type === 'heartbeat') heard = Date.now();
    })();
    const watchdog = setInterval(() => {
      const n = messages.getReceived();
      if (n !== received || !this.connected) {
        received = n;
        heard = Date.now();
      } else if (Date.now() - heard > STALL_MS) {
        log.warn({ from: seq, silent_ms: Date.now() - heard }, 'cluster: the log consumer went silent; reading the log again from this instance\'s position');
        clearInterval(watchdog);
        messages.stop();
      }
    }, HEARTBEAT_MS);
    watchdog.unref();
    void messages.closed().finally(() => clearInterval(watchdog));
    return messages;
  }

  /** Drop messages before `seq` (a snapshot covers them). */
  async purgeBefore(seq: number): Promise<number> {
    const r = await this.jsm.streams.purge(this.stream, { seq });
    return r.purged;
  }

  async close(): Promise<void> {
    await this.nc.close().catch(() => undefined);
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    this.rejectAll(new Error('the NATS connection is closed'));
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      const up = s.type === 'disconnect' ? false : s.type === 'reconnect' ? true : undefined;
      if (up === undefined || up === this.connected) continue;
      this.connected = up;
      if (up) log.info({ server: s.type === 'reconnect' ? s.server : undefined }, 'cluster: reconnected to NATS');
      else log.warn('cluster: lost the connection to NATS; writes are refused until it is back, reads go on');
      this.onConnection?.(up);
    }
  }
}

/**
 * Runs an idempotent JetStream call again when it timed out, for start-up steps that race other
 * instances starting at the same moment: on nats-server 2.9.10 an object store bucket created by
 * several clients at once can leave a create, and the first read of the new bucket, unanswered
 * until the request times out; the next try answers at once (measured on a 3-node loopback cluster).
 */
export async function retryOnTimeout<T>(fn: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts || !/timeout/i.test(`${(err as Error).name} ${(err as Error).message}`)) throw err;
    }
  }
}

async function connectionOptions(cfg: ClusterConfig, instanceId: string): Promise<ConnectionOptions> {
  const o: ConnectionOptions = {
    servers: cfg.nats_url,
    name: `mls-relay ${instanceId}`,
    // Keep trying for as long as the process lives: an instance without NATS serves reads and refuses writes.
    maxReconnectAttempts: -1,
    reconnectTimeWait: 1000,
    waitOnFirstConnect: false,
    timeout: Math.max(cfg.append_timeout, 2000),
    // Without this every request (one per append) builds two Error objects up front, with stack
    // traces, in case it fails: a large part of the client's CPU per event (bench/cluster-cpu.ts).
    // Failures here are reported by message, never by stack.
    noAsyncTraces: true,
  };
  if (cfg.token !== undefined) o.token = cfg.token;
  if (cfg.user !== undefined) {
    o.user = cfg.user;
    o.pass = cfg.password ?? '';
  }
  if (cfg.nkey_seed !== undefined) o.authenticator = nkeyAuthenticator(new TextEncoder().encode(cfg.nkey_seed.trim()));
  if (cfg.creds_file !== undefined) o.authenticator = credsAuthenticator(await readFile(cfg.creds_file));
  if (cfg.tls_ca !== undefined) o.tls = { caFile: cfg.tls_ca };
  return o;
}

/** Create the stream, or check the one that exists is usable as the log (never silently reconfigured). */
async function ensureStream(jsm: JetStreamManager, cfg: ClusterConfig): Promise<void> {
  const subject = `${cfg.stream}.log`;
  const info = () =>
    jsm.streams.info(cfg.stream).catch((err: unknown) => {
      if ((err as { code?: unknown; api_error?: { err_code?: number } }).api_error?.err_code === 10059) return undefined;
      if (/stream not found/i.test(String((err as Error).message))) return undefined;
      throw err;
    });
  let existing = await info();
  if (existing === undefined) {
    try {
      await jsm.streams.add({
        name: cfg.stream,
        subjects: [subject],
        storage: StorageType.File,
        num_replicas: cfg.replicas,
        duplicate_window: nanos(DUPLICATE_WINDOW_MS),
        max_msg_size: MAX_MSG_BYTES,
        // Nothing ages out: only a snapshot decides what the log may drop (snapshots.ts).
        max_age: 0,
      });
      log.info({ stream: cfg.stream, replicas: cfg.replicas }, 'cluster: created the log stream');
      return;
    } catch (err) {
      // Instances started together all create the stream at once. nats-server 2.9 answers one of
      // several identical concurrent creates and can leave the others without an answer until they
      // time out (nats-server#3677), or says the name is in use: the stream another instance
      // created is then there, and is checked below like any existing one.
      existing = await info();
      if (existing === undefined) throw err;
      log.info({ stream: cfg.stream }, 'cluster: another instance created the log stream at the same time');
    }
  }
  if (!existing.config.subjects?.includes(subject)) throw new Error(`stream ${cfg.stream} exists without subject ${subject}; it is not this relay's log`);
  if (existing.config.num_replicas !== cfg.replicas) {
    log.warn({ stream: cfg.stream, replicas: existing.config.num_replicas, configured: cfg.replicas }, 'cluster: the log stream has another replica count than configured; it is left as it is');
  }
}
