/** Concurrent ingest: 1,000 events from 10 connections, all acknowledged and all served. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Event } from 'nostr-tools/pure';
import { rawClient, sharedRelay } from '../helpers/fixture.js';
import { newKeys, now, publishAll, signEvent } from '../helpers/ws-client.js';

const CONNECTIONS = 10;
const PER_CONNECTION = 100;
const TOTAL = CONNECTIONS * PER_CONNECTION;

const relay = sharedRelay({ toml: `[limitation]\nmax_limit = ${TOTAL * 2}\n` });

test(`${TOTAL} events from ${CONNECTIONS} concurrent connections: all OK true, all served`, { timeout: 60_000 }, async (t) => {
  const authors = Array.from({ length: CONNECTIONS }, () => newKeys());
  const base = now() - 2 * PER_CONNECTION;
  const batches: Event[][] = authors.map((k, ci) =>
    Array.from({ length: PER_CONNECTION }, (_, i) =>
      signEvent(k, { created_at: base + i, content: `conn ${ci} event ${i}`, tags: [['t', 'load']] }),
    ),
  );
  const clients = await Promise.all(authors.map(() => rawClient(t, relay().url)));

  const started = Date.now();
  const oks = await Promise.all(clients.map((c, i) => publishAll(c, batches[i]!, 30_000)));
  const elapsed = Date.now() - started;
  const refused = oks.flat().filter((ok) => ok[2] !== true);
  assert.deepEqual(refused, [], `${refused.length} events refused`);
  t.diagnostic(`ingest: ${TOTAL} events in ${elapsed} ms`);

  const reader = await rawClient(t, relay().url);
  const qStart = Date.now();
  const res = await reader.reqWithTimeout(20_000, 'all', { authors: authors.map((k) => k.pk), limit: TOTAL });
  t.diagnostic(`query: ${res.events.length} events in ${Date.now() - qStart} ms`);
  assert.equal(res.eose, true);
  assert.equal(res.events.length, TOTAL);
  const want = new Set(batches.flat().map((e) => e.id));
  const got = new Set(res.events.map((e) => e.id));
  assert.equal(got.size, TOTAL, 'no duplicates');
  for (const id of want) assert.ok(got.has(id), `event ${id} not served`);
});

test('one connection pipelining 1,500 EVENTs (past the cap on unanswered EVENTs, when the relay stops reading it) gets every OK, then serves a REQ', { timeout: 60_000 }, async (t) => {
  const keys = newKeys();
  const base = now() - 2_000;
  const events = Array.from({ length: 1_500 }, (_, i) => signEvent(keys, { created_at: base + i, content: `pipelined ${i}`, tags: [['t', 'pipelined']] }));
  const client = await rawClient(t, relay().url);
  const oks = await publishAll(client, events, 45_000);
  assert.deepEqual(oks.filter((ok) => ok[2] !== true), []);
  // Reading resumed: a later frame on the same socket is still answered.
  const res = await client.reqWithTimeout(20_000, 'mine', { authors: [keys.pk], limit: 2_000 });
  assert.equal(res.eose, true);
  assert.equal(res.events.length, events.length);
});
