/**
 * How S3 object attributes map onto the Store API: Content-Type, user
 * metadata (x-amz-meta-*), system headers (Bucket.put `headers`), checksums
 * (Bucket.put `checksums`) and the multipart ETag and part layout
 * (Bucket.put `multipart`) each have their place. `x-tessera-` metadata
 * names are the Store's and refused from clients.
 */
import { S3Error } from '../errors';
import { checksumModeEnabled, pushObjectResponseHeaders } from '../object_headers';
import { USER_METADATA_BYTES_MAX } from '../../store/limits';
import type { ObjectHeaders, ObjectInfo } from '../../store/types';
import type { RequestContext } from './context';
import { header } from './context';
import { refuseUnsupportedWriteHeaders } from './unsupported_headers';

export const RESERVED_PREFIX = 'x-tessera-';
const SYSTEM_HEADERS: ReadonlyArray<readonly [string, keyof ObjectHeaders]> = [
  ['cache-control', 'cacheControl'],
  ['content-disposition', 'contentDisposition'],
  ['content-encoding', 'contentEncoding'],
  ['content-language', 'contentLanguage'],
  ['expires', 'expires'],
];

export interface StoredAttributes {
  contentType?: string;
  metadata: Record<string, string>;
  headers?: ObjectHeaders;
}

/**
 * Node reads header bytes as latin1; clients send UTF-8 (S3 stores text and
 * answers non-ASCII as RFC 2047 words). Bytes that are not UTF-8 stay latin1.
 */
function utf8Text(latin1: string): string {
  // eslint-disable-next-line no-control-regex -- any ASCII, controls included, is left alone
  if (/^[\u0000-\u007f]*$/.test(latin1)) return latin1;
  const bytes = Buffer.from(latin1, 'latin1');
  const text = bytes.toString('utf8');
  return Buffer.from(text, 'utf8').equals(bytes) ? text : latin1;
}

/** Content-Type, x-amz-meta-* and the system headers of a PUT/Copy/Create request. */
export function attributesFromRequest(ctx: RequestContext): StoredAttributes {
  refuseUnsupportedWriteHeaders(ctx);
  const metadata: Record<string, string> = {};
  let userBytes = 0;
  for (const [name, value] of Object.entries(ctx.req.headers)) {
    if (!name.startsWith('x-amz-meta-') || value === undefined) continue;
    const metaName = name.slice('x-amz-meta-'.length);
    if (metaName.startsWith(RESERVED_PREFIX)) {
      throw new S3Error(
        'InvalidArgument',
        `metadata names starting with ${RESERVED_PREFIX} are reserved`,
      );
    }
    const text = utf8Text(Array.isArray(value) ? value.join(',') : value);
    metadata[metaName] = text;
    userBytes += Buffer.byteLength(metaName) + Buffer.byteLength(text);
  }
  if (userBytes > USER_METADATA_BYTES_MAX) {
    throw new S3Error(
      'MetadataTooLarge',
      `Your metadata headers are ${userBytes} bytes; the limit is ${USER_METADATA_BYTES_MAX}.`,
    );
  }
  let headers: ObjectHeaders | undefined;
  for (const [name, field] of SYSTEM_HEADERS) {
    let value = header(ctx, name);
    if (name === 'content-encoding' && value !== undefined) {
      // aws-chunked is transport framing, never part of the stored object.
      value = value
        .split(',')
        .map((v) => v.trim())
        .filter((v) => v !== '' && v.toLowerCase() !== 'aws-chunked')
        .join(', ');
      if (value === '') value = undefined;
    }
    if (value !== undefined) (headers ??= {})[field] = value;
  }
  const contentType = header(ctx, 'content-type');
  return {
    metadata,
    ...(contentType !== undefined ? { contentType } : {}),
    ...(headers !== undefined ? { headers } : {}),
  };
}

/** The client's metadata of a stored object (the Store keeps its own entries out of it). */
export function userMetadata(info: ObjectInfo): Record<string, string> {
  return info.metadata;
}

/** The ETag clients see: the Store's, `md5-of-md5s-N` for an object assembled from parts. */
export function objectEtag(info: ObjectInfo): string {
  return info.etag;
}

/** Sizes of the parts of a multipart object, or undefined when not kept. */
export function partSizes(info: ObjectInfo): number[] | undefined {
  return info.parts === undefined ? undefined : info.parts.sizes;
}

/** Number of parts of a multipart object (1 for a single put). */
export function partCount(info: ObjectInfo): number {
  return info.parts?.count ?? 1;
}

/**
 * Headers of GET/HEAD (pushObjectResponseHeaders) after the pipeline's own
 * (ctx.baseHeaders): ETag, Last-Modified, type, system headers, user
 * metadata, and the checksums on a full-object read in checksum mode.
 * `range` is the span served for a 206. A flat list for one writeHead.
 */
export function objectHeaderList(
  ctx: RequestContext,
  info: ObjectInfo,
  range: { start: number; end: number } | undefined,
): string[] {
  const parts = partCount(info);
  const stored = info.headers;
  return pushObjectResponseHeaders(
    ctx.baseHeaders.slice(),
    {
      etag: objectEtag(info),
      size: info.size,
      lastModified: info.lastModified,
      versionId: info.versionId,
      metadata: userMetadata(info),
      ...(stored !== undefined ? stored : {}),
      ...(info.contentType !== undefined ? { contentType: info.contentType } : {}),
      ...(info.checksums !== undefined ? { checksums: info.checksums } : {}),
      ...(parts > 1 ? { partsCount: parts } : {}),
    },
    {
      checksumMode:
        ctx.req.headers['x-amz-checksum-mode'] !== undefined &&
        checksumModeEnabled(ctx.req.headersDistinct),
      ...(range !== undefined ? { range } : {}),
    },
  );
}
