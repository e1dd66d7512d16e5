import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { ConnectionActor } from '../../actors/connection.js';
import { log } from '../log.js';
import { firstRejection } from '../pipeline/hooks.js';
import type { RelayContext } from '../relay-context.js';
import { clientAddress } from './client-address.js';
import type { Router } from './router.js';

/**
 * Frames between max_message_length and this hard cap are read and answered with a
 * NOTICE (the connection stays usable, as the issue asks); only beyond it does ws close
 * the socket, so a hostile client cannot make us buffer without bound.
 */
export function hardFrameCap(maxMessageLength: number): number {
  return Math.max(2 * maxMessageLength, maxMessageLength + 1024 * 1024);
}

export interface HttpFront {
  server: Server;
  wss: WebSocketServer;
  listen(host: string, port: number): Promise<{ host: string; port: number }>;
  /** Stop accepting new connections and upgrades (existing sockets stay open). */
  stopAccepting(): Promise<void>;
}

export function createHttpFront(ctx: RelayContext, router: Router): HttpFront {
  let nextConnId = 1;
  let accepting = true;
  const server = createServer((req, res) => router.handle(req, res));
  server.keepAliveTimeout = 65_000;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: hardFrameCap(ctx.config().limitation.max_message_length),
    perMessageDeflate: false,
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const cfg = ctx.config();
    if (!accepting) return refuse(socket, 503, 'shutting down');
    if (ctx.connections.size >= cfg.limitation.max_connections) return refuse(socket, 503, 'too many connections');
    const remote = clientAddress(req, cfg.network.real_ip_header, cfg.network.trusted_proxies);
    const refusal = firstRejection(ctx.hooks.connect, remote);
    if (refusal !== undefined) return refuse(socket, refusal.startsWith('rate-limited') ? 429 : 403, refusal);
    wss.handleUpgrade(req, socket, head, (ws) => {
      const conn = new ConnectionActor(ctx, ws, socket, nextConnId++, remote, req.headers.host ?? '');
      ctx.connections.set(conn.connId, conn);
      ctx.supervisor.add({ actor: conn, onFailure: 'stop' });
      ctx.metrics.connectionsTotal++;
      conn.start();
    });
  });

  return {
    server,
    wss,
    listen: (host, port) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const addr = server.address();
          resolve(typeof addr === 'object' && addr ? { host: addr.address, port: addr.port } : { host, port });
        });
      }),
    stopAccepting: () =>
      new Promise((resolve) => {
        accepting = false;
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

function refuse(socket: Duplex, status: number, reason: string): void {
  log.debug({ reason }, 'upgrade refused'); // debug: a flood must not become a log flood; metrics count refusals
  const body = JSON.stringify({ error: reason, code: status === 429 ? 'rate_limited' : status === 403 ? 'forbidden' : 'unavailable' });
  socket.end(
    `HTTP/1.1 ${status} ${status === 429 ? 'Too Many Requests' : status === 403 ? 'Forbidden' : 'Service Unavailable'}\r\n` +
      `Connection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
