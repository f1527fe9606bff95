/**
 * Validation of every caller input of the object API. Each failure throws a
 * TesseraError whose code is the S3 error code for the same mistake, with a
 * message that names the rule and the offending value.
 */
import { TesseraError } from '../errors';
import {
  BUCKET_NAME_LENGTH_MAX,
  BUCKET_NAME_LENGTH_MIN,
  OBJECT_KEY_BYTES_MAX,
  SYSTEM_METADATA_VALUE_BYTES_MAX,
  USER_METADATA_BYTES_MAX,
} from './limits';

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/;
const IPV4_LIKE = /^\d{1,3}(\.\d{1,3}){3}$/;
const RESERVED_BUCKET_PREFIXES = ['xn--', 'sthree-', 'amzn-s3-demo-'];
const RESERVED_BUCKET_SUFFIXES = ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3'];
/** HTTP token characters (RFC 9110), since names travel as x-amz-meta-<name>. */
const HTTP_TOKEN = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;
/** Header-safe values: visible ASCII and UTF-8 text without control characters. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u0008\u000a-\u001f\u007f]/;

/**
 * Names the Store keeps for itself in the metadata map (system headers, the
 * part layout): refused from callers, never returned in `metadata`, and not
 * counted in the caller's 2 KiB.
 */
export const RESERVED_METADATA_PREFIX = 'x-tessera-';

function describe(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 80 ? value.slice(0, 77) + '...' : value);
  if (value === null) return 'null';
  return typeof value;
}

/** True when the string has no unpaired UTF-16 surrogate (so it round-trips through UTF-8). */
export function isWellFormedUnicode(text: string): boolean {
  return !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text);
}

/**
 * S3's general-purpose bucket rules: 3..63 characters of lower-case letters,
 * digits, '.' and '-'; begins and ends with a letter or digit; no '..'; not
 * shaped like an IPv4 address; none of AWS's reserved prefixes or suffixes.
 * Returns what is wrong, or undefined. The gateway uses the same function.
 */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < BUCKET_NAME_LENGTH_MIN || name.length > BUCKET_NAME_LENGTH_MAX) {
    return `must be ${BUCKET_NAME_LENGTH_MIN}..${BUCKET_NAME_LENGTH_MAX} characters long`;
  }
  if (!BUCKET_NAME.test(name)) {
    return 'may contain only lowercase letters, digits, dots and hyphens, and must start and end with a letter or digit';
  }
  if (name.includes('..')) return 'must not contain two adjacent dots';
  if (IPV4_LIKE.test(name)) return 'must not be formatted as an IP address';
  for (const prefix of RESERVED_BUCKET_PREFIXES) {
    if (name.startsWith(prefix)) return `must not begin with the prefix '${prefix}' reserved by S3`;
  }
  for (const suffix of RESERVED_BUCKET_SUFFIXES) {
    if (name.endsWith(suffix)) return `must not end with the suffix '${suffix}' reserved by S3`;
  }
  return undefined;
}

/** Throws InvalidBucketName unless `name` follows bucketNameProblem's rules. */
export function validateBucketName(name: unknown): string {
  if (typeof name !== 'string') {
    throw new TesseraError(
      'InvalidBucketName',
      `bucket name must be a string, got ${describe(name)}`,
    );
  }
  const problem = bucketNameProblem(name);
  if (problem)
    throw new TesseraError('InvalidBucketName', `bucket name ${describe(name)} ${problem}`);
  return name;
}

/** Object keys: non-empty, well-formed Unicode, at most 1024 bytes of UTF-8. */
export function validateKey(key: unknown): string {
  if (typeof key !== 'string') {
    throw new TesseraError('InvalidArgument', `object key must be a string, got ${describe(key)}`);
  }
  if (key.length === 0) throw new TesseraError('InvalidArgument', 'object key must not be empty');
  if (!isWellFormedUnicode(key)) {
    throw new TesseraError(
      'InvalidArgument',
      'object key must be well-formed Unicode (it has a lone surrogate)',
    );
  }
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > OBJECT_KEY_BYTES_MAX) {
    throw new TesseraError(
      'KeyTooLongError',
      `object key is ${bytes} bytes of UTF-8; the limit is ${OBJECT_KEY_BYTES_MAX}`,
    );
  }
  return key;
}

