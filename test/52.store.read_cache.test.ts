/**
 * The engine's read cache through the Store API: hot small objects are
 * served from memory (counters prove it), an overwrite or delete is never
 * answered with old bytes, ranges and versions read right from the cache,
 * the bound holds, and `cacheBytes: 0` turns it off. A seeded random run
 * checks every get against a model while keys are overwritten and deleted
 * under a cache too small to hold them.
 */
import { strict as assert } from 'node:assert';
import { binding } from '../lib/binding';
import { TesseraError } from '../lib/errors';
import type { NativeStoreEngine } from '../lib/store/engine_binding';
import type { HotObjects } from '../lib/store/hot_objects';
import { Store } from '../lib/store/store';
import { tempDirFactory } from './support/temp_dirs';

const freshDir = tempDirFactory('cache');

function stats(store: Store): Record<string, number> {
  return (store as unknown as { engine: NativeStoreEngine }).engine.native.stats();
}

function body(seed: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  let x = seed * 2654435761 + 1;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

describe('read cache (cacheBytes)', () => {
  it('serves a hot object from memory and never returns overwritten or deleted bytes', async () => {
    const store = await Store.open({ path: freshDir(), cacheBytes: 4 << 20 });
    await store.createBucket('hot');
    const bucket = store.bucket('hot');
    const a = body(1, 4096);
    const b = body(2, 4096);
    await bucket.put('k', a, { contentType: 'x/a', metadata: { n: '1' } });
    const first = await bucket.get('k');
    assert.deepEqual(first?.body, a);
    const before = stats(store);
    for (let i = 0; i < 20; i++) {
      const got = await bucket.get('k');
      assert.deepEqual(got?.body, a);
      assert.equal(got?.contentType, 'x/a');
      assert.deepEqual(got?.metadata, { n: '1' });
      assert.equal(got?.etag, first?.etag);
    }
    const after1 = stats(store);
    assert.ok(after1.cacheHits! >= before.cacheHits! + 20, JSON.stringify(after1));
    assert.equal(after1.chunksRead, before.chunksRead, 'a cached get read from disk');
    assert.ok(after1.cacheBytes! > 4096 && after1.cacheBytes! <= 4 << 20);
    assert.ok(after1.cacheMisses! >= 1);

    await bucket.put('k', b, { contentType: 'x/b' });
    const got = await bucket.get('k');
    assert.deepEqual(got?.body, b);
    assert.equal(got?.contentType, 'x/b');
    assert.deepEqual(
      (await bucket.get('k', { range: { start: 10, end: 19 } }))?.body,
      b.subarray(10, 20),
    );

    await bucket.delete('k');
    assert.equal(await bucket.get('k'), undefined);
    assert.equal(await bucket.head('k'), undefined);
    await store.close();
  });

  it('each cached get returns its own info: changing one result leaves the next intact', async () => {
    const store = await Store.open({ path: freshDir(), cacheBytes: 4 << 20 });
    await store.createBucket('own');
    const bucket = store.bucket('own');
    const a = body(3, 4096);
    await bucket.put('m', a, { contentType: 'x/m', metadata: { color: 'red', n: '7' } });
    await bucket.put('e', a);
    const first = await bucket.get('m');
    const firstE = await bucket.get('e');
    const before = stats(store);
    for (let i = 0; i < 5; i++) {
      const got = await bucket.get('m');
      assert.ok(got);
      assert.deepEqual(got.metadata, { color: 'red', n: '7' });
      assert.equal(got.contentType, 'x/m');
      assert.equal(got.etag, first?.etag);
      assert.equal(got.lastModified.getTime(), first?.lastModified.getTime());
      assert.equal(got.sequence, first?.sequence);
      assert.equal(got.isLatest, true);
      assert.deepEqual(got.body, a);
      // The caller owns what it got: none of this may reach the next get.
      got.metadata.color = 'blue';
      Reflect.deleteProperty(got.metadata, 'n');
      got.lastModified.setTime(0);
      got.body.fill(0);
      const e = await bucket.get('e');
      assert.ok(e);
      assert.deepEqual(e.metadata, {});
      assert.equal(e.contentType, undefined);
      assert.equal(e.etag, firstE?.etag);
      e.metadata.added = 'x';
    }
    assert.equal(stats(store).chunksRead, before.chunksRead, 'a cached get read from disk');
    // An overwrite is a new record: its own info, never the old one's.
    await bucket.put('m', a, { metadata: { color: 'green' } });
    const next = await bucket.get('m');
    assert.deepEqual(next?.metadata, { color: 'green' });
    assert.equal(next?.contentType, undefined);
    assert.ok(next!.sequence! > first!.sequence!);
    await store.close();
  });

  it('reads versions and ranges from the cache like from disk', async () => {
    const store = await Store.open({ path: freshDir() });
    await store.createBucket('ver', { versioning: true });
    const bucket = store.bucket('ver');
    const v1 = await bucket.put('k', body(3, 1000));
    const v2 = await bucket.put('k', body(4, 2000));
    for (let round = 0; round < 2; round++) {
      const old = await bucket.get('k', { versionId: v1.versionId });
      assert.deepEqual(old?.body, body(3, 1000));
      assert.equal(old?.isLatest, false);
      const cur = await bucket.get('k');
      assert.deepEqual(cur?.body, body(4, 2000));
      assert.equal(cur?.isLatest, true);
      assert.equal(cur?.versionId, v2.versionId);
      const part = await bucket.get('k', { range: { suffix: 5 } });
      assert.deepEqual(part?.body, body(4, 2000).subarray(1995));
      assert.deepEqual(part?.range, { start: 1995, end: 1999 });
    }
    assert.ok(stats(store).cacheHits! > 0);
    await bucket.delete('k'); // a delete marker hides the current version
    assert.equal(await bucket.get('k'), undefined);
    await bucket.delete('k', { versionId: v1.versionId });
    assert.equal(await bucket.get('k', { versionId: v1.versionId }), undefined);
    assert.deepEqual((await bucket.get('k', { versionId: v2.versionId }))?.body, body(4, 2000));
    const v2Range = { versionId: v2.versionId, range: { start: 5000 } };
    await assert.rejects(bucket.get('k', v2Range), (e: unknown) => {
      return e instanceof TesseraError && e.code === 'InvalidRange';
    });
    await store.close();
  });

  it('cacheBytes 0 disables the cache; a bad value is refused', async () => {
    const store = await Store.open({ path: freshDir(), cacheBytes: 0 });
    await store.createBucket('off');
    const bucket = store.bucket('off');
    await bucket.put('k', body(5, 4096));
    for (let i = 0; i < 3; i++) assert.deepEqual((await bucket.get('k'))?.body, body(5, 4096));
    const s = stats(store);
    assert.equal(s.cacheHits, 0);
    assert.equal(s.cacheBytes, 0);
    await store.close();
    await assert.rejects(
      Store.open({ path: freshDir(), cacheBytes: -1 }),
      (e: unknown) => e instanceof TesseraError && e.code === 'ERR_OUT_OF_RANGE',
    );
  });

  it('random puts, deletes and gets under a tiny cache match a model', async () => {
    const seed = Number(process.env.TESSERA_SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`      seed ${seed} (replay: TESSERA_SEED=${seed})`);
    let x = seed >>> 0;
    const rand = (n: number) => {
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      return x % n;
    };
    const cacheBytes = 48 * 1024;
    const store = await Store.open({ path: freshDir(), cacheBytes });
    await store.createBucket('rnd');
    const bucket = store.bucket('rnd');
    const model = new Map<string, Buffer>();
    for (let op = 0; op < 600; op++) {
      const key = `k${rand(16)}`;
      const what = rand(10);
      if (what < 3) {
        const b = body(rand(1 << 30), 1 + rand(9000));
        await bucket.put(key, b);
        model.set(key, b);
      } else if (what < 4) {
        await bucket.delete(key);
        model.delete(key);
      } else {
        // Two gets at once: the second often hits what the first cached.
        const [g1, g2] = await Promise.all([bucket.get(key), bucket.get(key)]);
        for (const g of [g1, g2]) {
          assert.deepEqual(g?.body, model.get(key), `op ${op} key ${key} (seed ${seed})`);
        }
      }
      assert.ok(stats(store).cacheBytes! <= cacheBytes);
    }
    const s = stats(store);
    assert.ok(s.cacheHits! > 0 && s.cacheMisses! > 0, JSON.stringify(s));
    await store.close();
  });

  describe('hot objects on the JS thread', () => {
    /** The engine's hot-object map (a private field, read for the proof). */
    function hot(store: Store): HotObjects<unknown> {
      return (store as unknown as { engine: { hot: HotObjects<unknown> } }).engine.hot;
    }

    /** Enough gets of `keys` in a row for the hot map to admit them. */
    async function warm(bucket: ReturnType<Store['bucket']>, keys: string[]): Promise<void> {
      for (let i = 0; i < 80; i++) await bucket.get(keys[i % keys.length]!);
    }

    it('answers repeated gets without the native cache, each with its own copy', async () => {
      const store = await Store.open({ path: freshDir(), cacheBytes: 4 << 20 });
      await store.createBucket('hotmap');
      const bucket = store.bucket('hotmap');
      const a = body(11, 4096);
      await bucket.put('k', a, { contentType: 'x/k', metadata: { n: '1' } });
      await bucket.put('j', body(12, 100));
      await warm(bucket, ['k', 'j']);
      const native = stats(store).cacheHits!;
      const before = hot(store).hits;
      for (let i = 0; i < 10; i++) {
        const got = await bucket.get('k');
        assert.deepEqual(got?.body, a);
        assert.equal(got?.contentType, 'x/k');
        assert.deepEqual(got?.metadata, { n: '1' });
        got!.body.fill(0); // the caller's copy: the next get is intact
        got!.metadata.n = 'changed';
      }
      assert.equal(hot(store).hits, before + 10, 'gets were not answered by the hot map');
      assert.equal(stats(store).cacheHits, native, 'the native cache was asked');
      const total = await store.stats();
      assert.ok(total.cache.hits >= native + 10, 'hot-map hits are counted as cache hits');
      await store.close();
    });

    it('any write empties it: overwrites, deletes, other keys, bucket settings', async () => {
      const store = await Store.open({ path: freshDir(), cacheBytes: 4 << 20 });
      await store.createBucket('inval');
      const bucket = store.bucket('inval');
      await bucket.put('k', body(21, 4096));
      await bucket.put('other', body(22, 10));
      await warm(bucket, ['k']);
      assert.equal(hot(store).size, 1);
      // A write to another key: the map empties, the answer stays right.
      await bucket.put('other', body(23, 10));
      assert.deepEqual((await bucket.get('k'))?.body, body(21, 4096));
      assert.equal(hot(store).size, 0);
      await warm(bucket, ['k']);
      const hits = hot(store).hits;
      await bucket.put('k', body(24, 4096), { metadata: { v: '2' } });
      const got = await bucket.get('k');
      assert.deepEqual(got?.body, body(24, 4096));
      assert.deepEqual(got?.metadata, { v: '2' });
      assert.equal(hot(store).hits, hits, 'an overwritten object came from the hot map');
      await warm(bucket, ['k']);
      await bucket.delete('k');
      assert.equal(await bucket.get('k'), undefined);
      assert.equal(await bucket.head('k', { withBodyUpTo: 8192 }), undefined);
      // Versioning turned on, then versioned overwrites and version gets.
      await bucket.put('v', body(25, 50));
      await warm(bucket, ['v']);
      await store.setBucketVersioning('inval', 'Enabled');
      const v1 = await bucket.put('v', body(26, 50));
      await warm(bucket, ['v']);
      const v2 = await bucket.put('v', body(27, 50));
      for (let i = 0; i < 80; i++) {
        const old = await bucket.get('v', { versionId: v1.versionId });
        assert.deepEqual(old?.body, body(26, 50));
        assert.equal(old?.isLatest, false);
      }
      assert.deepEqual((await bucket.get('v'))?.body, body(27, 50));
      await bucket.delete('v', { versionId: v1.versionId });
      assert.equal(await bucket.get('v', { versionId: v1.versionId }), undefined);
      assert.equal((await bucket.get('v'))?.versionId, v2.versionId);
      await store.close();
    });

    it('holds at most half of cacheBytes, oldest out first', async () => {
      const cacheBytes = 256 * 1024;
      const store = await Store.open({ path: freshDir(), cacheBytes });
      await store.createBucket('bound');
      const bucket = store.bucket('bound');
      const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);
      for (const [i, k] of keys.entries()) await bucket.put(k, body(30 + i, 4096));
      for (let round = 0; round < 6; round++) {
        for (const [i, k] of keys.entries()) {
          assert.deepEqual((await bucket.get(k))?.body, body(30 + i, 4096));
          assert.ok(hot(store).bytes <= cacheBytes / 2, String(hot(store).bytes));
        }
      }
      assert.ok(hot(store).size > 0 && hot(store).size <= 32, String(hot(store).size));
      await store.close();
    });

    it('runtimes without external buffers: no hot map, large gets in plain Buffers', async () => {
      // Electron's V8 sandbox refuses external buffers: the handle's
      // generationCell and getCachedRef throw there, and so does largeBuffer.
      const refuse = () => {
        throw new TesseraError('ERR_INVALID_STATE', 'External buffers are not allowed');
      };
      const native = binding as unknown as Record<string, unknown>;
      const saved = { engineOpen: native.engineOpen, largeBuffer: native.largeBuffer };
      const open = saved.engineOpen as (o: unknown) => Promise<object>;
      native.engineOpen = async (o: unknown) =>
        new Proxy(await open(o), {
          get(target, prop) {
            if (prop === 'generationCell' || prop === 'getCachedRef') return refuse;
            const v = Reflect.get(target, prop) as unknown;
            return typeof v === 'function' ? (v as () => unknown).bind(target) : v;
          },
        });
      native.largeBuffer = refuse;
      try {
        const store = await Store.open({ path: freshDir(), cacheBytes: 4 << 20 });
        await store.createBucket('plain');
        const bucket = store.bucket('plain');
        await bucket.put('k', body(41, 4096));
        await warm(bucket, ['k']);
        assert.deepEqual((await bucket.get('k'))?.body, body(41, 4096));
        assert.equal(hot(store).size, 0);
        assert.ok(stats(store).cacheHits! > 0, 'the native cache still answers');
        const big = body(42, 9 * 1024 * 1024);
        await bucket.put('big', big);
        assert.ok((await bucket.get('big'))?.body.equals(big));
        await store.close();
      } finally {
        native.engineOpen = saved.engineOpen;
        native.largeBuffer = saved.largeBuffer;
      }
    });

    it('random writes between bursts of gets match a model', async () => {
      const seed = Number(process.env.TESSERA_SEED ?? Math.floor(Math.random() * 2 ** 31));
      console.log(`      seed ${seed} (replay: TESSERA_SEED=${seed})`);
      let x = seed >>> 0;
      const rand = (n: number) => {
        x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
        return (x >>> 8) % n; // the high bits: an LCG's low bits cycle short
      };
      const store = await Store.open({ path: freshDir(), cacheBytes: 1 << 20 });
      await store.createBucket('burst');
      const bucket = store.bucket('burst');
      const model = new Map<string, Buffer>();
      for (let round = 0; round < 30; round++) {
        const key = `k${rand(8)}`;
        if (rand(4) === 0) {
          await bucket.delete(key);
          model.delete(key);
        } else {
          const b = body(rand(1 << 30), 1 + rand(6000));
          await bucket.put(key, b);
          model.set(key, b);
        }
        // A burst long enough for the hot map to admit, several at once.
        for (let i = 0; i < 60; i++) {
          const k = `k${rand(8)}`;
          const got = await Promise.all([bucket.get(k), bucket.get(k), bucket.get(k)]);
          for (const g of got) {
            assert.deepEqual(g?.body, model.get(k), `round ${round} key ${k} (seed ${seed})`);
          }
        }
      }
      assert.ok(
        hot(store).hits > 0,
        `the hot map never answered: ${JSON.stringify(stats(store))} ${JSON.stringify(hot(store))}`,
      );
      await store.close();
    });
  });
});
