import type { IncomingMessage, ServerResponse } from 'node:http';
import { log } from '../log.js';
import { sendError } from './respond.js';
import { decodePathPart, requestTarget } from './target.js';

export type Handler = (req: IncomingMessage, res: ServerResponse, params: string[], url: URL) => void | Promise<void>;

export interface Route {
  method: string;
  /** Exact path, or a RegExp whose capture groups become `params` (percent-decoded). */
  path: string | RegExp;
  handler: Handler;
}

/**
 * A plain route table: later issues (metrics, the gateway's REST API) add routes, they do
 * not add branches here. Nothing a client sends can make `handle` throw: a target or path
 * that does not parse is the client's 400, and a handler that throws or rejects is our 500,
 * answered once with a JSON body (never a stack) and logged once.
 */
export class Router {
  private readonly routes: Route[] = [];
  /** Told of every finished response (metrics); `route` is undefined when no route matched. */
  observe: ((route: string | RegExp | undefined, method: string, status: number, ms: number) => void) | undefined;

  add(...routes: Route[]): this {
    this.routes.push(...routes);
    return this;
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    // A handler writing after end() is a bug to log, not an 'error' event that ends the process.
    res.on('error', (err) => log.debug({ err: err.message }, 'http response error'));
    let matched: Route | undefined;
    const observe = this.observe;
    if (observe !== undefined) {
      const t0 = performance.now();
      res.once('finish', () => observe(matched?.path, req.method ?? '', res.statusCode, performance.now() - t0));
    }
    if (req.httpVersion === '1.1' && req.headers.host === undefined) return sendError(res, 400, 'bad_request', 'missing Host header');
    const url = requestTarget(req.url);
    if (!url) return sendError(res, 400, 'bad_request', 'malformed request target');
    let pathMatched = false;
    for (const route of this.routes) {
      const params = matchPath(route.path, url.pathname);
      if (params === null) continue;
      if (params === undefined) return sendError(res, 400, 'bad_request', 'malformed percent-escape in path');
      pathMatched = true;
      if (route.method !== req.method && !(route.method === 'GET' && req.method === 'HEAD')) continue;
      matched = route;
      Promise.resolve()
        .then(() => route.handler(req, res, params, url))
        .catch((err: unknown) => handlerFailed(route, req, res, err));
      return;
    }
    if (pathMatched) sendError(res, 405, 'method_not_allowed', 'method not allowed');
    else sendError(res, 404, 'not_found', 'not found');
  }
}

/** The route pattern is logged, not the client's path: paths carry group ids and keys. */
function handlerFailed(route: Route, req: IncomingMessage, res: ServerResponse, err: unknown): void {
  if (!res.headersSent && (!res.socket || res.socket.destroyed)) {
    // The client went away mid-request (its body never came): nothing to answer, nothing broken.
    log.debug({ route: String(route.path) }, 'http client went away');
    return;
  }
  log.error(
    { method: req.method, route: String(route.path), err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err) },
    'http handler failed',
  );
  if (res.writableEnded) return; // answered already: the client has its response
  if (res.headersSent) {
    res.destroy(); // a cut connection, not a truncated body that looks complete
    return;
  }
  try {
    sendError(res, 500, 'internal', 'internal error');
  } catch {
    res.destroy();
  }
}

/** Captures, decoded; null when the path does not match, undefined when a capture does not decode. */
function matchPath(pattern: string | RegExp, path: string): string[] | null | undefined {
  if (typeof pattern === 'string') return pattern === path ? [] : null;
  const m = pattern.exec(path);
  if (!m) return null;
  const params: string[] = [];
  for (const part of m.slice(1)) {
    const decoded = decodePathPart(part ?? '');
    if (decoded === undefined) return undefined;
    params.push(decoded);
  }
  return params;
}
