/**
 * Checksums and the HTTP system headers an object keeps besides its
 * Content-Type. Checksums have their own field in the object record. The
 * record has no fields for Cache-Control, Content-Disposition,
 * Content-Encoding, Content-Language and Expires, so they ride in the
 * metadata map under the reserved prefix `x-tessera-h-`: callers cannot
 * write such names, and every ObjectInfo the Store API returns has them
 * moved out of `metadata` into `headers`. Known limit (docs/store.md): they
 * share the record's 2 KiB metadata budget with user metadata.
 */
import { TesseraError } from '../errors';
import type { ChecksumAlgorithm, ChecksumMap, ObjectHeaders } from './types';
import { decodePartSizes, PART_SIZES_ENTRY } from './multipart_layout';
import { RESERVED_METADATA_PREFIX, validateSystemValue } from './validate';

const RESERVED_HEADER_PREFIX = `${RESERVED_METADATA_PREFIX}h-`;

/** ObjectHeaders field -> HTTP header name (the stored name after the prefix). */
const HEADER_FIELDS: ReadonlyArray<readonly [keyof ObjectHeaders, string]> = [
  ['cacheControl', 'cache-control'],
  ['contentDisposition', 'content-disposition'],
  ['contentEncoding', 'content-encoding'],
  ['contentLanguage', 'content-language'],
  ['expires', 'expires'],
];

/** Base64 length of each algorithm's digest (4, 4, 8, 20 and 32 bytes). */
export const CHECKSUM_BASE64_LENGTH: Readonly<Record<ChecksumAlgorithm, number>> = {
  crc32: 8,
  crc32c: 8,
  crc64nvme: 12,
  sha1: 28,
  sha256: 44,
};

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** `{ crc32: 'base64', ... }`; undefined or `{}` mean none. */
export function validateChecksums(value: unknown): ChecksumMap | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TesseraError(
      'InvalidArgument',
      `checksums must be an object of base64 strings, got ${value === null ? 'null' : typeof value}`,
    );
  }
  const result: ChecksumMap = {};
  let count = 0;
  for (const [name, digest] of Object.entries(value)) {
    if (!Object.hasOwn(CHECKSUM_BASE64_LENGTH, name)) {
      throw new TesseraError(
        'InvalidArgument',
        `checksum algorithm must be one of crc32, crc32c, crc64nvme, sha1, sha256, got ${JSON.stringify(name)}`,
      );
    }
    const algorithm = name as ChecksumAlgorithm;
    const length = CHECKSUM_BASE64_LENGTH[algorithm];
    if (
      typeof digest !== 'string' ||
      digest.length !== length ||
      !BASE64.test(digest) ||
      Buffer.from(digest, 'base64').toString('base64') !== digest
    ) {
      throw new TesseraError(
        'InvalidArgument',
        `checksums.${algorithm} must be ${length} characters of base64, got ${typeof digest === 'string' ? JSON.stringify(digest.slice(0, 60)) : typeof digest}`,
      );
    }
    result[algorithm] = digest;
    count++;
  }
  return count === 0 ? undefined : result;
}

/** Validated headers as reserved metadata entries. */
export function headerEntries(headers: unknown): Record<string, string> {
  if (headers === undefined) return {};
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) {
    throw new TesseraError(
      'InvalidArgument',
      `headers must be an object, got ${headers === null ? 'null' : typeof headers}`,
    );
  }
  const known = new Set(HEADER_FIELDS.map(([field]) => field as string));
  for (const name of Object.keys(headers)) {
    if (!known.has(name)) {
      throw new TesseraError(
        'InvalidArgument',
        `headers.${name} is not one of ${[...known].join(', ')}`,
      );
    }
  }
  const entries: Record<string, string> = {};
  for (const [field, name] of HEADER_FIELDS) {
    const value = validateSystemValue(
      `headers.${field}`,
      (headers as Record<string, unknown>)[field],
    );
    if (value !== undefined) entries[RESERVED_HEADER_PREFIX + name] = value;
  }
  return entries;
}

/** Splits a stored metadata map into user metadata, system headers and the part layout. */
export function splitStoredMetadata(stored: Record<string, string>): {
  metadata: Record<string, string>;
  headers: ObjectHeaders | undefined;
  parts: { count: number; sizes?: number[] } | undefined;
} {
  let headers: ObjectHeaders | undefined;
  let reserved = false;
  for (const name in stored) {
    if (name.startsWith(RESERVED_METADATA_PREFIX)) {
      reserved = true;
      break;
    }
  }
  if (!reserved) return { metadata: stored, headers: undefined, parts: undefined };
  const metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(stored)) {
    if (!name.startsWith(RESERVED_METADATA_PREFIX)) metadata[name] = value;
  }
  for (const [field, name] of HEADER_FIELDS) {
    const value = stored[RESERVED_HEADER_PREFIX + name];
    if (value !== undefined) (headers ??= {})[field] = value;
  }
  return { metadata, headers, parts: decodePartSizes(stored[PART_SIZES_ENTRY]) };
}
