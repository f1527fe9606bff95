import { strict as assert } from 'node:assert';
import { S3Error } from '../lib/gateway/errors';
import { parseCopySource, resolveAddress } from '../lib/gateway/request/address';
import {
  assertReadConditions,
  evaluateCopySourceConditions,
  evaluateReadConditions,
  parseWriteConditions,
} from '../lib/gateway/request/conditional';
import {
  bucketNameProblem,
  extractUserMetadata,
  parsePartNumber,
  validateBucketName,
  validateKey,
} from '../lib/gateway/request/limits';
import { responseOverrides } from '../lib/gateway/request/overrides';
import { parseRequest, queryValue } from '../lib/gateway/request/parse';
import { parseCopySourceRange, parseRange } from '../lib/gateway/request/range';
import { OPERATIONS, type Operation, routeOperation } from '../lib/gateway/request/router';
import { parseQuery } from '../lib/gateway/request/uri';
import { expectThrow } from './60.gateway.fixtures';

describe('60 gateway request: addressing', () => {
  it('path style: bucket is the first segment, the key everything after, kept literal', () => {
    const cases: Array<[string, string | undefined, string | undefined]> = [
      ['/', undefined, undefined],
      ['/bucket', 'bucket', undefined],
      ['/bucket/', 'bucket', undefined],
      ['/bucket/key', 'bucket', 'key'],
      ['/bucket-a/../evil/key', 'bucket-a', '../evil/key'],
      ['/bucket-a/%2e%2e/evil/key', 'bucket-a', '../evil/key'],
      ['/bucket-a/%2E%2E%2Fevil', 'bucket-a', '../evil'],
      ['/bucket-a//double//slash', 'bucket-a', '/double//slash'],
      ['/bucket-a/back\\slash\\..\\x', 'bucket-a', 'back\\slash\\..\\x'],
      ['/bucket-a/./dot', 'bucket-a', './dot'],
      ['/bucket-a/a%20b+c', 'bucket-a', 'a b+c'],
      ['/bucket-a/%E6%97%A5%F0%9F%98%80', 'bucket-a', '日😀'],
      ['/%62ucket/k', 'bucket', 'k'],
    ];
    for (const [path, bucket, key] of cases) {
      const a = resolveAddress(path, '127.0.0.1:9000');
      assert.deepEqual([a.style, a.bucket, a.key], ['path', bucket, key], path);
    }
  });

  it('never lets .. escape to another bucket (CVE-2026-54917)', () => {
    for (const path of [
      '/..',
      '/../evil/key',
      '/%2e%2e/evil',
      '/./x',
      '/bucket-a%2F..%2Fevil/key',
    ]) {
      expectThrow(() => resolveAddress(path, 'h'), 'InvalidBucketName', 400);
    }
    const r = parseRequest({
      method: 'PUT',
      url: '/bucket-a/../evil/key?x-id=PutObject',
      headers: { host: 'h' },
    });
    assert.equal(r.address.bucket, 'bucket-a');
    assert.equal(r.address.key, '../evil/key');
    assert.equal(r.rawPath, '/bucket-a/../evil/key');
    assert.equal(r.operation, 'PutObject');
  });

  it('virtual-host style with --domain, path style for any other host', () => {
    const opts = { domains: ['s3.example.com', 'localhost'] };
    assert.deepEqual(resolveAddress('/dir/key', 'My.Bucket.S3.example.com:9000', opts), {
      style: 'virtual',
      bucket: 'my.bucket',
      key: 'dir/key',
    });
    assert.deepEqual(resolveAddress('/', 'bk1.localhost:9000', opts), {
      style: 'virtual',
      bucket: 'bk1',
      key: undefined,
    });
    assert.deepEqual(resolveAddress('/../x', 'bk1.localhost', opts), {
      style: 'virtual',
      bucket: 'bk1',
      key: '../x',
    });
    assert.deepEqual(resolveAddress('/bk2/k', 's3.example.com', opts), {
      style: 'path',
      bucket: 'bk2',
      key: 'k',
    });
    assert.deepEqual(resolveAddress('/bk2/k', '127.0.0.1:9000', opts), {
      style: 'path',
      bucket: 'bk2',
      key: 'k',
    });
    expectThrow(() => resolveAddress('/k', 'Bad_Bucket.localhost', opts), 'InvalidBucketName', 400);
  });

  it('refuses targets that are not origin-form and undecodable escapes', () => {
    expectThrow(() => resolveAddress('http://h/b/k', 'h'), 'InvalidURI', 400);
    expectThrow(() => resolveAddress('/b/%zz', 'h'), 'InvalidURI', 400);
    expectThrow(() => resolveAddress('/b/%C0%AF', 'h'), 'InvalidURI', 400);
  });

  it('applies the key limit to URL keys: 1024 bytes pass, 1025 are KeyTooLongError', () => {
    assert.equal(resolveAddress('/bk1/' + 'k'.repeat(1024), 'h').key!.length, 1024);
    expectThrow(
      () => resolveAddress('/bk1/' + 'k'.repeat(1025), 'h'),
      'KeyTooLongError',
      400,
      'Your key is too long.',
    );
    assert.equal(validateKey('é'.repeat(512)), 'é'.repeat(512));
    expectThrow(() => validateKey('é'.repeat(512) + 'x'), 'KeyTooLongError', 400);
    expectThrow(
      () => validateKey('\ud800'),
      'InvalidArgument',
      400,
      'The object key is not valid UTF-8.',
    );
  });

  it('parses x-amz-copy-source with and without a leading slash and versionId', () => {
    assert.deepEqual(parseCopySource('bk1/dir/a%20b'), {
      bucket: 'bk1',
      key: 'dir/a b',
      versionId: undefined,
    });
    assert.deepEqual(parseCopySource('/bk1/../x?versionId=v%2B1'), {
      bucket: 'bk1',
      key: '../x',
      versionId: 'v+1',
    });
    assert.deepEqual(parseCopySource('bk1/k%3Fq'), {
      bucket: 'bk1',
      key: 'k?q',
      versionId: undefined,
    });
    expectThrow(
      () => parseCopySource('bk1'),
      'InvalidArgument',
      400,
      "Invalid copy source: it must be 'bucket/key'.",
    );
    expectThrow(() => parseCopySource('bk1/k?acl'), 'InvalidArgument', 400);
    expectThrow(() => parseCopySource('Bad_Bucket/k'), 'InvalidBucketName', 400);
  });
});

