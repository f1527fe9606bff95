/**
 * Objects above the single-PUT threshold replicate as multipart uploads
 * (threshold and part size lowered to 8 MiB / 5 MiB here): bytes, metadata
 * and replica tags on the destination, a failed part retried alone, a
 * Complete that fails aborted and retried, stale uploads of the key
 * aborted, no upload left behind. Against a tessera gateway and s3rver.
 */
import assert from 'node:assert/strict';
import {
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Store } from '../lib/store/store';
import { HttpFaultProxy } from './support/http_fault_proxy';
import { ModelEngine } from './support/model_engine';
import {
  type ReplEnv,
  SourceFeed,
  rule,
  startEnv,
  targetObject,
  userMetadata,
} from './support/replication_env';
import { startS3rver } from './support/s3rver_env';

const MiB = 1024 * 1024;
const MULTIPART = { multipartThresholdBytes: 8 * MiB, multipartPartBytes: 5 * MiB };

function pattern(size: number, salt: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i + 4 <= size; i += 4) b.writeUInt32LE((i * 2654435761 + salt) >>> 0, i);
  return b;
}

function isPart(url: string, n?: number): boolean {
  return /[?&]uploadId=/.test(url) && new RegExp(`[?&]partNumber=${n ?? '\\d+'}(&|$)`).test(url);
}

