/**
 * The change feed under the Store API: store.watch() ordering under
 * concurrent writes, resumption across close/reopen, ERR_STORE_CHANGES_EXPIRED,
 * the memory bound for a slow consumer, the retention registry, and
 * store.stats() against known workloads.
 */
import { strict as assert } from 'node:assert';
import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { binding } from '../lib/binding';
import { TesseraError } from '../lib/errors';
import { type ChangeEvent, type ChangeSource, watchChanges } from '../lib/store/changes';
import type { EngineBinding, NativeStoreEngine } from '../lib/store/engine_binding';
import { Store } from '../lib/store/store';
import { tempDirFactory } from './support/temp_dirs';

const freshDir = tempDirFactory('events');

function seed(): number {
  const s = process.env.TESSERA_SEED ? Number(process.env.TESSERA_SEED) : Date.now() % 1000000;
  console.log(`    seed ${s} (replay with TESSERA_SEED=${s})`);
  return s;
}

function rng(s: number): () => number {
  let x = s >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

async function take(
  it: AsyncGenerator<ChangeEvent, void, undefined>,
  n: number,
): Promise<ChangeEvent[]> {
  const out: ChangeEvent[] = [];
  while (out.length < n) {
    const r = await it.next();
    if (r.done) break;
    out.push(r.value);
  }
  return out;
}

function hexSeq(seq: number): string {
  return seq.toString(16).padStart(16, '0');
}

describe('store.watch: change events', () => {
  it('delivers concurrent puts and deletes once each, in commit order globally and per key', async () => {
    const random = rng(seed());
    const store = await Store.open({ path: freshDir(), dataShards: 2, parityShards: 1 });
    try {
      await store.createBucket('evs', { versioning: true });
      await store.createBucket('other');
      const watcher = store.watch({ bucket: 'evs' });
      const bucket = store.bucket('evs');
      const keys = ['a', 'b', 'c', 'd'];
      const created = new Set<string>();
      let markers = 0;
      const ops: Promise<unknown>[] = [];
      for (let i = 0; i < 200; i++) {
        const key = keys[Math.floor(random() * keys.length)]!;
        if (random() < 0.25) {
          ops.push(
            bucket.delete(key).then((r) => {
              assert.ok(r.deleteMarker);
              markers++;
            }),
          );
        } else {
          ops.push(
            bucket.put(key, Buffer.from(`${key}-${i}`)).then((r) => created.add(r.versionId)),
          );
        }
        if (i % 10 === 0) ops.push(store.bucket('other').put('x', Buffer.from('y')));
      }
      await Promise.all(ops);
      const events = await take(watcher, 200);
      await watcher.return(undefined);
      assert.equal(events.length, 200);
      for (let i = 1; i < events.length; i++) assert.ok(events[i - 1]!.seq < events[i]!.seq);
      // Versioned: the version id is the seq; every put shows up once.
      for (const e of events) {
        assert.equal(e.bucket, 'evs');
        assert.equal(e.versionId, hexSeq(e.seq));
      }
      const createdEvents = events.filter((e) => e.type === 'created');
      assert.deepEqual(new Set(createdEvents.map((e) => e.versionId)), created);
      assert.equal(createdEvents.length, created.size);
      assert.equal(events.filter((e) => e.deleteMarker).length, markers);
      // Per key, the last event decides what head() sees.
      for (const key of keys) {
        const last = events.filter((e) => e.key === key).at(-1);
        const head = await bucket.head(key);
        if (last === undefined) continue;
        if (last.type === 'deleted') assert.equal(head, undefined);
        else {
          assert.equal(head?.versionId, last.versionId);
          assert.equal(head?.etag, last.etag);
          assert.equal(head?.sequence, last.seq);
          assert.equal(head?.size, last.size);
        }
      }
    } finally {
      await store.close();
    }
  });

  it('reports fields of created, marker, version-delete and unversioned delete events', async () => {
    const store = await Store.open({ path: freshDir(), dataShards: 2, parityShards: 1 });
    try {
      await store.createBucket('plain');
      await store.createBucket('vers', { versioning: true });
      const watcher = store.watch({ since: 1 });
      const put = await store.bucket('plain').put('p/1', Buffer.from('hello'));
      await store.bucket('plain').delete('p/1');
      const v = await store.bucket('vers').put('k', Buffer.from('abc'));
      const marker = await store.bucket('vers').delete('k');
      await store.bucket('vers').delete('k', { versionId: v.versionId });
      const events = await take(watcher, 5);
      await watcher.return(undefined);
      assert.deepEqual(
        events.map((e) => [e.type, e.bucket, e.key, e.versionId, e.size, e.deleteMarker]),
        [
          ['created', 'plain', 'p/1', 'null', 5, false],
          ['deleted', 'plain', 'p/1', 'null', 0, false],
          ['created', 'vers', 'k', v.versionId, 3, false],
          ['deleted', 'vers', 'k', marker.versionId, 0, true],
          ['deleted', 'vers', 'k', v.versionId, 0, false],
        ],
      );
      assert.equal(events[0]!.etag, put.etag);
      assert.ok(events[0]!.time instanceof Date);
      assert.equal(events[1]!.time, null); // DELETE records carry no time
      assert.ok(events[3]!.time instanceof Date);
      // Filters.
      const onlyP = await take(store.watch({ since: 1, prefix: 'p/' }), 2);
      assert.deepEqual(
        onlyP.map((e) => e.key),
        ['p/1', 'p/1'],
      );
    } finally {
      await store.close();
    }
  });

  it('resumes after close and reopen with no gap and no duplicate', async () => {
    const path = freshDir();
    let store = await Store.open({ path, dataShards: 2, parityShards: 1 });
    await store.createBucket('res');
    for (let i = 0; i < 30; i++) await store.bucket('res').put(`k${i}`, Buffer.from(String(i)));
    const first = await take(store.watch({ since: 1 }), 12);
    const cursor = first.at(-1)!.seq + 1; // last processed + 1
    await store.close();
    for (const pass of ['snapshot', 'scan']) {
      if (pass === 'scan') {
        for (let d = 0; d < 3; d++)
          unlinkSync(join(path, `drive-${d}`, 'snapshots', 'snapshot.dat'));
      }
      store = await Store.open({ path });
      await store.bucket('res').put(`after-${pass}`, Buffer.from('z'));
      const rest = await take(store.watch({ since: cursor }), 18 + (pass === 'scan' ? 2 : 1));
      const all = [...first, ...rest];
      assert.deepEqual(
        all.map((e) => e.key),
        [
          ...Array.from({ length: 30 }, (_, i) => `k${i}`),
          'after-snapshot',
          ...(pass === 'scan' ? ['after-scan'] : []),
        ],
      );
      for (let i = 1; i < all.length; i++) assert.ok(all[i - 1]!.seq < all[i]!.seq);
      const page = await store.changes(1, 10000);
      assert.deepEqual(
        page.events.map((e) => e.seq),
        all.map((e) => e.seq),
      );
      await store.close();
    }
  });

  it('fails with ERR_STORE_CHANGES_EXPIRED and the oldest seq when segments are gone', async () => {
    const path = freshDir();
    // Small segments (16 stripes of 2 x 4064 bytes) through the raw binding.
    const raw = await (binding as unknown as EngineBinding).engineOpen({
      path,
      dataShards: 2,
      parityShards: 1,
      segmentStripes: 16,
      directIO: 'optional',
    });
    await raw.close();
    let store = await Store.open({ path });
    await store.createBucket('exp');
    const big = Buffer.alloc(40000, 7);
    for (let i = 0; i < 20; i++) await store.bucket('exp').put(`k${i}`, big);
    await store.close();
    for (let d = 0; d < 3; d++)
      unlinkSync(join(path, `drive-${d}`, 'segments', 'seg-0000000000000000.dat'));
    store = await Store.open({ path });
    try {
      let oldest = 0;
      await assert.rejects(
        () => store.changes(1, 100),
        (error: unknown) => {
          assert.ok(error instanceof TesseraError);
          assert.equal(error.code, 'ERR_STORE_CHANGES_EXPIRED');
          assert.equal(error.statusCode, 410);
          oldest = (error as TesseraError & { oldestSeq: number }).oldestSeq;
          return true;
        },
      );
      assert.ok(oldest > 2, `oldest ${oldest}`);
      const watcher = store.watch({ since: 1 });
      await assert.rejects(() => watcher.next(), { code: 'ERR_STORE_CHANGES_EXPIRED' });
      const page = await store.changes(oldest, 1000);
      assert.equal(page.events[0]!.seq, oldest);
      assert.equal(page.events.at(-1)!.key, 'k19');
    } finally {
      await store.close();
    }
  });

  it('keeps at most one page in memory for a slow consumer', async () => {
    const store = await Store.open({ path: freshDir(), dataShards: 2, parityShards: 1 });
    try {
      await store.createBucket('slow');
      const engine = (store as unknown as { engine: NativeStoreEngine }).engine;
      let fetched = 0;
      const counting: ChangeSource = {
        changes: async (from, max) => {
          assert.ok(max <= 10);
          const page = await engine.changes(from, max);
          fetched += page.events.length;
          return page;
        },
        committedSeq: () => engine.committedSeq(),
        onCommit: (listener) => engine.onCommit(listener),
      };
      const it = watchChanges(
        counting,
        { since: 1, pageEvents: 10 },
        () => false,
        () => () => undefined,
      );
      const bucket = store.bucket('slow');
      await Promise.all(
        Array.from({ length: 300 }, (_, i) => bucket.put(`k${i}`, Buffer.from('v'))),
      );
      let consumed = 0;
      for (;;) {
        const r = await it.next();
        assert.ok(!r.done);
        consumed++;
        // Read ahead of the consumer: never more than one page.
        assert.ok(fetched - consumed < 10, `fetched ${fetched}, consumed ${consumed}`);
        if (consumed % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
        if (consumed === 300) break;
      }
      await it.return(undefined);
    } finally {
      await store.close();
    }
  });

  it('ends a waiting watcher on abort and on close', async () => {
    const store = await Store.open({ path: freshDir(), dataShards: 2, parityShards: 1 });
    await store.createBucket('wat');
    const controller = new AbortController();
    const aborted = store.watch({ signal: controller.signal }).next();
    const closed = store.watch().next();
    await store.bucket('wat').put('first', Buffer.from('1'));
    controller.abort();
    const r = await aborted;
    // The put may or may not have been delivered before the abort.
    if (!r.done) assert.equal(r.value.key, 'first');
    const c = await closed;
    assert.equal(c.value?.key, 'first');
    const waiting = store.watch().next();
    await store.close();
    assert.deepEqual(await waiting, { done: true, value: undefined });
  });
});

describe('store.retention', () => {
  it('reports the lowest seq any holder needs; a broken hold keeps everything', async () => {
    const store = await Store.open({ path: freshDir(), dataShards: 2, parityShards: 1 });
    try {
      assert.equal(store.retention.floor(), undefined);
      let a = 40;
      store.retention.hold('a', () => a);
      store.retention.hold('b', () => 55);
      assert.equal(store.retention.floor(), 40);
      a = 70;
      assert.equal(store.retention.floor(), 55);
      store.retention.hold('bad', () => {
        throw new Error('no');
      });
      assert.equal(store.retention.floor(), 1);
      assert.ok(store.retention.release('bad'));
      assert.ok(!store.retention.release('bad'));
      store.retention.release('b');
      assert.deepEqual(store.retention.names(), ['a']);
      assert.equal(store.retention.floor(), 70);
    } finally {
      await store.close();
    }
  });
});

describe('store.stats', () => {
  it('counts objects, bytes, segments and operations of a known workload', async () => {
    const store = await Store.open({ path: freshDir(), dataShards: 2, parityShards: 1 });
    try {
      const empty = await store.stats();
      assert.equal(empty.objects, 0);
      assert.equal(empty.logicalBytes, 0);
      assert.equal(empty.segments, 1);
      await store.createBucket('sta', { versioning: true });
      await store.createBucket('uns');
      const s = store.bucket('sta');
      const u = store.bucket('uns');
      await s.put('a', Buffer.alloc(1000, 1));
      await s.put('a', Buffer.alloc(3000, 2)); // a second version
      await s.put('b', Buffer.alloc(500, 3));
      await s.delete('b'); // a delete marker over b
      await u.put('x', Buffer.alloc(7000, 4));
      await u.put('x', Buffer.alloc(2000, 5)); // replaces the null version
      await u.put('gone', Buffer.alloc(100, 6));
      await u.delete('gone');
      await u.get('x');
      await u.head('x');
      await u.head('missing');
      await u.listPage();
      await assert.rejects(() => store.bucket('nope').put('k', Buffer.from('v')));
      const st = await store.stats();
      assert.equal(st.buckets, 2);
      assert.equal(st.objects, 2); // s/a (3000) and u/x (2000); s/b is a marker
      assert.equal(st.versions, 5); // a x2, b, b's marker, x
      assert.equal(st.deleteMarkers, 1);
      assert.equal(st.logicalBytes, 1000 + 3000 + 500 + 2000);
      assert.equal(st.currentBytes, 3000 + 2000);
      assert.equal(st.segments, 1);
      const info = store.info();
      assert.equal(info.drives.length, 3);
      assert.ok(st.physicalBytes > 0 && st.physicalBytes % 3 === 0);
      assert.ok(st.liveBytes >= st.logicalBytes);
      assert.equal(st.deadBytes, st.logBytes - st.liveBytes);
      // The replaced x (7000) and deleted gone (100) are dead.
      assert.ok(st.deadBytes >= 7100, `dead ${st.deadBytes}`);
      assert.ok(st.indexMemoryBytes > 0);
      // x (2000 bytes) was read: its record is in the read cache now, and
      // two more gets of it are hits that touch no counter of misses.
      assert.ok(st.cache.bytes >= 2000, `cache bytes ${st.cache.bytes}`);
      await u.get('x');
      await u.get('x');
      const cache = (await store.stats()).cache;
      assert.equal(cache.hits, st.cache.hits + 2);
      assert.equal(cache.misses, st.cache.misses);
      assert.equal(cache.hitRatio, cache.hits / (cache.hits + cache.misses));
      assert.equal(st.degradedDrives, 0);
      assert.equal(st.healQueue, 0);
      // The native engine reports GC counters (docs/gc.md); nothing was reclaimed.
      assert.equal(st.gc.available, true);
      assert.equal(st.gc.segmentsReclaimed, 0);
      assert.equal(st.gc.bytesReclaimed, 0);
      assert.equal(st.operations.put.count, 7);
      assert.equal(st.operations.put.errors, 1);
      assert.equal(st.operations.delete.count, 2);
      assert.equal(st.operations.get.count, 1);
      // get looks the version up through head: 1 (get) + 2.
      assert.equal(st.operations.head.count, 3);
      assert.equal(st.operations.list.count, 1);
      const put = st.operations.put;
      assert.equal(put.buckets.at(-1), put.count); // every put took <= 10 s
      for (let i = 1; i < put.buckets.length; i++)
        assert.ok(put.buckets[i - 1]! <= put.buckets[i]!);
      assert.ok(put.sumSeconds > 0);
      assert.equal(st.changes.committedSeq, store.committedSeq());
      assert.ok(st.engine.commitGroups > 0);
    } finally {
      await store.close();
    }
  });
});
