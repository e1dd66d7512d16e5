import type { IncomingMessage, ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
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

/** Constant-time comparison, so a wrong key leaks nothing through timing. */
export function keyMatches(given: string | undefined, expected: string | undefined): boolean {
  if (!given || !expected) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  return h?.startsWith('Bearer ') ? h.slice(7).trim() : undefined;
}

export function coreRoutes(ctx: RelayContext, isReady: () => boolean): Route[] {
  const index = (req: IncomingMessage, res: ServerResponse): void => {
    if ((req.headers.accept ?? '').includes('application/nostr+json')) {
      sendJson(res, 200, relayInformation(ctx.config(), ctx.verify.backendName), {
        ...CORS,
        'content-type': 'application/nostr+json',
      });
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
    if (!keyMatches(bearer(req), dbg.auth)) {
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
      handler: (_req, res) =>
        isReady() ? sendJson(res, 200, { status: 'ready' }) : sendJson(res, 503, { status: 'starting', error: 'storage is not open yet', code: 'not_ready' }),
    },
    {
      method: 'GET',
      path: '/debug/actors',
      handler: (req, res) => {
        if (!debugGuard(req, res)) return;
        const actors = ctx.supervisor.list().map((a) => ({ id: a.id, kind: a.kind, snapshot: a.snapshot() }));
        sendJson(res, 200, {
          supervisor: ctx.supervisor.snapshot(),
          workers: { verify: { backend: ctx.verify.backendName, ...ctx.verify.stats }, match: ctx.match.stats() },
          writer: ctx.writer.stats,
          actors,
        });
      },
    },
    {
      method: 'GET',
      path: /^\/debug\/actors\/(.+)$/,
      handler: (req, res, [id]) => {
        if (!debugGuard(req, res)) return;
        const actor = ctx.supervisor.get(id!);
        if (!actor) return sendError(res, 404, 'not_found', `no actor ${id}`);
        sendJson(res, 200, { id: actor.id, kind: actor.kind, snapshot: actor.snapshot() });
      },
    },
  ];
}
