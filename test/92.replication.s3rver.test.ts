/**
 * The replication client against a second S3 implementation (s3rver, a
 * dev dependency): puts with metadata, deletes, bytes read back with the
 * AWS SDK.
 */
import assert from 'node:assert/strict';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { Store } from '../lib/store/store';
import { ModelEngine } from './support/model_engine';
import { SourceFeed } from './support/replication_env';
import { startS3rver } from './support/s3rver_env';

describe('92 replication: to s3rver (another S3 implementation)', function () {
  this.timeout(30_000);

  it('replicates puts (bytes, metadata, content type) and deletes', async () => {
    const s3rver = await startS3rver(['replica']);
    const { sdk } = s3rver;
    const store = new Store(new ModelEngine());
    const source = new SourceFeed(store);
    try {
      await store.createBucket('src');
      const manager = await store.startReplication({ feed: source.feed });
      await store.bucket('src').setReplication({
        rules: [
          {
            id: 's3rver',
            destination: s3rver.destination('replica'),
            deleteMarkerReplication: true,
            existingObjects: false,
          },
        ],
      });
      const big = Buffer.alloc(700_000);
      for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 0xff;
      await source.put('src', 'dir/big.bin', big, { contentType: 'application/x-big' });
      await source.put('src', 'small', Buffer.from('hello'), { metadata: { k: 'v' } });
      await source.put('src', 'gone', Buffer.from('x'));
      await manager.drain(undefined, AbortSignal.timeout(10_000));
      await source.delete('src', 'gone');
      await manager.drain(undefined, AbortSignal.timeout(10_000));
      const status = await store.replicationStatus();
      assert.equal(status.buckets[0]!.rules[0]!.failed, 0, status.buckets[0]!.rules[0]!.lastError);
      const listed = await sdk.send(new ListObjectsV2Command({ Bucket: 'replica' }));
      assert.deepEqual((listed.Contents ?? []).map((o) => o.Key).sort(), ['dir/big.bin', 'small']);
      const gotBig = await sdk.send(
        new GetObjectCommand({ Bucket: 'replica', Key: 'dir/big.bin' }),
      );
      assert.ok(Buffer.from(await gotBig.Body!.transformToByteArray()).equals(big));
      assert.equal(gotBig.ContentType, 'application/x-big');
      const gotSmall = await sdk.send(new GetObjectCommand({ Bucket: 'replica', Key: 'small' }));
      assert.equal(await gotSmall.Body!.transformToString(), 'hello');
      assert.equal(gotSmall.Metadata?.k, 'v');
      assert.ok(gotSmall.Metadata?.['tessera-replica-seq']);
    } finally {
      await store.close();
      await s3rver.close();
    }
  });
});
