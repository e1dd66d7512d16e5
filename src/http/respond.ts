import type { ServerResponse } from 'node:http';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Errors are always `{"error": "...", "code": "..."}` (PROTOCOL.md). */
export function sendError(res: ServerResponse, status: number, code: string, error: string): void {
  sendJson(res, status, { error, code });
}
