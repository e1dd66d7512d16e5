/**
 * A restored snapshot must take writes. lmdb-js 3.5's compacting copy (mdb_env_copy2 with
 * MDB_CP_COMPACT) produced files that abort the process (SIGSEGV / an mdb_page_alloc assertion)
 * on the first busy write transaction after they are reopened (kriszyp/lmdb-js#198): a relay
 * restored from such a backup would crash at once, and again at every restart. The steps run
 * in child processes, since the failure takes the whole process down.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../helpers/relay-process.js';

const dist = (p: string) => JSON.stringify(join(REPO_ROOT, 'dist', p));

/** Synthetic events (the writer does not check signatures): 64-hex ids and keys, varied tags. */
const makeEvents = `
import { createHash } from 'node:crypto';
export function events(from, to) {
  const out = [];
  for (let i = from; i < to; i++) {
    const h = (s) => createHash('sha256').update(s + i).digest('hex');
    out.push({ id: h('id'), pubkey: h('pk').slice(0, 62) + '0' + (i % 7), created_at: 1700000000 + i, kind: 1, tags: [['t', 'x' + (i % 50)], ['p', h('p')]], content: 'event ' + i + ' '.repeat(i % 300), sig: h('s') + h('t') });
  }
  return out;
}`;

test('a snapshot written by writeSnapshot reopens and takes a busy batch of writes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mls-relay-snapwrite-'));
  try {
    await writeFile(join(dir, 'events.mjs'), makeEvents);
    await writeFile(
      join(dir, 'make.mjs'),
      `import { EventStore } from ${dist('src/storage/event-store.js')};
import { Writer } from ${dist('src/storage/writer.js')};
import { writeSnapshot } from ${dist('src/storage/backup.js')};
import { mkdirSync } from 'node:fs';
import { events } from './events.mjs';
const store = EventStore.open({ path: ${JSON.stringify(join(dir, 'src'))} });
const w = new Writer(store);
const all = events(0, 5000);
for (let i = 0; i < all.length; i += 500) await Promise.all(all.slice(i, i + 500).map((e) => w.submit(e)));
mkdirSync(${JSON.stringify(join(dir, 'backups'))});
const s = await writeSnapshot(store, ${JSON.stringify(join(dir, 'backups'))}, { keep: 1 });
await store.close();
console.log(s.path);`,
    );
    await writeFile(
      join(dir, 'use.mjs'),
      `import { EventStore } from ${dist('src/storage/event-store.js')};
import { Writer } from ${dist('src/storage/writer.js')};
import { restoreNewestSnapshot } from ${dist('src/storage/backup.js')};
import { events } from './events.mjs';
const data = ${JSON.stringify(join(dir, 'restored'))};
await restoreNewestSnapshot(data, ${JSON.stringify(join(dir, 'backups'))});
const store = EventStore.open({ path: data });
const w = new Writer(store);
const out = await Promise.all(events(5000, 5250).map((e) => w.submit(e)));
await store.close();
console.log(out.filter((o) => o.stored).length);`,
    );
    const make = spawnSync(process.execPath, [join(dir, 'make.mjs')], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(make.status, 0, make.stderr);
    const use = spawnSync(process.execPath, [join(dir, 'use.mjs')], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(use.signal, null, `the restored store crashed the process (${use.signal}): ${use.stderr.slice(-500)}`);
    assert.equal(use.status, 0, use.stderr);
    assert.equal(use.stdout.trim(), '250', 'every event of the batch is stored in the restored store');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
