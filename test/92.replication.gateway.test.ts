/**
 * Replication through the S3 gateway: Put/Get/DeleteBucketReplication with
 * a gateway-side target registry (no endpoint or secret in any request or
 * answer), and `x-amz-replication-status` on HEAD and GET of the source.
 */
import assert from 'node:assert/strict';
import {
  DeleteBucketReplicationCommand,
  GetBucketReplicationCommand,
  HeadObjectCommand,
  PutBucketReplicationCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { type TestGateway, s3Client, startTestGateway } from './61.gateway.harness';
import {
  type ReplEnv,
  TARGET_KEY,
  TARGET_SECRET,
  startEnv,
  targetKeys,
} from './support/replication_env';

describe('92 replication: gateway', function () {
  this.timeout(30_000);
  let env: ReplEnv;
  let source: TestGateway;
  let client: S3Client;
  afterEach(async () => {
    client?.destroy();
    await source?.gw.close();
    await env?.close();
  });

  async function start() {
    env = await startEnv({}, [{ name: 'dst', versioned: false }]);
    source = await startTestGateway({
      store: env.source.store,
      replicationTargets: {
        dr: {
          endpoint: env.proxy.url,
          region: 'us-east-1',
          credentials: { accessKeyId: TARGET_KEY, secretAccessKey: TARGET_SECRET },
        },
      },
    });
    client = s3Client(source.gw);
    await env.source.store.createBucket('src');
  }

  it('Put/Get/DeleteBucketReplication with a named target; HEAD reports the replication status', async () => {
    await start();
    await assert.rejects(client.send(new GetBucketReplicationCommand({ Bucket: 'src' })), {
      name: 'ReplicationConfigurationNotFoundError',
    });
    await client.send(
      new PutBucketReplicationCommand({
        Bucket: 'src',
        ReplicationConfiguration: {
          Role: 'arn:tessera:replication:::target/dr',
          Rules: [
            {
              ID: 'to-dr',
              Status: 'Enabled',
              Priority: 1,
              Filter: { Prefix: 'docs/' },
              DeleteMarkerReplication: { Status: 'Enabled' },
              Destination: { Bucket: 'arn:aws:s3:::dst' },
            },
          ],
        },
      }),
    );
    const got = await client.send(new GetBucketReplicationCommand({ Bucket: 'src' }));
    assert.equal(got.ReplicationConfiguration?.Role, 'arn:tessera:replication:::target/dr');
    const r = got.ReplicationConfiguration!.Rules![0]!;
    assert.equal(r.ID, 'to-dr');
    assert.equal(r.Filter?.Prefix, 'docs/');
    assert.equal(r.DeleteMarkerReplication?.Status, 'Enabled');
    assert.equal(r.Destination?.Bucket, 'arn:aws:s3:::dst');
    // The rule is live: writes under docs/ replicate, HEAD says so.
    env.proxy.mode = 'down';
    await env.source.put('src', 'docs/a', Buffer.from('a'));
    await env.source.put('src', 'other', Buffer.from('o'));
    const pending = await client.send(new HeadObjectCommand({ Bucket: 'src', Key: 'docs/a' }));
    assert.equal(pending.ReplicationStatus, 'PENDING');
    const none = await client.send(new HeadObjectCommand({ Bucket: 'src', Key: 'other' }));
    assert.equal(none.ReplicationStatus, undefined);
    env.proxy.mode = 'up';
    await env.source.store.replication!.drain(undefined, AbortSignal.timeout(10_000));
    const done = await client.send(new HeadObjectCommand({ Bucket: 'src', Key: 'docs/a' }));
    assert.equal(done.ReplicationStatus, 'COMPLETED');
    assert.deepEqual(await targetKeys(env.targetClient, 'dst'), ['docs/a']);
    await client.send(new DeleteBucketReplicationCommand({ Bucket: 'src' }));
    await assert.rejects(client.send(new GetBucketReplicationCommand({ Bucket: 'src' })), {
      name: 'ReplicationConfigurationNotFoundError',
    });
  });

  it('refuses unknown targets, missing buckets and tag filters; never echoes a secret', async () => {
    await start();
    const put = (role: string, bucket = 'src', filter: object = { Prefix: '' }) =>
      client.send(
        new PutBucketReplicationCommand({
          Bucket: bucket,
          ReplicationConfiguration: {
            Role: role,
            Rules: [
              { Status: 'Enabled', Filter: filter, Destination: { Bucket: 'arn:aws:s3:::dst' } },
            ],
          },
        }),
      );
    await assert.rejects(put('arn:aws:iam::123456789012:role/replication'), {
      name: 'InvalidArgument',
    });
    await assert.rejects(put('arn:tessera:replication:::target/nope'), { name: 'InvalidArgument' });
    await assert.rejects(put('arn:tessera:replication:::target/dr', 'nobucket'), {
      name: 'NoSuchBucket',
    });
    await assert.rejects(
      put('arn:tessera:replication:::target/dr', 'src', { Tag: { Key: 'a', Value: 'b' } }),
      {
        name: 'NotImplemented',
      },
    );
    await put('arn:tessera:replication:::target/dr');
    const raw = await client.send(new GetBucketReplicationCommand({ Bucket: 'src' }));
    assert.equal(JSON.stringify(raw).includes(TARGET_SECRET), false);
    assert.equal(JSON.stringify(raw).includes(TARGET_KEY), false);
    const status = await env.source.store.replicationStatus();
    assert.equal(status.buckets[0]!.rules[0]!.destinationBucket, 'dst');
    assert.equal(JSON.stringify(status).includes(TARGET_SECRET), false);
  });
});
