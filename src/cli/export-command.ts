import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { loadConfig } from '../config/load.js';
import { parseFilters } from '../protocol/filter-parse.js';
import type { Filter } from '../protocol/types.js';
import { EventStore } from '../storage/event-store.js';
import { parseCommandArgs, requireConfigPath, UsageError } from './args.js';
import { Progress } from './progress.js';

export async function runExport(argv: string[]): Promise<number> {
  const args = parseCommandArgs(
    argv,
    { config: { type: 'string', short: 'c' }, filter: { type: 'string' }, out: { type: 'string', short: 'o' } },
    'export',
  );
  const config = loadConfig(requireConfigPath(args.config, 'export'));
  let filter: Filter | undefined;
  if (args.filter !== undefined) {
    let raw: unknown;
    try {
      raw = JSON.parse(args.filter);
    } catch {
      throw new UsageError('export: --filter is not valid JSON');
    }
    const parsed = parseFilters([raw], { maxFilters: 1, maxLimit: Number.MAX_SAFE_INTEGER, minPrefix: 0 });
    if (!parsed.ok) throw new UsageError(`export: --filter: ${parsed.reason}`);
    filter = parsed.filters[0];
  }
  const out: Writable = !args.out || args.out === '-' ? process.stdout : createWriteStream(args.out);
  const store = await EventStore.open({ path: config.data.path, mapSize: config.data.map_size });
  // The store's size is the total of an unfiltered export (expired events are skipped, so it is an upper bound).
  const progress = new Progress({ label: 'export', unit: 'events', total: filter === undefined ? store.stats().events : undefined });
  let n = 0;
  try {
    for (const event of store.exportEvents(filter)) {
      if (!out.write(JSON.stringify(event) + '\n')) await once(out, 'drain');
      n++;
      progress.tick();
    }
  } finally {
    progress.finish();
    await store.close();
  }
  if (out !== process.stdout) {
    out.end();
    await once(out, 'finish');
  }
  process.stderr.write(`exported ${n} events\n`);
  return 0;
}
