/**
 * The client side of many-connection scenarios: one REQ left open on each socket, and a
 * cheap tracker of what the subscribers receive.
 */
import type { WebSocket } from 'ws';
import { Latencies } from './stats.js';

/** Sends REQ `subId` on every socket and resolves once each has sent EOSE; the subscriptions stay open. */
export async function subscribeAll(sockets: WebSocket[], subId: string, filter: (i: number) => object): Promise<void> {
  await Promise.all(
    sockets.map(
      (ws, i) =>
        new Promise<void>((ok, fail) => {
          const onClose = () => fail(new Error('socket closed before EOSE'));
          const onMessage = (data: Buffer) => {
            const msg = JSON.parse(data.toString()) as unknown[];
            if (msg[1] !== subId || (msg[0] !== 'EOSE' && msg[0] !== 'CLOSED')) return;
            ws.off('message', onMessage);
            ws.off('close', onClose);
            if (msg[0] === 'EOSE') ok();
            else fail(new Error(`REQ closed: ${String(msg[2])}`));
          };
          ws.on('message', onMessage);
          ws.once('close', onClose);
          ws.send(JSON.stringify(['REQ', subId, filter(i)]));
        }),
    ),
  );
}

const ID_KEY = Buffer.from('"id":"');

/**
 * Which subscriber received which of a round's events, and when (publish send time →
 * receipt). A relay frame is ["EVENT","<subId>",{..."id":"<64 hex>",...}]: the id is found
 * with one indexOf on the bytes instead of parsing every frame. That is exact: "id" is
 * the only key of that name, and inside a JSON string a quote is escaped, so content or
 * tags cannot hold the byte sequence "id":" .
 */
export class Receipts {
  /** performance.now() when the publisher sent event i; set by the caller. */
  readonly sentAt: Float64Array;
  /** Subscribers that have received event i. */
  readonly perEvent: Uint32Array;
  /** subscriber × event, to tell a duplicate from a first receipt. */
  private readonly seen: Uint8Array;
  readonly index = new Map<string, number>();
  readonly latency = new Latencies();
  received = 0;
  duplicates = 0;
  /** EVENT frames whose id is not one of this round's. */
  foreign = 0;
  lastAt = 0;
  /** Called once event i has reached every subscriber. */
  onComplete: (i: number) => void = () => {};

  constructor(
    ids: string[],
    readonly subscribers: number,
  ) {
    ids.forEach((id, i) => this.index.set(id, i));
    this.sentAt = new Float64Array(ids.length);
    this.perEvent = new Uint32Array(ids.length);
    this.seen = new Uint8Array(ids.length * subscribers);
  }

  /** A frame arrived at subscriber `s`. */
  frame(s: number, data: Buffer): void {
    if (data[2] !== 0x45 || data[3] !== 0x56) return; // not ["EV…: AUTH, NOTICE, EOSE
    const now = performance.now();
    const at = data.indexOf(ID_KEY, 10);
    const i = at < 0 ? undefined : this.index.get(data.toString('latin1', at + 6, at + 70));
    if (i === undefined) {
      this.foreign++;
      return;
    }
    const k = s * this.sentAt.length + i;
    if (this.seen[k]) {
      this.duplicates++;
      return;
    }
    this.seen[k] = 1;
    this.received++;
    this.lastAt = now;
    this.latency.add(now - this.sentAt[i]!);
    if (++this.perEvent[i]! === this.subscribers) this.onComplete(i);
  }
}
