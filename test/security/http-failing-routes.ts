/**
 * A child process for http-handler-failure.test.ts: the relay's own Router and createServer, with
 * routes whose handlers fail in each way a handler can. Prints `{"port": N}` and then pino logs.
 */
import { createServer } from 'node:http';
import { sendJson } from '../../src/http/respond.js';
import { Router } from '../../src/http/router.js';

const router = new Router().add(
  { method: 'GET', path: '/sync-throw', handler: () => { throw new Error('sync boom'); } },
  { method: 'GET', path: '/reject', handler: async () => { await Promise.resolve(); throw new Error('async boom'); } },
  { method: 'GET', path: /^\/throw-string\/([^/]+)$/, handler: () => { throw 'a string'; } },
  {
    method: 'GET',
    path: '/after-headers',
    handler: (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 100 });
      res.write('{"partial":');
      throw new Error('boom after headers');
    },
  },
  {
    method: 'GET',
    path: '/after-end',
    handler: (_req, res) => {
      sendJson(res, 200, { ok: true });
      throw new Error('boom after end');
    },
  },
  {
    method: 'GET',
    path: '/write-after-end',
    handler: (_req, res) => {
      sendJson(res, 200, { ok: true });
      res.write('more');
    },
  },
  { method: 'GET', path: '/health', handler: (_req, res) => sendJson(res, 200, { status: 'healthy' }) },
);

const server = createServer((req, res) => router.handle(req, res));
server.listen(0, '127.0.0.1', () => {
  const a = server.address();
  process.stdout.write(JSON.stringify({ port: typeof a === 'object' && a ? a.port : 0 }) + '\n');
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
