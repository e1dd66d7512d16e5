import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { ConnectionActor } from '../../actors/connection.js';
import type { Config } from '../config/types.js';
import { log } from '../log.js';
import { firstRejection } from '../pipeline/hooks.js';
import type { RelayContext } from '../relay-context.js';
import { clientAddress } from './client-address.js';
import { rawError, sendError } from './respond.js';
import type { Router } from './router.js';
import { HttpSocketCaps, type Admission } from './socket-caps.js';

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
  /** Sockets that are plain HTTP right now (not yet, or never, a WebSocket). */
  httpSockets(): number;
  /** Sockets refused at accept so far, by cap. */
  refusedSockets(): { total: number; address: number };
  listen(host: string, port: number): Promise<{ host: string; port: number }>;
  /** Refuse WebSocket upgrades with 503 and this reason until called with undefined. */
  hold(why: string | undefined): void;
  /** Stop accepting new connections and upgrades (existing sockets stay open). */
  stopAccepting(): Promise<void>;
}

/** Warnings an attacker can trigger are said at most this often. */
const WARN_EVERY_MS = 60_000;
/** Served while the relay's data is held (see `hold`): probes, NIP-11, metrics, the debug view. */
const OPEN_WHILE_HELD = new Set(['/', '/health', '/ready', '/metrics', '/debug/actors']);