/**
 * User metadata: names are HTTP tokens (stored lower-cased, as S3 does),
 * values header-safe strings; names and values together at most 2 KiB.
 */
export function validateMetadata(metadata: unknown): Record<string, string> {
  if (metadata === undefined) return {};
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw new TesseraError(
      'InvalidArgument',
      `metadata must be an object of strings, got ${describe(metadata)}`,
    );
  }
  const result: Record<string, string> = {};
  let bytes = 0;
  for (const [rawName, value] of Object.entries(metadata)) {
    const name = rawName.toLowerCase();
    if (!HTTP_TOKEN.test(name)) {
      throw new TesseraError(
        'InvalidArgument',
        `metadata name ${describe(rawName)} is not an HTTP token`,
      );
    }
    if (name.startsWith(RESERVED_METADATA_PREFIX)) {
      throw new TesseraError(
        'InvalidArgument',
        `metadata names starting with ${RESERVED_METADATA_PREFIX} are reserved, got ${describe(rawName)}`,
      );
    }
    if (typeof value !== 'string') {
      throw new TesseraError(
        'InvalidArgument',
        `metadata value of ${describe(rawName)} must be a string, got ${describe(value)}`,
      );
    }
    if (CONTROL_CHARACTERS.test(value) || !isWellFormedUnicode(value)) {
      throw new TesseraError(
        'InvalidArgument',
        `metadata value of ${describe(rawName)} has control characters or lone surrogates`,
      );
    }
    if (name in result) {
      throw new TesseraError(
        'InvalidArgument',
        `metadata name ${describe(name)} is given twice (names are case-insensitive)`,
      );
    }
    result[name] = value;
    bytes += Buffer.byteLength(name, 'utf8') + Buffer.byteLength(value, 'utf8');
  }
  if (bytes > USER_METADATA_BYTES_MAX) {
    throw new TesseraError(
      'MetadataTooLarge',
      `user metadata is ${bytes} bytes (names and values, UTF-8); the limit is ${USER_METADATA_BYTES_MAX}`,
    );
  }
  return result;
}

/** Content-Type and similar system metadata: a short header-safe string. */
export function validateSystemValue(field: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    throw new TesseraError('InvalidArgument', `${field} must be a string, got ${describe(value)}`);
  }
  if (CONTROL_CHARACTERS.test(value) || !isWellFormedUnicode(value)) {
    throw new TesseraError('InvalidArgument', `${field} has control characters or lone surrogates`);
  }
  if (Buffer.byteLength(value, 'utf8') > SYSTEM_METADATA_VALUE_BYTES_MAX) {
    throw new TesseraError(
      'InvalidArgument',
      `${field} is longer than ${SYSTEM_METADATA_VALUE_BYTES_MAX} bytes`,
    );
  }
  return value;
}

/** Conditional-write options: ifNoneMatch only '*', ifMatch an ETag. */
export function validateConditions(options: { ifMatch?: unknown; ifNoneMatch?: unknown }): {
  ifMatch?: string;
  ifNoneMatch?: '*';
} {
  const result: { ifMatch?: string; ifNoneMatch?: '*' } = {};
  if (options.ifNoneMatch !== undefined) {
    if (options.ifNoneMatch !== '*') {
      throw new TesseraError(
        'InvalidArgument',
        `ifNoneMatch must be '*', got ${describe(options.ifNoneMatch)}`,
      );
    }
    result.ifNoneMatch = '*';
  }
  if (options.ifMatch !== undefined) {
    if (typeof options.ifMatch !== 'string' || options.ifMatch.length === 0) {
      throw new TesseraError(
        'InvalidArgument',
        `ifMatch must be a non-empty ETag string, got ${describe(options.ifMatch)}`,
      );
    }
    result.ifMatch = normalizeEtag(options.ifMatch);
  }
  if (result.ifMatch !== undefined && result.ifNoneMatch !== undefined) {
    throw new TesseraError('InvalidArgument', 'ifMatch and ifNoneMatch cannot be combined');
  }
  return result;
}

/** ETags compare without their quotes: '"abc"' and 'abc' are the same tag. */
export function normalizeEtag(etag: string): string {
  return etag.length >= 2 && etag.startsWith('"') && etag.endsWith('"') ? etag.slice(1, -1) : etag;
}
