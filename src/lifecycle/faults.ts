import { chmod, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { log } from '../log.js';

/**
 * The process's last line of defence. Client input is answered at its boundary (the HTTP
 * router, the connection actor's supervisor guard), but a throw that escapes from an event
 * emitter or a timer would otherwise end the process, and with it every client. Such a fault
 * is logged (once per distinct message, so an attacker cannot turn it into a log flood),
 * counted, and the process goes on: the state that matters is in LMDB, changed only inside
 * transactions, so no half-applied write survives the throw.
 *
 * The one thing allowed to stop the process is its own storage failing: the writer reports an
 * unusable environment through `onFatal` (wired in relay.ts: one fatal log line, the normal
 * shutdown, exit status 1). Acknowledged events are safe then: an OK follows a durable commit.
 */
const seen = new Map<string, number>();
const SEEN_CAP = 256;
let faults = 0;

/** Faults caught by the backstop since start (exported to /metrics). */
export function faultCount(): number {
  return faults;
}

function report(kind: string, err: unknown): void {
  faults++;
  const message = err instanceof Error ? err.message : String(err);
  const key = `${kind}:${message}`;
  const n = (seen.get(key) ?? 0) + 1;
  if (seen.size < SEEN_CAP || seen.has(key)) seen.set(key, n);
  if (n === 1) {
    log.error({ err: message, stack: err instanceof Error ? err.stack : undefined }, `${kind} caught; the relay keeps running`);
  }
}

let installed = false;

export function installFaultBarrier(): void {
  if (installed) return;
  installed = true;
  process.on('uncaughtException', (err) => report('uncaught exception', err));
  process.on('unhandledRejection', (reason) => report('unhandled rejection', reason));
}

/**
 * Nothing the relay writes is meant for other local users: the database holds every event,
 * gift wrap and mailbox item. New files are created owner-only (umask), and what an older
 * release left readable in the data directory is tightened once at start.
 */
export async function keepFilesPrivate(dataDir: string): Promise<void> {
  process.umask(0o077);
  try {
    await chmod(dataDir, 0o700);
    for (const name of await readdir(dataDir)) {
      const p = join(dataDir, name);
      const s = await stat(p);
      await chmod(p, s.isDirectory() ? 0o700 : 0o600);
    }
  } catch (err) {
    // Not there yet (first start creates it under the umask) or not ours to change.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.warn({ err: (err as Error).message, data: dataDir }, 'could not tighten data file modes');
  }
}