export function createHttpFront(ctx: RelayContext, router: Router): HttpFront {
  let nextConnId = 1;
  let accepting = true;
  /**
   * Why the relay's data is held back (cluster catch-up: no partial view is served), or
   * undefined: WebSocket upgrades and every HTTP route but the probes, NIP-11 and the
   * operator's endpoints answer 503 meanwhile.
   */
  let held: string | undefined;
  const net = ctx.config().network;
  const server = createServer(
    {
      // Node checks headersTimeout/requestTimeout only this often (30 s by default), which would let
      // a silent socket live 30 s past its timeout.
      connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(net.http_request_timeout / 2))),
      // Node's own answer to a missing Host is a bare 400; the router gives the JSON one.
      requireHostHeader: false,
    },
    (req, res) => {
      if (held !== undefined && !OPEN_WHILE_HELD.has((req.url ?? '').split('?', 1)[0]!)) return sendError(res, 503, 'not_ready', held);
      router.handle(req, res);
    },
  );
  applyTimeouts(server, ctx.config());
  const caps = new HttpSocketCaps();
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: hardFrameCap(ctx.config().limitation.max_message_length),
    perMessageDeflate: false,
  });
  const warnSometimes = throttled();

  server.on('connection', (socket: Socket) => {
    const cfg = ctx.config();
    applyTimeouts(server, cfg); // cheap, and a --watch reload takes effect on the next connection
    const admission = caps.admit(socket, {
      total: cfg.limitation.max_http_connections,
      perAddress: cfg.limitation.max_http_connections_per_ip,
      behindProxy: cfg.network.real_ip_header !== undefined && cfg.network.trusted_proxies > 0,
    });
    if (admission !== 'ok') overCap(socket, admission, cfg, warnSometimes);
  });

  // A request that does not parse, or does not arrive in time. Node's default answer would do, but
  // ours is JSON like every other error, and nothing in here may throw.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    try {
      const pending = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
      if (err.code === 'ECONNRESET' || !socket.writable || pending?.headersSent) return void socket.destroy();
      const [status, code, msg] = clientErrorAnswer(err.code);
      closeWith(socket, rawError(status, code, msg));
    } catch {
      socket.destroy();
    }
  });

  // Without a listener, an accept() failure (EMFILE at the open-file limit) would be thrown and end
  // the process; libuv keeps accepting once descriptors are free again.
  server.on('error', (err: NodeJS.ErrnoException) => {
    if (!server.listening) return; // listen() reports its own failure
    warnSometimes(`accept:${err.code}`, () => log.warn({ code: err.code, err: err.message }, 'cannot accept connections (open-file limit?)'));
  });

  // CONNECT (proxy tunnelling) is not served; without a listener Node would drop the socket silently.
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => closeWith(socket, rawError(405, 'method_not_allowed', 'method not allowed')));

  // A handshake ws refuses (not GET, no valid key or version): the same JSON errors as everywhere.
  wss.on('wsClientError', (err: Error, socket: Duplex) => {
    const method = err.message === 'Invalid HTTP method';
    const extra: Record<string, string> = err.message.includes('Version') ? { 'Sec-WebSocket-Version': '13, 8' } : {};
    closeWith(socket, rawError(method ? 405 : 400, method ? 'method_not_allowed' : 'bad_request', err.message, extra));
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    try {
      upgrade(req, socket as Socket, head);
    } catch (err) {
      log.error({ err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err) }, 'websocket upgrade failed');
      closeWith(socket, rawError(500, 'internal', 'internal error'));
    }
  });

  const upgrade = (req: IncomingMessage, socket: Socket, head: Buffer): void => {
    const cfg = ctx.config();
    if (req.httpVersion === '1.1' && req.headers.host === undefined) return refuse(socket, 400, 'missing Host header');
    if (!accepting) return refuse(socket, 503, 'shutting down');
    if (held !== undefined) return refuse(socket, 503, held);
    if (ctx.connections.size >= cfg.limitation.max_connections) return refuse(socket, 503, 'too many connections');
    const remote = clientAddress(req, cfg.network.real_ip_header, cfg.network.trusted_proxies);
    const refusal = firstRejection(ctx.hooks.connect, remote);
    if (refusal !== undefined) return refuse(socket, refusal.startsWith('rate-limited') ? 429 : 403, refusal);
    wss.handleUpgrade(req, socket, head, (ws) => {
      caps.release(socket); // a WebSocket now: max_connections counts it
      const conn = new ConnectionActor(ctx, ws, socket, nextConnId++, remote);
      ctx.connections.set(conn.connId, conn);
      ctx.supervisor.add({ actor: conn, onFailure: 'stop' });
      ctx.metrics.connectionsTotal++;
      conn.start();
    });
  };

  return {
    server,
    wss,
    hold: (why) => {
      held = why;
    },
    httpSockets: () => caps.size,
    refusedSockets: () => caps.refused,
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

function applyTimeouts(server: Server, cfg: Config): void {
  const { http_request_timeout: request, http_keepalive_timeout: idle } = cfg.network;
  // The whole request must arrive within http_request_timeout, its headers included (Node refuses
  // headersTimeout > requestTimeout). A socket that never sends a byte is covered too.
  server.requestTimeout = request;
  server.headersTimeout = request;
  server.keepAliveTimeout = idle;
}

function clientErrorAnswer(code: string | undefined): [number, string, string] {
  switch (code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return [408, 'request_timeout', 'request not received in time'];
    case 'HPE_HEADER_OVERFLOW':
      return [431, 'headers_too_large', 'request line and headers too large'];
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return [413, 'payload_too_large', 'chunk extensions too large'];
    default:
      return [400, 'bad_request', 'malformed HTTP request'];
  }
}

function overCap(socket: Socket, why: Exclude<Admission, 'ok'>, cfg: Config, warn: ReturnType<typeof throttled>): void {
  const limit = why === 'total' ? cfg.limitation.max_http_connections : cfg.limitation.max_http_connections_per_ip;
  const what = why === 'total' ? 'max_http_connections' : 'max_http_connections_per_ip';
  warn(what, () => log.warn({ limit }, `${what} reached: new HTTP connections are refused`));
  if (why === 'total') closeWith(socket, rawError(503, 'unavailable', 'too many HTTP connections'));
  else closeWith(socket, rawError(429, 'rate_limited', `rate-limited: too many HTTP connections from your address (max ${limit})`));
}

/**
 * Write a last answer and release the descriptor as soon as it is written: a peer that never
 * closes its end must not keep the socket (after an upgrade or a parse error Node no longer
 * times it out).
 */
function closeWith(socket: Duplex, response: string): void {
  socket.once('finish', () => socket.destroy());
  socket.once('error', () => socket.destroy());
  socket.end(response);
}

function refuse(socket: Duplex, status: number, reason: string): void {
  log.debug({ reason }, 'upgrade refused'); // debug: a flood must not become a log flood; metrics count refusals
  const code = status === 429 ? 'rate_limited' : status === 403 ? 'forbidden' : status === 400 ? 'bad_request' : 'unavailable';
  closeWith(socket, rawError(status, code, reason));
}

/** Runs `say` at most once per WARN_EVERY_MS per key. */
function throttled(): (key: string, say: () => void) => void {
  const last = new Map<string, number>();
  return (key, say) => {
    const now = Date.now();
    if (now - (last.get(key) ?? -Infinity) < WARN_EVERY_MS) return;
    last.set(key, now);
    say();
  };
}
