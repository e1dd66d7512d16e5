/**
 * Connection-level limits against a real relay: the global cap (max_connections), the outbound cap that
 * cuts off a client that stopped reading while others keep receiving, and a client-added
 * X-Forwarded-For being ignored when no real-IP header is configured.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { rawClient, sharedRelay, sleep } from '../helpers/fixture.js';
import { newKeys, publishAll, RawClient, signEvent } from '../helpers/ws-client.js';
import { upgradeStatus, xff } from './helpers.js';

const MAX_CONNECTIONS = 6;
const relay = sharedRelay({
  toml: `
[limitation]
max_connections = ${MAX_CONNECTIONS}
max_outbound_bytes = 65536
[rate_limiter]
connections_per_minute = 40
`,
});

/** Upgrade status, retried briefly while the relay is still processing earlier closes. */
async function statusSoon(url: string, want: number): Promise<number> {
  let last = 0;
  for (let i = 0; i < 20; i++) {
    last = await upgradeStatus(url);
    if (last === want) return last;
    await sleep(50);
  }
  return last;
}

test('max_connections: the next upgrade gets HTTP 503 until a connection closes', async () => {
  const url = relay().url;
  const open: RawClient[] = [];
  try {
    for (let i = 0; i < MAX_CONNECTIONS; i++) open.push(await RawClient.connect(url));
    assert.equal(await upgradeStatus(url), 503);
    await open.pop()!.close();
    const c = await RawClient.connect(url).catch(async () => {
      await sleep(200);
      return RawClient.connect(url);
    });
    open.push(c);
    assert.equal(await upgradeStatus(url), 503);
  } finally {
    await Promise.all(open.map((c) => c.close()));
  }
});

test('a client that stops reading is cut off at max_outbound_bytes; a normal reader keeps receiving', { timeout: 60_000 }, async (t) => {
  const url = relay().url;
  assert.equal(await statusSoon(url, 101), 101, 'connections of the previous test are gone');
  const slow = await rawClient(t, url, { verifyEvents: false });
  const normal = await rawClient(t, url);
  const publisher = await rawClient(t, url);
  const filter = { kinds: [1], '#t': ['flood'] };
  assert.equal((await slow.req('s', filter)).eose, true);
  assert.equal((await normal.req('n', filter)).eose, true);
  (slow.ws as unknown as { _socket: Socket })._socket.pause();

  const k = newKeys();
  const content = 'x'.repeat(32 * 1024);
  const cutOff = () => relay().logRecords().some((r) => r.msg === 'slow consumer cut off');
  let sent = 0;
  const started = Date.now();
  for (let batch = 0; batch < 40 && !cutOff(); batch++) {
    const events = Array.from({ length: 20 }, (_, i) => signEvent(k, { content, tags: [['t', 'flood'], ['n', `${batch}-${i}`]] }));
    const oks = await publishAll(publisher, events, 20_000);
    assert.ok(oks.every((m) => m[2] === true));
    sent += events.length;
    await sleep(20);
  }
  t.diagnostic(`cut off after ${sent} events of 32 KiB (${((sent * 32) / 1024).toFixed(1)} MiB) in ${Date.now() - started} ms`);
  assert.ok(cutOff(), `the paused client was not cut off after ${sent} events`);

  for (let i = 0; i < sent; i++) await normal.nextEvent('n', 10_000);
  t.diagnostic(`the normal reader received all ${sent} events`);
  const after = signEvent(k, { content: 'after the cut-off', tags: [['t', 'flood']] });
  await publishAll(publisher, [after]);
  assert.equal((await normal.nextEvent('n')).id, after.id);

  (slow.ws as unknown as { _socket: Socket })._socket.resume();
  await slow.waitForClose(10_000);
  const got = slow.messages.filter((m) => m[0] === 'EVENT').length;
  t.diagnostic(`the slow client had received ${got} of ${sent + 1} events before being dropped`);
  assert.ok(got < sent);
});

test('without real_ip_header, a client-written X-Forwarded-For is ignored: rotating it does not escape the per-address limit', async () => {
  const url = relay().url;
  const statuses: number[] = [];
  for (let i = 0; i < 41 && !statuses.includes(429); i++) {
    statuses.push(await upgradeStatus(url, xff(`203.0.113.${i + 1}`).headers));
  }
  assert.equal(statuses.at(-1), 429, `statuses: ${statuses.join(' ')}`);
});
