/**
 * Durability on a disk that does not outlive the instance (Cloud Run): periodic LMDB
 * snapshots into `[data] backup_path`, a final one at shutdown, and a restore from the
 * newest snapshot when the relay starts on an empty data directory.
 */
import { resolve } from 'node:path';
import type { Config } from '../config/types.js';
import { log } from '../log.js';
import { restoreNewestSnapshot, writeSnapshot, type SnapshotInfo } from '../storage/backup.js';
import type { EventStore } from '../storage/event-store.js';
import { within } from './shutdown.js';

/** Snapshots kept in the backup directory; the older ones only matter if the newest is damaged. */
export const SNAPSHOTS_KEPT = 3;

/** backup_path as given (relative to the working directory, like data.path), or undefined when backups are off. */
export function backupDir(config: Config): string | undefined {
  const p = config.data.backup_path;
  return p === undefined || p === '' ? undefined : resolve(process.cwd(), p);
}

/** Before the store opens: an empty data directory is filled from the newest snapshot, if any. */
export async function restoreOnStart(config: Config): Promise<void> {
  const dir = backupDir(config);
  if (dir === undefined) return;
  const result = await restoreNewestSnapshot(config.data.path, dir);
  if (result === undefined) return;
  for (const name of result.skipped) log.error({ snapshot: name, backup_path: dir }, 'snapshot is not an LMDB file; skipped');
  if (result.restored) {
    log.info({ snapshot: result.restored.snapshot, bytes: result.restored.bytes, backup_path: dir, data: config.data.path }, 'data directory was empty; restored from snapshot');
  } else {
    log.warn({ backup_path: dir, data: config.data.path }, 'data directory is empty and there is no snapshot to restore; starting empty');
  }
}

/**
 * One snapshot at a time: an interval tick that finds the previous snapshot still running
 * (slow bucket) is skipped rather than queued, and a tick that finds nothing written since
 * the last snapshot costs nothing.
 */
export class Backups {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<SnapshotInfo | undefined> | undefined;
  private lastTxn = -1;
  private stopped = false;

  constructor(
    private readonly store: EventStore,
    readonly dir: string,
    private readonly intervalMs: number,
  ) {}

  start(): this {
    this.timer = setInterval(() => void this.snapshot('interval'), this.intervalMs);
    this.timer.unref();
    log.info({ backup_path: this.dir, interval_ms: this.intervalMs, keep: SNAPSHOTS_KEPT }, 'backups enabled');
    return this;
  }

  /** Take a snapshot now unless one is running or nothing changed; errors are logged, never thrown. */
  snapshot(reason: 'interval' | 'shutdown'): Promise<SnapshotInfo | undefined> {
    if (this.running) return this.running;
    if (reason === 'interval' && this.stopped) return Promise.resolve(undefined);
    const txn = this.store.lastTxnId();
    if (txn === this.lastTxn) return Promise.resolve(undefined);
    const began = new Date();
    const run = writeSnapshot(this.store, this.dir, { keep: SNAPSHOTS_KEPT, now: began }).then(
      (info) => {
        // The copy's read transaction began at or after `txn`, so it holds everything up to it.
        this.lastTxn = txn;
        const ms = Date.now() - began.getTime();
        // `began`: everything acknowledged before it is in this snapshot.
        log.info({ reason, snapshot: info.name, bytes: info.bytes, began: began.toISOString(), ms }, 'snapshot written');
        return info;
      },
      (err: unknown) => {
        log.error({ reason, backup_path: this.dir, err: err instanceof Error ? err.message : String(err) }, 'snapshot failed');
        return undefined;
      },
    );
    this.running = run.finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /**
   * Stop the interval and take the final snapshot (the caller has flushed the writer),
   * waiting at most `budgetMs`. Resolves false when a copy is still running at the end of
   * the budget: the store must then be left open, since closing LMDB under a copy is unsafe.
   */
  async stop(budgetMs: number): Promise<boolean> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    const deadline = Date.now() + Math.max(0, budgetMs);
    // A periodic snapshot that began before the last commits does not count as the final one.
    if (this.running && !(await within(this.running, deadline - Date.now()))) return this.giveUp();
    if (!(await within(this.snapshot('shutdown'), deadline - Date.now()))) return this.giveUp();
    return true;
  }

  private giveUp(): false {
    log.warn({ backup_path: this.dir }, 'final snapshot did not finish in the shutdown budget; the previous snapshot stays the newest');
    return false;
  }
}

/** The relay's backups, or undefined when `[data] backup_path` is unset. */
export function startBackups(store: EventStore, config: Config): Backups | undefined {
  const dir = backupDir(config);
  return dir === undefined ? undefined : new Backups(store, dir, config.data.backup_interval).start();
}
