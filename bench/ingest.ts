/**
 * WebSocket ingest: how many EVENTs per second the relay acknowledges (OK true, durable),
 * against a transport baseline measured in the same run: a bare `ws` server on the same
 * machine that answers every EVENT with OK at once, doing no verify, policy or write.
 * The ratio says how much of the transport ceiling the relay's pipeline keeps.
 *
 *   npm run build && node dist/bench/ingest.js [events=20000] [connections=8]
 *   RELAY_URL=ws://host:port node dist/bench/ingest.js   # drive a relay already running (profiling, a deployment)
 *
 * Not a test: it prints figures and exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer } from 'ws';
import { initNostrWasm } from 'nostr-wasm';
import * as wasm from 'nostr-tools/wasm';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TOTAL = Number(process.argv[2] ?? 20_000);
const CONNECTIONS = Number(process.argv[3] ?? 8);

wasm.setNostrWasm(await initNostrWasm());

function signBatch(n: number): string[] {
  const frames: string[] = [];
  const keys = Array.from({ length: 16 }, () => wasm.generateSecretKey());
  const base = Math.floor(Date.now() / 1000) - 60;
  for (let i = 0; i < n; i++) {
    const ev = wasm.finalizeEvent(
      { kind: 1, created_at: base - (i % 3600), tags: [['t', 'bench'], ['p', 'ab'.repeat(32)]], content: `bench event ${i} ${'x'.repeat(120)}` },
      keys[i % keys.length]!,
    );
    frames.push(JSON.stringify(['EVENT', ev]));
  }
  return frames;
}

/** Sends every frame over `CONNECTIONS` sockets with a bounded window each; resolves with events/s of OK true. */
async function drive(url: string, frames: string[]): Promise<{ rate: number; failed: number }> {
  const per = Math.ceil(frames.length / CONNECTIONS);
  const WINDOW = 256;
  const t0 = performance.now();
  let failed = 0;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, (_, c) => {
      const mine = frames.slice(c * per, (c + 1) * per);
      return new Promise<void>((done, fail) => {
        const ws = new WebSocket(url);
        let sent = 0;
        let acked = 0;
        const pump = () => {
          while (sent < mine.length && sent - acked < WINDOW) ws.send(mine[sent++]!);
        };
        ws.on('open', pump);
        ws.on('error', fail);
        ws.on('message', (data) => {
          const msg = JSON.parse(data.toString()) as unknown[];
          if (msg[0] !== 'OK') return;
          acked++;
          if (msg[2] !== true) failed++;
          if (acked === mine.length) {
            ws.close();
            done();
          } else pump();
        });
      });
    }),
  );
  return { rate: frames.length / ((performance.now() - t0) / 1000), failed };
}

async function baseline(frames: string[]): Promise<number> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  wss.on('connection', (ws) =>
    ws.on('message', (data) => {
      const [, ev] = JSON.parse(data.toString()) as [string, { id: string }];
      ws.send(JSON.stringify(['OK', ev.id, true, '']));
    }),
  );
  await new Promise((r) => wss.once('listening', r));
  const { port } = wss.address() as { port: number };
  const { rate } = await drive(`ws://127.0.0.1:${port}`, frames);
  await new Promise((r) => wss.close(r));
  return rate;
}

async function startRelay(dir: string): Promise<{ child: ChildProcess; url: string }> {
  const file = join(dir, 'relay.toml');
  await writeFile(
    file,
    `[data]\npath = ${JSON.stringify(join(dir, 'data'))}\n[network]\nhost = "127.0.0.1"\nport = 0\n[rate_limiter]\nenabled = false\n[extensions.mls_gateway]\nenabled = false\n`,
  );
  const child = spawn(process.execPath, [join(ROOT, 'dist/src/cli/main.js'), 'relay', '-c', file], {
    env: { ...process.env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((ok, fail) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      for (const line of buf.split('\n')) {
        if (line.includes('"msg":"listening"')) ok((JSON.parse(line) as { port: number }).port);
      }
    });
    child.once('exit', () => fail(new Error('relay exited')));
  });
  child.stdout!.resume();
  return { child, url: `ws://127.0.0.1:${port}` };
}

const frames = signBatch(TOTAL);
const dir = await mkdtemp(join(tmpdir(), 'mls-relay-bench-'));
try {
  const base = await baseline(frames);
  const external = process.env.RELAY_URL;
  const relay = external ? undefined : await startRelay(dir);
  const { rate, failed } = await drive(external ?? relay!.url, frames);
  if (relay) {
    relay.child.kill('SIGTERM');
    await new Promise((r) => relay.child.once('exit', r));
  }
  console.log(`ingest: ${TOTAL} events over ${CONNECTIONS} connections`);
  console.log(`  transport baseline (bare ws, OK at once): ${Math.round(base).toLocaleString('en-US')} events/s`);
  console.log(`  relay (verify + LMDB commit + OK):       ${Math.round(rate).toLocaleString('en-US')} events/s  (${(rate / base).toFixed(2)}x of baseline${failed ? `, ${failed} not OK` : ''})`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
