/**
 * Bucket CORS through @aws-sdk/client-s3 (Put/Get/DeleteBucketCors) and on
 * the wire: unauthenticated OPTIONS preflights evaluated against the rules,
 * Access-Control-* headers on signed requests that carry an Origin (errors
 * included), and the exact codes of refusals.
 */
import { strict as assert } from 'node:assert';
import {
  DeleteBucketCorsCommand,
  GetBucketCorsCommand,
  PutBucketCorsCommand,
  PutObjectCommand,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import {
  type TestGateway,
  errorCode,
  rawRequest,
  s3Client,
  signRequest,
  startTestGateway,
} from './61.gateway.harness';
import { MULTIPART_BUCKET } from '../lib/gateway/handlers/multipart_store';

describe('67 gateway: bucket CORS', function () {
  this.timeout(30_000);
  let t: TestGateway;
  before(async () => {
    t = await startTestGateway({}, 'native');
    await t.store.createBucket('web');
  });
  after(async () => {
    await t.close();
  });

  const rules = [
    {
      ID: 'app',
      AllowedOrigins: ['https://app.example.com', 'https://*.example.org'],
      AllowedMethods: ['GET', 'PUT', 'HEAD'],
      AllowedHeaders: ['Content-Type', 'x-amz-*'],
      ExposeHeaders: ['ETag', 'x-amz-version-id'],
      MaxAgeSeconds: 600,
    },
    { AllowedOrigins: ['*'], AllowedMethods: ['GET'] },
  ];

  function preflight(path: string, headers: Record<string, string>) {
    return rawRequest(t.gw, 'OPTIONS', path, { host: `127.0.0.1:${t.gw.port}`, ...headers });
  }

  it('keeps a configuration: Get answers 404 NoSuchCORSConfiguration before Put and after Delete', async () => {
    const s3 = s3Client(t.gw);
    await assert.rejects(
      s3.send(new GetBucketCorsCommand({ Bucket: 'web' })),
      (e) =>
        e instanceof S3ServiceException &&
        e.name === 'NoSuchCORSConfiguration' &&
        e.$metadata.httpStatusCode === 404,
    );
    await s3.send(
      new PutBucketCorsCommand({ Bucket: 'web', CORSConfiguration: { CORSRules: rules } }),
    );
    const got = await s3.send(new GetBucketCorsCommand({ Bucket: 'web' }));
    assert.deepEqual(got.CORSRules, rules);
    await s3.send(new DeleteBucketCorsCommand({ Bucket: 'web' }));
    await assert.rejects(
      s3.send(new GetBucketCorsCommand({ Bucket: 'web' })),
      (e) => e instanceof S3ServiceException && e.name === 'NoSuchCORSConfiguration',
    );
    await assert.rejects(
      s3.send(
        new PutBucketCorsCommand({
          Bucket: 'web',
          CORSConfiguration: { CORSRules: [{ AllowedOrigins: ['*'], AllowedMethods: ['PATCH'] }] },
        }),
      ),
      (e) =>
        e instanceof S3ServiceException &&
        e.name === 'InvalidRequest' &&
        /Unsupported method is PATCH/.test(e.message),
    );
    await assert.rejects(
      s3.send(new GetBucketCorsCommand({ Bucket: 'no-such-bucket' })),
      (e) => e instanceof S3ServiceException && e.name === 'NoSuchBucket',
    );
  });

  it('evaluates preflights: first matching rule, origin wildcards, requested headers; 403 otherwise', async () => {
    const s3 = s3Client(t.gw);
    await s3.send(
      new PutBucketCorsCommand({ Bucket: 'web', CORSConfiguration: { CORSRules: rules } }),
    );
    const ok = await preflight('/web/photo.jpg', {
      origin: 'https://app.example.com',
      'access-control-request-method': 'PUT',
      'access-control-request-headers': 'Content-Type, X-Amz-Date, x-amz-content-sha256',
    });
    assert.equal(ok.status, 200, ok.body.toString());
    assert.equal(ok.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.equal(ok.headers['access-control-allow-methods'], 'GET, PUT, HEAD');
    assert.equal(
      ok.headers['access-control-allow-headers'],
      'content-type, x-amz-date, x-amz-content-sha256',
    );
    assert.equal(ok.headers['access-control-expose-headers'], 'ETag, x-amz-version-id');
    assert.equal(ok.headers['access-control-max-age'], '600');
    assert.equal(ok.headers['access-control-allow-credentials'], 'true');
    // The wildcard origin of rule one.
    const sub = await preflight('/web/k', {
      origin: 'https://cdn.example.org',
      'access-control-request-method': 'HEAD',
    });
    assert.equal(sub.headers['access-control-allow-origin'], 'https://cdn.example.org');
    // Any origin, GET only: rule two answers '*' without credentials.
    const any = await preflight('/web/k', {
      origin: 'https://elsewhere.test',
      'access-control-request-method': 'GET',
    });
    assert.equal(any.status, 200);
    assert.equal(any.headers['access-control-allow-origin'], '*');
    assert.equal(any.headers['access-control-allow-credentials'], undefined);
    // Refusals: method, header, origin, no configuration, missing headers.
    for (const [headers, status, code] of [
      [
        { origin: 'https://elsewhere.test', 'access-control-request-method': 'PUT' },
        403,
        'AccessForbidden',
      ],
      [
        {
          origin: 'https://app.example.com',
          'access-control-request-method': 'PUT',
          'access-control-request-headers': 'authorization-extra',
        },
        403,
        'AccessForbidden',
      ],
      [{ 'access-control-request-method': 'GET' }, 400, 'BadRequest'],
      [{ origin: 'https://app.example.com' }, 400, 'BadRequest'],
    ] as const) {
      const res = await preflight('/web/k', headers);
      assert.deepEqual([res.status, errorCode(res.body)], [status, code], JSON.stringify(headers));
    }
    const unknown = await preflight('/no-such-bucket/k', {
      origin: 'https://app.example.com',
      'access-control-request-method': 'GET',
    });
    assert.deepEqual([unknown.status, errorCode(unknown.body)], [403, 'AccessForbidden']);
  });

  it('adds Access-Control-* to signed responses with an Origin, errors included, and forgets rules with the bucket', async () => {
    const s3 = s3Client(t.gw);
    await s3.send(
      new PutBucketCorsCommand({ Bucket: 'web', CORSConfiguration: { CORSRules: rules } }),
    );
    await s3.send(new PutObjectCommand({ Bucket: 'web', Key: 'k', Body: 'hello' }));
    const get = await signRequest(t.gw, {
      method: 'GET',
      path: '/web/k',
      unsigned: { origin: 'https://app.example.com' },
    });
    const res = await rawRequest(t.gw, 'GET', get.target, get.headers);
    assert.equal(res.status, 200);
    assert.equal(res.body.toString(), 'hello');
    assert.equal(res.headers['access-control-allow-origin'], 'https://app.example.com');
    assert.equal(res.headers['access-control-expose-headers'], 'ETag, x-amz-version-id');
    const missing = await signRequest(t.gw, {
      method: 'GET',
      path: '/web/missing',
      unsigned: { origin: 'https://app.example.com' },
    });
    const notFound = await rawRequest(t.gw, 'GET', missing.target, missing.headers);
    assert.equal(notFound.status, 404);
    assert.equal(notFound.headers['access-control-allow-origin'], 'https://app.example.com');
    // No Origin: no CORS headers.
    const plain = await signRequest(t.gw, { method: 'GET', path: '/web/k' });
    const noOrigin = await rawRequest(t.gw, 'GET', plain.target, plain.headers);
    assert.equal(noOrigin.headers['access-control-allow-origin'], undefined);
    // A bucket deleted and made again has no rules.
    await t.store.bucket('web').delete('k');
    const del = await signRequest(t.gw, { method: 'DELETE', path: '/web' });
    assert.equal((await rawRequest(t.gw, 'DELETE', del.target, del.headers)).status, 204);
    await t.store.createBucket('web');
    await assert.rejects(
      s3.send(new GetBucketCorsCommand({ Bucket: 'web' })),
      (e) => e instanceof S3ServiceException && e.name === 'NoSuchCORSConfiguration',
    );
  });

  it('keeps rules in store.bucketConfigs (kind cors) and moves rules kept by earlier versions there', async () => {
    const s3 = s3Client(t.gw);
    await t.store.createBucket('home');
    await s3.send(
      new PutBucketCorsCommand({ Bucket: 'home', CORSConfiguration: { CORSRules: rules } }),
    );
    const stored = await t.store.bucketConfigs.get<Array<{ allowedOrigins: string[] }>>(
      'home',
      'cors',
    );
    assert.deepEqual(
      stored?.map((r) => r.allowedOrigins),
      [['https://app.example.com', 'https://*.example.org'], ['*']],
    );
    await s3.send(new DeleteBucketCorsCommand({ Bucket: 'home' }));
    assert.equal(await t.store.bucketConfigs.get('home', 'cors'), undefined);

    // A store written by an earlier gateway: rules as `cors/<bucket>` in the
    // internal multipart bucket. A new gateway moves them on first use.
    const old = await startTestGateway({}, 'native');
    try {
      await old.store.createBucket('legacy');
      await old.store.createBucket(MULTIPART_BUCKET);
      const legacyRules = [
        {
          allowedOrigins: ['https://old.example.com'],
          allowedMethods: ['GET'],
          allowedHeaders: [],
          exposeHeaders: [],
        },
      ];
      await old.store.bucket(MULTIPART_BUCKET).put('cors/legacy', JSON.stringify(legacyRules));
      // A leftover for a bucket that no longer exists is dropped.
      await old.store.bucket(MULTIPART_BUCKET).put('cors/gone', JSON.stringify(legacyRules));
      const out = await s3Client(old.gw).send(new GetBucketCorsCommand({ Bucket: 'legacy' }));
      assert.deepEqual(
        out.CORSRules?.map((r) => [r.AllowedOrigins, r.AllowedMethods]),
        [[['https://old.example.com'], ['GET']]],
      );
      assert.deepEqual(await old.store.bucketConfigs.get('legacy', 'cors'), legacyRules);
      assert.equal(await old.store.bucket(MULTIPART_BUCKET).head('cors/legacy'), undefined);
      assert.equal(await old.store.bucket(MULTIPART_BUCKET).head('cors/gone'), undefined);
    } finally {
      await old.close();
    }
  });
});
