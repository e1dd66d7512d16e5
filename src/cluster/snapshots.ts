import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { Objm, type ObjectStore } from '@nats-io/obj';
import { StorageType } from '@nats-io/jetstream';
import type { ClusterConfig } from '../config/types.js';
import { log } from '../log.js';
import { isDataDirEmpty, lmdbFiles } from '../storage/backup.js';
import type { EventStore } from '../storage/event-store.js';
import type { Writer } from '../storage/writer.js';
import { retryOnTimeout, type NatsLog } from './nats-log.js';

const PREFIX = 'snapshot-';

export interface SnapshotMeta {
  name: string;
  /** Every log message up to here is in the snapshot (a lower bound: the copy may hold a few more). */
  position: number;
  bytes: number;
  at: string;
}

/** `snapshot-000000000001234`: sorts by position as a string. */
const nameOf = (position: number) => `${PREFIX}${String(position).padStart(15, '0')}`;

/**
 * Snapshots of this instance's LMDB in the JetStream object store (bucket `<stream>-snapshots`,
 * the stream's replicas): the cluster's compaction point. A snapshot records the log position it
 * covers; once `snapshots_kept` newer ones exist, the log before the oldest kept one is purged, so
 * the newest snapshot plus the log always rebuild a complete view, and the log does not grow
 * without bound. A new instance restores the newest one and replays the log from its position.
 */
export class Snapshots {
  private running = false;

  private constructor(
    private readonly os: ObjectStore,
    private readonly log: NatsLog,
    private readonly cfg: ClusterConfig,
  ) {}

  static async open(natsLog: NatsLog, cfg: ClusterConfig): Promise<Snapshots> {
    const bucket = `${cfg.stream}-snapshots`;
    const objm = new Objm(natsLog.nc);
    // Instances started together create the bucket at once; see ensureStream in nats-log.ts.
    const os = await retryOnTimeout(() => objm.create(bucket, { storage: StorageType.File, replicas: cfg.replicas }));
    return new Snapshots(os, natsLog, cfg);
  }

  async list(): Promise<SnapshotMeta[]> {
    const out: SnapshotMeta[] = [];
    for (const o of await this.os.list()) {
      if (o.deleted || !o.name.startsWith(PREFIX)) continue;
      const position = Number(o.name.slice(PREFIX.length));
      if (!Number.isSafeInteger(position)) continue;
      out.push({ name: o.name, position, bytes: o.size, at: o.mtime });
    }
    return out.sort((a, b) => a.position - b.position);
  }

  /**
   * Before the store opens: an empty data directory gets the newest snapshot. Returns it, or
   * undefined when the directory has data or there is no snapshot (the log alone rebuilds then).
   */
  async restoreInto(dataPath: string): Promise<SnapshotMeta | undefined> {
    if (!(await isDataDirEmpty(dataPath))) return undefined;
    // Right after instances created the bucket together, its first read can go unanswered (see open).
    const newest = (await retryOnTimeout(() => this.list())).at(-1);
    if (newest === undefined) return undefined;
    const files = lmdbFiles(dataPath);
    await mkdir(files.dir, { recursive: true });
    const tmp = `${files.data}.restoring-${randomBytes(4).toString('hex')}`;
    const t0 = Date.now();
    try {
      const got = await this.os.get(newest.name);
      if (got === null) return undefined;
      await pipeline(Readable.fromWeb(got.data as unknown as WebReadableStream<Uint8Array>), createWriteStream(tmp));
      const err = await got.error;
      if (err) throw err;
      await rm(files.lock, { force: true });
      await rename(tmp, files.data);
    } finally {
      await rm(tmp, { force: true });
    }
    log.info({ snapshot: newest.name, position: newest.position, bytes: newest.bytes, ms: Date.now() - t0 }, 'cluster: data directory was empty; restored the newest snapshot');
    return newest;
  }

  /**
   * Take a snapshot if the newest is older than snapshot_interval and the store moved past it;
   * then drop snapshots beyond snapshots_kept and the log before the oldest kept one.
   */
  async maybeTake(store: EventStore, writer: Writer, force = false): Promise<SnapshotMeta | undefined> {
    if (this.running) return undefined;
    this.running = true;
    try {
      const existing = await this.list();
      const newest = existing.at(-1);
      const position = writer.appliedMark(); // read before the copy starts: the copy holds at least this
      // Nothing applied yet (an empty log restores from nothing), or nothing since the newest snapshot.
      if (position === 0 || (newest !== undefined && newest.position >= position)) return undefined;
      if (!force && newest !== undefined && Date.now() - Date.parse(newest.at) < this.cfg.snapshot_interval * 0.9) return undefined;
      const dir = await mkdtemp(join(tmpdir(), 'mls-relay-snapshot-'));
      const t0 = Date.now();
      try {
        // A plain copy (never compacted: see EventStore.backup).
        await store.backup(dir);
        const file = join(dir, 'data.mdb');
        const { size } = await stat(file);
        const name = nameOf(position);
        await this.os.put({ name, description: `log position ${position}` }, Readable.toWeb(createReadStream(file)) as unknown as ReadableStream<Uint8Array>);
        log.info({ snapshot: name, position, bytes: size, ms: Date.now() - t0 }, 'cluster: snapshot stored');
        await this.compact();
        return { name, position, bytes: size, at: new Date().toISOString() };
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    } finally {
      this.running = false;
    }
  }

  /** Keep the newest snapshots_kept; the log before the oldest of them is no longer needed. */
  private async compact(): Promise<void> {
    const all = await this.list();
    const keep = all.slice(-this.cfg.snapshots_kept);
    for (const old of all.slice(0, all.length - keep.length)) await this.os.delete(old.name);
    const oldest = keep[0];
    if (oldest === undefined) return;
    const purged = await this.log.purgeBefore(oldest.position + 1);
    if (purged > 0) log.info({ purged, before: oldest.position + 1 }, 'cluster: log compacted up to the oldest kept snapshot');
  }
}
