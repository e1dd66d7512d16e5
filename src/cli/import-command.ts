import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { loadConfig } from '../config/load.js';
import { isEphemeral } from '../protocol/kinds.js';
import { validateEvent } from '../protocol/event-validate.js';
import { EventStore } from '../storage/event-store.js';
import { Writer } from '../storage/writer.js';
import { VerifyPool } from '../verify/pool.js';
import { parseCommandArgs, requireConfigPath } from './args.js';

/** Lines in flight at once: enough for the writer and verify pool to batch, bounded memory. */
const WINDOW = 2_000;
/** Imports carry history: any age is fine, the future window still applies to catch garbage. */
const IMPORT_LIMITS = { maxEventTags: 100_000, maxOlderSec: Number.MAX_SAFE_INTEGER, maxNewerSec: 900 };

export async function runImport(argv: string[]): Promise<number> {
  const args = parseCommandArgs(
    argv,
    { config: { type: 'string', short: 'c' }, in: { type: 'string', short: 'i' }, 'no-verify': { type: 'boolean' } },
    'import',
  );
  const config = loadConfig(requireConfigPath(args.config, 'import'));
  const verify = args['no-verify'] ? undefined : await VerifyPool.create({ threads: config.thread.verify || undefined });
  const store = await EventStore.open({ path: config.data.path, mapSize: config.data.map_size });
  const writer = new Writer(store);
  const counts = { imported: 0, duplicate: 0, invalid: 0, failed: 0 };
  const input = !args.in || args.in === '-' ? process.stdin : createReadStream(args.in);
  const inflight = new Set<Promise<void>>();

  const importLine = async (line: string): Promise<void> => {
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      counts.invalid++;
      return;
    }
    const checked = validateEvent(raw, IMPORT_LIMITS, Math.floor(Date.now() / 1000));
    if (!checked.ok || isEphemeral(checked.event.kind)) {
      counts.invalid++;
      return;
    }
    if (verify && (await verify.verify(checked.event)) !== 0) {
      counts.invalid++;
      return;
    }
    const outcome = await writer.submit(checked.event);
    if (outcome.stored) counts.imported++;
    else if (outcome.ok) counts.duplicate++;
    // A storage failure (disk full) is not the line's fault: reported apart, and the exit is non-zero.
    else if (outcome.message.startsWith('error:')) counts.failed++;
    else counts.invalid++;
  };

  try {
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      if (line.trim() === '') continue;
      const p = importLine(line).finally(() => inflight.delete(p));
      inflight.add(p);
      if (inflight.size >= WINDOW) await Promise.race(inflight);
    }
    await Promise.all(inflight);
  } finally {
    await store.close();
    await verify?.close();
  }
  const failed = counts.failed > 0 ? `, not stored (storage error) ${counts.failed}` : '';
  process.stdout.write(`imported ${counts.imported}, duplicate ${counts.duplicate}, invalid ${counts.invalid}${failed}\n`);
  return counts.failed > 0 ? 1 : 0;
}
