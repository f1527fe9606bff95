/**
 * The negative security suite, on the wire: every refusal with its exact
 * HTTP status and S3 code, and proof that nothing was stored.
 */
import { strict as assert } from 'node:assert';
import { createHash, createHmac } from 'node:crypto';
import { connect } from 'node:net';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { deriveSigningKey } from '../lib/gateway/auth/signing_key';
import {
  type TestGateway,
  errorCode,
  presign,
  rawRequest,
  signRequest,
  startTestGateway,
  SECRET_KEY,
} from './61.gateway.harness';

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

function crc32(data: Buffer): string {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(zlibCrc32(data) >>> 0);
  return out.toString('base64');
}

/** aws-chunked with per-chunk signatures (and optionally a signed trailer), from the AWS documentation. */
function signedChunks(
  data: Buffer,
  chunkSize: number,
  seed: string,
  amzDate: string,
  trailer?: string,
): Buffer {
  const key = deriveSigningKey(SECRET_KEY, amzDate.slice(0, 8), 'us-east-1', 's3');
  const scope = `${amzDate.slice(0, 8)}/us-east-1/s3/aws4_request`;
  let previous = seed;
  const parts: Buffer[] = [];
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunkSize) chunks.push(data.subarray(i, i + chunkSize));
  chunks.push(Buffer.alloc(0));
  for (const chunk of chunks) {
    previous = createHmac('sha256', key)
      .update(
        [
          'AWS4-HMAC-SHA256-PAYLOAD',
          amzDate,
          scope,
          previous,
          EMPTY_SHA256,
          createHash('sha256').update(chunk).digest('hex'),
        ].join('\n'),
      )
      .digest('hex');
    parts.push(Buffer.from(`${chunk.length.toString(16)};chunk-signature=${previous}\r\n`));
    if (chunk.length > 0) parts.push(chunk, Buffer.from('\r\n'));
  }
  if (trailer !== undefined) {
    const sig = createHmac('sha256', key)
      .update(
        [
          'AWS4-HMAC-SHA256-TRAILER',
          amzDate,
          scope,
          previous,
          createHash('sha256')
            .update(trailer + '\n')
            .digest('hex'),
        ].join('\n'),
      )
      .digest('hex');
    parts.push(Buffer.from(`${trailer}\r\nx-amz-trailer-signature:${sig}\r\n`));
  }
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

