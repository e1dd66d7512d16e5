/**
 * RelayTelemetry on its own: separate registries per relay, the access-control sink, the cap
 * on policy labels, and the debug view's filter form and redaction.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accessMetricsSink, RelayTelemetry } from '../../src/metrics/install.js';
import { filterToWire, REDACTED, safeView } from '../../src/metrics/debug-view.js';
import { parseExposition } from './prom.js';

test('two relays in one process keep separate registries (and process metrics on both)', async () => {
  const a = new RelayTelemetry();
  const b = new RelayTelemetry();
  a.message('EVENT');
  a.message('EVENT');
  b.message('REQ');
  a.message('BOGUS');
  const ma = parseExposition(await a.render());
  const mb = parseExposition(await b.render());
  assert.equal(ma.value('nostr_relay_message_total', { command: 'EVENT' }), 2);
  assert.equal(ma.value('nostr_relay_message_total', { command: 'unknown' }), 1);
  assert.equal(mb.value('nostr_relay_message_total', { command: 'EVENT' }), 0);
  assert.equal(mb.value('nostr_relay_message_total', { command: 'REQ' }), 1);
  assert.ok(ma.types.has('process_cpu_user_seconds_total') && mb.types.has('process_cpu_user_seconds_total'));
});

test('the access-control sink counts into rnostr’s names, whenever the telemetry appears', async () => {
  const ctx: { telemetry?: RelayTelemetry } = {};
  const sink = accessMetricsSink(ctx);
  sink.unauthorized('EVENT', 'before metrics exist'); // must not throw
  ctx.telemetry = new RelayTelemetry({ defaultMetrics: false });
  sink.unauthorized('EVENT', 'pubkey not allowed');
  sink.unauthorized('EVENT', 'pubkey not allowed');
  sink.unauthorized('REQ', 'auth required');
  sink.rateLimited('EVENT', 'events-per-minute');
  const m = parseExposition(await ctx.telemetry.render());
  assert.equal(m.value('nostr_relay_auth_unauthorized', { command: 'EVENT', reason: 'pubkey not allowed' }), 2);
  assert.equal(m.value('nostr_relay_auth_unauthorized', { command: 'REQ', reason: 'auth required' }), 1);
  assert.equal(m.value('nostr_relay_rate_limiter_exceeded', { command: 'EVENT', name: 'events-per-minute' }), 1);
  assert.equal(m.types.get('nostr_relay_auth_unauthorized'), 'counter');
});

test('policy labels are capped so input-built reasons cannot grow the registry without bound', async () => {
  const t = new RelayTelemetry({ defaultMetrics: false });
  for (let i = 0; i < 500; i++) t.unauthorized('EVENT', `reason ${i}`);
  const m = parseExposition(await t.render());
  const series = m.samples.filter((s) => s.name === 'nostr_relay_auth_unauthorized');
  assert.ok(series.length <= 65, `${series.length} series`);
  assert.equal(m.sum('nostr_relay_auth_unauthorized'), 500, 'nothing is lost, the rest counts as "other"');
  assert.ok((m.value('nostr_relay_auth_unauthorized', { reason: 'other' }) ?? 0) > 0);
});

test('debug view: filters in NIP-01 form; secrets and bulky strings never shown', () => {
  assert.deepEqual(filterToWire({ kinds: [1], tags: { t: ['a'], d: ['x'] }, limit: 5 }), { kinds: [1], '#t': ['a'], '#d': ['x'], limit: 5 });
  const view = safeView({
    members: ['a'],
    pending: [{ id: 'x', content: 'ciphertext here', sig: 'ab' }],
    welcome: new Uint8Array(10),
    secret: 'k',
    nested: new Map([['token', 't']]),
    blob: 'y'.repeat(600),
  }) as Record<string, unknown>;
  assert.deepEqual(view.pending, [{ id: 'x', content: REDACTED, sig: REDACTED }]);
  assert.equal(view.secret, REDACTED);
  assert.equal(view.welcome, '[10 bytes]');
  assert.deepEqual(view.nested, { token: REDACTED });
  assert.equal(view.blob, '[600 chars]');
  assert.deepEqual(view.members, ['a']);
});
