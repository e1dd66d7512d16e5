/** `relay --watch`: an edited allowlist applies to the next message, on connections already open. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { assertOk, rawClient, sharedRelay, sleep } from '../helpers/fixture.js';
import { newKeys, signEvent } from '../helpers/ws-client.js';
import { authAs } from './helpers.js';

const A = newKeys();
const B = newKeys();
const relay = sharedRelay({
  args: ['--watch'],
  toml: `
[auth]
enabled = true
[auth.event]
pubkey_whitelist = ["${A.pk}"]
`,
});

/** Rewrites the config file and waits for the relay to log the reload (bounded). */
async function reconfigure(edit: (text: string) => string): Promise<void> {
  const r = relay();
  const before = r.logRecords().filter((x) => x.msg === 'config reloaded').length;
  const text = edit(r.configText);
  assert.notEqual(text, r.configText, 'the edit changed nothing');
  await writeFile(r.configPath, text);
  (r as { configText: string }).configText = text;
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    if (r.logRecords().filter((x) => x.msg === 'config reloaded').length > before) return;
    await sleep(25);
  }
  throw new Error(`no "config reloaded" log within 5 s; last logs:\n${r.logs.slice(-5).join('\n')}`);
}

test('adding and removing a pubkey in the allowlist takes effect without a restart or reconnect', async (t) => {
  const a = await rawClient(t, relay().url);
  await authAs(a, relay().url, A);
  const b = await rawClient(t, relay().url);
  await authAs(b, relay().url, B);
  assertOk(await b.publish(signEvent(B, { content: 'before' })), false, /^restricted:/);

  await reconfigure((text) => text.replace(`"${A.pk}"`, `"${A.pk}", "${B.pk}"`));
  assertOk(await b.publish(signEvent(B, { content: 'after adding B' })), true);

  await reconfigure((text) => text.replace(`"${A.pk}", "${B.pk}"`, `"${A.pk}"`));
  assertOk(await b.publish(signEvent(B, { content: 'after removing B' })), false, /^restricted:/);
  assertOk(await a.publish(signEvent(A, { content: 'A all along' })), true);
});

test('disabling [auth] lifts the lists live', async (t) => {
  const b = await rawClient(t, relay().url);
  assertOk(await b.publish(signEvent(B, { content: 'anon before' })), false, /^auth-required:/);
  await reconfigure((text) => text.replace(/(\[auth\]\s*\nenabled = )true/, '$1false'));
  assertOk(await b.publish(signEvent(B, { content: 'anon after' })), true);
});

test('the NIP-11 document follows a reload (it is cached per config, not built per request)', async () => {
  const info = async () => {
    const res = await fetch(relay().url.replace(/^ws/, 'http'), { headers: { accept: 'application/nostr+json' } });
    assert.equal(res.status, 200);
    return (await res.json()) as { name?: string; limitation: { max_subscriptions: number } };
  };
  const before = await info();
  await info(); // served from the cache
  await reconfigure((text) => `${text}\n[limitation]\nmax_subscriptions = ${before.limitation.max_subscriptions + 7}\n`);
  assert.equal((await info()).limitation.max_subscriptions, before.limitation.max_subscriptions + 7);
});