describe('62 gateway security: refusals on the wire', function () {
  this.timeout(30_000);
  let t: TestGateway;

  beforeEach(async () => {
    t = await startTestGateway({ limits: { bodyBytesPerSecondMin: 1000, bodyRateWindowMs: 300 } });
    await t.store.createBucket('bucket-a');
    await t.store.createBucket('bucket-b');
    await t.store.bucket('bucket-b').put('victim', 'keep me');
  });
  afterEach(async () => {
    await t.close();
  });

  async function send(
    options: Parameters<typeof signRequest>[1],
  ): Promise<{ status: number; code: string | undefined }> {
    const { target, headers } = await signRequest(t.gw, options);
    const res = await rawRequest(t.gw, options.method, target, headers, options.body);
    return { status: res.status, code: errorCode(res.body) };
  }

  async function exists(bucket: string, key: string): Promise<boolean> {
    return (await t.store.bucket(bucket).head(key)) !== undefined;
  }

  it('refuses anonymous requests, unknown keys, wrong secrets and altered signatures', async () => {
    const anonymous = await rawRequest(t.gw, 'GET', '/bucket-a', {});
    assert.deepEqual([anonymous.status, errorCode(anonymous.body)], [403, 'AccessDenied']);
    assert.deepEqual(await send({ method: 'GET', path: '/bucket-a', accessKey: 'nobody' }), {
      status: 403,
      code: 'InvalidAccessKeyId',
    });
    assert.deepEqual(await send({ method: 'GET', path: '/bucket-a', secret: 'wrong' }), {
      status: 403,
      code: 'SignatureDoesNotMatch',
    });
    const { target, headers } = await signRequest(t.gw, { method: 'GET', path: '/bucket-a' });
    headers.authorization = headers.authorization!.replace(
      /Signature=(.)/,
      (_m, c: string) => `Signature=${c === 'a' ? 'b' : 'a'}`,
    );
    const altered = await rawRequest(t.gw, 'GET', target, headers);
    assert.deepEqual([altered.status, errorCode(altered.body)], [403, 'SignatureDoesNotMatch']);
    assert.match(altered.body.toString(), /<RequestId>[0-9A-F]{16}<\/RequestId>/);
    assert.equal(altered.headers['x-amz-request-id']?.length, 16);
  });

  it('accepts clock skew of 14:59 and refuses 15:01 in both directions', async () => {
    for (const [offsetMs, status] of [
      [-(14 * 60 + 59) * 1000, 200],
      [(14 * 60 + 59) * 1000, 200],
      [-(15 * 60 + 1) * 1000, 403],
      [(15 * 60 + 1) * 1000, 403],
    ] as const) {
      const res = await send({
        method: 'GET',
        path: '/bucket-a',
        signingDate: new Date(Date.now() + offsetMs),
      });
      assert.equal(res.status, status, `offset ${offsetMs}`);
      if (status === 403) assert.equal(res.code, 'RequestTimeTooSkewed');
    }
  });

  it('refuses expired and future presigned URLs', async () => {
    await t.store.bucket('bucket-a').put('k', 'v');
    const expired = await presign(t.gw, {
      method: 'GET',
      path: '/bucket-a/k',
      expiresIn: 60,
      signingDate: new Date(Date.now() - 120_000),
    });
    let res = await rawRequest(t.gw, 'GET', expired, { host: `127.0.0.1:${t.gw.port}` });
    assert.deepEqual([res.status, errorCode(res.body)], [403, 'AccessDenied']);
    const future = await presign(t.gw, {
      method: 'GET',
      path: '/bucket-a/k',
      signingDate: new Date(Date.now() + 16 * 60_000),
    });
    res = await rawRequest(t.gw, 'GET', future, { host: `127.0.0.1:${t.gw.port}` });
    assert.deepEqual([res.status, errorCode(res.body)], [403, 'RequestTimeTooSkewed']);
    const fine = await presign(t.gw, { method: 'GET', path: '/bucket-a/k' });
    res = await rawRequest(t.gw, 'GET', fine, { host: `127.0.0.1:${t.gw.port}` });
    assert.deepEqual([res.status, res.body.toString()], [200, 'v']);
  });

  it('refuses unsigned x-amz-* headers, on signed and presigned requests', async () => {
    const res = await send({
      method: 'PUT',
      path: '/bucket-a/k',
      body: 'data',
      unsigned: { 'x-amz-meta-injected': '1' },
    });
    assert.deepEqual(res, { status: 403, code: 'AccessDenied' });
    const url = await presign(t.gw, { method: 'PUT', path: '/bucket-a/copy' });
    const copy = await rawRequest(
      t.gw,
      'PUT',
      url,
      {
        host: `127.0.0.1:${t.gw.port}`,
        'x-amz-copy-source': 'bucket-b/victim',
        'content-length': '0',
      },
      '',
    );
    assert.deepEqual([copy.status, errorCode(copy.body)], [403, 'AccessDenied']);
    assert.equal(await exists('bucket-a', 'copy'), false);
  });

  it('verifies payload digests: hex SHA-256, Content-MD5, x-amz-checksum-*', async () => {
    assert.deepEqual(
      await send({
        method: 'PUT',
        path: '/bucket-a/k',
        body: 'data',
        payloadHash: createHash('sha256').update('other').digest('hex'),
      }),
      { status: 400, code: 'XAmzContentSHA256Mismatch' },
    );
    assert.deepEqual(
      await send({
        method: 'PUT',
        path: '/bucket-a/k',
        body: 'data',
        headers: { 'content-md5': createHash('md5').update('x').digest('base64') },
      }),
      { status: 400, code: 'BadDigest' },
    );
    assert.deepEqual(
      await send({
        method: 'PUT',
        path: '/bucket-a/k',
        body: 'data',
        headers: { 'x-amz-checksum-crc32': crc32(Buffer.from('datb')) },
      }),
      { status: 400, code: 'BadDigest' },
    );
    assert.equal(await exists('bucket-a', 'k'), false);
    assert.deepEqual(
      await send({
        method: 'PUT',
        path: '/bucket-a/k',
        body: 'data',
        headers: { 'x-amz-checksum-crc32': crc32(Buffer.from('data')) },
      }),
      { status: 200, code: undefined },
    );
  });

  it('refuses a tampered signed chunk and a tampered signed trailer, storing nothing', async () => {
    const data = Buffer.alloc(20_000, 7);
    for (const variant of ['good', 'chunk', 'trailer'] as const) {
      const trailer = `x-amz-checksum-crc32:${crc32(data)}`;
      const { target, headers } = await signRequest(t.gw, {
        method: 'PUT',
        path: `/bucket-a/${variant}`,
        payloadHash: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
        headers: {
          'content-encoding': 'aws-chunked',
          'x-amz-decoded-content-length': String(data.length),
          'x-amz-trailer': 'x-amz-checksum-crc32',
        },
      });
      const seed = /Signature=([0-9a-f]{64})/.exec(headers.authorization!)![1]!;
      let body = signedChunks(data, 8192, seed, headers['x-amz-date']!, trailer);
      if (variant === 'chunk') {
        body = Buffer.from(body);
        body[200] = body[200]! ^ 1;
      }
      if (variant === 'trailer') {
        const text = body.toString('latin1');
        const at = text.indexOf('x-amz-checksum-crc32:') + 'x-amz-checksum-crc32:'.length;
        body = Buffer.from(text.slice(0, at) + 'AAAAAA==' + text.slice(at + 8), 'latin1');
      }
      headers['content-length'] = String(body.length);
      const res = await rawRequest(t.gw, 'PUT', target, headers, body);
      if (variant === 'good') {
        assert.equal(res.status, 200, res.body.toString());
        assert.deepEqual((await t.store.bucket('bucket-a').get('good'))?.body, data);
      } else {
        assert.deepEqual(
          [res.status, errorCode(res.body)],
          [403, 'SignatureDoesNotMatch'],
          variant,
        );
        assert.equal(await exists('bucket-a', variant), false);
      }
    }
  });

  it('refuses a wrong checksum in an unsigned trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER)', async () => {
    const data = Buffer.from('hello trailer');
    const body = Buffer.from(
      `${data.length.toString(16)}\r\n${data.toString()}\r\n0\r\nx-amz-checksum-crc32:${crc32(Buffer.from('other'))}\r\n\r\n`,
    );
    const { target, headers } = await signRequest(t.gw, {
      method: 'PUT',
      path: '/bucket-a/trailer',
      payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      headers: {
        'content-encoding': 'aws-chunked',
        'x-amz-decoded-content-length': String(data.length),
        'x-amz-trailer': 'x-amz-checksum-crc32',
        'content-length': String(body.length),
      },
    });
    const res = await rawRequest(t.gw, 'PUT', target, headers, body);
    assert.deepEqual([res.status, errorCode(res.body)], [400, 'BadDigest']);
    assert.equal(await exists('bucket-a', 'trailer'), false);
  });

  it('keeps traversal-looking keys literal and inside their bucket (URL and DeleteObjects body)', async () => {
    // Signed as the canonical form; sent in three spellings that all decode to '../bucket-b/victim'.
    for (const [signedPath, wirePath] of [
      ['/bucket-a/../bucket-b/victim', '/bucket-a/../bucket-b/victim'],
      ['/bucket-a/../bucket-b/victim', '/bucket-a/%2e%2e/bucket-b/victim'],
      ['/bucket-a/..%2Fbucket-b%2Fvictim', '/bucket-a/..%2Fbucket-b%2Fvictim'],
    ] as const) {
      const { target, headers } = await signRequest(t.gw, {
        method: 'PUT',
        path: signedPath,
        body: 'evil',
      });
      const res = await rawRequest(
        t.gw,
        'PUT',
        target.replace(signedPath, wirePath),
        headers,
        'evil',
      );
      assert.equal(res.status, 200, wirePath);
    }
    assert.equal((await t.store.bucket('bucket-b').get('victim'))?.body.toString(), 'keep me');
    const keys: string[] = [];
    for await (const e of t.store.bucket('bucket-a').list())
      if (e.type === 'object') keys.push(e.key);
    assert.deepEqual(keys, ['../bucket-b/victim']);
    const xml = '<Delete><Object><Key>../bucket-b/victim</Key></Object></Delete>';
    const del = await send({ method: 'POST', path: '/bucket-a', query: { delete: '' }, body: xml });
    assert.equal(del.status, 200);
    assert.equal(await exists('bucket-a', '../bucket-b/victim'), false);
    assert.equal(await exists('bucket-b', 'victim'), true);
  });

  it('enforces key, metadata, XML, DeleteObjects and part-number limits with exact codes', async () => {
    assert.equal(
      (await send({ method: 'PUT', path: '/bucket-a/' + 'k'.repeat(1024), body: 'x' })).status,
      200,
    );
    assert.deepEqual(
      await send({ method: 'PUT', path: '/bucket-a/' + 'k'.repeat(1025), body: 'x' }),
      {
        status: 400,
        code: 'KeyTooLongError',
      },
    );
    const meta = (n: number) => ({ 'x-amz-meta-m': 'v'.repeat(n - 1) });
    assert.equal(
      (await send({ method: 'PUT', path: '/bucket-a/m', body: 'x', headers: meta(2048) })).status,
      200,
    );
    assert.deepEqual(
      await send({ method: 'PUT', path: '/bucket-a/m2', body: 'x', headers: meta(2049) }),
      {
        status: 400,
        code: 'MetadataTooLarge',
      },
    );
    const objects = (n: number) => '<Object><Key>k</Key></Object>'.repeat(n);
    assert.deepEqual(
      await send({
        method: 'POST',
        path: '/bucket-a',
        query: { delete: '' },
        body: `<Delete>${objects(1001)}</Delete>`,
      }),
      {
        status: 400,
        code: 'MalformedXML',
      },
    );
    assert.equal(
      (
        await send({
          method: 'POST',
          path: '/bucket-a',
          query: { delete: '' },
          body: `<Delete>${objects(1000)}</Delete>`,
        })
      ).status,
      200,
    );
    assert.deepEqual(
      await send({
        method: 'POST',
        path: '/bucket-a',
        query: { delete: '' },
        body: `<Delete>${' '.repeat(1024 * 1024)}</Delete>`,
      }),
      { status: 400, code: 'MaxMessageLengthExceeded' },
    );
    const dtd =
      '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x "y">]><Delete><Object><Key>&x;</Key></Object></Delete>';
    assert.deepEqual(
      await send({ method: 'POST', path: '/bucket-a', query: { delete: '' }, body: dtd }),
      {
        status: 400,
        code: 'MalformedXML',
      },
    );
    assert.deepEqual(
      await send({
        method: 'PUT',
        path: '/bucket-a/p',
        query: { partNumber: '10001', uploadId: '0'.repeat(32) },
        body: 'x',
      }),
      { status: 400, code: 'InvalidArgument' },
    );
    assert.deepEqual(await send({ method: 'GET', path: '/tessera-multipart-uploads' }), {
      status: 403,
      code: 'AccessDenied',
    });
  });

  it('answers 431 to request headers over 16 KiB', async () => {
    const res = await rawRequest(t.gw, 'GET', '/bucket-a', { 'x-big': 'a'.repeat(17 * 1024) });
    assert.equal(res.status, 431);
  });

  it('answers Expect: 100-continue only after authentication', async () => {
    const exchange = async (headers: Record<string, string>, target: string): Promise<string> => {
      const socket = connect(t.gw.port, '127.0.0.1');
      const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}`);
      socket.write(
        `PUT ${target} HTTP/1.1\r\n${lines.join('\r\n')}\r\nexpect: 100-continue\r\n\r\n`,
      );
      let text = '';
      socket.on('data', (d: Buffer) => {
        text += d.toString('latin1');
        if (text.startsWith('HTTP/1.1 100')) {
          socket.write('data');
        }
      });
      await new Promise((resolve) =>
        socket
          .on('close', resolve)
          .on('end', resolve)
          .setTimeout(3000, () => socket.destroy()),
      );
      return text;
    };
    const bad = await signRequest(t.gw, {
      method: 'PUT',
      path: '/bucket-a/c',
      body: 'data',
      secret: 'wrong',
    });
    const refused = await exchange({ ...bad.headers, connection: 'close' }, bad.target);
    assert.match(refused, /^HTTP\/1\.1 403 /);
    assert.doesNotMatch(refused, /100 Continue/);
    const good = await signRequest(t.gw, { method: 'PUT', path: '/bucket-a/c', body: 'data' });
    const accepted = await exchange({ ...good.headers, connection: 'close' }, good.target);
    assert.match(accepted, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
    assert.equal((await t.store.bucket('bucket-a').get('c'))?.body.toString(), 'data');
  });

  it('cuts off a body slower than the minimum rate and stores nothing', async () => {
    const { target, headers } = await signRequest(t.gw, {
      method: 'PUT',
      path: '/bucket-a/slow',
      body: 'x'.repeat(100_000),
    });
    const socket = connect(t.gw.port, '127.0.0.1');
    const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}`);
    socket.write(`PUT ${target} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\nxxxxxxxxxx`);
    const started = Date.now();
    await new Promise((resolve) =>
      socket
        .on('close', resolve)
        .on('error', resolve)
        .setTimeout(10_000, () => socket.destroy()),
    );
    assert.ok(Date.now() - started < 5000, 'the slow body was cut off by the rate guard');
    assert.equal(await exists('bucket-a', 'slow'), false);
  });
});
