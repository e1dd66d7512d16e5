/**
 * Progress of a long import or export on stderr: on a terminal one line redrawn in place
 * (bar when the total is known, count, rate, ETA); otherwise (logs, CI, pipes) a plain line
 * every few seconds, so a 10-minute import is never silent. stdout stays for the data and
 * the final summary.
 */
export interface ProgressOptions {
  label: string;
  /** What is counted ("lines", "events"). */
  unit: string;
  /** Total amount of work in `done()` units when known (file size, store size), for the bar and ETA. */
  total?: number;
  out?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Redraw interval on a terminal, and line interval elsewhere. */
  ttyEveryMs?: number;
  logEveryMs?: number;
  now?: () => number;
}

const BAR = 24;

export class Progress {
  private readonly out: NodeJS.WritableStream & { isTTY?: boolean };
  private readonly tty: boolean;
  private readonly every: number;
  private readonly now: () => number;
  private readonly started: number;
  private last = 0;
  private count = 0;
  private work = 0;
  private drawn = false;

  constructor(private readonly opts: ProgressOptions) {
    this.out = opts.out ?? process.stderr;
    this.tty = this.out.isTTY === true;
    this.every = this.tty ? (opts.ttyEveryMs ?? 250) : (opts.logEveryMs ?? 5_000);
    this.now = opts.now ?? Date.now;
    this.started = this.now();
    this.last = this.started;
  }

  /** One more unit counted; `work` is how far along the total it got (bytes read), when the total is not in units. */
  tick(work?: number): void {
    this.count++;
    this.work = work ?? this.count;
    const t = this.now();
    if (t - this.last >= this.every) {
      this.last = t;
      this.draw(t);
    }
  }

  /** A message for the operator (a rejected line) that must not be overdrawn by the bar. */
  note(text: string): void {
    if (this.drawn) this.out.write('\r\x1b[2K');
    this.drawn = false;
    this.out.write(text + '\n');
  }

  /** Clears the terminal line; the caller prints the summary. */
  finish(): void {
    if (this.drawn) this.out.write('\r\x1b[2K');
    this.drawn = false;
  }

  /** The status line as it is drawn (exported for tests and for the final log line). */
  line(t = this.now()): string {
    const secs = Math.max(0.001, (t - this.started) / 1000);
    const rate = this.count / secs;
    const parts = [`${this.opts.label}: ${this.count.toLocaleString('en-US')} ${this.opts.unit}`, `${Math.round(rate).toLocaleString('en-US')}/s`];
    const total = this.opts.total;
    if (total !== undefined && total > 0) {
      const frac = Math.min(1, this.work / total);
      const workRate = this.work / secs;
      const eta = workRate > 0 ? Math.max(0, (total - this.work) / workRate) : undefined;
      parts.push(`${(frac * 100).toFixed(1)}%`);
      if (eta !== undefined) parts.push(`ETA ${duration(eta)}`);
      if (this.tty) {
        const filled = Math.round(frac * BAR);
        parts.unshift(`[${'#'.repeat(filled)}${'.'.repeat(BAR - filled)}]`);
      }
    }
    return parts.join('  ');
  }

  private draw(t: number): void {
    if (this.tty) {
      this.out.write('\r\x1b[2K' + this.line(t));
      this.drawn = true;
    } else {
      this.out.write(this.line(t) + '\n');
    }
  }
}

function duration(sec: number): string {
  if (sec < 60) return `${Math.ceil(sec)}s`;
  const m = Math.floor(sec / 60);
  if (m < 60) return `${m}m${String(Math.ceil(sec % 60)).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
