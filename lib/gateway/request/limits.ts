/**
 * Names and limits every request is checked against, wherever the name
 * arrived from (URL, header, or XML body: CVE-2026-58372 was a key in a
 * DeleteObjects body that skipped the URL's checks).
 */
import { S3Error } from '../errors';
import type { HeaderValues } from '../auth/canonical';
import { headerValues } from '../auth/canonical';

export const object_key_bytes_max = 1024;
export const user_metadata_bytes_max = 2048;
export const part_number_max = 10000;
export const delete_objects_keys_max = 1000;

const LONE_SURROGATE_RE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const IPV4_LIKE_RE = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

/**
 * S3's general-purpose bucket rules: 3..63 characters of lower-case letters,
 * digits, '.' and '-'; begins and ends with a letter or digit; no '..',
 * not shaped like an IPv4 address; none of AWS's reserved
 * prefixes (`xn--`, `sthree-`, `amzn-s3-demo-`) or suffixes (`-s3alias`,
 * `--ol-s3`, `.mrap`, `--x-s3`, `--table-s3`).
 */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return 'must be 3..63 characters long';
  if (!BUCKET_RE.test(name)) {
    return "must hold only lower-case letters, digits, '.' and '-', and begin and end with a letter or digit";
  }
  if (name.includes('..')) return "must not contain '..'";
  if (IPV4_LIKE_RE.test(name)) return 'must not be formatted as an IP address';
  for (const prefix of ['xn--', 'sthree-', 'amzn-s3-demo-']) {
    if (name.startsWith(prefix)) return `must not begin with the reserved prefix '${prefix}'`;
  }
  for (const suffix of ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3']) {
    if (name.endsWith(suffix)) return `must not end with the reserved suffix '${suffix}'`;
  }
  return undefined;
}

export function validateBucketName(name: string): string {
  const problem = bucketNameProblem(name);
  if (problem !== undefined) {
    throw new S3Error(
      'InvalidBucketName',
      `The specified bucket is not valid: '${name}' ${problem}.`,
      {
        BucketName: name,
      },
    );
  }
  return name;
}

/**
 * A key is any non-empty UTF-8 string of at most 1024 bytes. `..`, `//`,
 * backslashes and control characters are data, kept literally. Lone
 * surrogates cannot be UTF-8 and are refused.
 */
export function validateKey(key: string): string {
  if (key.length === 0) throw new S3Error('InvalidArgument', 'The object key must not be empty.');
  if (Buffer.byteLength(key, 'utf8') > object_key_bytes_max) {
    throw new S3Error('KeyTooLongError', undefined, {
      Size: String(Buffer.byteLength(key, 'utf8')),
      MaxSizeAllowed: String(object_key_bytes_max),
    });
  }
  if (LONE_SURROGATE_RE.test(key))
    throw new S3Error('InvalidArgument', 'The object key is not valid UTF-8.');
  return key;
}

/** Part numbers are integers 1..10000, written without sign or leading zeros' ambiguity. */
export function parsePartNumber(text: string): number {
  const n = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= part_number_max)) {
    throw new S3Error(
      'InvalidArgument',
      `Part number must be an integer between 1 and ${part_number_max}, inclusive`,
      { ArgumentName: 'partNumber', ArgumentValue: text },
    );
  }
  return n;
}

/**
 * User metadata: every `x-amz-meta-*` header, name lower-cased without the
 * prefix. The total of UTF-8 bytes of names (without the `x-amz-meta-`
 * prefix) and values must be <= 2 KiB. Repeated headers are joined with ','.
 */
export function extractUserMetadata(headers: HeaderValues): Record<string, string> {
  const metadata: Record<string, string> = {};
  let bytes = 0;
  for (const name of Object.keys(headers).sort()) {
    if (!name.startsWith('x-amz-meta-')) continue;
    const values = headerValues(headers, name);
    if (values.length === 0) continue;
    const short = name.slice('x-amz-meta-'.length).toLowerCase();
    if (short === '')
      throw new S3Error('InvalidArgument', 'A metadata header needs a name after x-amz-meta-.');
    const value = values.join(',');
    metadata[short] = value;
    bytes += Buffer.byteLength(short, 'utf8') + Buffer.byteLength(value, 'utf8');
  }
  if (bytes > user_metadata_bytes_max) {
    throw new S3Error('MetadataTooLarge', undefined, {
      Size: String(bytes),
      MaxSizeAllowed: String(user_metadata_bytes_max),
    });
  }
  return metadata;
}