describe('60 gateway request: bucket names and limits', () => {
  it('accepts valid names and explains each invalid one', () => {
    for (const ok of ['abc', 'my-bucket.2', 'a'.repeat(63), '1bucket', 'b-1.c-2', 'a.-b'])
      assert.equal(validateBucketName(ok), ok);
    const bad: Array<[string, RegExp]> = [
      ['ab', /3\.\.63/],
      ['a'.repeat(64), /3\.\.63/],
      ['My-Bucket', /lowercase/],
      ['my_bucket', /lowercase/],
      ['-bucket', /start and end/],
      ['bucket-', /start and end/],
      ['a..b', /two adjacent dots/],
      ['192.168.1.1', /IP address/],
      ['xn--bucket', /prefix 'xn--' reserved/],
      ['sthree-x', /prefix 'sthree-' reserved/],
      ['bucket-s3alias', /suffix '-s3alias' reserved/],
      ['bucket--ol-s3', /suffix '--ol-s3' reserved/],
    ];
    for (const [name, why] of bad) {
      assert.match(bucketNameProblem(name)!, why, name);
      expectThrow(() => validateBucketName(name), 'InvalidBucketName', 400);
    }
  });

  it('part numbers are 1..10000', () => {
    assert.equal(parsePartNumber('1'), 1);
    assert.equal(parsePartNumber('10000'), 10000);
    for (const bad of ['0', '10001', '-1', '1.5', '', 'x', '100000']) {
      expectThrow(
        () => parsePartNumber(bad),
        'InvalidArgument',
        400,
        'Part number must be an integer between 1 and 10000, inclusive',
      );
    }
  });

  it('extracts x-amz-meta-* lower-cased, and caps names+values at 2048 UTF-8 bytes', () => {
    assert.deepEqual(
      extractUserMetadata({
        'x-amz-meta-mtime': '1700000000',
        'x-amz-meta-s3cmd-attrs': 'uid:0/gid:0',
        'content-type': 'x',
        'x-amz-meta-multi': ['a', 'b'],
      }),
      { mtime: '1700000000', multi: 'a,b', 's3cmd-attrs': 'uid:0/gid:0' },
    );
    const exact = { 'x-amz-meta-k': 'v'.repeat(2047) };
    assert.equal(extractUserMetadata(exact).k!.length, 2047);
    expectThrow(
      () => extractUserMetadata({ 'x-amz-meta-k': 'v'.repeat(2048) }),
      'MetadataTooLarge',
      400,
      'Your metadata headers exceed the maximum allowed metadata size.',
    );
    // UTF-8 bytes, not characters: 1023 'é' (2046 bytes) + name 'k' = 2047.
    extractUserMetadata({ 'x-amz-meta-k': 'é'.repeat(1023) });
    expectThrow(
      () => extractUserMetadata({ 'x-amz-meta-kk': 'é'.repeat(1024) }),
      'MetadataTooLarge',
      400,
    );
  });
});

