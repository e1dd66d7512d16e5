/**
 * The database holds every event, gift wrap and mailbox item: nothing the relay writes may be
 * readable by other local users, whatever umask it was started with, and files an older release
 * left world-readable are tightened at start.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { rawClient, stopRelay } from '../helpers/fixture.js';
import { newKeys, signEvent } from '../helpers/events.js';
import { makeTempDir, removeDir, startRelay } from '../helpers/relay-process.js';

async function modeOf(p: string): Promise<number> {
  return (await stat(p)).mode & 0o777;
}

async function assertPrivateTree(dir: string, what: string): Promise<number> {
  assert.equal((await modeOf(dir)).toString(8), '700', `${what}: ${dir} is owner-only`);
  let files = 0;
  for (const name of await readdir(dir)) {
    const p = join(dir, name);
    const s = await stat(p);
    if (s.isDirectory()) files += await assertPrivateTree(p, what);
    else {
      assert.equal((s.mode & 0o777).toString(8), '600', `${what}: ${p} is owner-only`);
      files++;
    }
  }
  return files;
}

test('data files and snapshots are owner-only, and old world-readable ones are tightened at start', async (t) => {
  const root = await makeTempDir();
  t.after(() => removeDir(root));
  const data = join(root, 'data');
  const backups = join(root, 'backups');
  await mkdir(data, { mode: 0o755 });
  await chmod(data, 0o755);
  const toml = `[data]\nbackup_path = ${JSON.stringify(backups)}\n`;
  // The relay inherits this process's umask: a permissive one must not matter.
  process.umask(0o022);
  const first = await startRelay({ dataDir: data, toml });
  const c = await rawClient(t, first.url);
  const ok = await c.publish(signEvent(newKeys(), { content: 'private' }));
  assert.equal(ok[2], true);
  await c.close();
  await stopRelay(first); // SIGTERM writes a final snapshot into backups
  assert.ok((await assertPrivateTree(data, 'data directory')) >= 1, 'the data directory holds the LMDB files');
  assert.ok((await assertPrivateTree(backups, 'backup directory')) >= 1, 'the final snapshot was written');

  // What a release without this rule left behind: a readable directory and files.
  await chmod(data, 0o755);
  for (const name of await readdir(data)) await chmod(join(data, name), 0o644);
  const second = await startRelay({ dataDir: data });
  try {
    await assertPrivateTree(data, 'data directory after a restart');
  } finally {
    await stopRelay(second);
  }
});