describe('92 replication: multipart to the destination', function () {
  this.timeout(60_000);
  let env: ReplEnv;
  let proxy: HttpFaultProxy;
  afterEach(async () => {
    await proxy?.close();
    await env?.close();
  });

  async function setup(options: object = {}): Promise<void> {
    env = await startEnv({ ...MULTIPART, ...options }, [{ name: 'dst', versioned: false }]);
    proxy = new HttpFaultProxy(env.target.gw.port);
    await proxy.start();
    await env.source.store.createBucket('src');
    await env.manager.setReplication('src', { rules: [rule(proxy.url, 'dst')] });
  }

  async function uploadsLeft(): Promise<number> {
    const listed = await env.targetClient.send(new ListMultipartUploadsCommand({ Bucket: 'dst' }));
    return (listed.Uploads ?? []).length;
  }

  it('sends an object above the threshold as parts; smaller ones as one PUT', async () => {
    await setup();
    const big = pattern(13 * MiB + 17, 1);
    await env.source.put('src', 'big/é.bin', big, {
      contentType: 'application/x-big',
      metadata: { color: 'blue' },
    });
    const small = pattern(MiB, 2);
    await env.source.put('src', 'small', small);
    await env.manager.drain(undefined, AbortSignal.timeout(30_000));
    const status = await env.manager.status();
    assert.equal(status.buckets[0]!.rules[0]!.failed, 0, status.buckets[0]!.rules[0]!.lastError);

    const got = await targetObject(env.targetClient, 'dst', 'big/é.bin');
    assert.ok(got.body.equals(big), 'replica bytes equal the source');
    assert.deepEqual(userMetadata(got.metadata), { color: 'blue' });
    assert.equal(got.contentType, 'application/x-big');
    const head = await env.targetClient.send(
      new HeadObjectCommand({ Bucket: 'dst', Key: 'big/é.bin' }),
    );
    assert.match(head.ETag ?? '', /-3"$/, 'three parts: 5 + 5 + 3 MiB');
    assert.equal(head.Metadata?.['tessera-replica-version'], 'null');
    assert.ok(Number(head.Metadata?.['tessera-replica-seq']) > 0);
    assert.equal(proxy.seen.filter((r) => isPart(r.url)).length, 3);
    assert.deepEqual(
      proxy.seen.filter((r) => isPart(r.url)).map((r) => r.size),
      [5 * MiB, 5 * MiB, 3 * MiB + 17],
    );
    assert.ok((await targetObject(env.targetClient, 'dst', 'small')).body.equals(small));
    assert.equal(await uploadsLeft(), 0);
    assert.equal(await env.manager.objectStatus('src', 'big/é.bin', 'null'), 'COMPLETED');
  });

  it('retries a failed part alone, without restarting the upload', async () => {
    await setup();
    let resets = 0;
    proxy.hook = (r) =>
      r.method === 'PUT' && isPart(r.url, 2) && resets++ < 2 ? { kind: 'reset' } : { kind: 'pass' };
    const big = pattern(11 * MiB, 3);
    await env.source.put('src', 'k', big);
    await env.manager.drain(undefined, AbortSignal.timeout(30_000));
    assert.equal(resets, 3);
    assert.ok((await targetObject(env.targetClient, 'dst', 'k')).body.equals(big));
    assert.equal(
      proxy.seen.filter((r) => r.method === 'POST' && /[?&]uploads/.test(r.url)).length,
      1,
    );
    assert.equal(proxy.seen.filter((r) => isPart(r.url, 2)).length, 3);
    assert.equal(proxy.seen.filter((r) => isPart(r.url, 1)).length, 1);
    assert.equal(await uploadsLeft(), 0);
  });

  it('aborts a failed upload and a stale one left by a crash; never shows a partial object', async () => {
    await setup({ partAttempts: 1 });
    // An upload of the key left behind by an earlier crash.
    const stale = await env.targetClient.send(
      new CreateMultipartUploadCommand({ Bucket: 'dst', Key: 'k' }),
    );
    await env.targetClient.send(
      new UploadPartCommand({
        Bucket: 'dst',
        Key: 'k',
        UploadId: stale.UploadId,
        PartNumber: 1,
        Body: Buffer.alloc(5 * MiB, 1),
      }),
    );
    let visibleEarly = false;
    let failures = 0;
    proxy.hook = (r) => {
      // Part 2 of the first upload fails for good (partAttempts 1): the
      // upload is aborted, the event retried with a new upload.
      if (r.method === 'PUT' && isPart(r.url, 2) && failures++ === 0) {
        void env.targetClient
          .send(new HeadObjectCommand({ Bucket: 'dst', Key: 'k' }))
          .then(() => (visibleEarly = true))
          .catch(() => undefined);
        return { kind: 'reset' };
      }
      return { kind: 'pass' };
    };
    const big = pattern(12 * MiB, 4);
    await env.source.put('src', 'k', big);
    await env.manager.drain(undefined, AbortSignal.timeout(30_000));
    await proxy.settle();
    assert.equal(visibleEarly, false, 'no object visible before Complete');
    assert.ok((await targetObject(env.targetClient, 'dst', 'k')).body.equals(big));
    const aborts = proxy.seen.filter((r) => r.method === 'DELETE' && /[?&]uploadId=/.test(r.url));
    assert.ok(
      aborts.some((r) => r.url.includes(encodeURIComponent(stale.UploadId!))),
      'the stale upload was aborted',
    );
    assert.equal(aborts.length, 2, 'the stale upload and the failed one');
    assert.equal(
      proxy.seen.filter((r) => r.method === 'POST' && /[?&]uploads/.test(r.url)).length,
      2,
    );
    assert.equal(await uploadsLeft(), 0);
  });

  it('a Complete whose answer is lost is found applied by its tags, not sent twice', async () => {
    await setup();
    let lost = 0;
    proxy.hook = (r) =>
      r.method === 'POST' && /[?&]uploadId=/.test(r.url) && lost++ === 0
        ? { kind: 'delayResponse', ms: 4000 }
        : { kind: 'pass' };
    const big = pattern(9 * MiB, 5);
    await env.source.put('src', 'k', big);
    await env.manager.drain(undefined, AbortSignal.timeout(30_000));
    assert.ok((await targetObject(env.targetClient, 'dst', 'k')).body.equals(big));
    assert.equal(lost, 1);
    assert.equal(
      proxy.seen.filter((r) => r.method === 'POST' && /[?&]uploads/.test(r.url)).length,
      1,
    );
    assert.equal(await uploadsLeft(), 0);
  });
});

describe('92 replication: multipart to s3rver', function () {
  this.timeout(60_000);

  it('replicates an object above the threshold as parts', async () => {
    const s3rver = await startS3rver(['replica']);
    const { sdk } = s3rver;
    const counting = new HttpFaultProxy(s3rver.port);
    await counting.start();
    const store = new Store(new ModelEngine());
    const source = new SourceFeed(store);
    try {
      await store.createBucket('src');
      const manager = await store.startReplication({ feed: source.feed, ...MULTIPART });
      await store.bucket('src').setReplication({
        rules: [
          {
            id: 's3rver',
            destination: s3rver.destination('replica', counting.url),
            deleteMarkerReplication: true,
            existingObjects: false,
          },
        ],
      });
      const big = pattern(12 * MiB + 5, 6);
      await source.put('src', 'dir/big.bin', big, {
        contentType: 'application/x-big',
        metadata: { k: 'v' },
      });
      await manager.drain(undefined, AbortSignal.timeout(30_000));
      const status = await store.replicationStatus();
      assert.equal(status.buckets[0]!.rules[0]!.failed, 0, status.buckets[0]!.rules[0]!.lastError);
      const got = await targetObject(sdk, 'replica', 'dir/big.bin');
      assert.ok(got.body.equals(big));
      assert.equal(got.contentType, 'application/x-big');
      assert.deepEqual(userMetadata(got.metadata), { k: 'v' });
      assert.equal(got.metadata['tessera-replica-version'], 'null');
      // s3rver's multipart ETag is not S3's (...-N); count the parts instead.
      assert.deepEqual(
        counting.seen.filter((r) => isPart(r.url)).map((r) => r.size),
        [5 * MiB, 5 * MiB, 2 * MiB + 5],
      );
      await manager.close();
    } finally {
      await counting.close();
      await s3rver.close();
    }
  });
});
