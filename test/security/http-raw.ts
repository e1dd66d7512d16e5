/**
 * Raw HTTP/1.1 over node:net, for requests no HTTP client would send (bad request lines, broken
 * escapes, conflicting framing). One request per connection; the answer is parsed strictly enough
 * to tell a well-formed response from garbage.
 */
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  status: number;
  reason: string;
  headers: Record<string, string>;
  body: Buffer;
}

export type RawOutcome =
  | { kind: 'response'; response: RawResponse }
  /** The server closed or reset the connection without a response. */
  | { kind: 'closed'; error?: string; received: number }
  /** Bytes arrived that are not an HTTP/1.1 response. */
  | { kind: 'garbage'; detail: string }
  | { kind: 'timeout'; received: number };

export interface RawOptions {
  timeoutMs?: number;
  localAddress?: string;
  /** The request is HEAD: a response has no body whatever its headers say. */
  head?: boolean;
}

/** Sends `request` on a fresh connection and resolves with the first response (or what happened instead). */
export function rawRequest(port: number, request: string | Buffer, opts: RawOptions = {}): Promise<RawOutcome> {
  const timeoutMs = opts.timeoutMs ?? 5_000;
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress: opts.localAddress });
    let buf = Buffer.alloc(0);
    let settled = false;
    let lastError: string | undefined;
    const finish = (o: RawOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(o);
    };
    const timer = setTimeout(() => finish({ kind: 'timeout', received: buf.length }), timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const parsed = parseResponse(buf, opts.head ?? false, false);
      if (parsed) finish(parsed);
    });
    socket.on('error', (err) => {
      lastError = (err as NodeJS.ErrnoException).code ?? err.message;
    });
    socket.on('close', () => {
      const parsed = buf.length > 0 ? parseResponse(buf, opts.head ?? false, true) : undefined;
      finish(parsed ?? { kind: 'closed', error: lastError, received: buf.length });
    });
    socket.write(request, (err) => {
      if (err) lastError = (err as NodeJS.ErrnoException).code ?? err.message;
    });
  });
}

/** A complete response, garbage, or undefined while more bytes are needed (`ended`: no more will come). */
export function parseResponse(buf: Buffer, head: boolean, ended: boolean): RawOutcome | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) {
    if (!/^H(T(T(P(\/(1(\.(1( \d{0,3})?)?)?)?)?)?)?)?/.test(buf.subarray(0, 12).toString('latin1'))) {
      return { kind: 'garbage', detail: `does not start with "HTTP/1.1 ": ${JSON.stringify(buf.subarray(0, 40).toString('latin1'))}` };
    }
    return ended ? { kind: 'garbage', detail: 'connection closed inside the response head' } : undefined;
  }
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const m = /^HTTP\/1\.1 (\d{3}) (.*)$/.exec(lines[0]!);
  if (!m) return { kind: 'garbage', detail: `bad status line ${JSON.stringify(lines[0])}` };
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':');
    if (i <= 0) return { kind: 'garbage', detail: `bad header line ${JSON.stringify(line)}` };
    const name = line.slice(0, i).trim().toLowerCase();
    const value = line.slice(i + 1).trim();
    if (name in headers && name === 'content-length' && headers[name] !== value) {
      return { kind: 'garbage', detail: 'two different Content-Length headers' };
    }
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  const status = Number(m[1]);
  const rest = buf.subarray(end + 4);
  const done = (body: Buffer): RawOutcome => ({ kind: 'response', response: { status, reason: m[2]!, headers, body } });
  if (head || status === 204 || status === 304 || (status >= 100 && status < 200)) return done(Buffer.alloc(0));
  if ((headers['transfer-encoding'] ?? '').toLowerCase().includes('chunked')) {
    const body = dechunk(rest);
    if (body === 'bad') return { kind: 'garbage', detail: 'bad chunked body' };
    if (body) return done(body);
    return ended ? { kind: 'garbage', detail: 'connection closed inside a chunked body' } : undefined;
  }
  if (headers['content-length'] !== undefined) {
    const n = Number(headers['content-length']);
    if (!Number.isInteger(n) || n < 0) return { kind: 'garbage', detail: `bad Content-Length ${headers['content-length']}` };
    if (rest.length >= n) return done(rest.subarray(0, n));
    return ended ? { kind: 'garbage', detail: `body cut at ${rest.length} of ${n} bytes` } : undefined;
  }
  return ended ? done(rest) : undefined; // delimited by close
}

function dechunk(b: Buffer): Buffer | undefined | 'bad' {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = b.indexOf('\r\n', at);
    if (eol < 0) return undefined;
    const size = parseInt(b.subarray(at, eol).toString('latin1').split(';')[0]!, 16);
    if (!Number.isInteger(size) || size < 0) return 'bad';
    if (size === 0) return b.indexOf('\r\n', eol + 2) >= 0 ? Buffer.concat(parts) : undefined;
    if (b.length < eol + 2 + size + 2) return undefined;
    parts.push(b.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

/** A simple GET in origin form with `Connection: close`. */
export function get(path: string, headers: Record<string, string> = {}): string {
  const h = Object.entries({ Host: '127.0.0.1', Connection: 'close', ...headers }).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  return `GET ${path} HTTP/1.1\r\n${h}\r\n`;
}

/** Opens a socket and sends `bytes` (or nothing): a half-open request held until the caller ends it. */
export function holdOpen(port: number, bytes: string, localAddress?: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    let connected = false;
    const s = connect({ port, host: '127.0.0.1', localAddress }, () => {
      connected = true;
      if (bytes) s.write(bytes);
      resolve(s);
    });
    s.on('error', (err) => {
      if (!connected) reject(err); // later errors (the relay cutting it) are the point, not a failure
    });
  });
}

/** The body as JSON, or undefined. */
export function jsonOf(r: RawResponse): unknown {
  try {
    return JSON.parse(r.body.toString('utf8'));
  } catch {
    return undefined;
  }
}
