/**
 * How S3 object headers map onto the store's object record.
 *
 * The Store API keeps `contentType` and a string map of metadata. S3 also
 * round-trips Cache-Control, Content-Disposition, Content-Encoding,
 * Content-Language and Expires, verified checksums, and the multipart ETag
 * and part layout. Until the store grows fields for them, the gateway keeps
 * them in the metadata map under the reserved prefix `x-tessera-`, which it
 * strips from every answer and refuses in client metadata. Cost: these
 * entries count toward the store's 2 KiB metadata limit, so a client at
 * exactly 2 KiB of x-amz-meta-* that also sends a checksum is refused.
 */
import type { ServerResponse } from 'node:http';
import { S3Error } from '../errors';
import type { ChecksumAlgorithm } from '../payload/checksums';
import { USER_METADATA_BYTES_MAX } from '../../store/limits';
import type { ObjectInfo } from '../../store/types';
import type { RequestContext } from './context';
import { header, quoteEtag } from './context';

export const RESERVED_PREFIX = 'x-tessera-';
const SYSTEM_HEADERS = [
  'cache-control',
  'content-disposition',
  'content-encoding',
  'content-language',
  'expires',
] as const;
const MPU_ETAG = 'x-tessera-mpu-etag';
const MPU_PARTS = 'x-tessera-mpu-parts';
const CHECKSUM_PREFIX = 'x-tessera-checksum-';

export interface StoredAttributes {
  contentType?: string;
  metadata: Record<string, string>;
}

/** Content-Type, x-amz-meta-* and the system headers of a PUT/Copy/Create request. */
export function attributesFromRequest(ctx: RequestContext): StoredAttributes {
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
    const text = Array.isArray(value) ? value.join(',') : value;
    metadata[metaName] = text;
    userBytes += Buffer.byteLength(metaName) + Buffer.byteLength(text);
  }
  if (userBytes > USER_METADATA_BYTES_MAX) {
    throw new S3Error(
      'MetadataTooLarge',
      `Your metadata headers are ${userBytes} bytes; the limit is ${USER_METADATA_BYTES_MAX}.`,
    );
  }
  for (const name of SYSTEM_HEADERS) {
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
    if (value !== undefined) metadata[RESERVED_PREFIX + 'h-' + name] = value;
  }
  const contentType = header(ctx, 'content-type');
  return contentType === undefined ? { metadata } : { contentType, metadata };
}

/** Adds the verified checksum to stored metadata. */
export function withChecksum(
  metadata: Record<string, string>,
  checksum: { algorithm: ChecksumAlgorithm; value: string } | undefined,
): Record<string, string> {
  if (checksum === undefined) return metadata;
  return { ...metadata, [CHECKSUM_PREFIX + checksum.algorithm.toLowerCase()]: checksum.value };
}

/** Metadata with the multipart ETag and part layout, for Complete. */
export function withMultipart(
  metadata: Record<string, string>,
  etag: string,
  partSizes: readonly number[],
): Record<string, string> {
  return { ...metadata, [MPU_ETAG]: etag, [MPU_PARTS]: encodePartSizes(partSizes) };
}

/** Metadata to carry over on copy: user and system headers, never the multipart layout. */
export function copyableMetadata(info: ObjectInfo): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(info.metadata)) {
    if (name === MPU_ETAG || name === MPU_PARTS) continue;
    out[name] = value;
  }
  return out;
}

/** Only the system-header and checksum entries of stored metadata. */
export function reservedOnly(metadata: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(metadata)) {
    if (name.startsWith(RESERVED_PREFIX)) out[name] = value;
  }
  return out;
}

/** The ETag clients see: the multipart one when the object was assembled from parts. */
export function objectEtag(info: ObjectInfo): string {
  return info.metadata[MPU_ETAG] ?? info.etag;
}

/** Sizes of the parts of a multipart object, or undefined for a single-put object. */
export function partSizes(info: ObjectInfo): number[] | undefined {
  const text = info.metadata[MPU_PARTS];
  return text === undefined ? undefined : decodePartSizes(text);
}

/** `count*size+last` when uniform (the usual case), else a comma list. */
function encodePartSizes(sizes: readonly number[]): string {
  const first = sizes[0]!;
  const last = sizes[sizes.length - 1]!;
  const uniform = sizes.slice(0, -1).every((s) => s === first);
  if (uniform) return `${sizes.length}*${first}+${last}`;
  const list = sizes.join(',');
  // The layout must leave room for user metadata; without it partNumber GETs are refused.
  return list.length <= 512 ? list : `${sizes.length}`;
}

function decodePartSizes(text: string): number[] | undefined {
  const uniform = /^(\d+)\*(\d+)\+(\d+)$/.exec(text);
  if (uniform) {
    const count = Number(uniform[1]);
    const sizes = new Array<number>(count).fill(Number(uniform[2]));
    sizes[count - 1] = Number(uniform[3]);
    return sizes;
  }
  if (text.includes(',')) return text.split(',').map(Number);
  return undefined;
}

/** Number of parts of a multipart object (1 for a single put). */
export function partCount(info: ObjectInfo): number {
  const text = info.metadata[MPU_PARTS];
  if (text === undefined) return 1;
  return Number(/^\d+/.exec(text)![0]);
}

/** Headers of GET/HEAD: ETag, Last-Modified, type, system headers, user metadata, checksum. */
export function setObjectHeaders(
  res: ServerResponse,
  info: ObjectInfo,
  options: { checksumMode: boolean },
): void {
  res.setHeader('etag', quoteEtag(objectEtag(info)));
  res.setHeader('last-modified', info.lastModified.toUTCString());
  res.setHeader('accept-ranges', 'bytes');
  res.setHeader('content-type', info.contentType ?? 'binary/octet-stream');
  if (info.versionId !== 'null') res.setHeader('x-amz-version-id', info.versionId);
  for (const [name, value] of Object.entries(info.metadata)) {
    if (name.startsWith(RESERVED_PREFIX + 'h-')) {
      res.setHeader(name.slice(RESERVED_PREFIX.length + 2), value);
    } else if (name.startsWith(CHECKSUM_PREFIX)) {
      if (options.checksumMode)
        res.setHeader('x-amz-checksum-' + name.slice(CHECKSUM_PREFIX.length), value);
    } else if (!name.startsWith(RESERVED_PREFIX)) {
      res.setHeader('x-amz-meta-' + name, value);
    }
  }
  const parts = partCount(info);
  if (parts > 1) res.setHeader('x-amz-mp-parts-count', parts);
}

/** Removes the checksum header set by setObjectHeaders (ranged and part GETs must not carry it). */
export function clearChecksumHeaders(res: ServerResponse): void {
  for (const name of res.getHeaderNames()) {
    if (name.startsWith('x-amz-checksum-')) res.removeHeader(name);
  }
}