describe('60 gateway request: routing', () => {
  const route = (method: string, url: string, headers: Record<string, string> = {}): Operation =>
    parseRequest({ method, url, headers: { host: '127.0.0.1:9000', ...headers } }).operation;

  it('routes every issue-6 operation, as real clients send it', () => {
    const cases: Array<[string, string, Operation, Record<string, string>?]> = [
      ['GET', '/', 'ListBuckets'],
      ['PUT', '/bk1/', 'CreateBucket'],
      ['HEAD', '/bk1', 'HeadBucket'],
      ['DELETE', '/bk1', 'DeleteBucket'],
      ['GET', '/bk1?location', 'GetBucketLocation'],
      ['GET', '/bk1?policy', 'GetBucketPolicy'],
      ['GET', '/bk1?cors', 'GetBucketCors'],
      ['PUT', '/bk1?cors', 'PutBucketCors'],
      ['DELETE', '/bk1?cors', 'DeleteBucketCors'],
      ['GET', '/bk1?acl', 'GetBucketAcl'],
      ['GET', '/bk1/k?acl', 'GetObjectAcl'],
      ['GET', '/bk1?versioning', 'GetBucketVersioning'],
      ['PUT', '/bk1?versioning', 'PutBucketVersioning'],
      ['GET', '/bk1/?delimiter=%2F', 'ListObjects'],
      ['GET', '/bk1?delimiter=&max-keys=1000&prefix=', 'ListObjects'],
      ['GET', '/bk1?list-type=2&prefix=&delimiter=%2F&encoding-type=url', 'ListObjectsV2'],
      ['GET', '/bk1?versions', 'ListObjectVersions'],
      ['GET', '/bk1?uploads&delimiter=&max-uploads=1000&prefix=k', 'ListMultipartUploads'],
      ['POST', '/bk1?delete=', 'DeleteObjects'],
      ['POST', '/bk1?delete', 'DeleteObjects'],
      ['PUT', '/bk1/k?x-id=PutObject', 'PutObject'],
      ['PUT', '/bk1/k?x-id=CopyObject', 'CopyObject', { 'x-amz-copy-source': 'bk1/src' }],
      ['GET', '/bk1/k?x-id=GetObject', 'GetObject'],
      ['GET', '/bk1/k?partNumber=2', 'GetObject'],
      ['GET', '/bk1/k?response-content-type=text%2Fplain&versionId=v1', 'GetObject'],
      ['HEAD', '/bk1/k', 'HeadObject'],
      ['DELETE', '/bk1/k', 'DeleteObject'],
      ['POST', '/bk1/k?uploads=', 'CreateMultipartUpload'],
      ['POST', '/bk1/k?uploads', 'CreateMultipartUpload'],
      ['PUT', '/bk1/k?partNumber=3&uploadId=u&x-id=UploadPart', 'UploadPart'],
      [
        'PUT',
        '/bk1/k?partNumber=3&uploadId=u',
        'UploadPartCopy',
        { 'x-amz-copy-source': 'bk1/src' },
      ],
      ['POST', '/bk1/k?uploadId=u', 'CompleteMultipartUpload'],
      ['DELETE', '/bk1/k?uploadId=u', 'AbortMultipartUpload'],
      ['GET', '/bk1/k?uploadId=u&max-parts=10', 'ListParts'],
      ['PUT', '/bk1?lifecycle', 'PutBucketLifecycleConfiguration'],
      ['GET', '/bk1?lifecycle', 'GetBucketLifecycleConfiguration'],
      ['DELETE', '/bk1?lifecycle', 'DeleteBucketLifecycle'],
    ];
    for (const [method, url, operation, headers] of cases)
      assert.equal(route(method, url, headers), operation, `${method} ${url}`);
  });

  it('answers 501 NotImplemented for other sub-resources and 405 for missing methods', () => {
    for (const url of ['/bk1?logging', '/bk1/k?tagging', '/bk1/k?retention', '/bk1?website']) {
      expectThrow(
        () => route('GET', url),
        'NotImplemented',
        501,
        /sub-resource is not implemented/,
      );
    }
    // OPTIONS is a CORS preflight, answered by the server before routing.
    expectThrow(() => route('OPTIONS', '/bk1/k'), 'MethodNotAllowed', 405);
    expectThrow(() => route('POST', '/bk1?cors'), 'MethodNotAllowed', 405);
    // s3cmd reads ?policy and ?acl; writing them is not implemented.
    for (const [method, url] of [
      ['PUT', '/bk1?policy'],
      ['PUT', '/bk1?acl'],
      ['PUT', '/bk1/k?acl'],
    ] as const) {
      expectThrow(
        () => route(method, url),
        'NotImplemented',
        501,
        /sub-resource is not implemented/,
      );
    }
    expectThrow(
      () => route('POST', '/bk1'),
      'NotImplemented',
      501,
      'POST Object (browser form upload) is not implemented.',
    );
    expectThrow(
      () => route('PUT', '/'),
      'MethodNotAllowed',
      405,
      'The PUT method is not allowed against service.',
    );
    expectThrow(() => route('PATCH', '/bk1/k'), 'MethodNotAllowed', 405);
    expectThrow(() => route('DELETE', '/bk1?versions'), 'MethodNotAllowed', 405);
    expectThrow(
      () => route('GET', '/bk1?list-type=3'),
      'InvalidArgument',
      400,
      "list-type must be 2, got '3'.",
    );
    expectThrow(
      () => route('PUT', '/bk1/k?uploadId=u'),
      'InvalidRequest',
      400,
      'UploadPart needs a partNumber.',
    );
    expectThrow(() => route('PUT', '/bk1/k?partNumber=1'), 'InvalidRequest', 400);
    expectThrow(() => route('GET', '/bk1?uploadId=u'), 'InvalidRequest', 400);
  });

  it('routes on the same parsed query the signature covered', () => {
    const r = parseRequest({
      method: 'GET',
      url: '/bk1/k?a=1&a=2&empty=&flag',
      headers: { host: 'h' },
    });
    assert.deepEqual(r.query, [
      { name: 'a', value: '1', hasEquals: true },
      { name: 'a', value: '2', hasEquals: true },
      { name: 'empty', value: '', hasEquals: true },
      { name: 'flag', value: '', hasEquals: false },
    ]);
    expectThrow(() => queryValue(r.query, 'a'), 'InvalidArgument', 400, 'a given more than once.');
    assert.equal(queryValue(r.query, 'empty'), '');
    assert.equal(queryValue(r.query, 'missing'), undefined);
    expectThrow(
      () => parseRequest({ method: 'GET', url: '/bk1', headers: { host: ['a', 'b'] } }),
      'InvalidRequest',
      400,
    );
  });
});

