import assert from 'node:assert/strict';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import {
  type ReplEnv,
  rule,
  startEnv,
  targetKeys,
  targetObject,
  userMetadata,
} from './support/replication_env';

describe('92 replication: basics against a second gateway', function () {
  this.timeout(30_000);
  let env: ReplEnv;
  afterEach(async () => env?.close());

  it('replicates puts and deletes of an unversioned bucket, with bytes and metadata', async () => {
    env = await startEnv({}, [{ name: 'dst', versioned: false }]);
    await env.source.store.createBucket('src');
    await env.manager.setReplication('src', { rules: [rule(env.proxy.url, 'dst')] });
    await env.source.put('src', 'a', Buffer.from('hello'), {
      metadata: { color: 'blue', note: 'é ü' },
      contentType: 'text/plain',
    });
    await env.source.put('src', 'b/c', Buffer.alloc(300_000, 7));
    await env.source.put('src', 'gone', Buffer.from('x'));
    await env.source.delete('src', 'gone');
    await env.manager.drain();
    assert.deepEqual((await targetKeys(env.targetClient, 'dst')).sort(), ['a', 'b/c']);
    const a = await targetObject(env.targetClient, 'dst', 'a');
    assert.equal(a.body.toString(), 'hello');
    assert.deepEqual(userMetadata(a.metadata), { color: 'blue', note: 'é ü' });
    assert.equal(a.contentType, 'text/plain');
    const bc = await targetObject(env.targetClient, 'dst', 'b/c');
    assert.ok(bc.body.equals(Buffer.alloc(300_000, 7)));
    const head = await env.targetClient.send(new HeadObjectCommand({ Bucket: 'dst', Key: 'a' }));
    assert.ok(head.Metadata?.['tessera-replica-seq']);
    assert.equal(await env.manager.objectStatus('src', 'a', 'null'), 'COMPLETED');
    const status = await env.manager.status();
    assert.equal(status.buckets[0]!.rules[0]!.breaker, 'closed');
    assert.equal(status.buckets[0]!.rules[0]!.queueDepth, 0);
  });
});
