/**
 * GET /metrics against a real relay: the auth gate (query key and Bearer), the 404 when
 * disabled, and the rnostr-compatible and relay-specific series after real traffic.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertOk, rawClient, sharedRelay, stopRelay } from '../helpers/fixture.js';
import { httpGet } from '../helpers/http.js';
import { startRelay } from '../helpers/relay-process.js';
import { newKeys, signEvent } from '../helpers/ws-client.js';
import { parseExposition, type Exposition } from './prom.js';

const METRICS_KEY = 'metrics-key-0123456789abcdef';

const relay = sharedRelay({
  toml: `
[metrics]
enabled = true
auth = "${METRICS_KEY}"
`,
});

async function scrape(): Promise<Exposition> {
  const res = await httpGet(`${relay().httpUrl}/metrics`, { Authorization: `Bearer ${METRICS_KEY}` });
  assert.equal(res.status, 200, res.text.slice(0, 300));
  return parseExposition(res.text);
}

test('/metrics → 401 without a key or with a wrong one, and the body says nothing more', async () => {
  const url = `${relay().httpUrl}/metrics`;
  for (const [what, target, headers] of [
    ['no key', url, {}],
    ['wrong ?auth=', `${url}?auth=not-the-key`, {}],
    ['empty ?auth=', `${url}?auth=`, {}],
    ['wrong Bearer', url, { Authorization: 'Bearer not-the-key' }],
    ['key under another scheme', url, { Authorization: `Basic ${METRICS_KEY}` }],
    ['a prefix of the key', `${url}?auth=${METRICS_KEY.slice(0, 10)}`, {}],
  ] as const) {
    const res = await httpGet(target, headers);
    assert.equal(res.status, 401, what);
    assert.deepEqual(res.json, { error: 'unauthorized', code: 'unauthorized' }, what);
    assert.ok(!res.text.includes('nostr_relay'), `${what}: no metrics in the error`);
  }
});

test('/metrics → 200 text exposition with ?auth=KEY and with Authorization: Bearer KEY', async () => {
  const byQuery = await httpGet(`${relay().httpUrl}/metrics?auth=${METRICS_KEY}`);
  assert.equal(byQuery.status, 200);
  assert.match(byQuery.headers.get('content-type') ?? '', /^text\/plain/);
  assert.match(byQuery.text, /^# HELP /m);
  const byBearer = await httpGet(`${relay().httpUrl}/metrics`, { Authorization: `Bearer ${METRICS_KEY}` });
  assert.equal(byBearer.status, 200);
  assert.match(byBearer.text, /^# TYPE nostr_relay_session gauge$/m);
  parseExposition(byBearer.text); // every line parses
});

test('after traffic the expected series exist with plausible values', async (t) => {
  const before = await scrape();
  const keys = newKeys();
  const sub = await rawClient(t, relay().url);
  const res = await sub.req('metrics-live', { kinds: [1], authors: [keys.pk] });
  assert.equal(res.eose, true);

  const pub = await rawClient(t, relay().url);
  const events = [0, 1, 2].map((i) => signEvent(keys, { content: `metrics ${i}`, created_at: Math.floor(Date.now() / 1000) - i }));
  for (const e of events) {
    assertOk(await pub.publish(e), true);
    assert.equal((await sub.nextEvent('metrics-live')).id, e.id);
  }
  assertOk(await pub.publish(events[0]!), true, 'duplicate:');
  pub.send('this is not json');
  assert.equal((await pub.nextMatching((m) => m[0] === 'NOTICE', 5_000, 'NOTICE'))[0], 'NOTICE');
  const counted = await pub.count('metrics-count', { kinds: [1], authors: [keys.pk] });
  assert.equal(counted.count, 3);

  const m = await scrape();
  const grew = (name: string, by: number, labels?: Record<string, string>) => {
    const delta = m.sum(name, labels) - before.sum(name, labels);
    assert.ok(delta >= by, `${name}${labels ? JSON.stringify(labels) : ''} grew by ${delta}, expected at least ${by}`);
  };

  // rnostr-compatible names and types.
  assert.equal(m.types.get('nostr_relay_session'), 'gauge');
  assert.equal(m.types.get('nostr_relay_session_total'), 'counter');
  assert.equal(m.types.get('nostr_relay_message_total'), 'counter');
  assert.equal(m.types.get('nostr_relay_new_event'), 'counter');
  assert.equal(m.types.get('nostr_relay_db_get'), 'histogram');
  assert.equal(m.types.get('nostr_relay_db_write'), 'histogram');
  assert.ok(m.types.has('nostr_relay_auth_unauthorized'));
  assert.ok(m.types.has('nostr_relay_rate_limiter_exceeded'));
  assert.ok((m.value('nostr_relay_session') ?? 0) >= 2, 'two clients are connected');
  grew('nostr_relay_session_total', 2);
  grew('nostr_relay_message_total', 4, { command: 'EVENT' });
  grew('nostr_relay_message_total', 1, { command: 'REQ' });
  grew('nostr_relay_message_total', 1, { command: 'COUNT' });
  grew('nostr_relay_message_total', 1, { command: 'unknown' });
  grew('nostr_relay_new_event', 3);
  grew('nostr_relay_db_get_count', 2); // the REQ and the COUNT
  grew('nostr_relay_db_write_count', 1);

  // Relay-specific series.
  grew('mls_relay_new_event_by_kind_total', 3, { kind: '1' });
  grew('mls_relay_publish_seconds_count', 3, { outcome: 'accepted' });
  grew('mls_relay_publish_seconds_count', 1, { outcome: 'duplicate' });
  grew('mls_relay_writer_batch_size_count', 1);
  grew('mls_relay_writer_batches_total', 1);
  grew('mls_relay_writer_stored_total', 3);
  grew('mls_relay_verify_batch_size_count', 1);
  grew('mls_relay_verify_batch_size_sum', 3);
  grew('mls_relay_verify_events_total', 3);
  grew('mls_relay_verify_batches_total', 1);
  grew('mls_relay_fanout_deliveries_total', 3);
  grew('mls_relay_match_events_total', 3);
  assert.ok((m.value('mls_relay_subscriptions') ?? 0) >= 1);
  assert.ok((m.value('mls_relay_actors', { kind: 'connection' }) ?? 0) >= 2);
  assert.ok((m.value('mls_relay_actors', { kind: 'subscription' }) ?? 0) >= 1);
  assert.ok((m.value('mls_relay_outbound_queued_bytes') ?? -1) >= 0);
  assert.equal(m.value('mls_relay_verify_queue_depth'), 0, 'nothing waits for verification once all OKs are in');
  assert.ok((m.value('mls_relay_verify_threads') ?? 0) >= 1);

  // The backend label is the one the relay announced at start-up.
  const announced = relay()
    .logRecords()
    .find((r) => r.msg === 'signature verification backend')?.backend;
  assert.equal(typeof announced, 'string');
  assert.equal(m.value('mls_relay_verify_backend_info', { backend: announced as string }), 1);
  assert.equal(m.samples.filter((s) => s.name === 'mls_relay_verify_backend_info').length, 1, 'exactly one backend is active');

  // Node process metrics on the relay's own registry.
  assert.ok((m.value('process_cpu_user_seconds_total') ?? 0) > 0);
  assert.ok((m.value('process_resident_memory_bytes') ?? 0) > 0 || (m.value('nodejs_heap_size_used_bytes') ?? 0) > 0);
  assert.equal(m.types.get('nodejs_gc_duration_seconds'), 'histogram');
  assert.ok(m.types.has('nodejs_eventloop_lag_seconds'));
});

test('scrape-time counters do not double count across scrapes', async () => {
  const a = await scrape();
  const b = await scrape();
  for (const name of ['nostr_relay_session_total', 'nostr_relay_new_event', 'mls_relay_writer_batches_total', 'mls_relay_verify_batches_total']) {
    assert.equal(b.value(name), a.value(name), `${name} changed between two scrapes without traffic`);
  }
});

test('[metrics] disabled → /metrics is 404, with or without the key', async () => {
  const off = await startRelay({ toml: `[metrics]\nenabled = false\nauth = "${METRICS_KEY}"\n` });
  try {
    const none = await httpGet(`${off.httpUrl}/metrics`);
    assert.equal(none.status, 404);
    const keyed = await httpGet(`${off.httpUrl}/metrics?auth=${METRICS_KEY}`, { Authorization: `Bearer ${METRICS_KEY}` });
    assert.equal(keyed.status, 404);
    assert.ok(!keyed.text.includes('nostr_relay'));
  } finally {
    await stopRelay(off);
  }
});
