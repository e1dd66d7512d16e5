/**
 * The baseline for fan-out and idle connections: a bare `ws` server doing the least a
 * relay could. REQ → EOSE (the socket is now a subscriber), EVENT → OK to the sender and
 * the same ["EVENT",<subId>,<event>] text to every subscriber. No verification, storage,
 * filter matching or per-connection state beyond the socket. It runs in its own process
 * so its CPU and memory are read from /proc exactly like the relay's.
 *
 * Run directly (node dist/bench/lib/bare-broadcast.js) it serves and prints its port;
 * imported, startBareBroadcast() spawns it.
 */
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { WebSocketServer, type WebSocket } from 'ws';
import { cpuMicros, rssBytes } from './proc.js';

export interface BareServer {
  url: string;
  pid: number;
  cpuMicros(): number;
  rssBytes(): number;
  stop(): Promise<void>;
}

function serve(): void {
  const subscribers = new Map<WebSocket, string>();
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  wss.on('listening', () => console.log(JSON.stringify({ port: (wss.address() as AddressInfo).port })));
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.on('close', () => subscribers.delete(ws));
    ws.on('message', (data: Buffer) => {
      const msg = JSON.parse(data.toString()) as unknown[];
      if (msg[0] === 'REQ') {
        subscribers.set(ws, String(msg[1]));
        ws.send(JSON.stringify(['EOSE', msg[1]]));
      } else if (msg[0] === 'EVENT') {
        const event = msg[1] as { id: string };
        ws.send(JSON.stringify(['OK', event.id, true, '']));
        // Serialized once, the sub id escaped per send: what the relay's eventMsg does.
        const json = JSON.stringify(event);
        for (const [sub, subId] of subscribers) sub.send('["EVENT",' + JSON.stringify(subId) + ',' + json + ']');
      }
    });
  });
}

export async function startBareBroadcast(): Promise<BareServer> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const port = await new Promise<number>((ok, fail) => {
    child.stdout!.once('data', (d: Buffer) => ok((JSON.parse(d.toString().split('\n')[0]!) as { port: number }).port));
    void exited.then(() => fail(new Error('bare broadcast server exited before listening')));
  });
  const pid = child.pid!;
  return {
    url: `ws://127.0.0.1:${port}`,
    pid,
    cpuMicros: () => cpuMicros(pid),
    rssBytes: () => rssBytes(pid),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) serve();
