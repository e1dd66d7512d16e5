/**
 * Logging: the level chosen from LOG_LEVEL / RUST_LOG, the debug spans (publish, fanout,
 * query), and — against a real relay at trace level — that no event content, signature
 * or AUTH event ever reaches stdout or stderr.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertOk, sleep, stopRelay } from '../helpers/fixture.js';
import { startRelay } from '../helpers/relay-process.js';
import { connect, newKeys, signEvent, flipHex } from '../helpers/ws-client.js';
import { levelFromEnv, parseRustLog } from '../../src/log.js';

test('LOG_LEVEL wins, RUST_LOG is read the way rnostr operators write it, junk falls back to info', () => {
  const lvl = (env: Record<string, string>) => levelFromEnv(env).level;
  assert.equal(lvl({}), 'info');
  assert.equal(lvl({ LOG_LEVEL: 'debug' }), 'debug');
  assert.equal(lvl({ LOG_LEVEL: 'TRACE' }), 'trace');
  assert.equal(lvl({ LOG_LEVEL: 'warning' }), 'warn');
  assert.equal(lvl({ LOG_LEVEL: 'off' }), 'silent');
  assert.equal(lvl({ LOG_LEVEL: 'error', RUST_LOG: 'trace' }), 'error');
  assert.equal(lvl({ LOG_LEVEL: '', RUST_LOG: 'warn' }), 'warn');
  const bad = levelFromEnv({ LOG_LEVEL: 'loud' });
  assert.equal(bad.level, 'info');
  assert.match(bad.problem ?? '', /LOG_LEVEL/);

  assert.equal(parseRustLog('info'), 'info');
  assert.equal(parseRustLog('nostr_relay=debug'), 'debug');
  assert.equal(parseRustLog('warn,nostr_relay=debug,actix_web=info'), 'debug');
  assert.equal(parseRustLog('debug,actix_server=warn'), 'debug');
  assert.equal(parseRustLog('actix_web=trace'), undefined, 'another crate’s level is not ours');
  assert.equal(parseRustLog('nostr_relay'), 'trace', 'a bare target enables everything for it');
  assert.equal(parseRustLog('nostr_relay::db=trace,nostr_relay=info'), 'trace');
  assert.equal(parseRustLog('rnostr=error'), 'error');
  assert.equal(parseRustLog('info,nostr_relay=off'), 'silent');
  assert.equal(parseRustLog('info/some.*regex'), 'info');
  assert.equal(levelFromEnv({ RUST_LOG: 'actix_web=debug' }).level, 'info');
  assert.match(levelFromEnv({ RUST_LOG: 'actix_web=debug' }).problem ?? '', /RUST_LOG/);
});

test('at LOG_LEVEL=trace: spans are logged, and no content, signature or AUTH event appears in the output', async () => {
  const marker = `secret-marker-${process.pid}-${Date.now()}`;
  const relay = await startRelay({ env: { LOG_LEVEL: 'trace' } });
  const secrets: string[] = [marker];
  try {
    const keys = newKeys();
    const c = await connect(relay.url);
    try {
      // NIP-42: the challenge arrives on connect; the AUTH event's signature must never be logged.
      const challenge = (await c.nextMatching((m) => m[0] === 'AUTH', 5_000, 'AUTH challenge'))[1] as string;
      const authEvent = signEvent(keys, {
        kind: 22242,
        tags: [
          ['relay', relay.url],
          ['challenge', challenge],
        ],
      });
      secrets.push(authEvent.sig);
      c.send(['AUTH', authEvent]);
      assertOk((await c.nextMatching((m) => m[0] === 'OK' && m[1] === authEvent.id, 5_000, 'OK for AUTH')) as unknown[], true);

      const live = await c.req('live', { kinds: [1], authors: [keys.pk] });
      assert.equal(live.eose, true);
      const ev = signEvent(keys, { content: `${marker} in content`, tags: [['t', 'span-test']] });
      secrets.push(ev.sig);
      assertOk(await c.publish(ev), true);
      assert.equal((await c.nextEvent('live')).id, ev.id);
      const stored = await c.req('stored', { ids: [ev.id] });
      assert.equal(stored.events.length, 1);

      // The refusal paths carry content too.
      const badSig = signEvent(keys, { content: `${marker} bad sig` });
      assertOk(await c.publish({ ...badSig, sig: flipHex(badSig.sig, 7) }), false, 'invalid:');
      const badId = signEvent(keys, { content: `${marker} original` });
      assertOk(await c.publish({ ...badId, content: `${marker} tampered` }), false, 'invalid:');
      c.send(`["EVENT", {"content": "${marker} not json`);
      c.send(['NOSUCH', marker]);
      await c.nextMatching((m) => m[0] === 'NOTICE', 5_000, 'NOTICE');
      await c.nextMatching((m) => m[0] === 'NOTICE', 5_000, 'NOTICE');
      await sleep(100); // let the fanout span of the last event be written
    } finally {
      await c.close();
    }
  } finally {
    await stopRelay(relay);
  }

  const out = [...relay.logs, ...relay.stderr].join('\n');
  for (const s of secrets) assert.ok(!out.includes(s), `${s.slice(0, 24)}… appeared in the relay output`);
  assert.ok(!out.includes('22242') || !/"kind":22242[^}]*"sig"/.test(out), 'no AUTH event is logged whole');

  const records = relay.logRecords();
  assert.ok(records.some((r) => r.level === 'trace' || r.level === 'debug'), 'the relay ran at trace level');
  const publish = records.filter((r) => r.msg === 'publish');
  assert.ok(publish.some((r) => r.outcome === 'accepted' && r.kind === 1 && typeof r.ms === 'number' && typeof r.id === 'string'), 'publish span');
  assert.ok(publish.some((r) => r.outcome === 'invalid'), 'publish span for a refused event');
  const fanout = records.filter((r) => r.msg === 'fanout');
  assert.ok(fanout.some((r) => typeof r.ms === 'number' && (r.receivers as number) >= 1), 'fanout span');
  const query = records.filter((r) => r.msg === 'query');
  assert.ok(query.some((r) => r.sub === 'stored' && r.results === 1 && r.filters === 1 && typeof r.ms === 'number'), 'query span');
});
