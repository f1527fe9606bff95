/**
 * Names and limits every request is checked against, wherever the name
 * arrived from (URL, header, or XML body: CVE-2026-58372 was a key in a
 * DeleteObjects body that skipped the URL's checks).
 */
import { S3Error } from '../errors';
import type { HeaderValues } from '../auth/canonical';
import { headerValues } from '../auth/canonical';
import { OBJECT_KEY_BYTES_MAX, USER_METADATA_BYTES_MAX } from '../../store/limits';
import { bucketNameProblem, isWellFormedUnicode } from '../../store/validate';

export { bucketNameProblem };

// One source for the object model's limits: the store's.
export const object_key_bytes_max = OBJECT_KEY_BYTES_MAX;
export const user_metadata_bytes_max = USER_METADATA_BYTES_MAX;
export const part_number_max = 10000;
export const delete_objects_keys_max = 1000;

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
  if (!isWellFormedUnicode(key))
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
