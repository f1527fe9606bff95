/**
 * The production path, end to end: a native source store replicating from
 * its own durable change feed (store.startReplication() with no feed
 * given), writes and deletes through the source gateway with the AWS SDK,
 * `x-amz-replication-status` moving from PENDING to COMPLETED. Needs
 * store.watch; skipped, saying so, on a build without it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DeleteObjectCommand,
  HeadObjectCommand,
  PutBucketReplicationCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { Store } from '../lib/store/store';
import { s3Client, startTestGateway } from './61.gateway.harness';
import {
  TARGET_KEY,
  TARGET_SECRET,
  startEnv,
  targetKeys,
  targetObject,
  userMetadata,
} from './support/replication_env';

const hasFeed = typeof (Store.prototype as unknown as { watch?: unknown }).watch === 'function';

(hasFeed ? describe : describe.skip)(
  `92 replication: from the store's durable change feed${hasFeed ? '' : ' [needs store.watch]'}`,
  function () {
    this.timeout(60_000);

    it('replicates writes made through the source gateway; HEAD goes PENDING -> COMPLETED', async () => {
      const env = await startEnv({}, [{ name: 'dst', versioned: false }]);
      const dir = await mkdtemp(join(tmpdir(), 'tessera-repl-feed-'));
      const store = await Store.open({ path: dir, dataShards: 2, parityShards: 1 });
      const source = await startTestGateway({
        store,
        replicationTargets: {
          dr: {
            endpoint: env.proxy.url,
            region: 'us-east-1',
            credentials: { accessKeyId: TARGET_KEY, secretAccessKey: TARGET_SECRET },
          },
        },
      });
      const client = s3Client(source.gw);
      try {
        await store.createBucket('src');
        await store.startReplication({ backoff: { baseMs: 5, capMs: 50 } });
        await client.send(
          new PutBucketReplicationCommand({
            Bucket: 'src',
            ReplicationConfiguration: {
              Role: 'arn:tessera:replication:::target/dr',
              Rules: [
                {
                  Status: 'Enabled',
                  Filter: { Prefix: '' },
                  DeleteMarkerReplication: { Status: 'Enabled' },
                  Destination: { Bucket: 'arn:aws:s3:::dst' },
                },
              ],
            },
          }),
        );
        env.proxy.mode = 'down';
        await client.send(
          new PutObjectCommand({ Bucket: 'src', Key: 'a', Body: 'alpha', Metadata: { m: '1' } }),
        );
        await client.send(new PutObjectCommand({ Bucket: 'src', Key: 'b', Body: 'beta' }));
        await client.send(new PutObjectCommand({ Bucket: 'src', Key: 'c', Body: 'gamma' }));
        await client.send(new DeleteObjectCommand({ Bucket: 'src', Key: 'c' }));
        const pending = await client.send(new HeadObjectCommand({ Bucket: 'src', Key: 'a' }));
        assert.equal(pending.ReplicationStatus, 'PENDING');
        env.proxy.mode = 'up';
        await store.replication!.drain(undefined, AbortSignal.timeout(20_000));
        const done = await client.send(new HeadObjectCommand({ Bucket: 'src', Key: 'a' }));
        assert.equal(done.ReplicationStatus, 'COMPLETED');
        assert.deepEqual((await targetKeys(env.targetClient, 'dst')).sort(), ['a', 'b']);
        const a = await targetObject(env.targetClient, 'dst', 'a');
        assert.equal(a.body.toString(), 'alpha');
        assert.deepEqual(userMetadata(a.metadata), { m: '1' });
        const status = await store.replicationStatus();
        assert.equal(status.buckets[0]!.rules[0]!.queueDepth, 0);
      } finally {
        client.destroy();
        await source.gw.close();
        await store.close();
        await env.close();
        await rm(dir, { recursive: true, force: true });
      }
    });
  },
);
