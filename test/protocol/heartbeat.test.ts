/** WebSocket heartbeat: pings every heartbeat_interval; answering clients stay, silent ones are dropped. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertOk, rawClient, sharedRelay, sleep } from '../helpers/fixture.js';
import { newKeys, signEvent } from '../helpers/ws-client.js';

const relay = sharedRelay({
  toml: `
[network]
heartbeat_interval = "1s"
heartbeat_timeout = "2s"
`,
});

test('a client that answers pings receives them and stays connected; a silent one is dropped', async (t) => {
  const answering = await rawClient(t, relay().url);
  const silent = await rawClient(t, relay().url, { autoPong: false });
  const silentClosed = silent.waitForClose(6_000);

  await sleep(3_500);
  assert.ok(answering.pings >= 2, `expected at least 2 pings in 3.5 s, got ${answering.pings}`);
  assert.equal(answering.closed, false, `answering client was disconnected (code ${answering.closeCode})`);
  assertOk(await answering.publish(signEvent(newKeys(), { content: 'still here' })), true);

  const closed = await silentClosed;
  assert.ok(silent.pings >= 1, 'the silent client was pinged');
  t.diagnostic(`silent client closed with code ${closed.code}`);
});
