import type { RootDatabase } from 'lmdb';
import { log } from '../log.js';
import type { NostrEvent } from '../protocol/types.js';
import { DB_NAMES, encodeRecord, RECORD_FORMAT, type StoreDbs } from './keys.js';

/** Format 1: msgpack [id, pubkey, created_at, kind, tags, content, sig] in `ev:events`. */
type LegacyRecord = [string, string, number, number, string[][], string, string];

/** Records moved per write transaction: short transactions, and a crash loses at most one batch of work, never data. */
const BATCH = 5000;
/** At most one progress line this often. */
const PROGRESS_MS = 2000;

/** Refused at open: the store was written by a newer relay whose records this code cannot read. */
export class StoreFormatError extends Error {}

/**
 * Brings the store to RECORD_FORMAT before anything reads it. Format 1 records (today's
 * release and older) live in a table of their own, `ev:events`, so they are never read as
 * format 2: each batch moves records to `ev:records` and deletes them from `ev:events` in
 * one transaction, so an interrupted migration resumes where it stopped. Positions (seq)
 * and every index are unchanged. The format mark in `ev:meta` is written last.
 */
export function migrateRecords(env: RootDatabase, dbs: StoreDbs): void {
  const format = dbs.meta.get('format');
  if (format !== undefined && format > RECORD_FORMAT) {
    throw new StoreFormatError(`storage: the store's record format ${format} is newer than this relay's (${RECORD_FORMAT}); refusing to open it`);
  }
  const legacy = env.openDB<LegacyRecord, number>(DB_NAMES.legacyEvents, {});
  const total = legacy.getKeysCount();
  if (total === 0) {
    if (format !== RECORD_FORMAT) env.transactionSync(() => dbs.meta.putSync('format', RECORD_FORMAT));
    return;
  }
  const t0 = performance.now();
  log.warn({ events: total, from_format: 1, to_format: RECORD_FORMAT }, 'storage: migrating event records (once; the relay serves when done)');
  let done = 0;
  let lastLog = t0;
  for (;;) {
    const batch: [number, LegacyRecord][] = [];
    for (const { key, value } of legacy.getRange({ limit: BATCH })) batch.push([key, value]);
    if (batch.length === 0) break;
    env.transactionSync(() => {
      for (const [seq, r] of batch) {
        const e: NostrEvent = { id: r[0], pubkey: r[1], created_at: r[2], kind: r[3], tags: r[4], content: r[5], sig: r[6] };
        dbs.events.putSync(seq, encodeRecord(e));
        legacy.removeSync(seq);
      }
    });
    done += batch.length;
    const now = performance.now();
    if (now - lastLog >= PROGRESS_MS) {
      lastLog = now;
      log.info({ done, total, per_second: Math.round(done / ((now - t0) / 1000)) }, 'storage: migrating event records');
    }
  }
  env.transactionSync(() => dbs.meta.putSync('format', RECORD_FORMAT));
  const s = (performance.now() - t0) / 1000;
  log.warn({ events: done, seconds: Math.round(s * 10) / 10, per_second: Math.round(done / Math.max(s, 0.001)) }, 'storage: event records migrated');
}
