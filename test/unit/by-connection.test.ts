import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByConnection } from '../../src/match/by-connection.js';

const v = (subId: string, n = 0) => ({ subId, n });

test('ByConnection: one value per connection, then a second, replace, delete back to one and to none', () => {
  const m = new ByConnection<{ subId: string; n: number }>();
  m.set(1, v('a'));
  m.set(2, v('a', 2));
  assert.equal(m.size, 2);
  assert.deepEqual(m.get(1, 'a'), v('a'));
  assert.equal(m.get(1, 'b'), undefined);
  m.set(1, v('a', 1)); // replaces the lone value
  assert.deepEqual(m.get(1, 'a'), v('a', 1));
  m.set(1, v('b'));
  m.set(1, v('b', 5)); // replaces inside the map
  assert.deepEqual([...m.values()].sort((x, y) => x.n - y.n), [v('b', 5), v('a', 1), v('a', 2)].sort((x, y) => x.n - y.n));
  assert.equal(m.delete(1, 'zz'), undefined);
  assert.deepEqual(m.delete(1, 'a'), v('a', 1));
  assert.deepEqual(m.get(1, 'b'), v('b', 5));
  assert.deepEqual(m.delete(1, 'b'), v('b', 5));
  assert.equal(m.size, 1);
  assert.equal(m.delete(2, 'b'), undefined);
  assert.deepEqual(m.deleteConnection(2), [v('a', 2)]);
  assert.deepEqual(m.deleteConnection(2), []);
  assert.equal(m.size, 0);
  m.set(3, v('x'));
  m.set(3, v('y'));
  assert.deepEqual(m.deleteConnection(3).map((x) => x.subId).sort(), ['x', 'y']);
  assert.equal(m.size, 0);
});
