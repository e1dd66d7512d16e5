/**
 * NIP-45 COUNT with [count] enabled and disabled (two relays in this file), and
 * what each relay's NIP-11 document and debug endpoint say about it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertOk, ntRelay, rawClient, stopRelay } from '../helpers/fixture.js';
import { httpGet } from '../helpers/http.js';
import { startRelay, type RelayHandle } from '../helpers/relay-process.js';
import { eventSeries, newKeys, now, publishAll } from '../helpers/ws-client.js';

let on: RelayHandle | undefined;
let off: RelayHandle | undefined;

before(async () => {
  const [a, b] = await Promise.allSettled([
    startRelay({ toml: '[count]\nenabled = true\n' }),
    startRelay({ toml: '[count]\nenabled = false\n' }),
  ]);
  if (a.status === 'fulfilled') on = a.value;
  if (b.status === 'fulfilled') off = b.value;
  if (a.status === 'rejected') throw a.reason;
  if (b.status === 'rejected') throw b.reason;
});

after(async () => {
  const errors: unknown[] = [];
  for (const r of [on, off]) if (r) await stopRelay(r).catch((e) => errors.push(e));
  if (errors.length) throw errors[0];
});

const enabled = () => on!;
const disabled = () => off!;

test('COUNT (enabled) returns the number of distinct events over all filters', async (t) => {
  const c = await rawClient(t, enabled().url);
  const a = newKeys();
  const b = newKeys();
  const notes = eventSeries(a, 5, { kind: 1 });
  const reactions = eventSeries(a, 3, { kind: 7, base: now() - 100 });
  const others = eventSeries(b, 2, { kind: 1 });
  for (const ok of await publishAll(c, [...notes, ...reactions, ...others])) assertOk(ok, true);

  assert.equal((await c.count('c1', { authors: [a.pk], kinds: [1] })).count, 5);
  const overlap = await c.count('c2', { authors: [a.pk] }, { authors: [a.pk], kinds: [1] }, { ids: [others[0]!.id] });
  assert.equal(overlap.count, 9, `distinct count over OR-ed filters: ${JSON.stringify(overlap)}`);
  assert.equal((await c.count('c3', { authors: [newKeys().pk] })).count, 0);

  const r = await ntRelay(t, enabled().url);
  assert.equal(await r.count([{ authors: [a.pk, b.pk] }], {}), 10);
});

test('COUNT (disabled) → CLOSED or NOTICE with a clear reason; the connection keeps working', async (t) => {
  const c = await rawClient(t, disabled().url);
  const res = await c.count('nope', { kinds: [1] });
  assert.equal(res.count, undefined, `COUNT must not be answered when disabled: ${JSON.stringify(res)}`);
  const reason = res.closed ?? res.notice ?? '';
  assert.ok(reason.length > 3, `reason: ${JSON.stringify(res)}`);
  assert.match(reason, /count|45|support|disabled|unknown/i, `reason should say COUNT is not supported: ${reason}`);
  const r = await c.req('still-ok', { limit: 1 });
  assert.equal(r.eose, true);
});

test('NIP-11 supported_nips lists 45 only when [count] is enabled', async () => {
  const accept = { Accept: 'application/nostr+json' };
  const docOn = (await httpGet(enabled().httpUrl + '/', accept)).json as { supported_nips?: number[] };
  const docOff = (await httpGet(disabled().httpUrl + '/', accept)).json as { supported_nips?: number[] };
  assert.ok(Array.isArray(docOn?.supported_nips), 'supported_nips array (enabled)');
  assert.ok(Array.isArray(docOff?.supported_nips), 'supported_nips array (disabled)');
  assert.ok(docOn.supported_nips!.includes(45), `45 missing: ${JSON.stringify(docOn.supported_nips)}`);
  assert.ok(!docOff.supported_nips!.includes(45), `45 listed while disabled: ${JSON.stringify(docOff.supported_nips)}`);
});

test('GET /debug/actors is not served when [debug] is not enabled', async () => {
  const res = await httpGet(disabled().httpUrl + '/debug/actors', { Authorization: 'Bearer anything' });
  assert.notEqual(res.status, 200, `debug endpoint answered 200 while disabled: ${res.text.slice(0, 200)}`);
  assert.ok(res.status === 404 || res.status === 401 || res.status === 403, `status ${res.status}`);
});
