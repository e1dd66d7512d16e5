/**
 * The shipped Grafana dashboard and Prometheus alert rules only name series this relay
 * exposes, and the REST and gateway series carry real traffic: a relay with the gateway on,
 * REST calls, gateway events, then one scrape.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sharedRelay } from '../helpers/fixture.js';
import { httpGet } from '../helpers/http.js';
import { REPO_ROOT } from '../helpers/relay-process.js';
import { api, b64, client, newKeys, signEvent } from '../gateway/helpers.js';
import { parseExposition } from './prom.js';

const relay = sharedRelay({
  toml: `
[metrics]
enabled = true
[extensions.mls_gateway]
enabled = true
`,
});

const SERIES = /\b(?:nostr_relay|mls_relay|mls_gateway|process|nodejs)_[a-z0-9_]+\b/g;
const SUFFIXES = ['_bucket', '_sum', '_count'];

/** Series names in a dashboard or rule file, histogram suffixes folded onto their base. */
function referenced(text: string, types: Map<string, string>): Set<string> {
  const out = new Set<string>();
  for (const [name] of text.matchAll(SERIES)) {
    const suffix = SUFFIXES.find((s) => name.endsWith(s));
    const base = suffix !== undefined ? name.slice(0, -suffix.length) : name;
    out.add(suffix !== undefined && types.get(base) === 'histogram' ? base : name);
  }
  return out;
}

test('dashboard and alert rules reference only exposed series; REST and gateway series count real traffic', async (t) => {
  const alice = newKeys();
  const bob = newKeys();
  const c = await client(t, relay(), alice);
  const dm = signEvent(alice, { kind: 446, tags: [['p', bob.pk], ['v', 'noise.1']], content: 'opaque' });
  const ok = await c.publish(dm);
  assert.equal(ok[2], true, JSON.stringify(ok));
  assert.equal((await api(relay(), alice, 'GET', '/groups')).status, 200);
  assert.equal((await api(relay(), alice, 'GET', '/groups/nope')).status, 404);
  assert.equal((await api(relay(), undefined, 'GET', '/groups')).status, 401);
  const deposit = await api(relay(), alice, 'POST', '/welcome', { recipient: bob.pk, welcome_b64: b64('welcome') });
  assert.equal(deposit.status, 200, JSON.stringify(deposit.json));
  const picked = await api(relay(), bob, 'GET', `/welcome?recipient=${bob.pk}`);
  assert.equal(picked.json.items.length, 1);
  assert.equal((await api(relay(), bob, 'POST', `/welcome/${deposit.json.id}/ack`)).status, 200);

  const res = await httpGet(`${relay().httpUrl}/metrics`);
  assert.equal(res.status, 200);
  const m = parseExposition(res.text);

  for (const file of ['config/grafana/mls-relay-dashboard.json', 'config/prometheus/alerts.yml']) {
    const text = await readFile(join(REPO_ROOT, file), 'utf8');
    const names = referenced(text, m.types);
    assert.ok(names.size >= 8, `${file} references series`);
    const missing = [...names].filter((n) => !m.types.has(n));
    assert.deepEqual(missing, [], `${file} references series the relay does not expose`);
  }
  JSON.parse(await readFile(join(REPO_ROOT, 'config/grafana/mls-relay-dashboard.json'), 'utf8'));

  // REST: by route pattern (never the client's path), method and status.
  assert.equal(m.value('mls_relay_http_requests_total', { route: '/api/v1/groups', method: 'GET', status: '200' }), 1);
  assert.equal(m.value('mls_relay_http_requests_total', { route: '/api/v1/groups', method: 'GET', status: '401' }), 1);
  assert.equal(m.value('mls_relay_http_requests_total', { route: '/api/v1/groups/{}', method: 'GET', status: '404' }), 1);
  assert.ok(!m.samples.some((s) => s.labels.route?.includes('nope')), 'no client path becomes a label');
  assert.ok((m.value('mls_relay_http_request_duration_seconds_count', { route: '/api/v1/groups' }) ?? 0) >= 2);
  // Gateway: the DM is counted under its kind.
  assert.equal(m.value('mls_gateway_events_processed_total', { kind: '446' }), 1);
  assert.equal(m.types.get('mls_gateway_db_operation_duration_seconds'), 'histogram');
  assert.ok((m.value('mls_gateway_db_operation_duration_seconds_count') ?? 0) >= 3, 'deposit, pickup and ack are writer tasks');
  for (const name of ['mls_gateway_mailbox_deposits_total', 'mls_gateway_mailbox_pickups_total', 'mls_gateway_mailbox_acks_total']) {
    assert.equal(m.value(name), 1, name);
  }
});

test('every series the relay exposes is documented in README.md', async () => {
  const res = await httpGet(`${relay().httpUrl}/metrics`);
  const m = parseExposition(res.text);
  const readme = await readFile(join(REPO_ROOT, 'README.md'), 'utf8');
  const undocumented = [...m.types.keys()].filter((n) => !/^(process|nodejs)_/.test(n) && !readme.includes('`' + n));
  assert.deepEqual(undocumented, [], 'README.md names every series (process_* and nodejs_* are Node defaults)');
});
