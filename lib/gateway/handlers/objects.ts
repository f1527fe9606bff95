/**
 * Object operations: PutObject, GetObject, HeadObject, DeleteObject,
 * DeleteObjects and CopyObject, each on the public Store API.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { S3Error } from '../errors';
import { percentDecode } from '../request/uri';
import { textElement } from '../xml/escape';
import { SINGLE_PUT_BYTES_MAX } from '../../store/limits';
import { resolveRange } from '../../store/range';
import type { ByteRange, ChecksumMap, ObjectInfo } from '../../store/types';
import { validateBucketName } from '../../store/validate';
import { TesseraError } from '../../errors';
import { assertReadConditions, evaluateCopySourceConditions } from '../request/conditional';
import { parseRange } from '../request/range';
import { type RequestContext, header, isoDate, quoteEtag, sendEmpty, sendXml } from './context';
import { setListHeader } from '../object_headers';
import { MULTIPART_BUCKET } from './multipart_store';
import {
  attributesFromRequest,
  objectEtag,
  partCount,
  partSizes,
  objectHeaderList,
  userMetadata,
} from './object_meta';
import { refuseUnsupportedWriteHeaders } from './unsupported_headers';
import { readMiss } from './delete_marker';
import { type DecodedBodyResult, decodeRequestBody, readSmallBody } from './request_body';
import { parseDelete } from '../xml/requests';
import { S3_XMLNS } from '../xml/escape';

/** PUT bodies up to this size (declared) are decoded into one Buffer; larger ones stream. */
const SMALL_BODY_BYTES_MAX = 256 * 1024;
/**
 * GETs of objects up to this size read record and body in one engine call
 * and answer with one write; larger ones stream. 1 MiB is the store's stream
 * piece, so a whole read holds no more memory than a stream would.
 */
const WHOLE_GET_BYTES_MAX = 1024 * 1024;
const WITH_BODY = { withBodyUpTo: WHOLE_GET_BYTES_MAX } as const;
/** DeleteObjects takes at most this many keys (S3). */
export const DELETE_OBJECTS_KEYS_MAX = 1000;

const RESPONSE_OVERRIDES: ReadonlyArray<readonly [string, string]> = [
  ['response-content-type', 'content-type'],
  ['response-content-language', 'content-language'],
  ['response-expires', 'expires'],
  ['response-cache-control', 'cache-control'],
  ['response-content-disposition', 'content-disposition'],
  ['response-content-encoding', 'content-encoding'],
];

/** If-Match / If-None-Match of a write, as the store takes them. */
export function writeConditions(ctx: RequestContext): { ifMatch?: string; ifNoneMatch?: '*' } {
  const ifNoneMatch = header(ctx, 'if-none-match');
  const ifMatch = header(ctx, 'if-match');
  if (ifNoneMatch !== undefined && ifMatch !== undefined) {
    throw new S3Error('NotImplemented', 'If-Match and If-None-Match cannot be combined on a write');
  }
  if (ifNoneMatch !== undefined) {
    if (ifNoneMatch.trim() !== '*') {
      throw new S3Error('NotImplemented', "If-None-Match on a write supports only '*'");
    }
    return { ifNoneMatch: '*' };
  }
  if (ifMatch !== undefined) {
    const tag = ifMatch.trim().replace(/^"(.*)"$/, '$1');
    if (tag === '') throw new S3Error('InvalidArgument', 'If-Match needs an ETag');
    return { ifMatch: tag };
  }
  return {};
}

function versionIdParam(ctx: RequestContext): { versionId?: string } {
  const versionId = ctx.params.get('versionId');
  if (versionId === undefined) return {};
  if (versionId === '')
    throw new S3Error('InvalidArgument', 'Version id cannot be the empty string');
  return { versionId };
}

function missing(ctx: RequestContext, versioned: boolean): S3Error {
  return versioned
    ? new S3Error('NoSuchVersion', undefined, {
        Key: ctx.key!,
        VersionId: ctx.params.get('versionId')!,
      })
    : new S3Error('NoSuchKey', undefined, { Key: ctx.key! });
}

/** The verified checksum of a decoded body, as Bucket.put takes it. */
export function checksumMap(result: DecodedBodyResult): ChecksumMap {
  if (result.checksum === undefined) return {};
  return { [result.checksum.algorithm.toLowerCase()]: result.checksum.value };
}

/** The content length the client declared (decoded length for aws-chunked), if any. */
function declaredLength(ctx: RequestContext): number | undefined {
  const text = header(ctx, 'x-amz-decoded-content-length') ?? header(ctx, 'content-length');
  return text !== undefined && /^\d{1,15}$/.test(text) ? Number(text) : undefined;
}

