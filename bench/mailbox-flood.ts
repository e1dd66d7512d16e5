/**
 * Gift wraps to ONE recipient: does the cost of a deposit grow with the mailbox? One
 * authenticated connection publishes N kind-1059 wraps to one recipient (WINDOW awaiting OK),
 * while an unrelated connection publishes a kind 1 every PROBE_MS and times its OK. Prints the
 * wrap rate of the first and the last SLICE wraps and the probe's OK latency. The mailbox
 * cap and the per-sender deposit limit are raised above N so that only the cost is measured.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/mailbox-flood.js [N]   (default 3000)
 *
 * Not a test: it prints figures and exits 0.
 */
import { randomBytes } from 'node:crypto';
import type { WebSocket } from 'ws';
import { initSigner, newKey, openAuthed, sign } from './lib/nostr-auth.js';
import { startBenchRelay } from './lib/relay.js';
import { Latencies, sleep } from './lib/stats.js';
import type { NostrEvent } from '../src/protocol/types.js';

const N = Number(process.argv[2] ?? 3000);
const SLICE = Math.min(500, Math.floor(N / 3));
const WINDOW = 16;
const PROBE_MS = 50;

/** Sends events with at most `window` awaiting OK; returns the time each OK arrived (ms). */
function publishWindowed(ws: WebSocket, events: NostrEvent[], window: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const okAt: number[] = new Array(events.length);
    const index = new Map(events.map((e, i) => [e.id, i]));
    let sent = 0;
    let done = 0;
    const send = () => {
      while (sent < events.length && sent - done < window) ws.send(JSON.stringify(['EVENT', events[sent++]]));
    };
    ws.on('message', (data: Buffer) => {
      const m = JSON.parse(data.toString()) as unknown[];
      if (m[0] !== 'OK') return;
      const i = index.get(m[1] as string);
      if (i === undefined) return;
      if (m[2] !== true) return reject(new Error(`wrap refused: ${String(m[3])}`));
      okAt[i] = performance.now();
      if (++done === events.length) resolve(okAt);
      else send();
    });
    send();
  });
}

await initSigner();
const relay = await startBenchRelay({
  gateway: true,
  config: {
    'extensions.mls_gateway': { mailbox_max_items: N + 10, mailbox_deposits_per_minute: N + 10 },
  },
});
try {
  const recipient = newKey();
  const flooder = await openAuthed(relay.url, newKey());
  const bystander = await openAuthed(relay.url, newKey());
  const wraps = Array.from({ length: N }, () =>
    sign(newKey(), { kind: 1059, tags: [['p', recipient.pk]], content: randomBytes(600).toString('base64') }),
  );

  const probe = new Latencies();
  let probing = true;
  const author = newKey();
  const probeLoop = (async () => {
    while (probing) {
      const e = sign(author, { kind: 1, tags: [], content: randomBytes(16).toString('hex') });
      const t0 = performance.now();
      await new Promise<void>((ok) => {
        const on = (data: Buffer) => {
          const m = JSON.parse(data.toString()) as unknown[];
          if (m[0] === 'OK' && m[1] === e.id) {
            bystander.off('message', on);
            ok();
          }
        };
        bystander.on('message', on);
        bystander.send(JSON.stringify(['EVENT', e]));
      });
      probe.add(performance.now() - t0);
      await sleep(PROBE_MS);
    }
  })();

  const t0 = performance.now();
  const okAt = await publishWindowed(flooder, wraps, WINDOW);
  probing = false;
  await probeLoop;
  const rate = (from: number, to: number) => ((to - from) / ((okAt[to - 1]! - (from === 0 ? t0 : okAt[from - 1]!)) / 1000)).toFixed(0);
  console.log(`wraps to one recipient: ${N}`);
  console.log(`  first ${SLICE}: ${rate(0, SLICE)}/s   last ${SLICE}: ${rate(N - SLICE, N)}/s   all: ${(N / ((okAt[N - 1]! - t0) / 1000)).toFixed(0)}/s`);
  console.log(`  unrelated publisher OK latency: p50 ${probe.percentile(50).toFixed(1)} ms, p99 ${probe.percentile(99).toFixed(1)} ms, n=${probe.count}`);
  flooder.close();
  bystander.close();
} finally {
  await relay.stop();
}