describe('60 gateway request: Range', () => {
  const partial = (start: number, end: number, size: number) => ({
    kind: 'partial',
    start,
    end,
    contentRange: `bytes ${start}-${end}/${size}`,
  });
  it('serves a-b, a- and -n, clamping past the end', () => {
    assert.deepEqual(parseRange('bytes=0-9', 100), partial(0, 9, 100));
    assert.deepEqual(parseRange('bytes=90-200', 100), partial(90, 99, 100));
    assert.deepEqual(parseRange('bytes=10-', 100), partial(10, 99, 100));
    assert.deepEqual(parseRange('bytes=-10', 100), partial(90, 99, 100));
    assert.deepEqual(parseRange('bytes=-1000', 100), partial(0, 99, 100));
    assert.deepEqual(parseRange('bytes=99-99', 100), partial(99, 99, 100));
    assert.deepEqual(parseRange('bytes = 1 - 2', 100), partial(1, 2, 100));
  });

  it('answers 416 InvalidRange for unsatisfiable ranges, including any range of an empty object', () => {
    for (const [header, size] of [
      ['bytes=100-', 100],
      ['bytes=100-200', 100],
      ['bytes=-0', 100],
      ['bytes=0-', 0],
      ['bytes=-5', 0],
    ] as const) {
      expectThrow(
        () => parseRange(header, size),
        'InvalidRange',
        416,
        'The requested range cannot be satisfied.',
      );
    }
  });

  it('ignores headers that do not parse, and multiple ranges: the whole object', () => {
    for (const header of [
      undefined,
      'bytes=5-2',
      'items=0-1',
      'bytes=a-b',
      'bytes=-',
      'bytes=0-1,5-9',
      'bytes=' + '1'.repeat(300) + '-',
      'bytes=1234567890123456-',
    ]) {
      assert.deepEqual(parseRange(header, 100), { kind: 'whole' }, String(header));
    }
  });

  it('x-amz-copy-source-range must be bytes=a-b inside the source', () => {
    assert.deepEqual(parseCopySourceRange('bytes=0-4', 10), { start: 0, end: 4 });
    expectThrow(() => parseCopySourceRange('bytes=0-', 10), 'InvalidArgument', 400);
    expectThrow(() => parseCopySourceRange('bytes=5-4', 10), 'InvalidArgument', 400);
    expectThrow(
      () => parseCopySourceRange('bytes=0-10', 10),
      'InvalidRange',
      416,
      'Range specified is not valid for source object of size: 10',
    );
  });
});

