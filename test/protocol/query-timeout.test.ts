/** [data] db_query_timeout: a broad query over a big enough store is ended with CLOSED "error: ...". */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Event } from 'nostr-tools/pure';
import { assertOk, rawClient, sharedRelay } from '../helpers/fixture.js';
import { newKeys, now, publishAll, signEvent } from '../helpers/ws-client.js';

const STORED = 3000;
const WRITERS = 3;
const MAX_LIMIT = 5000;

const relay = sharedRelay({
  toml: `
[data]
db_query_timeout = "1ms"

[limitation]
max_limit = ${MAX_LIMIT}
`,
});

test('a broad query that exceeds db_query_timeout → CLOSED with an "error:" reason', { timeout: 60_000 }, async (t) => {
  const writers = await Promise.all(Array.from({ length: WRITERS }, () => rawClient(t, relay().url)));
  const base = now() - STORED;
  const per = STORED / WRITERS;
  const batches: Event[][] = writers.map((_, w) => {
    const k = newKeys();
    return Array.from({ length: per }, (_, i) =>
      signEvent(k, {
        created_at: base + i,
        tags: [['t', `topic${i % 7}`], ['p', k.pk], ['mls_ciphersuite', `0x000${i % 3}`]],
        content: `writer ${w} event ${i} ` + 'x'.repeat(200),
      }),
    );
  });
  const ingestStart = Date.now();
  const oks = await Promise.all(writers.map((c, i) => publishAll(c, batches[i]!, 45_000)));
  for (const ok of oks.flat()) assertOk(ok, true);
  t.diagnostic(`ingest: ${STORED} events in ${Date.now() - ingestStart} ms`);

  const c = await rawClient(t, relay().url);
  const filters = [{ limit: MAX_LIMIT }, { kinds: [1], limit: MAX_LIMIT }, { '#mls_ciphersuite': ['0x0009'], limit: MAX_LIMIT }];
  // A few attempts: the first query over a 3,000-event store is far above 1 ms, but be robust to caching.
  const outcomes: string[] = [];
  let closedReason: string | undefined;
  for (let i = 0; i < 3 && closedReason === undefined; i++) {
    const qStart = Date.now();
    const res = await c.reqWithTimeout(20_000, `broad-${i}`, ...filters);
    outcomes.push(
      (res.closed !== undefined ? `CLOSED ${res.closed}` : `EOSE`) + ` after ${res.events.length} events, ${Date.now() - qStart} ms`,
    );
    if (res.closed !== undefined) closedReason = res.closed;
  }
  t.diagnostic(outcomes.join('; '));
  assert.ok(closedReason !== undefined, `no query was ended by the timeout: ${outcomes.join('; ')}`);
  assert.match(closedReason!, /^error: /, `CLOSED reason must use the "error:" prefix: ${closedReason}`);
  assert.equal(c.closed, false, 'the connection stays open');
});
