import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { type AddressInfo } from 'node:net';
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  checksumModeEnabled,
  compositeChecksum,
  headerSafe,
  multipartEtag,
  objectResponseHeaders,
} from '../lib/gateway/object_headers';
import { createChecksum } from '../lib/gateway/payload/checksums';
import { fallbackChecksumFunctions } from '../lib/gateway/payload/checksums_fallback';

const body = Buffer.from('hello, checksummed world\n'.repeat(100));
const crc32 = (() => {
  const c = createChecksum('CRC32', fallbackChecksumFunctions);
  c.update(body);
  return c.digest().toString('base64');
})();
const facts = {
  etag: createHash('md5').update(body).digest('hex'),
  size: body.length,
  lastModified: new Date(Date.UTC(2026, 10, 22, 3, 4, 5, 678)),
  versionId: 'v-123',
  contentType: 'text/plain',
  cacheControl: 'max-age=60',
  metadata: { mtime: '1700000000', name: 'café' },
  checksums: { crc32 },
};

describe('60 gateway headers: object response headers', () => {
  it('builds the full-object header set', () => {
    assert.deepEqual(objectResponseHeaders(facts, { checksumMode: true }), {
      etag: `"${facts.etag}"`,
      'last-modified': 'Sun, 22 Nov 2026 03:04:05 GMT',
      'accept-ranges': 'bytes',
      'content-type': 'text/plain',
      'cache-control': 'max-age=60',
      'content-length': String(body.length),
      'x-amz-version-id': 'v-123',
      'x-amz-meta-mtime': '1700000000',
      'x-amz-meta-name': '=?UTF-8?B?Y2Fmw6k=?=',
      'x-amz-checksum-crc32': crc32,
      'x-amz-checksum-type': 'FULL_OBJECT',
    });
  });

  it('ranges: Content-Range and length, no full-object checksum; overrides last; null version hidden', () => {
    const h = objectResponseHeaders(
      { ...facts, versionId: 'null', contentType: undefined },
      {
        range: { start: 10, end: 19 },
        checksumMode: true,
        overrides: { 'content-type': 'application/x-forced' },
      },
    );
    assert.equal(h['content-length'], '10');
    assert.equal(h['content-range'], `bytes 10-19/${body.length}`);
    assert.equal(h['x-amz-checksum-crc32'], undefined);
    assert.equal(h['x-amz-version-id'], undefined);
    assert.equal(h['content-type'], 'application/x-forced');
    assert.equal(
      objectResponseHeaders({ ...facts, contentType: undefined })['content-type'],
      'binary/octet-stream',
    );
    assert.equal(objectResponseHeaders(facts)['x-amz-checksum-crc32'], undefined);
  });

  it('checksum mode and header-safe values', () => {
    assert.equal(checksumModeEnabled({ 'x-amz-checksum-mode': 'ENABLED' }), true);
    assert.equal(checksumModeEnabled({ 'x-amz-checksum-mode': 'enabled' }), true);
    assert.equal(checksumModeEnabled({}), false);
    assert.equal(headerSafe('plain ascii'), 'plain ascii');
    assert.equal(headerSafe('日本'), '=?UTF-8?B?5pel5pys?=');
    assert.equal(headerSafe('a\r\nb'), `=?UTF-8?B?${Buffer.from('a\r\nb').toString('base64')}?=`);
  });

  it('multipart ETag is md5 of the binary part MD5s, then -N', () => {
    const parts = [Buffer.alloc(5 << 20, 1), Buffer.alloc(1000, 2)];
    const md5s = parts.map((p) => createHash('md5').update(p).digest());
    const expected = createHash('md5').update(Buffer.concat(md5s)).digest('hex') + '-2';
    assert.equal(multipartEtag(md5s), expected);
    assert.match(multipartEtag(md5s), /^[0-9a-f]{32}-2$/);
  });

  it('composite checksum is the algorithm over the binary part checksums, then -N', () => {
    const a = Buffer.from([1, 2, 3, 4]).toString('base64');
    const b = Buffer.from([5, 6, 7, 8]).toString('base64');
    const c = createChecksum('CRC32', fallbackChecksumFunctions);
    c.update(Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]));
    assert.equal(
      compositeChecksum('CRC32', [a, b], fallbackChecksumFunctions),
      `${c.digest().toString('base64')}-2`,
    );
    const sha = createHash('sha256')
      .update(Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]))
      .digest('base64');
    assert.equal(compositeChecksum('SHA256', [a, b], fallbackChecksumFunctions), `${sha}-2`);
  });
});

describe('60 gateway headers: as @aws-sdk/client-s3 reads them', function () {
  const server = createServer((req, res) => {
    const range = req.headers.range === 'bytes=0-4' ? { start: 0, end: 4 } : undefined;
    const checksums = req.url?.includes('bad') ? { crc32: 'AAAAAA==' } : facts.checksums;
    const headers = objectResponseHeaders(
      { ...facts, checksums },
      { checksumMode: checksumModeEnabled(req.headersDistinct), ...(range ? { range } : {}) },
    );
    res.writeHead(range ? 206 : 200, headers);
    res.end(req.method === 'HEAD' ? undefined : range ? body.subarray(0, 5) : body);
  });
  let client: S3Client;
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    client = new S3Client({
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      maxAttempts: 1,
    });
  });
  after(async () => {
    client.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('HeadObject: ETag, size, dates, metadata, version, checksum', async () => {
    const head = await client.send(
      new HeadObjectCommand({ Bucket: 'bkt', Key: 'k', ChecksumMode: 'ENABLED' }),
    );
    assert.equal(head.ETag, `"${facts.etag}"`);
    assert.equal(head.ContentLength, body.length);
    assert.deepEqual(head.LastModified, new Date(Date.UTC(2026, 10, 22, 3, 4, 5)));
    assert.equal(head.VersionId, 'v-123');
    assert.equal(head.ContentType, 'text/plain');
    assert.equal(head.ChecksumCRC32, crc32);
    assert.equal(head.Metadata!.mtime, '1700000000');
  });

  it('GetObject with checksum validation: the SDK accepts our CRC and refuses a wrong one', async () => {
    const got = await client.send(
      new GetObjectCommand({ Bucket: 'bkt', Key: 'k', ChecksumMode: 'ENABLED' }),
    );
    assert.deepEqual(Buffer.from(await got.Body!.transformToByteArray()), body);
    const bad = await client.send(
      new GetObjectCommand({ Bucket: 'bkt', Key: 'bad', ChecksumMode: 'ENABLED' }),
    );
    await assert.rejects(bad.Body!.transformToByteArray(), /Checksum mismatch/);
    const ranged = await client.send(
      new GetObjectCommand({
        Bucket: 'bkt',
        Key: 'k',
        Range: 'bytes=0-4',
        ChecksumMode: 'ENABLED',
      }),
    );
    assert.equal(ranged.ContentRange, `bytes 0-4/${body.length}`);
    assert.deepEqual(Buffer.from(await ranged.Body!.transformToByteArray()), body.subarray(0, 5));
  });
});