/** Decodes a small body whole (the decoder still enforces the declared length). */
async function collectBody(ctx: RequestContext, result: DecodedBodyResult): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of decodeRequestBody(ctx, { maxBytes: SMALL_BODY_BYTES_MAX, result })) {
    chunks.push(chunk);
    total += chunk.length;
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
}

export async function putObject(ctx: RequestContext): Promise<void> {
  const attributes = attributesFromRequest(ctx);
  const conditions = writeConditions(ctx);
  const result: DecodedBodyResult = { bytes: 0 };
  const bucket = ctx.store.bucket(ctx.bucket!);
  const declared = declaredLength(ctx);
  let put;
  if (declared !== undefined && declared <= SMALL_BODY_BYTES_MAX) {
    // A small body with a known length: one Buffer and the store's one-call put.
    const bytes = await collectBody(ctx, result);
    put = await bucket.put(ctx.key!, bytes, {
      ...attributes,
      checksums: checksumMap(result),
      ...conditions,
    });
  } else {
    // The verified checksum (from a header or an aws-chunked trailer) is known
    // once the body has ended; Bucket.put awaits it before committing.
    let bodyEnded!: (checksums: ChecksumMap) => void;
    const checksums = new Promise<ChecksumMap>((resolve) => (bodyEnded = resolve));
    async function* body(): AsyncGenerator<Buffer> {
      yield* decodeRequestBody(ctx, { maxBytes: SINGLE_PUT_BYTES_MAX, result });
      bodyEnded(checksumMap(result));
    }
    put = await bucket.put(ctx.key!, Readable.from(body()), {
      ...attributes,
      checksums,
      ...conditions,
    });
  }
  ctx.res.setHeader('etag', quoteEtag(put.etag));
  if (put.versionId !== 'null') ctx.res.setHeader('x-amz-version-id', put.versionId);
  if (result.checksum !== undefined) {
    ctx.res.setHeader(
      `x-amz-checksum-${result.checksum.algorithm.toLowerCase()}`,
      result.checksum.value,
    );
  }
  sendEmpty(ctx, 200);
}

/** GetObject and HeadObject. */
export async function getObject(ctx: RequestContext): Promise<void> {
  const bucket = ctx.store.bucket(ctx.bucket!);
  const version = versionIdParam(ctx);
  // The body of an object up to 1 MiB comes with its record (one engine
  // call, or the read cache); HEAD needs none.
  const info = await bucket.head(
    ctx.key!,
    ctx.method !== 'GET'
      ? version
      : version.versionId === undefined
        ? WITH_BODY
        : { ...version, withBodyUpTo: WHOLE_GET_BYTES_MAX },
  );
  if (!info) {
    throw await readMiss(
      ctx,
      bucket,
      version.versionId,
      missing(ctx, version.versionId !== undefined),
    );
  }
  const etag = objectEtag(info);
  try {
    assertReadConditions(ctx.method, ctx.req.headersDistinct, {
      etag,
      lastModified: info.lastModified,
    });
  } catch (error) {
    // A 304 carries the validators (setObjectHeaders sets them otherwise).
    ctx.res.setHeader('etag', quoteEtag(etag));
    ctx.res.setHeader('last-modified', info.lastModified.toUTCString());
    throw error;
  }
  const partNumberText = ctx.params.get('partNumber');
  const rangeText = header(ctx, 'range');
  let span = { start: 0, end: info.size - 1 };
  let ranged = false;
  let partial = false;
  try {
    if (partNumberText !== undefined) {
      if (rangeText !== undefined) {
        throw new S3Error(
          'InvalidRequest',
          'Cannot specify both Range header and partNumber query parameter',
        );
      }
      span = resolveRange(partRange(info, partNumberText), info.size);
      ranged = true;
      partial = partCount(info) > 1;
    } else {
      const range = parseRange(rangeText, info.size);
      if (range.kind === 'partial') {
        span = { start: range.start, end: range.end };
        ranged = partial = true;
      }
    }
  } catch (error) {
    if (error instanceof TesseraError && error.code === 'InvalidRange') {
      ctx.res.setHeader('content-range', `bytes */${info.size}`);
      if (partNumberText !== undefined) throw error;
      throw new S3Error('InvalidRange', undefined, {
        RangeRequested: rangeText ?? '',
        ActualObjectSize: String(info.size),
      });
    }
    throw error;
  }
  // Every header of the answer in one flat list and one writeHead: no
  // setHeader per header (ctx.baseHeaders are the pipeline's own).
  const headers = objectHeaderList(ctx, info, partial ? span : undefined);
  const replication = ctx.store.replication;
  if (replication !== undefined) {
    const status = await replication.objectStatus(
      ctx.bucket!,
      ctx.key!,
      info.versionId,
      (info as { sequence?: number }).sequence,
    );
    if (status !== undefined) headers.push('x-amz-replication-status', status);
  }
  if (ctx.query.length > 0) {
    for (const [param, name] of RESPONSE_OVERRIDES) {
      const value = ctx.params.get(param);
      if (value !== undefined) setListHeader(headers, name, value);
    }
  }
  const length = info.size === 0 ? 0 : span.end - span.start + 1;
  setListHeader(headers, 'content-length', String(length));
  const status = partial ? 206 : 200;
  if (ctx.method === 'HEAD' || length === 0) {
    ctx.res.writeHead(status, headers).end();
    return;
  }
  if (info.body !== undefined) {
    const bytes = ranged ? info.body.subarray(span.start, span.end + 1) : info.body;
    ctx.sentBytes += bytes.length;
    ctx.res.writeHead(status, headers).end(bytes);
    return;
  }
  // The head above is the version served: no second lookup.
  const selected = { info, ...(ranged ? { range: { start: span.start, end: span.end } } : {}) };
  if (length <= WHOLE_GET_BYTES_MAX) {
    // One read and one write: cheaper than a stream for bodies up to a piece.
    const whole = await bucket.get(ctx.key!, selected);
    if (!whole) throw missing(ctx, version.versionId !== undefined);
    ctx.sentBytes += whole.body.length;
    ctx.res.writeHead(status, headers).end(whole.body);
    return;
  }
  const found = await bucket.getStream(ctx.key!, selected);
  if (!found) throw missing(ctx, version.versionId !== undefined);
  ctx.sentBytes += length;
  ctx.res.writeHead(status, headers);
  await pipeline(found.stream, ctx.res);
}

