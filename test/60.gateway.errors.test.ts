import { strict as assert } from 'node:assert';
import { AbortError, NATIVE_STATUS_CODES, TesseraError } from '../lib/errors';
import {
  S3Error,
  S3_ERRORS,
  STORE_CODE_TO_S3,
  renderErrorResponse,
  renderErrorXml,
  toS3Error,
} from '../lib/gateway/errors';

describe('60 gateway errors: one table from code to status', () => {
  it('carries the statuses of ECOSYSTEM.md 3.5', () => {
    const expected: Record<string, number> = {
      NoSuchBucket: 404,
      NoSuchKey: 404,
      NoSuchUpload: 404,
      NoSuchBucketPolicy: 404,
      AccessDenied: 403,
      SignatureDoesNotMatch: 403,
      InvalidAccessKeyId: 403,
      RequestTimeTooSkewed: 403,
      BucketAlreadyOwnedByYou: 409,
      BucketNotEmpty: 409,
      OperationAborted: 409,
      ConditionalRequestConflict: 409,
      PreconditionFailed: 412,
      InvalidRange: 416,
      EntityTooSmall: 400,
      EntityTooLarge: 400,
      InvalidPart: 400,
      InvalidPartOrder: 400,
      BadDigest: 400,
      InvalidArgument: 400,
      InvalidBucketName: 400,
      XAmzContentSHA256Mismatch: 400,
      IncompleteBody: 400,
      MethodNotAllowed: 405,
      NotImplemented: 501,
      SlowDown: 503,
      InternalError: 500,
      KeyTooLongError: 400,
      MetadataTooLarge: 400,
      MalformedXML: 400,
      MissingContentLength: 411,
      NotModified: 304,
    };
    for (const [code, status] of Object.entries(expected)) {
      assert.equal(S3_ERRORS[code as keyof typeof S3_ERRORS].status, status, code);
      assert.equal(new S3Error(code as keyof typeof S3_ERRORS).statusCode, status, code);
    }
  });

  it('maps every native store code, and the TS-only ones, explicitly', () => {
    for (const code of NATIVE_STATUS_CODES) {
      if (code === 'OK') continue;
      const s3 = toS3Error(new TesseraError(code, 'detail'));
      const direct = code in S3_ERRORS;
      assert.ok(direct || code in STORE_CODE_TO_S3, `${code} is not mapped`);
      if (!direct) assert.equal(s3.code, STORE_CODE_TO_S3[code]);
    }
    const cases: Array<[string, string, number]> = [
      ['ERR_STORE_QUORUM', 'ServiceUnavailable', 503],
      ['ERR_STORE_LOCKED', 'ServiceUnavailable', 503],
      ['ERR_STORE_CLOSED', 'ServiceUnavailable', 503],
      ['ERR_STORE_CORRUPT', 'InternalError', 500],
      ['ERR_STORE_IO', 'InternalError', 500],
      ['ERR_STORE_INTERNAL', 'InternalError', 500],
      ['ERR_STORE_BINDING', 'InternalError', 500],
      ['ERR_STORE_NO_SPACE', 'InsufficientStorage', 507],
      ['ERR_STORE_UNSUPPORTED', 'NotImplemented', 501],
      ['ERR_INVALID_ARG_VALUE', 'InvalidArgument', 400],
      ['ERR_OUT_OF_RANGE', 'InvalidArgument', 400],
      ['NoSuchKey', 'NoSuchKey', 404],
      ['PreconditionFailed', 'PreconditionFailed', 412],
    ];
    for (const [from, code, status] of cases) {
      const s3 = toS3Error(new TesseraError(from, 'store detail /data/drive-1/seg'));
      assert.equal(s3.code, code, from);
      assert.equal(s3.statusCode, status, from);
      assert.ok(s3 instanceof TesseraError);
    }
  });

  it('hides internal store messages and keeps argument messages', () => {
    assert.equal(
      toS3Error(new TesseraError('ERR_STORE_IO', 'pwrite /data/drive-2/seg-7: EIO')).message,
      'We encountered an internal error. Please try again.',
    );
    assert.equal(
      toS3Error(new TesseraError('ERR_INVALID_ARG_VALUE', 'maxKeys must be >= 0')).message,
      'maxKeys must be >= 0',
    );
    assert.equal(toS3Error(new Error('boom')).code, 'InternalError');
    assert.equal(toS3Error('string thrown').statusCode, 500);
    assert.equal(toS3Error(new AbortError(AbortSignal.abort())).code, 'RequestTimeout');
    assert.equal(toS3Error(new TesseraError('ERR_SOMETHING_NEW', 'x')).code, 'InternalError');
    // S3 codes from the store: caller-facing messages pass, 5xx ones do not.
    const tooLong = toS3Error(
      new TesseraError('KeyTooLongError', 'object key is 1025 bytes of UTF-8; the limit is 1024'),
    );
    assert.equal(tooLong.message, 'object key is 1025 bytes of UTF-8; the limit is 1024');
    assert.equal(tooLong.statusCode, 400);
    assert.equal(
      toS3Error(new TesseraError('InternalError', 'segment 7 at /data')).message,
      'We encountered an internal error. Please try again.',
    );
  });

  it('renders Code, Message, details, Resource and RequestId, escaped', () => {
    const xml = renderErrorXml(new S3Error('NoSuchKey', undefined, { Key: 'a<&>b' }), {
      resource: '/bucket/a<&>b',
      requestId: 'REQ1',
    });
    assert.equal(
      xml,
      '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>' +
        '<Key>a&lt;&amp;&gt;b</Key><Resource>/bucket/a&lt;&amp;&gt;b</Resource><RequestId>REQ1</RequestId></Error>',
    );
  });

  it('HEAD errors and 304 have no body; others are application/xml with a length', () => {
    const ctx = { resource: '/b/k', requestId: 'R' };
    const head = renderErrorResponse('HEAD', new S3Error('NoSuchKey'), ctx);
    assert.deepEqual(head, { status: 404, headers: { 'x-amz-request-id': 'R' }, body: null });
    const notModified = renderErrorResponse('GET', new S3Error('NotModified'), ctx);
    assert.equal(notModified.status, 304);
    assert.equal(notModified.body, null);
    const get = renderErrorResponse('GET', new TesseraError('ERR_STORE_QUORUM', 'x'), ctx);
    assert.equal(get.status, 503);
    assert.equal(get.headers['content-type'], 'application/xml');
    assert.equal(get.headers['content-length'], String(get.body!.length));
    assert.match(get.body!.toString(), /<Code>ServiceUnavailable<\/Code>/);
  });
});
