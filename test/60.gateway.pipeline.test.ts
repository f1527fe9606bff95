/**
 * The gateway's request pipeline end to end over loopback HTTP, on a real
 * Store: the negative security suite of TESTING.md 7/X1 plus the SDK paths
 * (Buffer and Readable bodies, ranges, conditionals, presigned URLs,
 * Expect: 100-continue, signed aws-chunked uploads, aborted uploads).
 */
import { strict as assert } from 'node:assert';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { type Gateway, startGateway } from '../lib/gateway/server';
import { Store } from '../lib/store/store';
import { HttpRequest, awsChunked, smithySigner } from './60.gateway.fixtures';
import { deriveSigningKey } from '../lib/gateway/auth/signing_key';

const USER = { accessKeyId: 'tessera-test', secretAccessKey: 'secret/with+chars=' };

describe('60 gateway pipeline: the server over loopback HTTP', function () {
  let clockOffsetMs = 0;
  let dir = '';
  let store: Store;
  let gateway: Gateway;
  let endpoint = '';
  let port = 0;
  const clients: S3Client[] = [];
  const client = (extra: Record<string, unknown> = {}) => {
    const c = new S3Client({
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: USER,
      maxAttempts: 1,
      ...extra,
    });
    clients.push(c);
    return c;
  };
  /** The stored bytes of bucket-a/key, or undefined. */
  const stored = async (key: string, bucket = 'bucket-a') =>
    (await store.bucket(bucket).get(key))?.body;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-gw-pipeline-'));
    store = await Store.open({ path: dir, dataShards: 4, parityShards: 2 });
    await store.createBucket('bucket-a');
    gateway = await startGateway({
      store,
      port: 0,
      credentials: [USER],
      now: () => Date.now() + clockOffsetMs,
    });
    port = gateway.port;
    endpoint = gateway.url;
  });
  after(async () => {
    for (const c of clients) c.destroy();
    await gateway.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    clockOffsetMs = 0;
  });

  async function expectS3Failure(promise: Promise<unknown>, name: string, status: number) {
    await assert.rejects(promise, (e: unknown) => {
      assert.ok(e instanceof S3ServiceException, String(e));
      assert.equal(e.name, name);
      assert.equal(e.$metadata.httpStatusCode, status);
      return true;
    });
  }

  interface RawResponse {
    status: number;
    headers: IncomingHttpHeaders;
    body: string;
    gotContinue: boolean;
  }
  function raw(
    method: string,
    path: string,
    headers: Record<string, string>,
    body?: Buffer,
    expectContinue = false,
  ): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      let gotContinue = false;
      const req = httpRequest({ host: '127.0.0.1', port, method, path, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
            gotContinue,
          }),
        );
      });
      req.on('error', reject);
      req.on('continue', () => {
        gotContinue = true;
        req.end(body);
      });
      if (!expectContinue) req.end(body);
    });
  }

  const bytes = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 31) & 0xff));

  it('round-trips Buffer and Readable bodies from the SDK, default and WHEN_REQUIRED', async () => {
    const c = client();
    await c.send(
      new PutObjectCommand({
        Bucket: 'bucket-a',
        Key: 'buffer',
        Body: bytes,
        Metadata: { mtime: '1700000000' },
      }),
    );
    await c.send(
      new PutObjectCommand({
        Bucket: 'bucket-a',
        Key: 'stream',
        Body: Readable.from([bytes]),
        ContentLength: bytes.length,
      }),
    );
    await client({ requestChecksumCalculation: 'WHEN_REQUIRED' }).send(
      new PutObjectCommand({
        Bucket: 'bucket-a',
        Key: 'plain',
        Body: Readable.from([bytes]),
        ContentLength: bytes.length,
      }),
    );
    for (const key of ['buffer', 'stream', 'plain']) {
      const got = await c.send(new GetObjectCommand({ Bucket: 'bucket-a', Key: key }));
      assert.deepEqual(Buffer.from(await got.Body!.transformToByteArray()), bytes, key);
    }
    const head = await c.send(new HeadObjectCommand({ Bucket: 'bucket-a', Key: 'buffer' }));
    assert.deepEqual(head.Metadata, { mtime: '1700000000' });
    assert.ok(head.$metadata.requestId && /^[0-9A-F]{16}$/.test(head.$metadata.requestId));
  });

  it('serves ranges and conditionals through the SDK', async () => {
    const c = client();
    await c.send(new PutObjectCommand({ Bucket: 'bucket-a', Key: 'r', Body: bytes }));
    const part = await c.send(
      new GetObjectCommand({ Bucket: 'bucket-a', Key: 'r', Range: 'bytes=100-199' }),
    );
    assert.equal(part.ContentRange, `bytes 100-199/${bytes.length}`);
    assert.deepEqual(
      Buffer.from(await part.Body!.transformToByteArray()),
      bytes.subarray(100, 200),
    );
    await expectS3Failure(
      c.send(
        new GetObjectCommand({ Bucket: 'bucket-a', Key: 'r', Range: `bytes=${bytes.length}-` }),
      ),
      'InvalidRange',
      416,
    );
    await expectS3Failure(
      c.send(new GetObjectCommand({ Bucket: 'bucket-a', Key: 'r', IfMatch: '"nope"' })),
      'PreconditionFailed',
      412,
    );
  });

  it('keeps traversal keys literal inside their bucket (CVE-2026-54917)', async () => {
    const r = await raw(
      'PUT',
      '/bucket-a/../evil/key',
      await signedHeaders('PUT', '/bucket-a/../evil/key', Buffer.from('x')),
      Buffer.from('x'),
    );
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(await stored('../evil/key'), Buffer.from('x'));
    assert.ok(!(await store.listBuckets()).some((b) => b.name === 'evil'));
  });

  it('accepts clock skew of 14:59 and refuses 15:01, both directions', async () => {
    for (const sign of [1, -1]) {
      await client({ systemClockOffset: sign * (14 * 60 + 59) * 1000 }).send(
        new HeadObjectCommand({ Bucket: 'bucket-a', Key: 'buffer' }),
      );
      await expectS3Failure(
        client({ systemClockOffset: sign * (15 * 60 + 1) * 1000 }).send(
          new GetObjectCommand({ Bucket: 'bucket-a', Key: 'buffer' }),
        ),
        'RequestTimeTooSkewed',
        403,
      );
    }
  });

  it('refuses a wrong secret, an unknown key and anonymous requests with exact codes', async () => {
    await expectS3Failure(
      client({ credentials: { accessKeyId: USER.accessKeyId, secretAccessKey: 'wrong' } }).send(
        new GetObjectCommand({ Bucket: 'bucket-a', Key: 'buffer' }),
      ),
      'SignatureDoesNotMatch',
      403,
    );
    await expectS3Failure(
      client({ credentials: { accessKeyId: 'nobody', secretAccessKey: 'x' } }).send(
        new GetObjectCommand({ Bucket: 'bucket-a', Key: 'buffer' }),
      ),
      'InvalidAccessKeyId',
      403,
    );
    const anon = await raw('GET', '/bucket-a/buffer', {});
    assert.equal(anon.status, 403);
    assert.match(anon.body, /<Code>AccessDenied<\/Code>/);
    assert.match(anon.body, /<Resource>\/bucket-a\/buffer<\/Resource>/);
    assert.match(anon.headers['x-amz-request-id'] as string, /^[0-9A-F]{16}$/);
  });

  it('HEAD errors carry no body; 501 for unimplemented operations has an XML body', async () => {
    const head = await raw(
      'HEAD',
      '/bucket-a/missing',
      await signedHeaders('HEAD', '/bucket-a/missing'),
    );
    assert.equal(head.status, 404);
    assert.equal(head.body, '');
    assert.ok(head.headers['x-amz-request-id']);
    const website = await raw(
      'GET',
      '/bucket-a?website',
      await signedHeaders('GET', '/bucket-a', undefined, { website: '' }),
    );
    assert.equal(website.status, 501);
    assert.match(
      website.body,
      /<Code>NotImplemented<\/Code><Message>The &apos;website&apos; sub-resource is not implemented.<\/Message>/,
    );
    // s3cmd info reads ?acl, ?policy and ?cors (ECOSYSTEM.md): answered, not 501.
    const acl = await raw(
      'GET',
      '/bucket-a?acl',
      await signedHeaders('GET', '/bucket-a', undefined, { acl: '' }),
    );
    assert.equal(acl.status, 200, acl.body);
    assert.match(acl.body, /<AccessControlPolicy/);
    const putAcl = await raw(
      'PUT',
      '/bucket-a?acl',
      await signedHeaders('PUT', '/bucket-a', Buffer.alloc(0), { acl: '' }),
      Buffer.alloc(0),
    );
    assert.equal(putAcl.status, 501);
  });

  it('presigned PUT and GET work through fetch, with the SDK-style checksum query ignored', async () => {
    const signer = smithySigner(USER.accessKeyId, USER.secretAccessKey);
    const presign = async (method: string, query: Record<string, string> = {}) => {
      const req = new HttpRequest({
        method,
        protocol: 'http:',
        hostname: '127.0.0.1',
        port,
        path: '/bucket-a/presigned%20key',
        query,
        headers: { host: `127.0.0.1:${port}`, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
      });
      const signed = await signer.presign(req, { expiresIn: 300 });
      const qs = Object.entries(signed.query ?? {}).map(
        ([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v as string)}`,
      );
      return `${endpoint}${signed.path}?${qs.join('&')}`;
    };
    const putUrl = await presign('PUT', {
      'x-amz-checksum-crc32': 'AAAAAA==',
      'x-amz-sdk-checksum-algorithm': 'CRC32',
      'x-id': 'PutObject',
    });
    const put = await fetch(putUrl, { method: 'PUT', body: bytes.subarray(0, 1000) });
    assert.equal(put.status, 200, await put.text());
    const get = await fetch(await presign('GET', { 'response-content-type': 'text/plain' }));
    assert.equal(get.status, 200);
    assert.equal(get.headers.get('content-type'), 'text/plain');
    assert.deepEqual(Buffer.from(await get.arrayBuffer()), bytes.subarray(0, 1000));

    // CVE-2026-97731: an unsigned x-amz-copy-source added to a presigned PUT is refused.
    const injected = await fetch(putUrl, {
      method: 'PUT',
      body: 'x',
      headers: { 'x-amz-copy-source': 'other/secret' },
    });
    assert.equal(injected.status, 403);
    assert.match(
      await injected.text(),
      /<Code>AccessDenied<\/Code><Message>There were headers present in the request which were not signed: x-amz-copy-source<\/Message>/,
    );
  });

  it('answers Expect: 100-continue only after authentication', async () => {
    const good = await signedHeaders('PUT', '/bucket-a/continued', Buffer.from('hello'));
    const ok = await raw(
      'PUT',
      '/bucket-a/continued',
      { ...good, expect: '100-continue' },
      Buffer.from('hello'),
      true,
    );
    assert.equal(ok.status, 200);
    assert.equal(ok.gotContinue, true);
    const bad = await raw(
      'PUT',
      '/bucket-a/continued',
      {
        ...good,
        authorization: good.authorization!.replace(/.$/, (c) => (c === '0' ? '1' : '0')),
        expect: '100-continue',
      },
      Buffer.from('hello'),
      true,
    );
    assert.equal(bad.status, 403);
    assert.equal(bad.gotContinue, false);
    assert.match(bad.body, /SignatureDoesNotMatch/);
    assert.equal(bad.headers.connection, 'close');
  });

  it('refuses a body whose signed SHA-256 does not match, and stores nothing', async () => {
    const headers = await signedHeaders('PUT', '/bucket-a/tampered', Buffer.from('original'));
    const r = await raw('PUT', '/bucket-a/tampered', headers, Buffer.from('modified'));
    assert.equal(r.status, 400);
    assert.match(r.body, /<Code>XAmzContentSHA256Mismatch<\/Code>/);
    assert.equal(await stored('tampered'), undefined);
  });

  it('DeleteObjects from the SDK (CRC32 instead of Content-MD5) with a traversal key in the body', async () => {
    const c = client();
    await c.send(new PutObjectCommand({ Bucket: 'bucket-a', Key: '../other', Body: 'x' }));
    const out = await c.send(
      new DeleteObjectsCommand({
        Bucket: 'bucket-a',
        Delete: { Objects: [{ Key: '../other' }, { Key: 'buffer' }] },
      }),
    );
    assert.deepEqual(
      out.Deleted!.map((d) => d.Key),
      ['../other', 'buffer'],
    );
    assert.equal(await stored('../other'), undefined);
  });

  it('refuses oversize keys and metadata with their codes', async () => {
    const c = client();
    await c.send(new PutObjectCommand({ Bucket: 'bucket-a', Key: 'k'.repeat(1024), Body: 'x' }));
    await expectS3Failure(
      c.send(new PutObjectCommand({ Bucket: 'bucket-a', Key: 'k'.repeat(1025), Body: 'x' })),
      'KeyTooLongError',
      400,
    );
    await c.send(
      new PutObjectCommand({
        Bucket: 'bucket-a',
        Key: 'm',
        Body: 'x',
        Metadata: { k: 'v'.repeat(2047) },
      }),
    );
    await expectS3Failure(
      c.send(
        new PutObjectCommand({
          Bucket: 'bucket-a',
          Key: 'm',
          Body: 'x',
          Metadata: { k: 'v'.repeat(2048) },
        }),
      ),
      'MetadataTooLarge',
      400,
    );
  });

  async function streamingUpload(key: string, data: Buffer, tamper: boolean): Promise<RawResponse> {
    const path = `/bucket-a/${key}`;
    const probe = awsChunked(data, {
      chunkSize: 65536,
      signed: { key: Buffer.alloc(32), date: '', scope: '', seed: '0'.repeat(64) },
    });
    const req = new HttpRequest({
      method: 'PUT',
      protocol: 'http:',
      hostname: '127.0.0.1',
      port,
      path,
      headers: {
        host: `127.0.0.1:${port}`,
        'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
        'content-encoding': 'aws-chunked',
        'x-amz-decoded-content-length': String(data.length),
        'content-length': String(probe.length),
      },
    });
    const signed = await smithySigner(USER.accessKeyId, USER.secretAccessKey).sign(req);
    const headers = signed.headers as Record<string, string>;
    const amzDate = headers['x-amz-date']!;
    const body = awsChunked(data, {
      chunkSize: 65536,
      signed: {
        key: deriveSigningKey(USER.secretAccessKey, amzDate.slice(0, 8), 'us-east-1', 's3'),
        date: amzDate,
        scope: `${amzDate.slice(0, 8)}/us-east-1/s3/aws4_request`,
        seed: headers.authorization!.slice(-64),
      },
    });
    assert.equal(body.length, probe.length);
    if (tamper) body[100] = body[100]! ^ 1;
    return raw('PUT', path, headers, body);
  }

  it('verifies signed aws-chunked uploads and answers 403 when a chunk is tampered mid-stream', async () => {
    const data = Buffer.concat([bytes, bytes]);
    const ok = await streamingUpload('chunked', data, false);
    assert.equal(ok.status, 200, ok.body);
    assert.deepEqual(await stored('chunked'), data);
    const bad = await streamingUpload('chunked-bad', data, true);
    assert.equal(bad.status, 403);
    assert.match(
      bad.body,
      /<Code>SignatureDoesNotMatch<\/Code><Message>The chunk signature that we calculated/,
    );
    assert.equal(await stored('chunked-bad'), undefined);
  });

  it('an upload whose client goes away mid-body is not stored, and the server keeps serving', async () => {
    const body = bytes.subarray(0, 200_000);
    const headers = await signedHeaders('PUT', '/bucket-a/aborted', body);
    await new Promise<void>((resolve) => {
      const req = httpRequest({
        host: '127.0.0.1',
        port,
        method: 'PUT',
        path: '/bucket-a/aborted',
        headers,
      });
      req.on('error', () => resolve());
      req.write(body.subarray(0, 50_000), () => setTimeout(() => req.destroy(), 50));
      req.on('close', () => resolve());
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(await stored('aborted'), undefined);
    const head = await client().send(new HeadObjectCommand({ Bucket: 'bucket-a', Key: 'r' }));
    assert.equal(head.$metadata.httpStatusCode, 200);
  });

  async function signedHeaders(
    method: string,
    path: string,
    body?: Buffer,
    query: Record<string, string> = {},
  ): Promise<Record<string, string>> {
    const payload =
      body === undefined
        ? 'UNSIGNED-PAYLOAD'
        : (await import('node:crypto')).createHash('sha256').update(body).digest('hex');
    const req = new HttpRequest({
      method,
      protocol: 'http:',
      hostname: '127.0.0.1',
      port,
      path,
      query,
      headers: {
        host: `127.0.0.1:${port}`,
        'x-amz-content-sha256': payload,
        ...(body !== undefined ? { 'content-length': String(body.length) } : {}),
      },
    });
    const signed = await smithySigner(USER.accessKeyId, USER.secretAccessKey).sign(req);
    return signed.headers as Record<string, string>;
  }
});
