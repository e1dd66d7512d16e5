import type { IncomingMessage, ServerResponse } from 'node:http';
import { log } from '../log.js';
import { sendError } from './respond.js';

export type Handler = (req: IncomingMessage, res: ServerResponse, params: string[], url: URL) => void | Promise<void>;

export interface Route {
  method: string;
  /** Exact path, or a RegExp whose capture groups become `params`. */
  path: string | RegExp;
  handler: Handler;
}

/**
 * A plain route table: later issues (metrics, the gateway's REST API) add routes, they do
 * not add branches here. Handler failures answer 500 with a JSON body, never a stack.
 */
export class Router {
  private readonly routes: Route[] = [];

  add(...routes: Route[]): this {
    this.routes.push(...routes);
    return this;
  }

  handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    let pathMatched = false;
    for (const route of this.routes) {
      const params = matchPath(route.path, url.pathname);
      if (!params) continue;
      pathMatched = true;
      if (route.method !== req.method && !(route.method === 'GET' && req.method === 'HEAD')) continue;
      Promise.resolve()
        .then(() => route.handler(req, res, params, url))
        .catch((err: unknown) => {
          log.error({ path: url.pathname, err: err instanceof Error ? err.message : String(err) }, 'http handler failed');
          if (!res.headersSent) sendError(res, 500, 'internal', 'internal error');
          else res.end();
        });
      return;
    }
    if (pathMatched) sendError(res, 405, 'method_not_allowed', 'method not allowed');
    else sendError(res, 404, 'not_found', 'not found');
  }
}

function matchPath(pattern: string | RegExp, path: string): string[] | null {
  if (typeof pattern === 'string') return pattern === path ? [] : null;
  const m = pattern.exec(path);
  return m ? m.slice(1).map((p) => decodeURIComponent(p)) : null;
}
