/**
 * Issue 8, item 3: what is acknowledged is served byte for byte. A string holding a
 * lone UTF-16 surrogate cannot be stored as UTF-8 without turning into U+FFFD (which
 * breaks the id and signature), so such an event is refused with `invalid:` before it
 * is verified, on the WebSocket and in `mls-relay import`. Astral characters (proper
 * surrogate pairs) are valid Unicode and round-trip intact.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { makeTempDir, removeDir, startRelay, type RelayHandle } from '../helpers/relay-process.js';
import { newKeys, signEvent, verifySignedEvent, type Event } from '../helpers/events.js';
import { RawClient } from '../helpers/ws-client.js';

/** The EVENT frame as text; JSON.stringify writes a lone surrogate as the escape `\udXXX`. */
function eventFrame(e: Event): string {
  return JSON.stringify(['EVENT', e]);
}

const LONE = [
  { what: 'a lone high surrogate in content', fields: { content: 'a\ud800b' } },
  { what: 'a lone low surrogate in content', fields: { content: '\udc00' } },
  { what: 'a reversed pair in content', fields: { content: '\udc00\ud800' } },
  { what: 'a lone surrogate in a tag value', fields: { tags: [['t', 'x\ud800']] } },
  { what: 'a lone surrogate in a tag name', fields: { tags: [['\ud800', 'x']] } },
  { what: 'a lone surrogate in a later tag element', fields: { tags: [['t', 'ok'], ['r', 'wss://x', '\udfff']] } },
];

describe('lone surrogates are refused, astral characters round-trip', () => {
  let relay: RelayHandle;
  before(async () => {
    relay = await startRelay();
  });
  after(async () => {
    await relay.stop();
  });

  for (const { what, fields } of LONE) {
    test(`${what}: OK false invalid:, nothing stored`, async () => {
      const keys = newKeys();
      const e = signEvent(keys, fields);
      const frame = eventFrame(e);
      assert.match(frame, /\\ud[89a-f][0-9a-f]{2}/, 'the frame carries the JSON escape, not U+FFFD');
      const c = await RawClient.connect(relay.url, { verifyEvents: false });
      try {
        c.send(frame);
        const ok = await c.nextMatching((m) => m[0] === 'OK' && m[1] === e.id);
        assert.equal(ok[2], false, `acknowledged: ${JSON.stringify(ok)}`);
        assert.match(String(ok[3]), /^invalid: .*surrogate/);
        const got = await c.req('s', { authors: [keys.pk] });
        assert.equal(got.events.length, 0, `served: ${JSON.stringify(got.events)}`);
      } finally {
        await c.close();
      }
      relay.assertAlive();
    });
  }

  test('emoji and other astral characters are stored and served so they verify', async () => {
    const keys = newKeys();
    const e = signEvent(keys, { content: 'hi 😀 𝄞 \u{10FFFF} é', tags: [['t', '🦀'], ['subject', '𐍈x']] });
    const live = await RawClient.connect(relay.url, { verifyEvents: false });
    const c = await RawClient.connect(relay.url, { verifyEvents: false });
    try {
      live.send(['REQ', 'live', { authors: [keys.pk] }]);
      await live.nextMatching((m) => m[0] === 'EOSE' && m[1] === 'live');
      const ok = await c.publish(e);
      assert.deepEqual(ok, ['OK', e.id, true, '']);
      const pushed = await live.nextEvent('live');
      assert.ok(verifySignedEvent(pushed), 'live copy verifies');
      const got = await c.req('s', { authors: [keys.pk] });
      assert.equal(got.events.length, 1);
      const served = got.events[0]!;
      assert.equal(served.content, e.content);
      assert.deepEqual(served.tags, e.tags);
      assert.ok(verifySignedEvent(served), 'stored copy verifies');
    } finally {
      await live.close();
      await c.close();
    }
  });
});

describe('mls-relay import refuses lone surrogates too', () => {
  let dir: string;
  before(async () => {
    dir = await makeTempDir('mls-relay-surrogate-');
  });
  after(async () => {
    await removeDir(dir);
  });

  test('a lone surrogate line counts as invalid; export shows only the good event, verifying', async () => {
    const keys = newKeys();
    const bad = signEvent(keys, { content: '\ud800', created_at: 1_700_000_000 });
    const good = signEvent(keys, { content: '😀', created_at: 1_700_000_001 });
    const config = join(dir, 'relay.toml');
    await writeFile(config, `[data]\npath = ${JSON.stringify(join(dir, 'data'))}\n`);
    const lines = `${JSON.stringify(bad)}\n${JSON.stringify(good)}\n`;
    assert.match(lines, /\\ud800/);
    const imp = await runCli(['import', '-c', config], lines);
    assert.equal(imp.code, 0, imp.stderr);
    assert.match(imp.stdout, /imported 1, duplicate 0, invalid 1/);
    const exp = await runCli(['export', '-c', config], '');
    assert.equal(exp.code, 0, exp.stderr);
    const events = exp.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Event);
    assert.deepEqual(events.map((e) => e.id), [good.id]);
    assert.ok(verifySignedEvent(events[0]!));
  });
});
