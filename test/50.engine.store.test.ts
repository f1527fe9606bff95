/**
 * The native engine under the Store API: the shared contract suite (the
 * same cases the reference model passes), then what only a durable engine
 * has: reopen, snapshots and full scans, locking, drive checks, info.
 */
import { strict as assert } from 'node:assert';
import { rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { TesseraError } from '../lib/errors';
import { NativeStoreEngine } from '../lib/store/engine_binding';
import { Store } from '../lib/store/store';
import { storeContract } from './support/store_contract';
import { code, tempDirFactory } from './support/temp_dirs';

const freshDir = tempDirFactory('engine');

storeContract('native engine 4+2', async () =>
  Store.open({ path: freshDir(), dataShards: 4, parityShards: 2 }),
);

describe('native engine: durability across reopen', () => {
  it('reopens from the snapshot and from a full scan with identical contents', async () => {
    const path = freshDir();
    let store = await Store.open({ path, dataShards: 2, parityShards: 1 });
    const info = store.info();
    assert.equal(info.dataShards, 2);
    assert.equal(info.parityShards, 1);
    assert.equal(info.drives.length, 3);
    assert.match(info.storeId, /^[0-9a-f]{32}$/);
    assert.ok(['io_uring', 'pwrite'].includes(info.ioBackend));
    await store.createBucket('keep', { versioning: true });
    const bucket = store.bucket('keep');
    const bodies = new Map<string, Buffer>();
    for (let i = 0; i < 50; i++) {
      const body = Buffer.alloc(i * 997, i);
      bodies.set(`k/${i}`, body);
      await bucket.put(`k/${i}`, body, { metadata: { n: String(i) }, contentType: 'x/y' });
    }
    const big = Buffer.alloc(9 * 1024 * 1024 + 3);
    for (let i = 0; i < big.length; i += 4096) big[i] = i & 0xff;
    const bigPut = await bucket.put('big', big);
    // Multipart objects (inline and streamed) keep ETag, part count and sizes.
    const partEtags = ['0'.repeat(32), 'f'.repeat(32)];
    const mpSmall = await bucket.put('mp-small', Buffer.alloc(10, 1), {
      multipart: { partEtags, partSizes: [6, 4] },
    });
    const mpBig = await bucket.put('mp-big', big, {
      multipart: { partEtags, partSizes: [5 * 1024 * 1024, big.length - 5 * 1024 * 1024] },
    });
    assert.match(mpSmall.etag, /^[0-9a-f]{32}-2$/);
    await bucket.delete('k/3');
    await store.close();

    for (const pass of ['snapshot', 'scan']) {
      if (pass === 'scan') {
        for (let d = 0; d < 3; d++)
          unlinkSync(join(path, `drive-${d}`, 'snapshots', 'snapshot.dat'));
      }
      store = await Store.open({ path });
      const b = store.bucket('keep');
      assert.equal(await b.get('k/3'), undefined, pass);
      const got = await b.get('k/7');
      assert.ok(got, pass);
      assert.deepEqual(got.body, bodies.get('k/7'));
      assert.equal(got.contentType, 'x/y');
      assert.deepEqual(got.metadata, { n: '7' });
      const bigGot = await b.get('big');
      assert.ok(bigGot);
      assert.equal(bigGot.etag, bigPut.etag);
      assert.ok(bigGot.body.equals(big), `${pass}: big body differs`);
      const versions = [];
      for await (const v of b.listVersions({ prefix: 'k/3' }))
        if (v.key === 'k/3') versions.push(v);
      assert.equal(versions.length, 2, pass);
      for (const [key, put, sizes] of [
        ['mp-small', mpSmall, [6, 4]],
        ['mp-big', mpBig, [5 * 1024 * 1024, big.length - 5 * 1024 * 1024]],
      ] as const) {
        const head = await b.head(key);
        assert.equal(head?.etag, put.etag, `${pass} ${key}`);
        assert.deepEqual(head?.parts, { count: 2, sizes }, `${pass} ${key}`);
        assert.deepEqual(head?.metadata, {}, `${pass} ${key}`);
      }
      const listed = [];
      for await (const e of b.list({ prefix: 'mp-' })) if (e.type === 'object') listed.push(e.etag);
      assert.deepEqual(listed, [mpBig.etag, mpSmall.etag], pass);
      await store.close();
    }
  });

  it('fails a second open of the same drives with ERR_STORE_LOCKED', async () => {
    const path = freshDir();
    const store = await Store.open({ path });
    await assert.rejects(Store.open({ path }), code('ERR_STORE_LOCKED'));
    await store.close();
    const again = await Store.open({ path });
    await again.close();
  });

  it('names swapped and foreign drives', async () => {
    const path = freshDir();
    const store = await Store.open({ path, dataShards: 2, parityShards: 1 });
    await store.close();
    const d = (i: number) => join(path, `drive-${i}`);
    await assert.rejects(
      Store.open({ drives: [d(1), d(0), d(2)] }),
      (error: unknown) =>
        error instanceof TesseraError &&
        error.code === 'ERR_INVALID_ARG_VALUE' &&
        error.message ===
          `drive ${d(1)} holds drive index 1 but was given at position 0 (swapped with ${d(0)}?)`,
    );
    const other = freshDir();
    (await Store.open({ path: other, dataShards: 2, parityShards: 1 })).close();
    await assert.rejects(
      Store.open({ drives: [d(0), join(other, 'drive-1'), d(2)] }),
      (error: unknown) => error instanceof TesseraError && /belongs to store/.test(error.message),
    );
  });

  it('validates open options with precise messages', async () => {
    await assert.rejects(
      Store.open({ path: freshDir(), dataShards: 0 }),
      (error: unknown) =>
        error instanceof TesseraError &&
        error.code === 'ERR_OUT_OF_RANGE' &&
        error.message === 'dataShards must be an integer in 1..31, got 0',
    );
    await assert.rejects(
      Store.open({ path: freshDir(), chunkBytes: 5000 }),
      (error: unknown) =>
        error instanceof TesseraError &&
        error.message === 'chunkBytes must be a power of two in 4096..65536, got 5000',
    );
  });

  it("serves exact bytes with two drives' segments gone, rebuilding from parity", async () => {
    const path = freshDir();
    let store = await Store.open({ path, dataShards: 4, parityShards: 2 });
    await store.createBucket('bkt');
    const body = Buffer.alloc(300000);
    for (let i = 0; i < body.length; i++) body[i] = (i * 31) & 0xff;
    await store.bucket('bkt').put('obj', body);
    await store.close();
    rmSync(join(path, 'drive-0', 'segments'), { recursive: true });
    rmSync(join(path, 'drive-2', 'segments'), { recursive: true });
    store = await Store.open({ path });
    const got = await store.bucket('bkt').get('obj');
    assert.ok(got?.body.equals(body));
    const ranged = await store.bucket('bkt').get('obj', { range: { start: 5000, end: 5009 } });
    assert.deepEqual(ranged?.body, body.subarray(5000, 5010));
    await store.close();
  });

  it('acknowledges many concurrent puts, each once durable', async () => {
    const store = await Store.open({ path: freshDir() });
    await store.createBucket('many');
    const bucket = store.bucket('many');
    const puts = [];
    for (let i = 0; i < 500; i++) puts.push(bucket.put(`o${i}`, Buffer.alloc(4096, i)));
    const results = await Promise.all(puts);
    assert.equal(new Set(results.map((r) => r.versionId)).size, 1); // all 'null'
    const engine = (store as unknown as { engine: NativeStoreEngine }).engine;
    const stats = engine.native.stats();
    assert.ok(stats.groups! < 500, `expected group commit, got ${stats.groups} groups`);
    assert.equal(stats.objectVersions, 500);
    await store.close();
  });
});
