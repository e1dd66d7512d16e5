import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Writable } from 'node:stream';
import { loadConfig } from '../config/load.js';
import { isEphemeral } from '../protocol/kinds.js';
import { validateEvent } from '../protocol/event-validate.js';
import { EventStore } from '../storage/event-store.js';
import { Writer } from '../storage/writer.js';
import { VERIFY_FAILURE } from '../verify/check-event.js';
import { VerifyPool } from '../verify/pool.js';
import { parseCommandArgs, requireConfigPath } from './args.js';
import { Progress } from './progress.js';

/** Lines in flight at once: enough for the writer and verify pool to batch, bounded memory. */
const WINDOW = 2_000;
/** Imports carry history: any age is fine, the future window still applies to catch garbage. */
const IMPORT_LIMITS = { maxEventTags: 100_000, maxOlderSec: Number.MAX_SAFE_INTEGER, maxNewerSec: 900 };

/**
 * `mls-relay import`: JSONL in, the relay's own rules applied (validation, signatures, replace
 * and delete). Every refused line is reported with its number and reason (stderr, or JSONL
 * `{line, id?, reason}` to `--rejects FILE`); progress goes to stderr; the summary to stdout.
 * Exit status: 0 when every acceptable line is stored or already there (refused lines are
 * reported, not fatal), 1 when storage refused writes, 2 for a usage or config error.
 */
export async function runImport(argv: string[]): Promise<number> {
  const args = parseCommandArgs(
    argv,
    {
      config: { type: 'string', short: 'c' },
      in: { type: 'string', short: 'i' },
      'no-verify': { type: 'boolean' },
      rejects: { type: 'string' },
    },
    'import',
  );
  const config = loadConfig(requireConfigPath(args.config, 'import'));
  if (config.cluster.enabled) {
    // Written straight into LMDB, the events would be in this view and in no other instance's.
    process.stderr.write('import: [cluster] is enabled; an instance\'s store is a view of the cluster log, so import into a single-process relay or publish the events to a cluster instance over WebSocket\n');
    return 2;
  }
  const fromFile = args.in !== undefined && args.in !== '-';
  const input = fromFile ? createReadStream(args.in!) : process.stdin;
  const rejects: Writable | undefined = args.rejects ? createWriteStream(args.rejects) : undefined;
  const verify = args['no-verify'] ? undefined : await VerifyPool.create({ threads: config.thread.verify || undefined });
  const store = await EventStore.open({ path: config.data.path, mapSize: config.data.map_size });
  const writer = new Writer(store);
  const counts = { imported: 0, duplicate: 0, invalid: 0, failed: 0 };
  const progress = new Progress({ label: 'import', unit: 'lines', total: fromFile ? statSync(args.in!).size : undefined });
  const inflight = new Set<Promise<void>>();

  const refuse = (line: number, reason: string, id?: string): void => {
    counts.invalid++;
    if (rejects) rejects.write(JSON.stringify(id === undefined ? { line, reason } : { line, id, reason }) + '\n');
    else progress.note(`line ${line}: ${reason}`);
  };

  const importLine = async (n: number, text: string): Promise<void> => {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      return refuse(n, 'invalid: not JSON');
    }
    const checked = validateEvent(raw, IMPORT_LIMITS, Math.floor(Date.now() / 1000));
    if (!checked.ok) return refuse(n, checked.reason, checked.id);
    const e = checked.event;
    if (isEphemeral(e.kind)) return refuse(n, `invalid: kind ${e.kind} is ephemeral and never stored`, e.id);
    if (verify) {
      const verdict = await verify.verify(e);
      if (verdict !== 0) return refuse(n, VERIFY_FAILURE[verdict] ?? 'invalid: verification failed', e.id);
    }
    const outcome = await writer.submit(e);
    if (outcome.stored) counts.imported++;
    else if (outcome.ok) counts.duplicate++;
    // A storage failure (disk full) is not the line's fault: reported apart, and the exit is non-zero.
    else if (outcome.message.startsWith('error:')) counts.failed++;
    else refuse(n, outcome.message, e.id);
  };

  let lineNo = 0;
  let bytes = 0;
  try {
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      lineNo++;
      bytes += Buffer.byteLength(line) + 1;
      progress.tick(bytes);
      if (line.trim() === '') continue;
      const p = importLine(lineNo, line).finally(() => inflight.delete(p));
      inflight.add(p);
      if (inflight.size >= WINDOW) await Promise.race(inflight);
    }
    await Promise.all(inflight);
  } finally {
    progress.finish();
    await store.close();
    await verify?.close();
    if (rejects) {
      rejects.end();
      await once(rejects, 'finish');
    }
  }
  const failed = counts.failed > 0 ? `, not stored (storage error) ${counts.failed}` : '';
  process.stdout.write(`imported ${counts.imported}, duplicate ${counts.duplicate}, invalid ${counts.invalid}${failed}\n`);
  return counts.failed > 0 ? 1 : 0;
}
