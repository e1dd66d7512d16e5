/** Durability across a clean restart: SIGTERM, start again on the same data dir. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertOk, ntPool, rawClient, stopRelay } from '../helpers/fixture.js';
import { makeTempDir, removeDir, startRelay } from '../helpers/relay-process.js';
import { eventSeries, newKeys, plain, publishAll, signEvent } from '../helpers/ws-client.js';

const N = 50;

test(`${N} events acknowledged before SIGTERM are all served after a restart`, async (t) => {
  const dataDir = await makeTempDir('mls-relay-restart-');
  t.after(() => removeDir(dataDir));
  const keys = newKeys();
  const events = eventSeries(keys, N);
  const replaceable = signEvent(keys, { kind: 0, content: '{"name":"persisted"}' });

  const first = await startRelay({ dataDir });
  try {
    const c = await rawClient(t, first.url);
    for (const ok of await publishAll(c, [...events, replaceable])) assertOk(ok, true);
    await c.close();
  } finally {
    await stopRelay(first);
  }

  const second = await startRelay({ dataDir });
  t.after(() => stopRelay(second));
  const c = await rawClient(t, second.url);
  const res = await c.req('after-restart', { authors: [keys.pk], kinds: [1], limit: N });
  assert.equal(res.eose, true);
  assert.deepEqual(res.events.map((e) => e.id), events.map((e) => e.id));
  assert.deepEqual(res.events, events.map(plain), 'events come back field-for-field equal');
  const meta = await c.req('meta', { authors: [keys.pk], kinds: [0] });
  assert.deepEqual(meta.events.map((e) => e.id), [replaceable.id]);
  // Duplicates are still recognised after the restart.
  assertOk(await c.publish(events[0]!), true, 'duplicate:');

  const pool = ntPool(t);
  const viaPool = await pool.querySync([second.url], { authors: [keys.pk], kinds: [1], limit: N }, { maxWait: 5_000 });
  assert.equal(viaPool.length, N);
});