describe('60 gateway request: conditional headers', () => {
  const object = { etag: '"abc"', lastModified: new Date('2026-11-22T12:00:00.700Z') };
  const at = (s: string) => new Date(s).toUTCString();
  const before = at('2026-11-22T11:59:59Z');
  const same = at('2026-11-22T12:00:00Z');
  const after = at('2026-11-22T12:00:01Z');

  it('If-Match: strong comparison, lists and *, quotes optional', () => {
    for (const h of ['"abc"', 'abc', '"x", "abc"', '*'])
      assert.equal(evaluateReadConditions('GET', { 'if-match': h }, object), 'proceed', h);
    for (const h of ['"abd"', 'W/"abc"'])
      assert.equal(evaluateReadConditions('GET', { 'if-match': h }, object), 412, h);
  });

  it('If-None-Match: weak comparison, 304 on GET/HEAD, 412 on other methods', () => {
    assert.equal(evaluateReadConditions('GET', { 'if-none-match': 'W/"abc"' }, object), 304);
    assert.equal(evaluateReadConditions('HEAD', { 'if-none-match': '*' }, object), 304);
    assert.equal(evaluateReadConditions('DELETE', { 'if-none-match': '"abc"' }, object), 412);
    assert.equal(evaluateReadConditions('GET', { 'if-none-match': '"other"' }, object), 'proceed');
  });

  it('dates compare at one-second resolution; invalid dates are ignored', () => {
    assert.equal(evaluateReadConditions('GET', { 'if-modified-since': same }, object), 304);
    assert.equal(evaluateReadConditions('GET', { 'if-modified-since': after }, object), 304);
    assert.equal(evaluateReadConditions('GET', { 'if-modified-since': before }, object), 'proceed');
    assert.equal(evaluateReadConditions('GET', { 'if-unmodified-since': same }, object), 'proceed');
    assert.equal(evaluateReadConditions('GET', { 'if-unmodified-since': before }, object), 412);
    assert.equal(
      evaluateReadConditions('GET', { 'if-modified-since': 'not a date' }, object),
      'proceed',
    );
    assert.equal(
      evaluateReadConditions('GET', { 'if-unmodified-since': 'garbage' }, object),
      'proceed',
    );
  });

  it('follows RFC 9110 precedence, as S3 documents', () => {
    // If-Match true + If-Unmodified-Since false -> 200 (the date is not evaluated).
    assert.equal(
      evaluateReadConditions('GET', { 'if-match': '"abc"', 'if-unmodified-since': before }, object),
      'proceed',
    );
    // If-None-Match false (ETag matches) + If-Modified-Since true (modified) -> 304.
    assert.equal(
      evaluateReadConditions(
        'GET',
        { 'if-none-match': '"abc"', 'if-modified-since': before },
        object,
      ),
      304,
    );
    // If-None-Match true (no match) + If-Modified-Since false -> 200 (the date is not evaluated).
    assert.equal(
      evaluateReadConditions(
        'GET',
        { 'if-none-match': '"zzz"', 'if-modified-since': after },
        object,
      ),
      'proceed',
    );
    // A failing If-Match wins over a matching If-None-Match.
    assert.equal(
      evaluateReadConditions('GET', { 'if-match': '"zzz"', 'if-none-match': '"abc"' }, object),
      412,
    );
    expectThrow(
      () => assertReadConditions('GET', { 'if-none-match': '"abc"' }, object),
      'NotModified',
      304,
    );
    expectThrow(
      () => assertReadConditions('GET', { 'if-match': '"zzz"' }, object),
      'PreconditionFailed',
      412,
    );
  });

  it('copy-source conditions fail with 412 only', () => {
    assert.equal(
      evaluateCopySourceConditions({ 'x-amz-copy-source-if-none-match': '"abc"' }, object),
      412,
    );
    assert.equal(
      evaluateCopySourceConditions({ 'x-amz-copy-source-if-modified-since': after }, object),
      412,
    );
    assert.equal(
      evaluateCopySourceConditions({ 'x-amz-copy-source-if-match': 'abc' }, object),
      'proceed',
    );
    assert.equal(evaluateCopySourceConditions({ 'if-match': '"zzz"' }, object), 'proceed');
  });

  it('write conditions: If-None-Match * and one If-Match ETag', () => {
    assert.deepEqual(parseWriteConditions({}), { ifMatch: undefined, ifNoneMatch: false });
    assert.deepEqual(parseWriteConditions({ 'if-none-match': '*' }), {
      ifMatch: undefined,
      ifNoneMatch: true,
    });
    assert.deepEqual(parseWriteConditions({ 'if-match': '"abc"' }), {
      ifMatch: 'abc',
      ifNoneMatch: false,
    });
    expectThrow(() => parseWriteConditions({ 'if-none-match': '"abc"' }), 'NotImplemented', 501);
    expectThrow(() => parseWriteConditions({ 'if-match': '"a", "b"' }), 'InvalidArgument', 400);
  });
});