function partRange(info: ObjectInfo, text: string): ByteRange {
  const partNumber = /^\d{1,5}$/.test(text) ? Number(text) : 0;
  if (partNumber < 1 || partNumber > 10_000) {
    throw new S3Error(
      'InvalidArgument',
      'Part number must be an integer between 1 and 10000, inclusive',
    );
  }
  const count = partCount(info);
  if (partNumber > count) {
    throw new S3Error('InvalidRange', 'The requested partnumber is not satisfiable');
  }
  if (count === 1) return { start: 0 };
  const sizes = partSizes(info);
  if (sizes === undefined) {
    throw new S3Error(
      'NotImplemented',
      'this object was assembled from too many unequal parts to address one',
    );
  }
  let start = 0;
  for (let i = 0; i < partNumber - 1; i++) start += sizes[i]!;
  return { start, end: start + sizes[partNumber - 1]! - 1 };
}

export async function deleteObject(ctx: RequestContext): Promise<void> {
  const result = await ctx.store.bucket(ctx.bucket!).delete(ctx.key!, versionIdParam(ctx));
  if (result.versionId !== undefined && result.versionId !== 'null') {
    ctx.res.setHeader('x-amz-version-id', result.versionId);
  }
  if (result.deleteMarker) ctx.res.setHeader('x-amz-delete-marker', 'true');
  sendEmpty(ctx, 204);
}

export async function deleteObjects(ctx: RequestContext): Promise<void> {
  // Keys in the body are validated like URL keys and stay inside this bucket (CVE-2026-58372).
  const request = parseDelete(await readSmallBody(ctx, ctx.config.xmlBytesMax));
  const quiet = request.quiet;
  const bucket = ctx.store.bucket(ctx.bucket!);
  // Missing bucket fails the whole request, as S3 does.
  if (!(await ctx.store.getBucket(ctx.bucket!)))
    throw new S3Error('NoSuchBucket', undefined, { BucketName: ctx.bucket! });
  let out = '';
  for (const { key, versionId } of request.objects) {
    try {
      const result = await bucket.delete(key, versionId !== undefined ? { versionId } : {});
      if (quiet) continue;
      out += '<Deleted>' + textElement('Key', key);
      if (versionId !== undefined) out += textElement('VersionId', versionId);
      if (result.deleteMarker) {
        out += textElement('DeleteMarker', 'true');
        if (result.versionId !== undefined)
          out += textElement('DeleteMarkerVersionId', result.versionId);
      }
      out += '</Deleted>';
    } catch (error) {
      const code = error instanceof TesseraError ? error.code : 'InternalError';
      const message = error instanceof Error ? error.message : String(error);
      out +=
        '<Error>' +
        textElement('Key', key) +
        (versionId !== undefined ? textElement('VersionId', versionId) : '') +
        textElement('Code', code.startsWith('ERR_') ? 'InternalError' : code) +
        textElement('Message', message) +
        '</Error>';
    }
  }
  sendXml(ctx, 200, `<DeleteResult xmlns="${S3_XMLNS}">${out}</DeleteResult>`);
}

