import { log } from '../log.js';
import { isEphemeral } from '../protocol/kinds.js';
import type { NostrEvent } from '../protocol/types.js';
import type { LogPlace, WriteEffect, WriteOutcome, Writer } from '../storage/writer.js';
import type { RelayTelemetry } from '../metrics/telemetry.js';
import type { Fanout } from './fanout.js';
import type { Hooks } from './hooks.js';
import type { Client } from './types.js';

/**
 * A state change that is not an event (a KeyPackage claim, a mailbox deposit or ack, a
 * sweep), by name, so a replicated log can carry it as data. `run` executes inside the
 * writer's transaction and must decide only from its arguments, `now` (the time the change
 * was made, carried with it) and the store: every instance that applies it reaches the
 * same state. `after` runs on every instance once the change is durable (actor refresh).
 */
export interface OpDef<A, R> {
  run(args: A, now: number): R;
  after?(args: A, result: R): void;
}

/** A typed handle on a defined operation. */
export interface Op<A, R> {
  readonly name: string;
  /** Type carrier only. */
  readonly _types?: [A, R];
}

const ACCEPTED: WriteOutcome = { ok: true, stored: false, message: '', removed: [] };

/**
 * The one way an accepted change enters the store, shared by the single-process commit
 * and the cluster log's applier: the writer (in order, with the gateway's effects in the
 * same transaction), then the after-accept steps and live fan-out. Everything it decides
 * comes from the change itself, so applying the same changes in the same order gives the
 * same state on any instance.
 */
export class Apply {
  /** Set by installMetrics: each writer batch holding an event is observed once. */
  telemetry: RelayTelemetry | undefined;
  private readonly ops = new Map<string, OpDef<never, unknown>>();

  constructor(private readonly deps: { writer: Writer; hooks: Hooks; fanout: Fanout }) {}

  /** Register an operation at start-up (before anything is applied). */
  define<A, R>(name: string, def: OpDef<A, R>): Op<A, R> {
    if (this.ops.has(name)) throw new Error(`operation ${name} is defined twice`);
    this.ops.set(name, def as OpDef<never, unknown>);
    return { name };
  }

  /** Store the event (an ephemeral one is only delivered) and deliver it once durable. */
  async event(event: NostrEvent, client: Client, now: number, place?: LogPlace): Promise<WriteOutcome> {
    if (isEphemeral(event.kind)) {
      this.accepted(event, client);
      return ACCEPTED;
    }
    const outcome = await this.deps.writer.submit(event, this.effectFor(event, client, now), place);
    this.telemetry?.sampleWriter(this.deps.writer.stats);
    if (outcome.stored) this.accepted(event, client, outcome.json);
    return outcome;
  }

  /** Run a defined operation in the writer's order; rejects with what `run` threw. */
  async op<A, R>(name: string, args: A, now: number, place?: LogPlace): Promise<R> {
    const def = this.ops.get(name) as OpDef<A, R> | undefined;
    if (def === undefined) throw new Error(`unknown operation ${name}`);
    const result = await this.deps.writer.run(() => def.run(args, now), place);
    if (def.after !== undefined) {
      try {
        def.after(args, result);
      } catch (err) {
        log.error({ op: name, err: err instanceof Error ? err.message : String(err) }, 'after-commit step of an operation threw');
      }
    }
    return result;
  }

  /** The write-time effects of all steps that want one, folded into a single callback. */
  private effectFor(event: NostrEvent, client: Client, now: number): WriteEffect | undefined {
    let work: WriteEffect[] | undefined;
    for (const effect of this.deps.hooks.effects) {
      const w = effect(event, client, now);
      if (w) (work ??= []).push(w);
    }
    if (!work) return undefined;
    if (work.length === 1) return work[0];
    const all = work;
    return (position) => {
      for (const w of all) w(position);
    };
  }

  /** `json`: the bytes the writer stored, so live frames are the stored ones. */
  private accepted(event: NostrEvent, client: Client, json?: Buffer): void {
    for (const after of this.deps.hooks.afterAccept) after(event, client);
    this.deps.fanout.publish(event, json);
  }
}
