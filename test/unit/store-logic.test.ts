import { test } from 'node:test';
import assert from 'node:assert/strict';
import { storeKind } from '../../actors/store-logic.js';

const counter = storeKind<{ n: number; label: string }, { type: 'add'; by: number } | { type: 'same' }>({
  add: (c, e) => ({ ...c, n: c.n + e.by }),
  same: (c) => c,
});

test('storeKind: stores of one kind keep their own state, transition, notify subscribers and inspectors', () => {
  const a = counter({ n: 0, label: 'a' });
  const b = counter({ n: 10, label: 'b' });
  const seen: number[] = [];
  a.subscribe((s) => seen.push(s.context.n));
  const inspected: string[] = [];
  a.inspect((ev) => {
    if (ev.type === '@xstate.transition') inspected.push((ev as { event: { type: string } }).event.type);
  });
  a.trigger.add({ by: 2 });
  a.send({ type: 'add', by: 3 });
  assert.equal(a.getSnapshot().context.n, 5);
  assert.equal(a.getSnapshot().status, 'active');
  assert.equal(b.getSnapshot().context.n, 10, 'another store of the kind is untouched');
  assert.deepEqual(seen, [2, 5]);
  assert.deepEqual(inspected, ['@xstate.init', 'add', 'add']);
  const before = a.getSnapshot();
  a.trigger.same();
  assert.equal(a.getSnapshot(), before, 'a handler returning the same context keeps the snapshot');
  assert.deepEqual(seen, [2, 5], 'and notifies nobody');
  assert.equal(a.getInitialSnapshot().context.n, 0);
});
