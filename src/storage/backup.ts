/**
 * LMDB snapshots as single files in a backup directory (a Cloud Storage FUSE mount on
 * Cloud Run), and restoring the newest one into an empty data directory.
 *
 * A snapshot is `mls-relay-<UTC time>-<random>.mdb`: LMDB's own copy of the environment,
 * taken inside one read transaction (so it is consistent however busy the writer is),
 * written under a hidden temporary directory, fsynced, and only then renamed to its final
 * name. A reader of the backup directory therefore never sees a partial snapshot: on a
 * local disk the rename is atomic, and on gcsfuse it is a copy of a complete object
 * (object creation in Cloud Storage is atomic) followed by a delete.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { copyFile, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, extname, join } from 'node:path';

/** What the store must offer: LMDB's environment copy into `<dir>/data.mdb`. */
export interface Snapshottable {
  backup(dir: string): Promise<void>;
}

export interface SnapshotInfo {
  /** File name inside the backup directory. */
  name: string;
  path: string;
  bytes: number;
}

const PREFIX = 'mls-relay-';
const SUFFIX = '.mdb';
const TMP_PREFIX = '.tmp-';
const NAME = /^mls-relay-\d{8}T\d{9}Z-[0-9a-f]{8}\.mdb$/;
/** LMDB's meta-page magic (MDB_MAGIC), little-endian, within the first page header. */
const LMDB_MAGIC = Buffer.from([0xde, 0xc0, 0xef, 0xbe]);
/** A leftover temporary directory older than this was abandoned (crash, SIGKILL), not in progress. */
const STALE_TMP_MS = 60 * 60 * 1000;

/** `20261121T220320818Z`: sorts by time as a string, and is legal in every file system and object name. */
function stamp(d: Date): string {
  return d.toISOString().replace(/[-:.]/g, '');
}

async function fsyncPath(path: string, flags = constants.O_RDONLY): Promise<void> {
  const fh = await open(path, flags);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Directory fsync makes a rename durable on local disks; FUSE mounts may refuse it, which costs nothing there. */
async function fsyncDir(dir: string): Promise<void> {
  await fsyncPath(dir).catch(() => undefined);
}

/** Take one snapshot of `store` into `dir` and keep only the newest `keep` snapshots. */
export async function writeSnapshot(store: Snapshottable, dir: string, opts: { keep: number; now?: Date }): Promise<SnapshotInfo> {
  await mkdir(dir, { recursive: true });
  const name = `${PREFIX}${stamp(opts.now ?? new Date())}-${randomBytes(4).toString('hex')}${SUFFIX}`;
  const tmp = join(dir, `${TMP_PREFIX}${name}`);
  const final = join(dir, name);
  await mkdir(tmp);
  try {
    await store.backup(tmp);
    const copied = join(tmp, 'data.mdb');
    await fsyncPath(copied, constants.O_RDWR);
    await rename(copied, final);
    await fsyncDir(dir);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  const { size } = await stat(final);
  await pruneSnapshots(dir, opts.keep);
  return { name, path: final, bytes: size };
}

/** Snapshot files in `dir`, newest first (missing directory: none). */
export async function listSnapshots(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return names.filter((n) => NAME.test(n)).sort().reverse();
}

/**
 * Delete all but the newest `keep` snapshots, and temporary directories old enough to be
 * leftovers. Another instance may share the directory for a moment during a deploy, so
 * recent temporary directories are left alone: they may be its snapshot in progress.
 */
export async function pruneSnapshots(dir: string, keep: number): Promise<string[]> {
  const removed: string[] = [];
  for (const name of (await listSnapshots(dir)).slice(Math.max(1, keep))) {
    await rm(join(dir, name), { force: true });
    removed.push(name);
  }
  for (const name of await readdir(dir)) {
    if (!name.startsWith(TMP_PREFIX)) continue;
    const p = join(dir, name);
    const st = await stat(p).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > STALE_TMP_MS) await rm(p, { recursive: true, force: true });
  }
  return removed;
}

/**
 * Where LMDB keeps a data path's files. lmdb-js opens a path with a file extension as the
 * data file itself (MDB_NOSUBDIR, lock file beside it), any other path as a directory.
 */
export function lmdbFiles(dataPath: string): { dir: string; data: string; lock: string } {
  return extname(dataPath) !== ''
    ? { dir: dirname(dataPath), data: dataPath, lock: `${dataPath}-lock` }
    : { dir: dataPath, data: join(dataPath, 'data.mdb'), lock: join(dataPath, 'lock.mdb') };
}

/** True when `dataPath` holds no LMDB data yet (missing, empty, or an empty data file). */
export async function isDataDirEmpty(dataPath: string): Promise<boolean> {
  const st = await stat(lmdbFiles(dataPath).data).catch(() => undefined);
  return st === undefined || st.size === 0;
}

/** A cheap sanity check that a file is an LMDB environment (not an empty or foreign file). */
async function looksLikeLmdb(path: string): Promise<boolean> {
  const fh = await open(path, constants.O_RDONLY);
  try {
    const head = Buffer.alloc(64);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    return head.subarray(0, bytesRead).indexOf(LMDB_MAGIC) >= 0;
  } finally {
    await fh.close();
  }
}

export interface RestoreResult {
  /** The snapshot copied in; absent when there was none usable. */
  restored?: { snapshot: string; bytes: number };
  /** Newer snapshots passed over because they did not look like LMDB files. */
  skipped: string[];
}

/**
 * When `dataPath` is empty, copy the newest usable snapshot from `backupDir` in as its
 * data file (through a temporary name, so a crash mid-copy leaves the directory empty
 * rather than half-restored). Returns undefined when the data directory is not empty.
 */
export async function restoreNewestSnapshot(dataPath: string, backupDir: string): Promise<RestoreResult | undefined> {
  if (!(await isDataDirEmpty(dataPath))) return undefined;
  const files = lmdbFiles(dataPath);
  const skipped: string[] = [];
  for (const name of await listSnapshots(backupDir)) {
    const src = join(backupDir, name);
    if (!(await looksLikeLmdb(src).catch(() => false))) {
      skipped.push(name);
      continue;
    }
    await mkdir(files.dir, { recursive: true });
    const tmp = `${files.data}.restoring-${randomBytes(4).toString('hex')}`;
    try {
      await copyFile(src, tmp);
      await fsyncPath(tmp, constants.O_RDWR);
      // A stale lock file describes readers of the environment that is being replaced.
      await rm(files.lock, { force: true });
      await rename(tmp, files.data);
      await fsyncDir(files.dir);
    } finally {
      await rm(tmp, { force: true });
    }
    const { size } = await stat(files.data);
    return { restored: { snapshot: name, bytes: size }, skipped };
  }
  return { skipped };
}
