/**
 * Response headers of GetObject/HeadObject from an object's stored facts:
 * ETag (quoted), Last-Modified (HTTP date), length and range, the stored
 * system headers, `x-amz-meta-*`, the version id, and the stored checksums
 * when the client sent `x-amz-checksum-mode: ENABLED` (full-object reads
 * only, as S3). `response-*` overrides are applied last.
 */
import { createHash } from 'node:crypto';
import type { HeaderValues } from './auth/canonical';
import { headerValues } from './auth/canonical';
import {
  type ChecksumAlgorithm,
  type ChecksumFunctions,
  createChecksum,
} from './payload/checksums';
import { quoteEtag } from './xml/render';

export interface StoredObjectFacts {
  readonly etag: string;
  readonly size: number;
  readonly lastModified: Date;
  /** 'null' (or undefined) for objects written while versioning was off: no header then. */
  readonly versionId?: string;
  readonly contentType?: string;
  readonly contentEncoding?: string;
  readonly contentDisposition?: string;
  readonly contentLanguage?: string;
  readonly cacheControl?: string;
  readonly expires?: string;
  /** User metadata, names without `x-amz-meta-`. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Verified checksums, base64, keyed by algorithm in either case (`crc32` or `CRC32`). */
  readonly checksums?: Readonly<Record<string, string | undefined>>;
  /** Parts of a multipart object (`x-amz-mp-parts-count`). */
  readonly partsCount?: number;
}

export interface ObjectHeaderOptions {
  /** The range served (inclusive), for a 206. */
  readonly range?: { readonly start: number; readonly end: number };
  /** Whether the client asked for checksums (`x-amz-checksum-mode: ENABLED`). */
  readonly checksumMode?: boolean;
  /** `response-*` overrides (request/overrides.ts), applied last. */
  readonly overrides?: Readonly<Record<string, string>>;
}

/** S3's Content-Type when none was stored. */
export const DEFAULT_CONTENT_TYPE = 'binary/octet-stream';

export function checksumModeEnabled(headers: HeaderValues): boolean {
  return headerValues(headers, 'x-amz-checksum-mode').some(
    (v) => v.trim().toUpperCase() === 'ENABLED',
  );
}

/**
 * A header value as it can travel: printable ASCII as is, anything else as
 * an RFC 2047 encoded word (`=?UTF-8?B?...?=`), which is what S3 returns for
 * non-ASCII user metadata.
 */
export function headerSafe(value: string): string {
  if (/^[\t\u0020-\u007e]*$/.test(value)) return value;
  return `=?UTF-8?B?${Buffer.from(value, 'utf8').toString('base64')}?=`;
}

export function objectResponseHeaders(
  object: StoredObjectFacts,
  options: ObjectHeaderOptions = {},
): Record<string, string> {
  const headers: Record<string, string> = {
    etag: quoteEtag(object.etag),
    'last-modified': object.lastModified.toUTCString(),
    'accept-ranges': 'bytes',
    'content-type': headerSafe(object.contentType ?? DEFAULT_CONTENT_TYPE),
  };
  const system: Array<[string, string | undefined]> = [
    ['content-encoding', object.contentEncoding],
    ['content-disposition', object.contentDisposition],
    ['content-language', object.contentLanguage],
    ['cache-control', object.cacheControl],
    ['expires', object.expires],
  ];
  for (const [name, value] of system) if (value !== undefined) headers[name] = headerSafe(value);
  if (options.range !== undefined) {
    headers['content-length'] = String(options.range.end - options.range.start + 1);
    headers['content-range'] = `bytes ${options.range.start}-${options.range.end}/${object.size}`;
  } else {
    headers['content-length'] = String(object.size);
  }
  if (object.versionId !== undefined && object.versionId !== 'null')
    headers['x-amz-version-id'] = object.versionId;
  if (object.partsCount !== undefined) headers['x-amz-mp-parts-count'] = String(object.partsCount);
  for (const [name, value] of Object.entries(object.metadata))
    headers[`x-amz-meta-${name}`] = headerSafe(value);
  if (options.checksumMode && options.range === undefined && object.checksums !== undefined) {
    for (const [algorithm, value] of Object.entries(object.checksums)) {
      if (value === undefined) continue;
      headers[`x-amz-checksum-${algorithm.toLowerCase()}`] = value;
      // Composite (multipart) values end in '-N'; full-object ones are plain.
      headers['x-amz-checksum-type'] = value.includes('-') ? 'COMPOSITE' : 'FULL_OBJECT';
    }
  }
  for (const [name, value] of Object.entries(options.overrides ?? {})) headers[name] = value;
  return headers;
}

