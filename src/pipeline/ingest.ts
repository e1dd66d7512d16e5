import type { Config } from '../config/types.js';
import { isEphemeral } from '../protocol/kinds.js';
import { validateEvent } from '../protocol/event-validate.js';
import type { NostrEvent } from '../protocol/types.js';
import type { EventStore } from '../storage/event-store.js';
import type { Writer } from '../storage/writer.js';
import type { VerifyPool } from '../verify/pool.js';
import type { Fanout } from './fanout.js';
import { firstRejection, type Hooks } from './hooks.js';
import type { Client, IngestResult } from './types.js';

const VERIFY_FAILURE: Record<number, string> = {
  1: 'invalid: event id does not match the serialized event',
  2: 'invalid: bad signature',
};

export interface IngestDeps {
  config: () => Config;
  store: EventStore;
  writer: Writer;
  verify: VerifyPool;
  fanout: Fanout;
  hooks: Hooks;
}

/**
 * The EVENT pipeline of ARCHITECTURE.md, steps 2-6, in cost order: shape and time window,
 * duplicate and tombstone lookups (a duplicate costs no signature check), the verify pool,
 * the policy chain, the writer (OK only once the commit is durable), then fan-out.
 */
export class Ingest {
  constructor(private readonly deps: IngestDeps) {}

  async submit(raw: unknown, client: Client): Promise<IngestResult> {
    const { store, writer, verify, hooks } = this.deps;
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
    }

    const verdict = await verify.verify(event);
    if (verdict !== 0) return { id: event.id, ok: false, message: VERIFY_FAILURE[verdict] ?? 'invalid: verification failed' };

    const rejection = firstRejection(hooks.event, event, client);
    if (rejection !== undefined) return { id: event.id, ok: false, message: rejection };

    if (ephemeral) {
      this.accepted(event, client);
      return { id: event.id, ok: true, message: '' };
    }

    const outcome = await writer.submit(event, this.effectFor(event, client));
    if (outcome.stored) this.accepted(event, client);
    return { id: event.id, ok: outcome.ok, message: outcome.message };
  }

  /** The write-time effects of all steps that want one, folded into a single callback. */
  private effectFor(event: NostrEvent, client: Client): (() => void) | undefined {
    let work: Array<() => void> | undefined;
    for (const effect of this.deps.hooks.effects) {
      const w = effect(event, client);
      if (w) (work ??= []).push(w);
    }
    if (!work) return undefined;
    if (work.length === 1) return work[0];
    const all = work;
    return () => {
      for (const w of all) w();
    };
  }

  private accepted(event: NostrEvent, client: Client): void {
    for (const after of this.deps.hooks.afterAccept) after(event, client);
    this.deps.fanout.publish(event);
  }
}
