/**
 * The debug view (/debug/actors) against a real relay: every actor kind, one actor by id,
 * filters in NIP-01 form, worker and writer stats, and no content or secrets anywhere.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertOk, rawClient, sharedRelay } from '../helpers/fixture.js';
import { httpGet } from '../helpers/http.js';
import { newKeys, signEvent } from '../helpers/ws-client.js';

const DEBUG_KEY = 'debug-key-for-actor-view-42';
const MARKER = `debug-view-content-marker-${process.pid}-${Date.now()}`;

const relay = sharedRelay({
  toml: `
[debug]
enabled = true
auth = "${DEBUG_KEY}"
`,
});

type Obj = Record<string, unknown>;
const auth = { Authorization: `Bearer ${DEBUG_KEY}` };

async function debugGet(path: string): Promise<{ status: number; text: string; body: Obj }> {
  const res = await httpGet(relay().httpUrl + path, auth);
  return { status: res.status, text: res.text, body: res.json as Obj };
}

test('/debug/actors without the key → 401; unknown actor id → 404 without echoing the id', async () => {
  assert.equal((await httpGet(`${relay().httpUrl}/debug/actors`)).status, 401);
  assert.equal((await httpGet(`${relay().httpUrl}/debug/actors/supervisor`)).status, 401);
  const probe = 'conn:999999<script>';
  const missing = await debugGet(`/debug/actors/${encodeURIComponent(probe)}`);
  assert.equal(missing.status, 404);
  assert.equal(missing.body.code, 'not_found');
  assert.ok(!missing.text.includes('<script>'));
});

test('a connection with its subscription, each by id, filters in NIP-01 form, no content', async (t) => {
  const keys = newKeys();
  const c = await rawClient(t, relay().url);
  const subId = 'dbg:sub/with odd chars';
  const res = await c.req(subId, { kinds: [1], authors: [keys.pk], '#t': ['debug-tag'] });
  assert.equal(res.eose, true);
  const ev = signEvent(keys, { content: MARKER, tags: [['t', 'debug-tag']] });
  assertOk(await c.publish(ev), true);
  assert.equal((await c.nextEvent(subId)).id, ev.id);

  const list = await debugGet('/debug/actors');
  assert.equal(list.status, 200, list.text.slice(0, 300));
  assert.ok(!list.text.includes(MARKER), 'event content must not appear in the debug view');
  assert.ok(!list.text.includes(ev.sig), 'signatures must not appear in the debug view');
  assert.ok(!list.text.includes(DEBUG_KEY));

  const kinds = list.body.kinds as Record<string, number>;
  assert.ok(kinds.connection! >= 1 && kinds.subscription! >= 1, `kinds: ${JSON.stringify(kinds)}`);
  const workers = list.body.workers as Obj;
  assert.equal(typeof (workers.verify as Obj).backend, 'string');
  assert.equal(typeof (workers.verify as Obj).queued, 'number');
  assert.equal(typeof (workers.match as Obj).subscriptions, 'number');
  assert.ok(((list.body.writer as Obj).batches as number) >= 1);

  const actors = list.body.actors as Array<{ id: string; kind: string; snapshot: Obj }>;
  const sub = actors.find((a) => a.kind === 'subscription' && a.snapshot.subId === subId);
  assert.ok(sub, `no subscription ${subId} in ${list.text.slice(0, 800)}`);
  const conn = actors.find((a) => a.kind === 'connection' && a.snapshot.conn === sub.snapshot.conn);
  assert.ok(conn, 'the subscription’s connection is listed');
  assert.deepEqual(conn.snapshot.subscriptions, [subId]);
  assert.deepEqual(sub.snapshot.filters, [{ authors: [keys.pk], kinds: [1], '#t': ['debug-tag'] }]);
  assert.equal(sub.snapshot.delivered, 1);

  for (const a of [conn, sub]) {
    const one = await debugGet(`/debug/actors/${encodeURIComponent(a.id)}`);
    assert.equal(one.status, 200, `${a.id}: ${one.text.slice(0, 200)}`);
    assert.equal(one.body.id, a.id);
    assert.equal(one.body.kind, a.kind);
    assert.ok(!one.text.includes(MARKER));
    const snap = one.body.snapshot as Obj;
    if (a.kind === 'connection') {
      assert.equal(typeof snap.queued_bytes, 'number');
      assert.ok(Array.isArray(snap.pubkeys));
      assert.equal(snap.challenge, undefined, 'the AUTH challenge is not shown');
    }
  }

  const onlySubs = await debugGet('/debug/actors?kind=subscription');
  const listed = onlySubs.body.actors as Array<{ kind: string }>;
  assert.ok(listed.length >= 1 && listed.every((a) => a.kind === 'subscription'));
  assert.ok(((onlySubs.body.kinds as Obj).connection as number) >= 1, 'kinds still counts every kind');
});
