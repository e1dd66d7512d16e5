/**
 * `[data] backup_path` / `backup_interval`: snapshots survive the loss of the data
 * directory (Cloud Run's disk goes with the instance), the final snapshot on SIGTERM,
 * and the snapshot files themselves (consistency under writes, rotation, restore rules).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertOk, rawClient, stopRelay } from '../helpers/fixture.js';
import { makeTempDir, removeDir, startRelay, type RelayHandle } from '../helpers/relay-process.js';
import { newKeys, plain, signEvent } from '../helpers/ws-client.js';
import { EventStore } from '../../src/storage/event-store.js';
import { Writer } from '../../src/storage/writer.js';
import { listSnapshots, restoreNewestSnapshot, writeSnapshot } from '../../src/storage/backup.js';
import type { NostrEvent } from '../../src/protocol/types.js';

type LogRecord = Record<string, unknown>;

async function waitForLog(relay: RelayHandle, pred: (r: LogRecord) => boolean, what: string, timeoutMs = 8_000): Promise<LogRecord> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hit = relay.logRecords().find(pred);
    if (hit) return hit;
    relay.assertAlive();
    if (Date.now() > deadline) throw new Error(`no log record "${what}" within ${timeoutMs} ms\n${relay.logs.slice(-15).join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function backupToml(dir: string, interval: string): string {
  return `[data]\nbackup_path = ${JSON.stringify(dir)}\nbackup_interval = ${JSON.stringify(interval)}\n`;
}

test('an event acknowledged before a periodic snapshot survives losing the data directory', async (t) => {
  const root = await makeTempDir('mls-relay-backup-');
  t.after(() => removeDir(root));
  const dataDir = join(root, 'data');
  const backups = join(root, 'backups');
  const toml = backupToml(backups, '1s');
  const event = signEvent(newKeys(), { content: 'kept by a snapshot' });

  const first = await startRelay({ dataDir, toml });
  let snapshot: string;
  try {
    const c = await rawClient(t, first.url);
    assertOk(await c.publish(event), true);
    const ackedAt = Date.now();
    const rec = await waitForLog(
      first,
      (r) => r.msg === 'snapshot written' && r.reason === 'interval' && Date.parse(String(r.began)) >= ackedAt,
      'snapshot written after the OK',
    );
    snapshot = String(rec.snapshot);
    assert.ok((await readdir(backups)).includes(snapshot), 'the snapshot is in backup_path under its final name');
    await c.close();
  } finally {
    await stopRelay(first);
  }
  // Nothing was written after that snapshot, so the stop had no reason to take another:
  // what is restored below is the periodic one.
  assert.ok(!first.logRecords().some((r) => r.msg === 'snapshot written' && r.reason === 'shutdown'));

  await rm(dataDir, { recursive: true, force: true });
  // Stopped in the test body, not in t.after: its final snapshot must not land in a removed directory.
  const second = await startRelay({ dataDir, toml });
  try {
    const restored = await waitForLog(second, (r) => r.msg === 'data directory was empty; restored from snapshot', 'restore');
    assert.equal(restored.snapshot, snapshot);
    const c = await rawClient(t, second.url);
    const res = await c.req('restored', { ids: [event.id] });
    assert.deepEqual(res.events, [plain(event)]);
    await c.close();
  } finally {
    await stopRelay(second);
  }
});

test('SIGTERM takes a final snapshot, restored after losing the data directory', async (t) => {
  const root = await makeTempDir('mls-relay-backup-');
  t.after(() => removeDir(root));
  const dataDir = join(root, 'data');
  const backups = join(root, 'backups');
  const toml = backupToml(backups, '1h');
  const event = signEvent(newKeys(), { content: 'kept by the final snapshot' });

  const first = await startRelay({ dataDir, toml });
  try {
    const c = await rawClient(t, first.url);
    assertOk(await c.publish(event), true);
    await c.close();
  } finally {
    await stopRelay(first);
  }
  const final = first.logRecords().find((r) => r.msg === 'snapshot written' && r.reason === 'shutdown');
  assert.ok(final, `final snapshot logged\n${first.logs.slice(-10).join('\n')}`);
  assert.deepEqual(await listSnapshots(backups), [final.snapshot]);

  await rm(dataDir, { recursive: true, force: true });
  const second = await startRelay({ dataDir, toml });
  try {
    const c = await rawClient(t, second.url);
    const res = await c.req('restored', { ids: [event.id] });
    assert.deepEqual(res.events, [plain(event)]);
    assert.ok(second.logRecords().some((r) => r.msg === 'data directory was empty; restored from snapshot'));
    await c.close();
  } finally {
    await stopRelay(second);
  }
});

function fakeEvent(n: number): NostrEvent {
  return {
    id: randomBytes(32).toString('hex'),
    pubkey: randomBytes(32).toString('hex'),
    created_at: 1_700_000_000 + n,
    kind: 1,
    tags: [['t', `n${n % 7}`]],
    content: `event ${n} ${'x'.repeat(200)}`,
    sig: randomBytes(64).toString('hex'),
  };
}

test('snapshots: consistent under concurrent writes, newest three kept, restore only into an empty directory', async (t) => {
  const root = await makeTempDir('mls-relay-snap-');
  t.after(() => removeDir(root));
  const backups = join(root, 'backups');
  const store = EventStore.open({ path: join(root, 'live') });
  const writer = new Writer(store);
  let closed = false;
  t.after(async () => {
    if (!closed) await store.close();
  });

  // Writes keep committing (one transaction per loop turn) while the snapshots are copied.
  let n = 0;
  let writing = true;
  const load = (async () => {
    while (writing) await Promise.all(Array.from({ length: 50 }, () => writer.submit(fakeEvent(n++))));
  })();
  const taken: string[] = [];
  for (let i = 0; i < 5; i++) {
    taken.push((await writeSnapshot(store, backups, { keep: 3, now: new Date(Date.UTC(2026, 0, 1, 0, 0, i)) })).name);
  }
  writing = false;
  await load;
  assert.ok(n > 0);
  assert.deepEqual(await listSnapshots(backups), taken.slice(2).reverse(), 'the three newest are kept, newest first');
  assert.deepEqual((await readdir(backups)).filter((f) => f.startsWith('.tmp-')), [], 'no temporary leftovers');

  // Each kept snapshot opens as a store whose tables agree with each other (one transaction's view).
  const counts: number[] = [];
  for (const name of (await listSnapshots(backups)).reverse()) {
    const dir = join(root, `check-${name.replace(/\.mdb$/, '')}`);
    assert.ok(await restoreNewestSnapshotOf(backups, name, dir));
    const copy = EventStore.open({ path: dir });
    try {
      const events = [...copy.exportEvents()];
      assert.equal(copy.stats().events, events.length, `${name}: events table and created_at index agree`);
      counts.push(events.length);
      for (const e of events.slice(0, 50)) assert.equal(copy.get(e.id)?.id, e.id, `${name}: id index points at the event`);
    } finally {
      await copy.close();
    }
  }

  t.diagnostic(`events written during the snapshots: ${n}; in the kept snapshots, oldest first: ${counts.join(', ')}`);
  assert.ok(counts[0]! < counts[2]!, 'the writer kept committing between snapshots');

  // Restore: nothing happens when the data directory already has data.
  await store.close();
  closed = true;
  assert.equal(await restoreNewestSnapshot(join(root, 'live'), backups), undefined);

  // A damaged newest file is passed over for the next one.
  const newest = (await listSnapshots(backups))[0]!;
  const bogus = 'mls-relay-20991231T235959999Z-deadbeef.mdb';
  await writeFile(join(backups, bogus), 'not lmdb');
  const target = join(root, 'fresh');
  await mkdir(target);
  const result = await restoreNewestSnapshot(target, backups);
  assert.deepEqual(result, { restored: { snapshot: newest, bytes: result?.restored?.bytes }, skipped: [bogus] });
  assert.deepEqual((await readdir(target)).sort(), ['data.mdb']);

  // No snapshot at all: nothing restored, and the directory stays empty.
  const empty = join(root, 'empty-backups');
  assert.deepEqual(await restoreNewestSnapshot(join(root, 'nothing'), empty), { skipped: [] });
});

/** Restore one given snapshot (not necessarily the newest) into `dir`, through the public restore path. */
async function restoreNewestSnapshotOf(backups: string, name: string, dir: string): Promise<boolean> {
  const only = `${dir}-src`;
  await mkdir(only, { recursive: true });
  const { copyFile } = await import('node:fs/promises');
  await copyFile(join(backups, name), join(only, name));
  const r = await restoreNewestSnapshot(dir, only);
  return r?.restored?.snapshot === name;
}
