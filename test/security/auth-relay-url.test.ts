/**
 * NIP-42 and the relay's public URL (issue 8, items 6 and 10): a relay in the middle that passes our
 * challenge to a victim and replays the victim's AUTH (naming the middle relay) with its own Host
 * header is refused; relay_url is required beyond loopback (start-up refuses without it) and may be
 * a list; an AUTH leaves no pubkey in the log at the default level.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertOk, rawClient, sharedRelay, sleep, stopRelay } from '../helpers/fixture.js';
import { buildConfig, RELAY_MAIN, startRelay } from '../helpers/relay-process.js';
import { parseConfig } from '../../src/config/load.js';
import { authEvent, challengeOf, sendAuth } from '../access/helpers.js';
import { gatewayToml, giftWrap, newKeys, publishOk } from '../gateway/helpers.js';

const TWO = ['wss://relay.example.com', 'wss://relay2.example.net'];
const loopback = sharedRelay({ toml: gatewayToml([]) });

test('a relay in the middle cannot replay a victim AUTH that names it, whatever Host it sends', async (t) => {
  const victim = newKeys();
  const sender = await rawClient(t, loopback().url);
  const wrap = giftWrap(victim.pk);
  await publishOk(sender, wrap);

  for (const middle of ['wss://evil.example', `ws://evil.example:${loopback().port}`]) {
    const host = new URL(middle).host;
    const mitm = await rawClient(t, loopback().url, { headers: { host } });
    // The middle relay hands our challenge to the victim, whose client signs it for the URL it dialled.
    const stolen = authEvent(victim, await challengeOf(mitm), middle);
    assertOk(await sendAuth(mitm, stolen), false, /^invalid: relay tag does not name this relay/);
    const got = await mitm.req('wraps', { kinds: [1059], '#p': [victim.pk] });
    assert.deepEqual(got.events, [], `${middle}: the victim's gift wraps stay unreadable`);
    assert.match(got.closed ?? '', /^auth-required:/);
  }

  // The victim itself, naming this relay, is admitted, and the Host header does not matter.
  const own = await rawClient(t, loopback().url, { headers: { host: 'evil.example' } });
  assertOk(await sendAuth(own, authEvent(victim, await challengeOf(own), loopback().url)), true);
  assert.deepEqual((await own.req('mine', { kinds: [1059], '#p': [victim.pk] })).events.map((e) => e.id), [wrap.id]);
  const alias = await rawClient(t, loopback().url);
  assertOk(await sendAuth(alias, authEvent(victim, await challengeOf(alias), `ws://localhost:${loopback().port}/`)), true);
});

test('with relay_url a list of two URLs, both are accepted and nothing else is (not even the Host the client used)', async (t) => {
  // The list through the environment, as on Cloud Run: a space-separated string.
  const relay = await startRelay({ env: { MLS_RELAY_INFORMATION__RELAY_URL: TWO.join(' ') } });
  t.after(() => stopRelay(relay));
  const named = () => relay;
  const [a, b] = [newKeys(), newKeys()];
  const c = await rawClient(t, named().url);
  const ch = await challengeOf(c);
  assertOk(await sendAuth(c, authEvent(a, ch, TWO[0]!)), true);
  assertOk(await sendAuth(c, authEvent(b, ch, `${TWO[1]}/`)), true);
  assertOk(await sendAuth(c, authEvent(a, ch, named().url)), false, /^invalid: relay tag/);
  const mitm = await rawClient(t, named().url, { headers: { host: 'evil.example' } });
  assertOk(await sendAuth(mitm, authEvent(a, await challengeOf(mitm), 'wss://evil.example')), false, /^invalid: relay tag/);
});

test('relay_url: one URL or a list in the file, a space-separated list from the environment', () => {
  const serve = { serve: true };
  const load = (toml: string, env: NodeJS.ProcessEnv = {}) => parseConfig(toml, 'relay.toml', env, serve);
  assert.deepEqual(load('[information]\nrelay_url = "wss://a.example"\n').information.relay_url, ['wss://a.example']);
  assert.deepEqual(load(`[information]\nrelay_url = ${JSON.stringify(TWO)}\n`).information.relay_url, TWO);
  assert.deepEqual(load('', { MLS_RELAY_INFORMATION__RELAY_URL: ` ${TWO.join('  ')} ` }).information.relay_url, TWO);
  assert.throws(() => load('[information]\nrelay_url = ["wss://a.example", "https://b.example"]\n'), /information\.relay_url\[1\]: expected a ws:\/\/ or wss:\/\/ URL/);
  assert.throws(() => load('[information]\nrelay_url = []\n'), /information\.relay_url: expected a ws:\/\/ or wss:\/\/ URL or a non-empty list/);
  // Beyond loopback it is required; on loopback it is not; the tools (import/export) load either way.
  const open = '[network]\nhost = "0.0.0.0"\n';
  assert.throws(() => load(open), /config error in relay\.toml: information\.relay_url: required when network\.host is not loopback/);
  assert.deepEqual(load(open + '[information]\nrelay_url = "wss://a.example"\n').network.host, '0.0.0.0');
  for (const host of ['127.0.0.1', '127.0.0.2', '::1', 'localhost']) assert.equal(load(`[network]\nhost = "${host}"\n`).network.host, host);
  assert.equal(parseConfig(open, 'relay.toml', {}).network.host, '0.0.0.0');
});

test('the relay refuses to start on a public address without relay_url, with one clear line', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'mls-relay-auth-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'relay.toml');
  await writeFile(file, buildConfig(join(dir, 'data')));
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('MLS_RELAY_') || k === 'PORT') delete env[k];
  delete env.NODE_TEST_CONTEXT;
  // What the Docker image sets; the file says 127.0.0.1, the environment wins.
  env.MLS_RELAY_NETWORK__HOST = '0.0.0.0';
  const child = spawn(process.execPath, [RELAY_MAIN, 'relay', '-c', file], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  clearTimeout(timer);
  assert.equal(code, 2, out);
  const lines = out.trim().split('\n');
  assert.equal(lines.length, 1, out);
  assert.match(lines[0]!, /^mls-relay: config error in .*relay\.toml: information\.relay_url: required when network\.host is not loopback \(it is "0\.0\.0\.0"\)/);
  assert.match(lines[0]!, /NIP-42 and NIP-98 must know the relay's public URL/);
  assert.doesNotMatch(out, /"msg":"listening"/);
});

test('an AUTH writes no pubkey into the log at the default level', async (t) => {
  const k = newKeys();
  const c = await rawClient(t, loopback().url);
  assertOk(await sendAuth(c, authEvent(k, await challengeOf(c), loopback().url)), true);
  // The log line, if any, is written before the OK; give the pipe a moment to deliver it.
  await sleep(300);
  const leaked = [...loopback().logs, ...loopback().stderr].filter((l) => l.includes(k.pk));
  assert.deepEqual(leaked, []);
});
