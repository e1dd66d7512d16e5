/**
 * SIGTERM while clients are publishing (Cloud Run's stop): every EVENT the relay
 * acknowledged is durable, clients are closed with 1001, the process exits 0 in time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { assertOk, rawClient } from '../helpers/fixture.js';
import { makeTempDir, removeDir, startRelay } from '../helpers/relay-process.js';
import { newKeys, signEvent, type Event, type RawClient } from '../helpers/ws-client.js';

const CLIENTS = 3;
// Signing costs milliseconds an event in the test process, so the stream is short but
// steady: 3 × 400 events a second for 0.75 s, with SIGTERM a third of the way in.
const EVENTS_PER_CLIENT = 300;
const BURST = 4;
const BURST_EVERY_MS = 10;
const SIGTERM_AFTER_MS = 250;
// Sent by every client in the same tick as the SIGTERM, so the relay has frames to answer
// after the signal however fast it keeps up with the steady stream (a fast machine
// otherwise finishes everything before the signal lands, and the test proves nothing).
const FINAL_BURST = 40;
const EXIT_LIMIT_MS = 8_000;
const SHUTTING_DOWN = 'error: relay is shutting down';

interface Stream {
  client: RawClient;
  sent: Set<string>;
  /** OK frames with the time they arrived. */
  oks: Array<{ id: string; ok: boolean; message: string; at: number }>;
  /** Send the next `n` events at once. */
  burst(n: number): void;
  done: Promise<void>;
}

/** Sends bursts of EVENTs without waiting for OKs until the events run out or the socket closes. */
function stream(client: RawClient, events: Event[]): Stream {
  let i = 0;
  const send = (n: number) => {
    for (const end = Math.min(i + n, events.length); i < end; i++) {
      client.ws.send(JSON.stringify(['EVENT', events[i]]));
      s.sent.add(events[i]!.id);
    }
  };
  const s: Stream = { client, sent: new Set(), oks: [], burst: send, done: Promise.resolve() };
  client.ws.on('message', (data) => {
    const m = JSON.parse(data.toString()) as unknown[];
    if (m[0] === 'OK') s.oks.push({ id: m[1] as string, ok: m[2] as boolean, message: m[3] as string, at: Date.now() });
  });
  s.done = new Promise((resolve) => {
    const tick = setInterval(() => {
      if (client.ws.readyState !== WebSocket.OPEN || i >= events.length) {
        clearInterval(tick);
        resolve();
        return;
      }
      send(BURST);
    }, BURST_EVERY_MS);
  });
  return s;
}

async function storedIds(client: RawClient, ids: string[]): Promise<Set<string>> {
  const found = new Set<string>();
  for (let i = 0; i < ids.length; i += 200) {
    const chunk = ids.slice(i, i + 200);
    const res = await client.req(`q${i}`, { ids: chunk, limit: chunk.length });
    assert.equal(res.eose, true, 'query ends with EOSE');
    for (const e of res.events) found.add(e.id);
  }
  return found;
}

test('SIGTERM while clients publish: every OK true is durable, 1001 close, exit 0 within 8 s', async (t) => {
  const dataDir = await makeTempDir('mls-relay-sigterm-');
  t.after(() => removeDir(dataDir));
  const events = Array.from({ length: CLIENTS }, () => {
    const keys = newKeys();
    return Array.from({ length: EVENTS_PER_CLIENT }, (_, n) => signEvent(keys, { content: `stream ${n}` }));
  });

  const relay = await startRelay({ dataDir });
  let streams: Stream[];
  const warmUp: string[] = [];
  let sigtermAt: number;
  try {
    const clients = await Promise.all(events.map(() => rawClient(t, relay.url, { verifyEvents: false })));
    // One acknowledged event each first, so the stream does not start against cold worker threads.
    for (const [k, c] of clients.entries()) {
      const first = events[k]!.shift()!;
      assertOk(await c.publish(first), true);
      warmUp.push(first.id);
    }
    streams = clients.map((c, k) => stream(c, events[k]!));
    await new Promise((r) => setTimeout(r, SIGTERM_AFTER_MS));
    assert.ok(streams.every((s) => s.sent.size < EVENTS_PER_CLIENT - 1 - FINAL_BURST), 'clients are still streaming at SIGTERM');
    for (const s of streams) s.burst(FINAL_BURST);
    sigtermAt = Date.now();
  } catch (err) {
    await relay.stop().catch(() => undefined);
    throw err;
  }
  const code = await relay.stop();
  const tookMs = Date.now() - sigtermAt;
  await Promise.all(streams.map((s) => s.done));

  assert.equal(code, 0, `exit code after SIGTERM\n${relay.stderr.slice(-20).join('\n')}`);
  assert.ok(tookMs < EXIT_LIMIT_MS, `exited ${tookMs} ms after SIGTERM (limit ${EXIT_LIMIT_MS})`);
  for (const s of streams) {
    const { code: closeCode } = await s.client.waitForClose(1_000);
    assert.equal(closeCode, 1001, 'clients are closed with 1001 (going away)');
  }

  const acked: string[] = [...warmUp];
  let refused = 0;
  let answeredAfterSigterm = 0;
  for (const s of streams) {
    const seen = new Set<string>();
    for (const ok of s.oks) {
      assert.ok(s.sent.has(ok.id), 'OK for an event this client sent');
      assert.ok(!seen.has(ok.id), `one OK per event (${ok.id})`);
      seen.add(ok.id);
      if (ok.at >= sigtermAt) answeredAfterSigterm++;
      if (ok.ok) acked.push(ok.id);
      else {
        assert.equal(ok.message, SHUTTING_DOWN, 'the only refusal in this stream is the shutdown one');
        refused++;
      }
    }
  }
  const sent = streams.reduce((n, s) => n + s.sent.size, 0);
  const answered = streams.reduce((n, s) => n + s.oks.length, 0);
  t.diagnostic(
    `sent ${sent}, OK true ${acked.length}, refused while stopping ${refused}, answered after SIGTERM ${answeredAfterSigterm}, ` +
      `unanswered (arrived after the close frame) ${sent - answered}, exit after ${tookMs} ms`,
  );
  assert.ok(answeredAfterSigterm > 0, 'the stream overlapped the shutdown (some EVENTs were answered after SIGTERM)');

  const again = await startRelay({ dataDir });
  try {
    const c = await rawClient(t, again.url, { verifyEvents: false });
    const found = await storedIds(c, acked);
    const lost = acked.filter((id) => !found.has(id));
    assert.deepEqual(lost, [], `${lost.length} of ${acked.length} acknowledged events are missing after the restart`);
    await c.close();
  } finally {
    assert.equal(await again.stop(), 0);
  }
});
