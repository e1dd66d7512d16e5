import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Config } from '../config/types.js';
import { safeView } from '../metrics/debug-view.js';
import type { Lifecycle } from '../lifecycle/machine.js';
import type { RelayContext } from '../relay-context.js';
import { VERSION } from '../version.js';
import { relayInformation } from './nip11.js';
import { sendError, sendJson } from './respond.js';
import type { Route } from './router.js';

const CORS = {
  'access-control-allow-origin': '*',
  'access-control-allow-headers': '*',
  'access-control-allow-methods': 'GET, OPTIONS',
};

/**
 * Constant-time comparison, so a wrong key leaks nothing through timing. Digests of equal
 * length are compared, so not even the key's length shows.
 */
export function keyMatches(given: string | undefined, expected: string | undefined): boolean {
  if (!given || !expected) return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The key of an `Authorization: Bearer KEY` header, if any. */
export function bearerToken(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  return h?.startsWith('Bearer ') ? h.slice(7).trim() : undefined;
}

/** Actors listed by one GET /debug/actors at most; a relay may hold many thousands. */
const DEBUG_LIST_CAP = 2_000;

export function coreRoutes(ctx: RelayContext, lifecycle: Pick<Lifecycle, 'state' | 'why'>): Route[] {
  // Many clients fetch NIP-11 on every connect. The document depends on the config alone,
  // and a reload (--watch) swaps the config object, so it is built once per config.
  let nip11: { cfg: Config; text: string } | undefined;
  const index = (req: IncomingMessage, res: ServerResponse): void => {
    if ((req.headers.accept ?? '').includes('application/nostr+json')) {
      const cfg = ctx.config();
      if (nip11?.cfg !== cfg) nip11 = { cfg, text: JSON.stringify(relayInformation(cfg, ctx.verify.backendName)) };
      res.writeHead(200, { ...CORS, 'content-type': 'application/nostr+json', 'content-length': Buffer.byteLength(nip11.text) });
      res.end(nip11.text);
      return;
    }
    const redirect = ctx.config().network.index_redirect_to;
    if (redirect) {
      res.writeHead(302, { location: redirect });
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('This is a Nostr relay. Connect with a Nostr client over WebSocket.\n');
  };

  const debugGuard = (req: IncomingMessage, res: ServerResponse): boolean => {
    const dbg = ctx.config().debug;
    if (!dbg.enabled) {
      sendError(res, 404, 'not_found', 'not found');
      return false;
    }
    if (!keyMatches(bearerToken(req), dbg.auth)) {
      sendError(res, 401, 'unauthorized', 'unauthorized');
      return false;
    }
    return true;
  };

  return [
    { method: 'GET', path: '/', handler: index },
    {
      method: 'OPTIONS',
      path: '/',
      handler: (_req, res) => {
        res.writeHead(204, CORS);
        res.end();
      },
    },
    {
      method: 'GET',
      path: '/health',
      handler: (_req, res) =>
        sendJson(res, 200, { status: 'healthy', version: VERSION, uptime_seconds: Math.floor((Date.now() - ctx.startedAt) / 1000) }),
    },
    {
      method: 'GET',
      path: '/ready',
      handler: (_req, res) => {
        // Reads are still served while storage refuses writes; /health stays 200 (this is only the startup probe).
        const why = lifecycle.why();
        if (why === undefined) return sendJson(res, 200, { status: 'ready' });
        const [error, code] = why;
        return sendJson(res, 503, { status: lifecycle.state, error, code });
      },
    },
    {
      method: 'GET',
      path: '/debug/actors',
      handler: (req, res, _params, url) => {
        if (!debugGuard(req, res)) return;
        // ?kind=connection narrows the list; every kind the supervisor holds is counted either way.
        const kind = url.searchParams.get('kind') ?? undefined;
        const all = ctx.supervisor.list(kind);
        const actors = all.slice(0, DEBUG_LIST_CAP).map((a) => ({ id: a.id, kind: a.kind, snapshot: safeView(a.snapshot()) }));
        const supervisor = ctx.supervisor.snapshot();
        sendJson(res, 200, {
          lifecycle: lifecycle.state,
          supervisor,
          kinds: supervisor.children,
          workers: {
            verify: { backend: ctx.verify.backendName, threads: ctx.verify.threads, ...ctx.verify.stats },
            match: ctx.match.stats(),
          },
          writer: ctx.writer.stats,
          fanout: { delivered: ctx.fanout.delivered },
          connections: ctx.connections.size,
          actors,
          ...(all.length > actors.length ? { truncated: true, total: all.length } : {}),
        });
      },
    },
    {
      method: 'GET',
      path: /^\/debug\/actors\/(.+)$/,
      handler: (req, res, [id]) => {
        if (!debugGuard(req, res)) return;
        const actor = ctx.supervisor.get(id!);
        if (!actor) return sendError(res, 404, 'not_found', 'no such actor');
        sendJson(res, 200, { id: actor.id, kind: actor.kind, snapshot: safeView(actor.snapshot()) });
      },
    },
  ];
}
