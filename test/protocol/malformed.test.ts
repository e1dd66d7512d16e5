/**
 * Hostile input: hundreds of malformed frames of every shape on one connection. The relay must
 * answer with standard messages only (each one schema-validated by the raw client), never crash,
 * never log an error, store nothing, and keep the connection usable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rawClient, sharedRelay } from '../helpers/fixture.js';

const relay = sharedRelay({ toml: '[rate_limiter]\nenabled = false\n[count]\nenabled = true\n' });

const H = 'a'.repeat(64);
const S = 'b'.repeat(128);
const VALUES: unknown[] = [
  null, true, 0, -1, 1.5, 1e308, '', 'x', [], {}, [[]], [['e']], [[1]], '\u0000', '\ud800', 'x'.repeat(70_000),
  { '#e': 'x' }, { '#': [] }, { '#e': [1] }, { kinds: [-1] }, { kinds: [1.5] }, { kinds: ['1'] }, { limit: -5 },
  { limit: 1e20 }, { since: 'a' }, { ids: ['zz'] }, { authors: [H.toUpperCase()] }, { '#__proto__': ['a'] },
  { constructor: 1 }, JSON.parse('{"__proto__": {"kinds": [1]}}'),
];

function frames(): string[] {
  const now = Math.floor(Date.now() / 1000);
  const ev = { id: H, pubkey: H, created_at: now, kind: 1, tags: [], content: '', sig: S };
  const out: unknown[] = [];
  for (const v of VALUES) {
    out.push(['EVENT', v], ['REQ', v], ['REQ', 's', v], ['COUNT', 's', v], ['CLOSE', v], ['AUTH', v], [v], v);
    for (const k of Object.keys(ev)) out.push(['EVENT', { ...ev, [k]: v }]);
    out.push(['AUTH', { ...ev, kind: 22242, tags: v }], ['REQ', v, {}], ['COUNT', v, {}]);
  }
  const raw = [
    '', '[', ']', '{}', 'null', '"EVENT"', '["EVENT"]', '["REQ"]', '["REQ","a"]', '[1,2,3]', '\u0000\u0001',
    '['.repeat(5_000) + ']'.repeat(5_000),
    '["REQ","s",' + '{"kinds":[1]},'.repeat(50) + '{}]',
  ];
  return [...out.map((f) => JSON.stringify(f)), ...raw];
}

test('malformed frames get standard answers, nothing is stored, the connection stays usable', async (t) => {
  const c = await rawClient(t, relay().url);
  const sent = frames();
  for (const f of sent) c.send(f);
  // A marker REQ after the flood: its EOSE proves every earlier frame was read. EVENTs that
  // reached the verify pool answer asynchronously, so then wait until the answers stop coming.
  c.send(['REQ', 'alive', { limit: 5 }]);
  const eose = await c.nextMatching((m) => m[0] === 'EOSE' && m[1] === 'alive', 15_000, 'EOSE of the marker REQ');
  assert.ok(eose);
  for (let seen = -1, waited = 0; seen !== c.unconsumed().length && waited < 10_000; waited += 300) {
    seen = c.unconsumed().length;
    await new Promise((r) => setTimeout(r, 300));
  }
  const answers = c.drain();
  assert.ok(answers.length >= sent.length * 0.9, `most frames are answered (${answers.length} of ${sent.length})`);
  for (const m of answers) assert.ok(['NOTICE', 'CLOSED', 'OK', 'EOSE', 'COUNT', 'AUTH'].includes(m[0] as string), `unexpected ${String(m[0])}`);
  for (const m of answers) if (m[0] === 'OK') assert.equal(m[2], false, `nothing malformed is accepted: ${JSON.stringify(m)}`);
  const stored = await c.req('all', { limit: 10 });
  assert.deepEqual(stored.events, [], 'nothing was stored');
  const errors = relay()
    .logRecords()
    .filter((r) => r.level === 'error' || r.level === 'fatal');
  assert.deepEqual(errors, [], 'no error was logged');
});
