/**
 * minio-js 8 against the gateway on the native store, with the request shapes
 * ECOSYSTEM.md recorded for it: bucketExists (HEAD bucket), makeBucket,
 * putObject of a Buffer (hex SHA-256) and of a Readable of unknown size
 * (which first lists `?uploads&delimiter=&max-uploads=1000&prefix=<key>`,
 * then goes multipart above partSize), fPutObject, statObject,
 * listObjectsV2 and listObjects (`encoding-type=url`), getPartialObject
 * (Range), removeObjects (`POST ?delete` with Content-MD5). Every byte read
 * back is compared.
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Client } from 'minio';
import {
  ACCESS_KEY,
  SECRET_KEY,
  type TestGateway,
  pattern,
  startTestGateway,
} from './61.gateway.harness';

const MiB = 1024 * 1024;

async function bytes(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

async function collect<T>(stream: AsyncIterable<T> | NodeJS.ReadableStream): Promise<T[]> {
  const out: T[] = [];
  for await (const item of stream as AsyncIterable<T>) out.push(item);
  return out;
}

describe('68 gateway: minio-js client', function () {
  this.timeout(60_000);
  let t: TestGateway;
  let mc: Client;
  let dir: string;
  before(async () => {
    t = await startTestGateway({}, 'native');
    mc = new Client({
      endPoint: '127.0.0.1',
      port: t.gw.port,
      useSSL: false,
      accessKey: ACCESS_KEY,
      secretKey: SECRET_KEY,
      region: 'us-east-1',
      pathStyle: true,
      partSize: 5 * MiB,
    });
    dir = await mkdtemp(join(tmpdir(), 'tessera-minio-'));
  });
  after(async () => {
    await t.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('makes and finds buckets', async () => {
    assert.equal(await mc.bucketExists('mc-bucket'), false);
    await mc.makeBucket('mc-bucket', 'us-east-1');
    assert.equal(await mc.bucketExists('mc-bucket'), true);
    const buckets = await mc.listBuckets();
    assert.deepEqual(
      buckets.map((b) => b.name),
      ['mc-bucket'],
    );
  });

  it('puts Buffers, streams of unknown size (multipart above partSize) and files; reads them back', async () => {
    const small = pattern(70_000, 1);
    const put = await mc.putObject('mc-bucket', 'dir/small.bin', small, small.length, {
      'Content-Type': 'application/x-test',
      'X-Amz-Meta-Owner': 'ada',
    });
    assert.equal(put.etag, createHash('md5').update(small).digest('hex'));
    const stat = await mc.statObject('mc-bucket', 'dir/small.bin');
    assert.equal(stat.size, small.length);
    assert.equal(stat.metaData['content-type'], 'application/x-test');
    assert.equal(stat.metaData.owner, 'ada');
    assert.deepEqual(await bytes(await mc.getObject('mc-bucket', 'dir/small.bin')), small);
    assert.deepEqual(
      await bytes(await mc.getPartialObject('mc-bucket', 'dir/small.bin', 1000, 5000)),
      small.subarray(1000, 6000),
    );

    // A Readable without a size: minio-js looks for an upload to resume, then
    // uploads 5 MiB parts.
    const big = pattern(11 * MiB + 333, 2);
    const stream = Readable.from(
      (function* () {
        for (let i = 0; i < big.length; i += 256 * 1024) yield big.subarray(i, i + 256 * 1024);
      })(),
    );
    const multipart = await mc.putObject('mc-bucket', 'dir/big.bin', stream);
    assert.match(multipart.etag, /^[0-9a-f]{32}-3$/);
    const bigStat = await mc.statObject('mc-bucket', 'dir/big.bin');
    assert.equal(bigStat.size, big.length);
    assert.equal(bigStat.etag, multipart.etag);
    assert.deepEqual(await bytes(await mc.getObject('mc-bucket', 'dir/big.bin')), big);

    const file = join(dir, 'upload.bin');
    const fileBytes = pattern(3 * MiB + 1, 3);
    await writeFile(file, fileBytes);
    await mc.fPutObject('mc-bucket', 'file.bin', file);
    const down = join(dir, 'download.bin');
    await mc.fGetObject('mc-bucket', 'file.bin', down);
    const { readFile } = await import('node:fs/promises');
    assert.deepEqual(await readFile(down), fileBytes);
  });

  it('lists with V2 and V1 (encoding-type=url), with prefixes, and shows multipart ETags', async () => {
    await mc.putObject('mc-bucket', 'dir/sub/a b+c.txt', Buffer.from('x'));
    const v2 = await collect<{ name?: string; prefix?: string; etag?: string; size?: number }>(
      mc.listObjectsV2('mc-bucket', '', true),
    );
    assert.deepEqual(
      v2.map((o) => o.name),
      ['dir/big.bin', 'dir/small.bin', 'dir/sub/a b+c.txt', 'file.bin'],
    );
    const big = v2.find((o) => o.name === 'dir/big.bin');
    assert.match(big?.etag ?? '', /^[0-9a-f]{32}-3$/);
    const v1 = await collect<{ name?: string; prefix?: string }>(
      mc.listObjects('mc-bucket', 'dir/', false),
    );
    assert.deepEqual(
      v1.map((o) => o.name ?? `prefix:${o.prefix}`),
      ['dir/big.bin', 'dir/small.bin', 'prefix:dir/sub/'],
    );
  });

  it('removes objects in bulk and one by one', async () => {
    await mc.removeObjects('mc-bucket', ['dir/big.bin', 'dir/small.bin', 'dir/sub/a b+c.txt']);
    await mc.removeObject('mc-bucket', 'file.bin');
    const left = await collect<{ name?: string }>(mc.listObjectsV2('mc-bucket', '', true));
    assert.deepEqual(left, []);
    await assert.rejects(mc.statObject('mc-bucket', 'file.bin'), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'NotFound');
      return true;
    });
    await mc.removeBucket('mc-bucket');
    assert.equal(await mc.bucketExists('mc-bucket'), false);
  });
});
