import { createStore } from '@xstate/store';
import { log } from '../src/log.js';

/** What the supervisor needs to know of any actor it keeps. */
export interface Supervised {
  readonly id: string;
  readonly kind: string;
  /** A JSON-safe view of the actor's state for /debug/actors; never content or secrets. */
  snapshot(): Record<string, unknown>;
  /** Stop the actor; `reason` is for logs and, for connections, the close frame. */
  stop(reason: string): void | Promise<void>;
}

export interface ChildSpec {
  actor: Supervised;
  /**
   * 'stop': a failure ends this actor only (connections, subscriptions).
   * 'restart': a failure stops it and `restart()` builds a fresh one from durable state
   * (group, roster and mailbox actors rebuild from LMDB).
   */
  onFailure: 'stop' | 'restart';
  restart?: () => Supervised;
}

/** Shutdown order: stop taking work from clients first, then the state actors, last the rest. */
const SHUTDOWN_ORDER = ['subscription', 'connection', 'group', 'roster', 'mailbox'];

/**
 * The process's root actor. It owns the registry of live actors, applies each child's
 * failure policy, and stops everything in order on shutdown. Its own state (lifecycle
 * and counters) is an @xstate/store; the child references live beside it because they
 * are handles, not state.
 */
export class Supervisor {
  readonly id = 'supervisor';
  readonly kind = 'supervisor';
  private readonly children = new Map<string, ChildSpec>();
  readonly state = createStore({
    context: { status: 'running' as 'running' | 'draining' | 'stopped', started: 0, failures: 0, restarts: 0 },
    on: {
      started: (ctx) => ({ ...ctx, started: ctx.started + 1 }),
      failed: (ctx) => ({ ...ctx, failures: ctx.failures + 1 }),
      restarted: (ctx) => ({ ...ctx, restarts: ctx.restarts + 1 }),
      draining: (ctx) => ({ ...ctx, status: 'draining' as const }),
      stopped: (ctx) => ({ ...ctx, status: 'stopped' as const }),
    },
  });

  get status(): 'running' | 'draining' | 'stopped' {
    return this.state.getSnapshot().context.status;
  }

  add(spec: ChildSpec): void {
    this.children.set(spec.actor.id, spec);
    this.state.trigger.started();
  }

  remove(id: string): void {
    this.children.delete(id);
  }

  get(id: string): Supervised | undefined {
    return this.children.get(id)?.actor;
  }

  list(kind?: string): Supervised[] {
    const out: Supervised[] = [];
    for (const spec of this.children.values()) if (!kind || spec.actor.kind === kind) out.push(spec.actor);
    return out;
  }

  count(kind: string): number {
    let n = 0;
    for (const spec of this.children.values()) if (spec.actor.kind === kind) n++;
    return n;
  }

  /**
   * Report a failure inside an actor's handling. The failing actor alone pays: it is
   * stopped (and rebuilt when its policy says so); the process and its siblings go on.
   */
  fail(id: string, err: unknown): void {
    const spec = this.children.get(id);
    this.state.trigger.failed();
    const message = err instanceof Error ? err.message : String(err);
    log.error({ actor: id, kind: spec?.actor.kind, err: message, stack: err instanceof Error ? err.stack : undefined }, 'actor failed');
    if (!spec) return;
    this.children.delete(id);
    try {
      void Promise.resolve(spec.actor.stop('error: internal error')).catch(() => undefined);
    } catch {
      /* a failing stop must not stop the supervisor */
    }
    if (spec.onFailure === 'restart' && spec.restart && this.status === 'running') {
      const fresh = spec.restart();
      this.children.set(fresh.id, { ...spec, actor: fresh });
      this.state.trigger.restarted();
      log.warn({ actor: fresh.id, kind: fresh.kind }, 'actor restarted');
    }
  }

  /** Run `fn` as part of actor `id`'s handling, routing any throw or rejection to fail(). */
  guard(id: string, fn: () => unknown): void {
    try {
      const r = fn();
      if (r instanceof Promise) r.catch((err) => this.fail(id, err));
    } catch (err) {
      this.fail(id, err);
    }
  }

  snapshot(): Record<string, unknown> {
    const byKind: Record<string, number> = {};
    for (const spec of this.children.values()) byKind[spec.actor.kind] = (byKind[spec.actor.kind] ?? 0) + 1;
    return { ...this.state.getSnapshot().context, children: byKind };
  }

  async shutdown(reason: string): Promise<void> {
    this.state.trigger.draining();
    const kinds = [...SHUTDOWN_ORDER, ...new Set([...this.children.values()].map((s) => s.actor.kind))];
    for (const kind of new Set(kinds)) {
      const batch = this.list(kind);
      await Promise.allSettled(batch.map((a) => a.stop(reason)));
      for (const a of batch) this.children.delete(a.id);
    }
    this.state.trigger.stopped();
  }
}
