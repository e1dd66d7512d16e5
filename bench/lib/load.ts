/**
 * WebSocket load generation: pipelined EVENT publishing with a bounded in-flight window
 * per connection (closed loop), or paced at a fixed rate (open loop, for latency at a
 * chosen load). Frames are serialized before the clock starts.
 */
import { WebSocket } from 'ws';
import type { NostrEvent } from '../../src/protocol/types.js';
import { Latencies } from './stats.js';

export interface PublishOptions {
  connections: number;
  /** EVENTs in flight per connection. */
  window: number;
  /** Total events per second across all connections; absent = as fast as the window allows. */
  ratePerSec?: number;
  /** Called on every OK true, e.g. to count the events a time window saw acknowledged. */
  onAccepted?: () => void;
}

export interface PublishResult {
  sent: number;
  accepted: number;
  /** Count of OK false by message prefix ("invalid", "rate-limited", ...). */
  rejected: Record<string, number>;
  /** EVENT sent → OK received, milliseconds. */
  latency: Latencies;
  wallMs: number;
}

export function open(url: string): Promise<WebSocket> {
  return new Promise((ok, fail) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once('open', () => ok(ws));
    ws.once('error', fail);
  });
}

/** Opens n sockets, `parallel` at a time, pushing each into `into` as soon as it is open, so a failure part-way still leaves every open socket for closeAll. */
export async function openInto(url: string, n: number, into: WebSocket[], parallel = 100): Promise<void> {
  for (let i = 0; i < n; i += parallel) {
    await Promise.all(Array.from({ length: Math.min(parallel, n - i) }, () => open(url).then((ws) => void into.push(ws))));
  }
}

export async function openMany(url: string, n: number): Promise<WebSocket[]> {
  const out: WebSocket[] = [];
  await openInto(url, n, out);
  return out;
}

export function closeAll(sockets: WebSocket[]): Promise<void> {
  return Promise.all(
    sockets.map(
      (ws) =>
        new Promise<void>((r) => {
          if (ws.readyState === WebSocket.CLOSED) return r();
          ws.once('close', () => r());
          ws.close();
          setTimeout(() => (ws.terminate(), r()), 2_000).unref();
        }),
    ),
  ).then(() => undefined);
}

export async function publish(url: string, events: NostrEvent[], o: PublishOptions): Promise<PublishResult> {
  const frames = events.map((e) => JSON.stringify(['EVENT', e]));
  const ids = events.map((e) => e.id);
  const sockets = await openMany(url, o.connections);
  const latency = new Latencies();
  const rejected: Record<string, number> = {};
  let accepted = 0;
  const per = Math.ceil(frames.length / o.connections);
  const t0 = performance.now();
  const begin = t0;
  await Promise.all(
    sockets.map(
      (ws, c) =>
        new Promise<void>((done, fail) => {
          const first = c * per;
          const last = Math.min(frames.length, first + per);
          const sentAt = new Map<string, number>();
          let next = first;
          let answered = 0;
          const quota = () => (o.ratePerSec ? Math.floor(((performance.now() - begin) / 1000) * (o.ratePerSec / o.connections)) - (next - first) : Infinity);
          const pump = () => {
            let allowed = quota();
            while (next < last && sentAt.size < o.window && allowed-- > 0) {
              sentAt.set(ids[next]!, performance.now());
              ws.send(frames[next++]!);
            }
          };
          const pacer = o.ratePerSec ? setInterval(pump, 1) : undefined;
          if (last <= first) return done();
          ws.on('error', fail);
          ws.on('message', (data: Buffer) => {
            const msg = JSON.parse(data.toString()) as [string, string, boolean, string];
            if (msg[0] !== 'OK') return;
            const at = sentAt.get(msg[1]);
            if (at === undefined) return;
            sentAt.delete(msg[1]);
            latency.add(performance.now() - at);
            if (msg[2]) {
              accepted++;
              o.onAccepted?.();
            } else {
              const reason = String(msg[3]).split(':')[0] || 'unknown';
              rejected[reason] = (rejected[reason] ?? 0) + 1;
            }
            if (++answered === last - first) {
              if (pacer) clearInterval(pacer);
              done();
            } else pump();
          });
          pump();
        }),
    ),
  );
  const wallMs = performance.now() - t0;
  await closeAll(sockets);
  return { sent: frames.length, accepted, rejected, latency, wallMs };
}

/** Sends a REQ and resolves with the events and the time to EOSE (ms); CLOSEs the subscription. */
export function reqToEose(ws: WebSocket, subId: string, filter: object): Promise<{ events: number; ms: number }> {
  return new Promise((ok, fail) => {
    let events = 0;
    const t0 = performance.now();
    const onMessage = (data: Buffer) => {
      const msg = JSON.parse(data.toString()) as unknown[];
      if (msg[1] !== subId) return;
      if (msg[0] === 'EVENT') events++;
      else if (msg[0] === 'EOSE') {
        ws.off('message', onMessage);
        ws.send(JSON.stringify(['CLOSE', subId]));
        ok({ events, ms: performance.now() - t0 });
      } else if (msg[0] === 'CLOSED') {
        ws.off('message', onMessage);
        fail(new Error(`REQ closed: ${String(msg[2])}`));
      }
    };
    ws.on('message', onMessage);
    ws.send(JSON.stringify(['REQ', subId, filter]));
  });
}

/** Sends a NIP-45 COUNT and resolves with the answer and its round trip (ms); rejects on CLOSED. */
export function countOnce(ws: WebSocket, subId: string, filter: object): Promise<{ count: number; approximate: boolean; ms: number }> {
  return new Promise((ok, fail) => {
    const t0 = performance.now();
    const onMessage = (data: Buffer) => {
      const msg = JSON.parse(data.toString()) as unknown[];
      if (msg[1] !== subId) return;
      if (msg[0] === 'COUNT') {
        ws.off('message', onMessage);
        const body = msg[2] as { count: number; approximate?: boolean };
        ok({ count: body.count, approximate: body.approximate === true, ms: performance.now() - t0 });
      } else if (msg[0] === 'CLOSED') {
        ws.off('message', onMessage);
        fail(new Error(`COUNT closed: ${String(msg[2])}`));
      }
    };
    ws.on('message', onMessage);
    ws.send(JSON.stringify(['COUNT', subId, filter]));
  });
}
