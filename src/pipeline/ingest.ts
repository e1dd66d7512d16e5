import type { Config } from '../config/types.js';
import { isEphemeral } from '../protocol/kinds.js';
import { validateEvent } from '../protocol/event-validate.js';
import type { EventStore } from '../storage/event-store.js';
import type { VerifyPool } from '../verify/pool.js';
import { VERIFY_FAILURE } from '../verify/check-event.js';
import type { Commit } from './commit.js';
import { firstRejection, type Hooks } from './hooks.js';
import type { Client, IngestResult } from './types.js';
import type { RelayTelemetry } from '../metrics/telemetry.js';


const SHUTTING_DOWN = 'error: relay is shutting down';
const EVENT_ID = /^[0-9a-f]{64}$/;

/** The answer to an EVENT that arrives once shutdown has begun: never stored, so never OK true. */
function shuttingDown(raw: unknown): IngestResult {
  const id = (raw as { id?: unknown } | null)?.id;
  return typeof id === 'string' && EVENT_ID.test(id) ? { id, ok: false, message: SHUTTING_DOWN } : { notice: SHUTTING_DOWN };
}

export interface IngestDeps {
  config: () => Config;
  store: EventStore;
  commit: Commit;
  verify: VerifyPool;
  hooks: Hooks;
}

/**
 * The EVENT pipeline of ARCHITECTURE.md, steps 2-6, in cost order: shape and time window,
 * duplicate and tombstone lookups (a duplicate costs no signature check), the verify pool,
 * the policy chain, then the commit point (OK only once the change is durable and applied,
 * which also delivers it).
 */
export class Ingest {
  /** Set by installMetrics (after construction, hence not a dep); absent in bare unit tests. */
  telemetry: RelayTelemetry | undefined;

  /** EVENTs between submit and their result, so a shutdown can let each one finish. */
  private readonly inFlight = new Set<Promise<IngestResult>>();
  private draining = false;

  constructor(private readonly deps: IngestDeps) {}

  submit(raw: unknown, client: Client): Promise<IngestResult> {
    if (this.draining) return Promise.resolve(shuttingDown(raw));
    const p = this.process(raw, client);
    this.inFlight.add(p);
    const done = () => void this.inFlight.delete(p);
    p.then(done, done);
    return p;
  }

  /**
   * Shutdown: refuse EVENTs from now on and wait until every one already being processed
   * has its result (verified, committed, answered by the caller's continuation, which runs
   * before this resolves). Returns how many were still unfinished after `timeoutMs`; those
   * get no OK, so none is acknowledged without being durable.
   */
  async drain(timeoutMs: number): Promise<number> {
    this.draining = true;
    if (this.inFlight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...this.inFlight]),
        new Promise((r) => {
          timer = setTimeout(r, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
    }
    // One turn of the loop so the OK frames queued by those continuations reach the sockets.
    await new Promise((r) => setImmediate(r));
    return this.inFlight.size;
  }

  private async process(raw: unknown, client: Client): Promise<IngestResult> {
    const { store, commit, verify, hooks } = this.deps;
    const lim = this.deps.config().limitation;
    const checked = validateEvent(
      raw,
      {
        maxEventTags: lim.max_event_tags,
        maxOlderSec: lim.max_event_time_older_than_now / 1000,
        maxNewerSec: lim.max_event_time_newer_than_now / 1000,
      },
      Math.floor(Date.now() / 1000),
    );
    if (!checked.ok) return checked.id ? { id: checked.id, ok: false, message: checked.reason } : { notice: checked.reason };
    const event = checked.event;
    const ephemeral = isEphemeral(event.kind);

    if (!ephemeral) {
      if (store.has(event.id)) return { id: event.id, ok: true, message: 'duplicate: already have this event' };
      if (store.isTombstoned(event)) return { id: event.id, ok: false, message: 'blocked: this event has been deleted' };
      // Storage refusing writes (full disk): say so before paying for a signature check.
      const refusing = commit.refusing;
      if (refusing !== undefined) return { id: event.id, ok: false, message: refusing };
    }

    const throttled = firstRejection(hooks.preVerify, event, client);
    if (throttled !== undefined) return { id: event.id, ok: false, message: throttled };

    this.telemetry?.verifying();
    const verdict = await verify.verify(event);
    if (verdict !== 0) return { id: event.id, ok: false, message: VERIFY_FAILURE[verdict] ?? 'invalid: verification failed' };

    const rejection = firstRejection(hooks.event, event, client);
    if (rejection !== undefined) return { id: event.id, ok: false, message: rejection };
    for (const step of hooks.eventAsync) {
      const r = step(event, client);
      const late = r === undefined || typeof r === 'string' ? r : await r;
      if (late !== undefined) return { id: event.id, ok: false, message: late };
    }

    const outcome = await commit.event(event, client);
    return { id: event.id, ok: outcome.ok, message: outcome.message };
  }
}
