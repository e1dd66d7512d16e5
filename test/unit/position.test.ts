/**
 * The relay's order at the storage layer: write effects get the position of their event,
 * a refused item uses none, and every removal path tells the removal hook which position
 * went, so indexes keyed by position stay exact.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { finalizeEvent, generateSecretKey } from 'nostr-tools/pure';
import type { NostrEvent } from '../../src/protocol/types.js';
import { EventStore } from '../../src/storage/event-store.js';
import { decodeCursor, encodeCursor, MAX_POSITION } from '../../src/storage/position.js';
import { WriteRejection } from '../../src/storage/writer.js';

const T0 = Math.floor(Date.now() / 1000) - 100;
const dir = mkdtempSync(join(tmpdir(), 'mls-relay-position-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function ev(sk: Uint8Array, over: Partial<Pick<NostrEvent, 'kind' | 'tags' | 'created_at'>> = {}): NostrEvent {
  return JSON.parse(JSON.stringify(finalizeEvent({ kind: 1, created_at: T0, tags: [], content: '', ...over }, sk))) as NostrEvent;
}

describe('positions', () => {
  it('effects get increasing positions in apply order; a refused item uses none; getAt reads them back', async () => {
    const store = EventStore.open({ path: join(dir, 'a') });
    try {
      const events = Array.from({ length: 5 }, () => ev(generateSecretKey()));
      const got: number[] = [];
      const outcomes = await Promise.all(
        events.map((e, i) =>
          store.writer.submit(e, (pos) => {
            if (i === 2) throw new WriteRejection('blocked: not this one');
            got.push(pos);
          }),
        ),
      );
      assert.equal(outcomes[2]!.ok, false);
      assert.equal(got.length, 4);
      assert.deepEqual(got, [got[0], got[0]! + 1, got[0]! + 2, got[0]! + 3], 'consecutive: the refused item left no gap');
      const stored = events.filter((_, i) => i !== 2);
      stored.forEach((e, i) => assert.equal(store.getAt(got[i]!)?.id, e.id));
      assert.equal(store.getAt(got[3]! + 1), undefined);
    } finally {
      await store.close();
    }
  });

  it('the removal hook sees every removal path with the position the effect got', async () => {
    const store = EventStore.open({ path: join(dir, 'b') });
    const removed = new Map<string, number>();
    store.writer.onRemove((pos, e) => removed.set(e.id, pos));
    const posOf = new Map<string, number>();
    const put = async (e: NostrEvent) => {
      const o = await store.writer.submit(e, (pos) => void posOf.set(e.id, pos));
      assert.equal(o.ok, true, o.message);
    };
    try {
      const sk = generateSecretKey();
      const profile = ev(sk, { kind: 0, created_at: T0 });
      const deletedById = ev(sk);
      const addressable = ev(sk, { kind: 30000, tags: [['d', 'x']], created_at: T0 });
      const expiring = ev(sk, { tags: [['expiration', String(T0 + 1)]] });
      const swept = ev(generateSecretKey());
      for (const e of [profile, deletedById, addressable, expiring, swept]) await put(e);
      await put(ev(sk, { kind: 0, created_at: T0 + 1 })); // replaces profile
      await put(ev(sk, { kind: 5, tags: [['e', deletedById.id]], created_at: T0 + 2 }));
      await put(ev(sk, { kind: 5, tags: [['a', `30000:${addressable.pubkey}:x`]], created_at: T0 + 2 }));
      assert.equal(await store.sweepExpired(T0 + 5), 1);
      await store.writer.run(() => store.writer.removeById(swept.id));
      for (const e of [profile, deletedById, addressable, expiring, swept]) {
        assert.equal(removed.get(e.id), posOf.get(e.id), `removal of ${e.kind} reported at its position`);
      }
      assert.equal(removed.size, 5);
    } finally {
      await store.close();
    }
  });

  it('cursors: opaque, versioned, round-trip, anything else refused', () => {
    for (const p of [0, 1, 255, 2 ** 32 + 7, MAX_POSITION]) {
      const c = encodeCursor(p);
      assert.match(c, /^[A-Za-z0-9_-]{12}$/);
      assert.equal(decodeCursor(c), p);
    }
    const v2 = Buffer.alloc(9);
    v2[0] = 2;
    for (const bad of ['', 'AAAAAAAAAAAA', v2.toString('base64url'), encodeCursor(1) + 'A', '!!!!!!!!!!!!', Buffer.from([1, 255, 255, 255, 255, 255, 255, 255, 255]).toString('base64url')]) {
      assert.equal(decodeCursor(bad), undefined, bad);
    }
  });
});
