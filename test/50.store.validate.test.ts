import { strict as assert } from 'node:assert';
import { TesseraError } from '../lib/errors';
import {
  normalizeEtag,
  validateBucketName,
  validateConditions,
  validateKey,
  validateMetadata,
  validateSystemValue,
} from '../lib/store/validate';

function rejects(fn: () => unknown, code: string, message: string | RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof TesseraError, `not a TesseraError: ${String(error)}`);
    assert.equal(error.code, code);
    if (typeof message === 'string') assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}

describe('50 store: validation of caller input', () => {
  describe('bucket names (S3 rules)', () => {
    it('accepts valid names, including the 3 and 63 character limits', () => {
      for (const name of ['abc', 'my-bucket.v2', '0ab', 'a'.repeat(63), 'photos']) {
        assert.equal(validateBucketName(name), name);
      }
    });

    it('rejects each broken rule with InvalidBucketName and names the rule', () => {
      rejects(
        () => validateBucketName('ab'),
        'InvalidBucketName',
        'bucket name "ab" must be 3..63 characters long',
      );
      rejects(
        () => validateBucketName('a'.repeat(64)),
        'InvalidBucketName',
        /must be 3\.\.63 characters long/,
      );
      rejects(() => validateBucketName('My-Bucket'), 'InvalidBucketName', /only lowercase letters/);
      rejects(() => validateBucketName('my_bucket'), 'InvalidBucketName', /only lowercase letters/);
      rejects(
        () => validateBucketName('-abc'),
        'InvalidBucketName',
        /start and end with a letter or digit/,
      );
      rejects(() => validateBucketName('abc-'), 'InvalidBucketName', /start and end/);
      rejects(
        () => validateBucketName('a..b'),
        'InvalidBucketName',
        'bucket name "a..b" must not contain two adjacent dots',
      );
      rejects(() => validateBucketName('192.168.1.1'), 'InvalidBucketName', /IP address/);
      rejects(() => validateBucketName('xn--abc'), 'InvalidBucketName', /reserved by S3/);
      rejects(
        () => validateBucketName('sthree-x'),
        'InvalidBucketName',
        /prefix 'sthree-' reserved by S3/,
      );
      rejects(
        () => validateBucketName(42),
        'InvalidBucketName',
        'bucket name must be a string, got number',
      );
    });
  });

  describe('object keys', () => {
    it('accepts 1..1024 bytes of UTF-8 and keeps traversal-looking keys literal', () => {
      assert.equal(validateKey('a'), 'a');
      assert.equal(validateKey('x'.repeat(1024)), 'x'.repeat(1024));
      assert.equal(validateKey('é'.repeat(512)), 'é'.repeat(512)); // 1024 bytes
      for (const key of ['../etc/passwd', 'a//b', '..\\x', '%2e%2e/', '/leading']) {
        assert.equal(validateKey(key), key);
      }
    });

    it('rejects 1025 bytes with KeyTooLongError counting UTF-8 bytes, not characters', () => {
      rejects(
        () => validateKey('x'.repeat(1025)),
        'KeyTooLongError',
        'object key is 1025 bytes of UTF-8; the limit is 1024',
      );
      rejects(() => validateKey('é'.repeat(512) + 'x'), 'KeyTooLongError', /1025 bytes/);
    });

    it('rejects empty keys, non-strings and lone surrogates with InvalidArgument', () => {
      rejects(() => validateKey(''), 'InvalidArgument', 'object key must not be empty');
      rejects(
        () => validateKey(undefined),
        'InvalidArgument',
        'object key must be a string, got undefined',
      );
      rejects(() => validateKey('a\ud800b'), 'InvalidArgument', /lone surrogate/);
    });
  });

  describe('user metadata', () => {
    it('lower-cases names and accepts exactly 2048 bytes', () => {
      assert.deepEqual(validateMetadata({ Camera: 'x100' }), { camera: 'x100' });
      const exact = { k: 'v'.repeat(2047) };
      assert.deepEqual(validateMetadata(exact), exact);
      assert.deepEqual(validateMetadata(undefined), {});
    });

    it('rejects 2049 bytes with MetadataTooLarge', () => {
      rejects(
        () => validateMetadata({ k: 'v'.repeat(2048) }),
        'MetadataTooLarge',
        'user metadata is 2049 bytes (names and values, UTF-8); the limit is 2048',
      );
    });

    it('rejects names that cannot be HTTP headers, non-string values and duplicates', () => {
      rejects(
        () => validateMetadata({ 'bad name': 'x' }),
        'InvalidArgument',
        'metadata name "bad name" is not an HTTP token',
      );
      rejects(
        () => validateMetadata({ a: 1 }),
        'InvalidArgument',
        'metadata value of "a" must be a string, got number',
      );
      rejects(() => validateMetadata({ a: 'x\r\ny' }), 'InvalidArgument', /control characters/);
      rejects(() => validateMetadata({ A: '1', a: '2' }), 'InvalidArgument', /given twice/);
      rejects(
        () => validateMetadata([]),
        'InvalidArgument',
        'metadata must be an object of strings, got object',
      );
    });
  });

  describe('conditions and system values', () => {
    it("accepts ifNoneMatch '*' and ifMatch ETags with or without quotes", () => {
      assert.deepEqual(validateConditions({ ifNoneMatch: '*' }), { ifNoneMatch: '*' });
      assert.deepEqual(validateConditions({ ifMatch: '"abc"' }), { ifMatch: 'abc' });
      assert.deepEqual(validateConditions({}), {});
      assert.equal(normalizeEtag('"x-2"'), 'x-2');
      assert.equal(normalizeEtag('x'), 'x');
    });

    it('rejects other ifNoneMatch values, empty ifMatch and both together', () => {
      rejects(
        () => validateConditions({ ifNoneMatch: 'abc' }),
        'InvalidArgument',
        `ifNoneMatch must be '*', got "abc"`,
      );
      rejects(
        () => validateConditions({ ifMatch: '' }),
        'InvalidArgument',
        /ifMatch must be a non-empty ETag/,
      );
      rejects(
        () => validateConditions({ ifMatch: 'a', ifNoneMatch: '*' }),
        'InvalidArgument',
        'ifMatch and ifNoneMatch cannot be combined',
      );
    });

    it('checks content types', () => {
      assert.equal(validateSystemValue('contentType', 'image/jpeg'), 'image/jpeg');
      assert.equal(validateSystemValue('contentType', undefined), undefined);
      rejects(
        () => validateSystemValue('contentType', 5),
        'InvalidArgument',
        'contentType must be a string, got number',
      );
      rejects(
        () => validateSystemValue('contentType', 'a\nb'),
        'InvalidArgument',
        /control characters/,
      );
    });
  });
});