describe('60 gateway request: response-* overrides', () => {
  it('maps each override to its header and refuses header injection', () => {
    const q = parseQuery(
      'response-content-type=text%2Fplain&response-content-disposition=attachment%3B%20filename%3D%22a.txt%22&response-cache-control=no-cache&response-content-language=fr&response-expires=Thu%2C%2001%20Dec%202026%2016%3A00%3A00%20GMT&response-content-encoding=gzip&x-id=GetObject',
    );
    assert.deepEqual(responseOverrides(q), {
      'content-type': 'text/plain',
      'content-disposition': 'attachment; filename="a.txt"',
      'cache-control': 'no-cache',
      'content-language': 'fr',
      expires: 'Thu, 01 Dec 2026 16:00:00 GMT',
      'content-encoding': 'gzip',
    });
    expectThrow(
      () => responseOverrides(parseQuery('response-content-type=a%0D%0ASet-Cookie%3A%20x')),
      'InvalidArgument',
      400,
    );
    expectThrow(
      () => responseOverrides(parseQuery('response-content-type=%E6%97%A5')),
      'InvalidArgument',
      400,
    );
    expectThrow(
      () => responseOverrides(parseQuery('response-content-type=a&response-content-type=b')),
      'InvalidArgument',
      400,
    );
  });
});

describe('60 gateway request: the router covers every operation', () => {
  it('routeOperation never returns something outside OPERATIONS', () => {
    const seen = new Set<Operation>();
    for (const method of ['GET', 'PUT', 'POST', 'DELETE', 'HEAD']) {
      for (const url of [
        '/',
        '/bk1',
        '/bk1/k',
        '/bk1?uploads',
        '/bk1/k?uploads',
        '/bk1/k?uploadId=u&partNumber=1',
        '/bk1/k?uploadId=u',
        '/bk1?delete',
        '/bk1?versioning',
        '/bk1?replication',
        '/bk1?notification',
        '/bk1?versions',
        '/bk1?location',
        '/bk1?list-type=2',
        '/bk1?policy',
        '/bk1?cors',
        '/bk1?acl',
        '/bk1/k?acl',
        '/bk1?lifecycle',
      ]) {
        for (const copy of [false, true]) {
          try {
            seen.add(
              routeOperation(
                method,
                resolveAddress(url.split('?')[0]!, 'h'),
                parseQuery(url.split('?')[1] ?? ''),
                copy ? { 'x-amz-copy-source': 'b/k' } : {},
              ),
            );
          } catch (e) {
            assert.ok(e instanceof S3Error && [405, 400, 501].includes(e.statusCode), String(e));
          }
        }
      }
    }
    assert.deepEqual([...seen].sort(), [...OPERATIONS].sort());
  });
});
