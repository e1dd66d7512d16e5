/**
 * Time budget and socket handling of a graceful stop. Cloud Run sends SIGTERM and kills
 * the container 10 s later; relay-command exits by force at 8 s, so the phases below
 * add up to well under that and the process exits on its own.
 */
import type { Server } from 'node:http';
import { WebSocket, type WebSocketServer } from 'ws';

export const SHUTDOWN_BUDGET = {
  /** In-flight EVENTs (verify + commit + OK); normally milliseconds, long only under overload. */
  drainMs: 3_000,
  /** For clients to answer our 1001 close frame before their sockets are cut. */
  closeGraceMs: 1_000,
  /** For plain HTTP requests already being answered. */
  httpGraceMs: 500,
  /** Everything, final snapshot included, counted from the start of stop(). */
  totalMs: 7_000,
} as const;

/** Resolves true when `p` settles within `ms`, false otherwise (`p` keeps running). */
export async function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((r) => {
    timer = setTimeout(() => r(false), Math.max(0, ms));
  });
  try {
    return await Promise.race([
      p.then(
        () => true,
        () => true,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Wait for every socket to finish the close handshake (the connection actors have sent
 * their close frames), then cut the ones that did not answer in time. Cutting at once
 * would race the close frame: a socket destroyed with unread input is reset, and the
 * client may never see the 1001.
 */
export async function closeSockets(wss: WebSocketServer, graceMs: number): Promise<number> {
  const waiting: Promise<void>[] = [];
  for (const ws of wss.clients) {
    if (ws.readyState === WebSocket.CLOSED) continue;
    if (ws.readyState === WebSocket.OPEN) ws.close(1001, 'relay shutting down');
    waiting.push(new Promise((r) => ws.once('close', () => r())));
  }
  if (waiting.length === 0) return 0;
  await within(Promise.all(waiting), graceMs);
  let cut = 0;
  for (const ws of wss.clients) {
    if (ws.readyState !== WebSocket.CLOSED) {
      ws.terminate();
      cut++;
    }
  }
  return cut;
}

/** Let HTTP requests in progress finish for a moment, then drop whatever is left. */
export async function closeHttp(server: Server, closed: Promise<void>, graceMs: number): Promise<void> {
  if (await within(closed, graceMs)) return;
  server.closeAllConnections();
  await within(closed, graceMs);
}
