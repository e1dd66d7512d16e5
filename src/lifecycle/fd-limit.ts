import { readFileSync } from 'node:fs';
import type { Config } from '../config/types.js';
import { log } from '../log.js';

/** Descriptors the relay needs beyond client sockets: LMDB files, worker pipes, the listener, logs. */
const RESERVE = 64;

/** The soft open-file limit from /proc (Linux); undefined elsewhere or when unlimited. */
export function openFileLimit(limits = '/proc/self/limits'): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync(limits, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Says at start-up when the connection caps cannot all be reached under the open-file limit:
 * the kernel would then refuse new sockets (every client, WebSocket or not) before the relay's
 * own caps answer with a clear 503.
 */
export function warnIfCapsExceedFileLimit(config: Config, limit = openFileLimit()): void {
  if (limit === undefined) return;
  const need = config.limitation.max_connections + config.limitation.max_http_connections + RESERVE;
  if (need <= limit) return;
  log.warn(
    { open_file_limit: limit, max_connections: config.limitation.max_connections, max_http_connections: config.limitation.max_http_connections },
    `open-file limit ${limit} is below max_connections + max_http_connections + ${RESERVE} = ${need}: raise it (ulimit -n) or lower the caps`,
  );
}
