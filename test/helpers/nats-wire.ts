/**
 * A minimal NATS client over the text protocol (INFO / CONNECT / PING / PUB / HPUB / SUB / MSG / HMSG),
 * only for tests that check the NATS side itself (the harness test) without the npm client library.
 * It does request/reply only: every request carries a unique reply subject under one inbox
 * subscription, which is all the JetStream API ($JS.API.*) and a publish with a PubAck need.
 * No reconnects, no TLS, no auth beyond what `connect` passes: a test that needs more uses the client library.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';

export interface WireMsg {
  subject: string;
  /** Raw header block (`NATS/1.0 ...\r\nKey: v\r\n...`), when the message had headers. */
  headers?: string;
  data: Buffer;
}

interface Pending {
  resolve: (m: WireMsg) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

const CRLF = '\r\n';

export class NatsWire {
  private buf: Buffer = Buffer.alloc(0);
  private readonly inbox = `_INBOX.${randomBytes(8).toString('hex')}`;
  private next = 0;
  private readonly pending = new Map<string, Pending>();
  private pongs: Array<() => void> = [];
  private closedErr?: Error;
  private gotInfo?: (info: any) => void;
  private closedReject!: (e: Error) => void;
  private readonly closedPromise = new Promise<never>((_, rej) => (this.closedReject = rej));

  private constructor(private readonly sock: Socket) {
    this.closedPromise.catch(() => undefined);
  }

  /** Connects to nats://HOST:PORT, sends CONNECT and waits for the PONG that confirms it. */
  static async connect(url: string, opts: { timeoutMs?: number; connectFields?: Record<string, unknown> } = {}): Promise<NatsWire> {
    const u = new URL(url);
    const timeoutMs = opts.timeoutMs ?? 2_000;
    const sock = tcpConnect({ host: u.hostname, port: Number(u.port || 4222) });
    const c = new NatsWire(sock);
    const info = new Promise<any>((res) => (c.gotInfo = res));
    sock.on('data', (chunk: Buffer) => c.onData(chunk));
    sock.on('error', (err) => c.fail(err));
    sock.on('close', () => c.fail(new Error('connection closed')));
    const timer = setTimeout(() => c.fail(new Error(`no INFO/PONG from ${url} within ${timeoutMs} ms`)), timeoutMs);
    try {
      await Promise.race([info, c.closed()]);
      const fields = { verbose: false, pedantic: false, headers: true, no_responders: true, protocol: 1, lang: 'mls-relay-test', version: '0', ...opts.connectFields };
      sock.write(`CONNECT ${JSON.stringify(fields)}${CRLF}SUB ${c.inbox}.* 1${CRLF}`);
      await c.ping();
    } catch (err) {
      sock.destroy();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return c;
  }

  /** Rejects when the connection fails or closes; raced against every wait so nothing hangs on a dead socket. */
  private closed(): Promise<never> {
    return this.closedPromise;
  }

  private fail(err: Error): void {
    if (this.closedErr) return;
    this.closedErr = err;
    this.closedReject(err);
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
    this.sock.destroy();
  }

  /** Round trip to the server (PING → PONG): everything written before it has been processed. */
  ping(): Promise<void> {
    if (this.closedErr) return Promise.reject(this.closedErr);
    const p = new Promise<void>((res) => this.pongs.push(res));
    this.sock.write(`PING${CRLF}`);
    return Promise.race([p, this.closed()]);
  }

  /**
   * Publishes `data` to `subject` with a reply subject and resolves with the first reply.
   * `headers` become an HPUB header block (e.g. { 'Nats-Msg-Id': 'x' }).
   */
  request(subject: string, data: string | Buffer = '', opts: { headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<WireMsg> {
    if (this.closedErr) return Promise.reject(this.closedErr);
    const token = String(++this.next);
    const reply = `${this.inbox}.${token}`;
    const payload = typeof data === 'string' ? Buffer.from(data) : data;
    const timeoutMs = opts.timeoutMs ?? 2_000;
    const result = new Promise<WireMsg>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(token);
        reject(new Error(`no reply to ${subject} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(token, { resolve, reject, timer });
    });
    if (opts.headers) {
      const hdr = Buffer.from('NATS/1.0' + CRLF + Object.entries(opts.headers).map(([k, v]) => `${k}: ${v}${CRLF}`).join('') + CRLF);
      this.sock.write(`HPUB ${subject} ${reply} ${hdr.length} ${hdr.length + payload.length}${CRLF}`);
      this.sock.write(Buffer.concat([hdr, payload, Buffer.from(CRLF)]));
    } else {
      this.sock.write(`PUB ${subject} ${reply} ${payload.length}${CRLF}`);
      this.sock.write(Buffer.concat([payload, Buffer.from(CRLF)]));
    }
    return result;
  }

  /** A JetStream API call ($JS.API.<api>) with a JSON body; resolves with the parsed JSON reply. */
  async jsApi(api: string, body?: unknown, timeoutMs?: number): Promise<any> {
    const m = await this.request(`$JS.API.${api}`, body === undefined ? '' : JSON.stringify(body), { timeoutMs });
    if (m.headers && /^NATS\/1\.0 503/.test(m.headers)) throw new Error(`$JS.API.${api}: no responders (JetStream not available)`);
    return JSON.parse(m.data.toString('utf8'));
  }

  close(): void {
    this.fail(new Error('closed by client'));
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    for (;;) {
      const eol = this.buf.indexOf(CRLF);
      if (eol < 0) return;
      const line = this.buf.subarray(0, eol).toString('utf8');
      const [op] = line.split(' ', 1);
      switch (op?.toUpperCase()) {
        case 'INFO': {
          this.buf = this.buf.subarray(eol + 2);
          this.gotInfo?.(JSON.parse(line.slice(5)));
          this.gotInfo = undefined;
          break;
        }
        case 'PING':
          this.buf = this.buf.subarray(eol + 2);
          this.sock.write(`PONG${CRLF}`);
          break;
        case 'PONG':
          this.buf = this.buf.subarray(eol + 2);
          this.pongs.shift()?.();
          break;
        case '+OK':
          this.buf = this.buf.subarray(eol + 2);
          break;
        case '-ERR':
          this.buf = this.buf.subarray(eol + 2);
          this.fail(new Error(`server error: ${line.slice(5)}`));
          return;
        case 'MSG':
        case 'HMSG': {
          // MSG <subject> <sid> [reply] <bytes> | HMSG <subject> <sid> [reply] <hdr bytes> <total bytes>
          const parts = line.split(' ');
          const isH = op.toUpperCase() === 'HMSG';
          const total = Number(parts[parts.length - 1]);
          const hdrLen = isH ? Number(parts[parts.length - 2]) : 0;
          const start = eol + 2;
          if (this.buf.length < start + total + 2) return; // wait for the rest of the payload
          const body = this.buf.subarray(start, start + total);
          this.buf = this.buf.subarray(start + total + 2);
          const msg: WireMsg = {
            subject: parts[1]!,
            headers: isH ? body.subarray(0, hdrLen).toString('utf8') : undefined,
            data: Buffer.from(body.subarray(hdrLen)),
          };
          const token = msg.subject.slice(this.inbox.length + 1);
          const p = this.pending.get(token);
          if (p) {
            this.pending.delete(token);
            clearTimeout(p.timer);
            p.resolve(msg);
          }
          break;
        }
        default:
          this.fail(new Error(`unexpected protocol line: ${line.slice(0, 80)}`));
          return;
      }
    }
  }
}