export interface CopySource {
  bucket: string;
  key: string;
  versionId?: string;
}

/** `x-amz-copy-source`: URL-encoded `bucket/key`, optional leading '/', optional `?versionId=`. */
export function parseCopySource(ctx: RequestContext): CopySource {
  const raw = header(ctx, 'x-amz-copy-source')!;
  const q = raw.indexOf('?');
  const path = percentDecode(q < 0 ? raw : raw.slice(0, q), false).replace(/^\//, '');
  let versionId: string | undefined;
  if (q >= 0) {
    const query = new URLSearchParams(raw.slice(q + 1));
    versionId = query.get('versionId') ?? undefined;
    if (versionId === '')
      throw new S3Error('InvalidArgument', 'Version id cannot be the empty string');
  }
  const slash = path.indexOf('/');
  if (slash <= 0 || slash === path.length - 1) {
    throw new S3Error(
      'InvalidArgument',
      'Copy Source must mention the source bucket and key: sourcebucket/sourcekey',
    );
  }
  const bucket = path.slice(0, slash);
  try {
    validateBucketName(bucket);
  } catch {
    throw new S3Error(
      'InvalidArgument',
      'Copy Source must mention the source bucket and key: sourcebucket/sourcekey',
    );
  }
  if (bucket === MULTIPART_BUCKET) throw new S3Error('AccessDenied');
  return { bucket, key: path.slice(slash + 1), ...(versionId !== undefined ? { versionId } : {}) };
}

/** Head of the copy source after its `x-amz-copy-source-if-*` conditions. */
export async function copySourceInfo(ctx: RequestContext, source: CopySource): Promise<ObjectInfo> {
  const info = await ctx.store
    .bucket(source.bucket)
    .head(source.key, source.versionId !== undefined ? { versionId: source.versionId } : {});
  if (!info) {
    throw source.versionId !== undefined
      ? new S3Error('NoSuchVersion', undefined, { Key: source.key, VersionId: source.versionId })
      : new S3Error('NoSuchKey', undefined, { Key: source.key });
  }
  if (
    evaluateCopySourceConditions(ctx.req.headersDistinct, {
      etag: objectEtag(info),
      lastModified: info.lastModified,
    }) === 412
  ) {
    throw new S3Error('PreconditionFailed', undefined, { Condition: 'x-amz-copy-source-if-*' });
  }
  return info;
}

export async function copyObject(ctx: RequestContext): Promise<void> {
  const source = parseCopySource(ctx);
  const directive = (header(ctx, 'x-amz-metadata-directive') ?? 'COPY').toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE') {
    throw new S3Error('InvalidArgument', 'Unknown metadata directive.');
  }
  // Any request body is ignored; drain it so the connection stays usable.
  ctx.continueBody();
  ctx.req.resume();
  const info = await copySourceInfo(ctx, source);
  if (
    directive === 'COPY' &&
    source.bucket === ctx.bucket &&
    source.key === ctx.key &&
    source.versionId === undefined
  ) {
    throw new S3Error(
      'InvalidRequest',
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
    );
  }
  refuseUnsupportedWriteHeaders(ctx);
  // The body is copied as is, so its checksums still hold; the multipart layout does not.
  const attributes =
    directive === 'COPY'
      ? {
          metadata: userMetadata(info),
          ...(info.contentType !== undefined ? { contentType: info.contentType } : {}),
          ...(info.headers !== undefined ? { headers: info.headers } : {}),
        }
      : attributesFromRequest(ctx);
  const found = await ctx.store
    .bucket(source.bucket)
    .getStream(source.key, { versionId: info.versionId });
  if (!found) throw new S3Error('NoSuchKey', undefined, { Key: source.key });
  const destination = ctx.store.bucket(ctx.bucket!);
  const put = await destination.put(ctx.key!, found.stream, {
    ...attributes,
    ...(info.checksums !== undefined ? { checksums: info.checksums } : {}),
    ...writeConditions(ctx),
  });
  const written = await destination.head(ctx.key!, { versionId: put.versionId });
  if (info.versionId !== 'null') ctx.res.setHeader('x-amz-copy-source-version-id', info.versionId);
  if (put.versionId !== 'null') ctx.res.setHeader('x-amz-version-id', put.versionId);
  sendXml(
    ctx,
    200,
    `<CopyObjectResult xmlns="${S3_XMLNS}">` +
      textElement('LastModified', isoDate(written?.lastModified ?? new Date())) +
      textElement('ETag', quoteEtag(put.etag)) +
      '</CopyObjectResult>',
  );
}
