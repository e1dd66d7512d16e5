import type { ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Errors are always `{"error": "...", "code": "..."}` (PROTOCOL.md). */
export function sendError(res: ServerResponse, status: number, code: string, error: string): void {
  sendJson(res, status, { error, code });
}

/**
 * The same error as a whole HTTP/1.1 response, for sockets that have no ServerResponse (a parse
 * error, a refused upgrade, a connection over its cap). It always closes the connection.
 */
export function rawError(status: number, code: string, error: string, headers: Record<string, string> = {}): string {
  const body = JSON.stringify({ error, code });
  const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
    `Connection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`
  );
}
