/**
 * The supervisor's failure policies and shutdown order. The children here are minimal
 * actors written for the test (the supervisor is what is under test); they record what
 * the supervisor does to them.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Supervisor, type Supervised } from '../../actors/supervisor.js';

class Probe implements Supervised {
  stopped: string | undefined;
  constructor(
    readonly id: string,
    readonly kind: string,
    private readonly order?: string[],
  ) {}
  snapshot(): Record<string, unknown> {
    return { stopped: this.stopped ?? null };
  }
  stop(reason: string): void {
    this.stopped = reason;
    this.order?.push(this.kind);
  }
}

describe('Supervisor', () => {
  test('a throw inside one actor stops that actor only, with an error reason', () => {
    const sup = new Supervisor();
    const a = new Probe('conn:1', 'connection');
    const b = new Probe('conn:2', 'connection');
    sup.add({ actor: a, onFailure: 'stop' });
    sup.add({ actor: b, onFailure: 'stop' });
    sup.guard(a.id, () => {
      throw new Error('boom');
    });
    assert.equal(a.stopped, 'error: internal error');
    assert.equal(b.stopped, undefined);
    assert.equal(sup.get(a.id), undefined);
    assert.equal(sup.get(b.id), b);
    assert.equal(sup.snapshot().failures, 1);
  });

  test('an async rejection is routed the same way', async () => {
    const sup = new Supervisor();
    const a = new Probe('conn:1', 'connection');
    sup.add({ actor: a, onFailure: 'stop' });
    sup.guard(a.id, async () => {
      await Promise.resolve();
      throw new Error('later');
    });
    await new Promise((r) => setImmediate(r));
    assert.equal(a.stopped, 'error: internal error');
  });

  test("'restart' rebuilds the actor from its factory; siblings keep running", () => {
    const sup = new Supervisor();
    const g1 = new Probe('group:a', 'group');
    const g2 = new Probe('group:b', 'group');
    let rebuilt: Probe | undefined;
    sup.add({ actor: g1, onFailure: 'restart', restart: () => (rebuilt = new Probe('group:a', 'group')) });
    sup.add({ actor: g2, onFailure: 'restart', restart: () => new Probe('group:b', 'group') });
    sup.fail(g1.id, new Error('bad state'));
    assert.ok(rebuilt);
    assert.equal(sup.get('group:a'), rebuilt);
    assert.equal(g2.stopped, undefined);
    assert.equal(sup.snapshot().restarts, 1);
  });

  test('shutdown stops subscriptions, then connections, then state actors, and nothing restarts', async () => {
    const order: string[] = [];
    const sup = new Supervisor();
    sup.add({ actor: new Probe('group:a', 'group', order), onFailure: 'restart', restart: () => new Probe('group:a', 'group') });
    sup.add({ actor: new Probe('conn:1', 'connection', order), onFailure: 'stop' });
    sup.add({ actor: new Probe('sub:1:x', 'subscription', order), onFailure: 'stop' });
    await sup.shutdown('relay shutting down');
    assert.deepEqual(order, ['subscription', 'connection', 'group']);
    assert.equal(sup.status, 'stopped');
    assert.equal(sup.list().length, 0);
  });
});
