/**
 * store.bucketConfigs: durable per-bucket configuration kept in a hidden
 * internal bucket (lib/store/bucket_config.ts).
 */
import { strict as assert } from 'node:assert';
import { CONFIG_BUCKET } from '../lib/store/bucket_config';
import { Store } from '../lib/store/store';
import { code, tempDirFactory } from './support/temp_dirs';

const freshDir = tempDirFactory('bcfg');

const open = (path: string) => Store.open({ path, dataShards: 2, parityShards: 1 });

describe('store.bucketConfigs', function () {
  this.timeout(30_000);

  it('round-trips values per kind and bucket, returning copies', async () => {
    const store = await open(freshDir());
    try {
      await store.createBucket('alpha');
      await store.createBucket('beta');
      assert.equal(await store.bucketConfigs.get('alpha', 'lifecycle'), undefined);
      const rules = { rules: [{ id: 'r1', days: 3, prefix: 'logs/' }] };
      await store.bucketConfigs.put('alpha', 'lifecycle', rules);
      await store.bucketConfigs.put('alpha', 'cors', { origins: ['*'] });
      await store.bucketConfigs.put('beta', 'lifecycle', { rules: [] });
      assert.deepEqual(await store.bucketConfigs.get('alpha', 'lifecycle'), rules);
      assert.deepEqual(await store.bucketConfigs.get('alpha', 'cors'), { origins: ['*'] });
      assert.equal(await store.bucketConfigs.get('beta', 'cors'), undefined);
      const copy = await store.bucketConfigs.get<typeof rules>('alpha', 'lifecycle');
      copy!.rules[0]!.days = 99;
      assert.deepEqual(await store.bucketConfigs.get('alpha', 'lifecycle'), rules);
      assert.deepEqual(await store.bucketConfigs.list('lifecycle'), [
        { bucket: 'alpha', value: rules },
        { bucket: 'beta', value: { rules: [] } },
      ]);
      await store.bucketConfigs.put('alpha', 'lifecycle', { rules: [] });
      assert.deepEqual(await store.bucketConfigs.get('alpha', 'lifecycle'), { rules: [] });
      await store.bucketConfigs.delete('alpha', 'lifecycle');
      await store.bucketConfigs.delete('alpha', 'lifecycle'); // absent: no error
      assert.equal(await store.bucketConfigs.get('alpha', 'lifecycle'), undefined);
      assert.deepEqual(await store.bucketConfigs.list('lifecycle'), [
        { bucket: 'beta', value: { rules: [] } },
      ]);
    } finally {
      await store.close();
    }
  });

  it('rejects bad input with stable codes', async () => {
    const store = await open(freshDir());
    try {
      await store.createBucket('alpha');
      await assert.rejects(store.bucketConfigs.put('nope', 'lifecycle', {}), code('NoSuchBucket'));
      await assert.rejects(
        store.bucketConfigs.put('alpha', 'acl' as 'cors', {}),
        code('InvalidArgument'),
      );
      await assert.rejects(store.bucketConfigs.get('Bad_Name', 'cors'), code('InvalidBucketName'));
      await assert.rejects(
        store.bucketConfigs.get(CONFIG_BUCKET, 'cors'),
        code('InvalidBucketName'),
      );
      await assert.rejects(
        store.bucketConfigs.put('alpha', 'cors', undefined),
        code('InvalidArgument'),
      );
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      await assert.rejects(
        store.bucketConfigs.put('alpha', 'cors', cyclic),
        code('InvalidArgument'),
      );
      await assert.rejects(
        store.bucketConfigs.put('alpha', 'cors', 'x'.repeat(1024 * 1024 + 1)),
        code('EntityTooLarge'),
      );
      assert.equal(await store.bucketConfigs.get('alpha', 'cors'), undefined);
    } finally {
      await store.close();
    }
  });

  it('survives close and reopen', async () => {
    const path = freshDir();
    let store = await open(path);
    await store.createBucket('alpha');
    const secret = { target: 'http://127.0.0.1:1', secretAccessKey: 'shh' };
    await store.bucketConfigs.put('alpha', 'replication', secret);
    await store.bucketConfigs.put('alpha', 'notification', { url: 'http://x' });
    await store.bucketConfigs.delete('alpha', 'notification');
    await store.close();
    store = await open(path);
    try {
      assert.deepEqual(await store.bucketConfigs.get('alpha', 'replication'), secret);
      assert.equal(await store.bucketConfigs.get('alpha', 'notification'), undefined);
      assert.deepEqual(await store.bucketConfigs.list('replication'), [
        { bucket: 'alpha', value: secret },
      ]);
    } finally {
      await store.close();
    }
  });

  it('is hidden from listBuckets and not addressable as a bucket', async () => {
    const store = await open(freshDir());
    try {
      await store.createBucket('alpha');
      await store.bucketConfigs.put('alpha', 'cors', { a: 1 });
      assert.deepEqual(
        (await store.listBuckets()).map((b) => b.name),
        ['alpha'],
      );
      assert.throws(() => store.bucket(CONFIG_BUCKET), code('InvalidBucketName'));
      await assert.rejects(store.getBucket(CONFIG_BUCKET), code('InvalidBucketName'));
      await assert.rejects(store.deleteBucket(CONFIG_BUCKET), code('InvalidBucketName'));
      await assert.rejects(store.createBucket(CONFIG_BUCKET), code('InvalidBucketName'));
    } finally {
      await store.close();
    }
  });

  it('deleteBucket removes the configurations; a recreated bucket starts empty', async () => {
    const path = freshDir();
    let store = await open(path);
    await store.createBucket('alpha');
    await store.bucketConfigs.put('alpha', 'lifecycle', { n: 1 });
    await store.bucketConfigs.put('alpha', 'cors', { n: 2 });
    // A bucket with configuration but no objects is empty: configs do not count.
    await store.bucket('alpha').put('k', 'v');
    await assert.rejects(store.deleteBucket('alpha'), code('BucketNotEmpty'));
    assert.deepEqual(await store.bucketConfigs.get('alpha', 'cors'), { n: 2 });
    await store.bucket('alpha').delete('k');
    await store.deleteBucket('alpha');
    assert.equal(await store.bucketConfigs.get('alpha', 'lifecycle'), undefined);
    assert.deepEqual(await store.bucketConfigs.list('cors'), []);
    await store.createBucket('alpha');
    assert.equal(await store.bucketConfigs.get('alpha', 'cors'), undefined);
    await store.close();
    store = await open(path);
    try {
      assert.equal(await store.bucketConfigs.get('alpha', 'lifecycle'), undefined);
      assert.deepEqual(await store.bucketConfigs.list('cors'), []);
    } finally {
      await store.close();
    }
  });

  it('ignores a configuration left behind by a deleted namesake bucket', async () => {
    // As after a crash between deleteBucket and the removal of its configs.
    const path = freshDir();
    let store = await open(path);
    await store.createBucket('alpha');
    await store.bucketConfigs.put('alpha', 'lifecycle', { old: true });
    await store.close();
    // Delete the bucket underneath the config layer (engine only).
    store = await open(path);
    const engine = (store as unknown as { engine: { deleteBucket(n: string): Promise<void> } })
      .engine;
    await engine.deleteBucket('alpha');
    await new Promise((resolve) => setTimeout(resolve, 5));
    await store.createBucket('alpha');
    try {
      assert.equal(await store.bucketConfigs.get('alpha', 'lifecycle'), undefined);
      assert.deepEqual(await store.bucketConfigs.list('lifecycle'), []);
      await store.bucketConfigs.put('alpha', 'lifecycle', { old: false });
      assert.deepEqual(await store.bucketConfigs.get('alpha', 'lifecycle'), { old: false });
    } finally {
      await store.close();
    }
  });

  it('applies concurrent puts in call order and every one is durable', async () => {
    const path = freshDir();
    let store = await open(path);
    const buckets = ['bk0', 'bk1', 'bk2', 'bk3'];
    for (const b of buckets) await store.createBucket(b);
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 20; i++) {
      for (const b of buckets) writes.push(store.bucketConfigs.put(b, 'notification', { i, b }));
    }
    writes.push(store.bucketConfigs.delete('bk3', 'notification'));
    await Promise.all(writes);
    for (const b of buckets.slice(0, 3)) {
      assert.deepEqual(await store.bucketConfigs.get(b, 'notification'), { i: 19, b });
    }
    assert.equal(await store.bucketConfigs.get('bk3', 'notification'), undefined);
    await store.close();
    store = await open(path);
    try {
      const listed = await store.bucketConfigs.list('notification');
      assert.deepEqual(listed, [
        { bucket: 'bk0', value: { i: 19, b: 'bk0' } },
        { bucket: 'bk1', value: { i: 19, b: 'bk1' } },
        { bucket: 'bk2', value: { i: 19, b: 'bk2' } },
      ]);
    } finally {
      await store.close();
    }
  });

  it('refuses use after close', async () => {
    const store = await open(freshDir());
    await store.createBucket('alpha');
    await store.close();
    await assert.rejects(store.bucketConfigs.put('alpha', 'cors', {}), code('ERR_STORE_CLOSED'));
  });
});