/** The last date formatted: a hot object is served with the same one. */
let lastHttpDate = { ms: NaN, text: '' };

/** `Date.toUTCString()`, remembered for the last time value. */
function httpDate(date: Date): string {
  const ms = date.getTime();
  if (ms !== lastHttpDate.ms) lastHttpDate = { ms, text: date.toUTCString() };
  return lastHttpDate.text;
}

/**
 * objectResponseHeaders as a flat `[name, value, ...]` list appended to
 * `out`, for one `writeHead(status, out)` (no per-header setHeader, no
 * intermediate object). Same names, values and order; overrides replace.
 */
export function pushObjectResponseHeaders(
  out: string[],
  object: StoredObjectFacts,
  options: ObjectHeaderOptions = {},
): string[] {
  out.push(
    'etag',
    quoteEtag(object.etag),
    'last-modified',
    httpDate(object.lastModified),
    'accept-ranges',
    'bytes',
    'content-type',
    headerSafe(object.contentType ?? DEFAULT_CONTENT_TYPE),
  );
  if (object.contentEncoding !== undefined)
    out.push('content-encoding', headerSafe(object.contentEncoding));
  if (object.contentDisposition !== undefined)
    out.push('content-disposition', headerSafe(object.contentDisposition));
  if (object.contentLanguage !== undefined)
    out.push('content-language', headerSafe(object.contentLanguage));
  if (object.cacheControl !== undefined) out.push('cache-control', headerSafe(object.cacheControl));
  if (object.expires !== undefined) out.push('expires', headerSafe(object.expires));
  if (options.range !== undefined) {
    out.push(
      'content-length',
      String(options.range.end - options.range.start + 1),
      'content-range',
      `bytes ${options.range.start}-${options.range.end}/${object.size}`,
    );
  } else {
    out.push('content-length', String(object.size));
  }
  if (object.versionId !== undefined && object.versionId !== 'null')
    out.push('x-amz-version-id', object.versionId);
  if (object.partsCount !== undefined) out.push('x-amz-mp-parts-count', String(object.partsCount));
  for (const name in object.metadata)
    out.push(`x-amz-meta-${name}`, headerSafe(object.metadata[name]!));
  if (options.checksumMode && options.range === undefined && object.checksums !== undefined) {
    let type: string | undefined;
    for (const algorithm in object.checksums) {
      const value = object.checksums[algorithm];
      if (value === undefined) continue;
      setListHeader(out, `x-amz-checksum-${algorithm.toLowerCase()}`, value);
      // Composite (multipart) values end in '-N'; full-object ones are plain.
      type = value.includes('-') ? 'COMPOSITE' : 'FULL_OBJECT';
    }
    if (type !== undefined) out.push('x-amz-checksum-type', type);
  }
  if (options.overrides !== undefined)
    for (const name in options.overrides) setListHeader(out, name, options.overrides[name]!);
  return out;
}

/** Replaces `name`'s value in a flat header list, or appends it. */
export function setListHeader(out: string[], name: string, value: string): void {
  for (let i = 0; i < out.length; i += 2) {
    if (out[i] === name) {
      out[i + 1] = value;
      return;
    }
  }
  out.push(name, value);
}

/** The multipart ETag: hex MD5 of the concatenated binary part MD5s, then '-N'. */
export function multipartEtag(partMd5s: readonly Buffer[]): string {
  const hash = createHash('md5');
  for (const md5 of partMd5s) hash.update(md5);
  return `${hash.digest('hex')}-${partMd5s.length}`;
}

/**
 * A composite multipart checksum: the algorithm over the concatenated
 * binary part checksums, base64, then '-N' (what S3 returns for uploads
 * whose parts carried CRC32/CRC32C/SHA1/SHA256 checksums).
 */
export function compositeChecksum(
  algorithm: ChecksumAlgorithm,
  partChecksums: readonly string[],
  functions: ChecksumFunctions,
): string {
  const checksum = createChecksum(algorithm, functions);
  for (const value of partChecksums) checksum.update(Buffer.from(value, 'base64'));
  return `${checksum.digest().toString('base64')}-${partChecksums.length}`;
}
