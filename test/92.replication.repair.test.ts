/**
 * Read repair: when the engine cannot reconstruct an object
 * (ERR_STORE_CORRUPT, injected here in the reference engine's read), a read
 * is served from a destination that holds exactly that version, verified by
 * MD5, and an unversioned key is rewritten locally.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { TesseraError } from '../lib/errors';
import type { ObjectInfo } from '../lib/store/types';
import type { ModelEngine } from './support/model_engine';
import { type ReplEnv, rule, startEnv } from './support/replication_env';

function breakReads(env: ReplEnv, key: string): { broken: Set<string> } {
  const engine = (env.source.store as unknown as { engine: ModelEngine }).engine;
  const original = engine.read.bind(engine);
  const broken = new Set<string>([key]);
  engine.read = (info: ObjectInfo, start: number, length: number) => {
    if (broken.has(`${info.key}`) && info.etag === damagedEtag.get(info.key)) {
      return Promise.reject(new TesseraError('ERR_STORE_CORRUPT', 'more than m shards lost'));
    }
    return original(info, start, length);
  };
  return { broken };
}
const damagedEtag = new Map<string, string>();

async function collect(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('92 replication: read repair', function () {
  this.timeout(30_000);
  let env: ReplEnv;
  afterEach(async () => env?.close());

  it('serves a damaged unversioned object from the replica and rewrites it locally', async () => {
    env = await startEnv({}, [{ name: 'dst', versioned: false }]);
    await env.source.store.createBucket('src');
    await env.manager.setReplication('src', { rules: [rule(env.proxy.url, 'dst')] });
    const body = Buffer.alloc(3 * 1024 * 1024 + 5);
    for (let i = 0; i < body.length; i++) body[i] = (i * 13) & 0xff;
    await env.source.put('src', 'photo', body, { metadata: { who: 'me' }, contentType: 'image/x' });
    await env.manager.drain();
    const bucket = env.source.store.bucket('src');
    const before = (await bucket.head('photo'))!;
    damagedEtag.set('photo', before.etag);
    breakReads(env, 'photo');
    // Range read and streamed read both come from the replica.
    const ranged = await bucket.get('photo', { range: { start: 10, end: 20 } });
    assert.ok(ranged!.body.equals(body.subarray(10, 21)));
    const streamed = await bucket.getStream('photo');
    assert.ok((await collect(streamed!.stream)).equals(body));
    await env.manager.healed();
    // Healed: the local copy was rewritten with the same bytes and metadata.
    const after = (await bucket.head('photo'))!;
    assert.equal(after.etag, before.etag);
    assert.deepEqual(after.metadata, { who: 'me' });
    assert.equal(after.contentType, 'image/x');
    damagedEtag.delete('photo');
    assert.ok((await bucket.get('photo'))!.body.equals(body));
    assert.ok(env.logs.join('').includes('read repair: local copy rewritten'));
  });

  it('refuses a replica that holds another version, and fails with the original error', async () => {
    env = await startEnv({}, [{ name: 'dst', versioned: false }]);
    await env.source.store.createBucket('src');
    await env.manager.setReplication('src', { rules: [rule(env.proxy.url, 'dst')] });
    await env.source.put('src', 'k', Buffer.from('version one'));
    await env.manager.drain();
    // The destination is changed behind our back: its bytes no longer match.
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    await env.targetClient.send(
      new PutObjectCommand({ Bucket: 'dst', Key: 'k', Body: 'something else!!' }),
    );
    const bucket = env.source.store.bucket('src');
    damagedEtag.set('k', (await bucket.head('k'))!.etag);
    breakReads(env, 'k');
    await assert.rejects(bucket.get('k'), { code: 'ERR_STORE_CORRUPT' });
    damagedEtag.delete('k');
  });
});
