/**
 * Multipart upload operations over MultipartStore (see multipart_store.ts
 * for the storage design): Create, UploadPart, UploadPartCopy, Complete,
 * Abort, ListParts, ListMultipartUploads.
 */
import { Readable } from 'node:stream';
import { S3Error } from '../errors';
import { parseChecksumAlgorithm } from '../payload/checksums';
import { S3_XMLNS, textElement } from '../xml/escape';
import { parseCopySourceRange } from '../request/range';
import {
  type RequestContext,
  OWNER_ID,
  OWNER_NAME,
  header,
  isoDate,
  quoteEtag,
  sendEmpty,
  sendXml,
} from './context';
import { PART_NUMBER_MAX, type StoredPart } from './multipart_store';
import { multipartEtag } from '../object_headers';
import { attributesFromRequest } from './object_meta';
import { copySourceInfo, parseCopySource, writeConditions } from './objects';
import { type DecodedBodyResult, decodeRequestBody, readSmallBody } from './request_body';
import { parseCompleteMultipartUpload } from '../xml/requests';

/** A part is at most 5 GiB (S3). */
const PART_BYTES_MAX = 5 * 1024 ** 3;
const LIST_MAX = 1000;

function uploadIdParam(ctx: RequestContext): string {
  return ctx.params.get('uploadId') ?? '';
}

function partNumberParam(ctx: RequestContext): number {
  const text = ctx.params.get('partNumber') ?? '';
  const n = /^\d{1,5}$/.test(text) ? Number(text) : 0;
  if (n < 1 || n > PART_NUMBER_MAX) {
    throw new S3Error(
      'InvalidArgument',
      `Part number must be an integer between 1 and ${PART_NUMBER_MAX}, inclusive`,
      {
        ArgumentName: 'partNumber',
        ArgumentValue: text,
      },
    );
  }
  return n;
}

function owner(element: string): string {
  return (
    `<${element}>` +
    textElement('ID', OWNER_ID) +
    textElement('DisplayName', OWNER_NAME) +
    `</${element}>`
  );
}

export async function createMultipartUpload(ctx: RequestContext): Promise<void> {
  if (!(await ctx.store.getBucket(ctx.bucket!))) {
    throw new S3Error('NoSuchBucket', undefined, { BucketName: ctx.bucket! });
  }
  const attributes = attributesFromRequest(ctx);
  const algorithm = header(ctx, 'x-amz-checksum-algorithm');
  const record = await ctx.multipart.create({
    bucket: ctx.bucket!,
    key: ctx.key!,
    ...attributes,
    ...(algorithm !== undefined ? { checksumAlgorithm: parseChecksumAlgorithm(algorithm) } : {}),
  });
  if (record.checksumAlgorithm !== undefined)
    ctx.res.setHeader('x-amz-checksum-algorithm', record.checksumAlgorithm);
  sendXml(
    ctx,
    200,
    `<InitiateMultipartUploadResult xmlns="${S3_XMLNS}">` +
      textElement('Bucket', ctx.bucket!) +
      textElement('Key', ctx.key!) +
      textElement('UploadId', record.uploadId) +
      '</InitiateMultipartUploadResult>',
  );
}

export async function uploadPart(ctx: RequestContext): Promise<void> {
  const partNumber = partNumberParam(ctx);
  const record = await ctx.multipart.get(ctx.bucket!, uploadIdParam(ctx), ctx.key);
  const result: DecodedBodyResult = { bytes: 0 };
  const body = decodeRequestBody(ctx, { maxBytes: PART_BYTES_MAX, result });
  const stored = await ctx.multipart.putPart(record.uploadId, partNumber, body, {});
  ctx.res.setHeader('etag', quoteEtag(stored.etag));
  if (result.checksum !== undefined) {
    ctx.res.setHeader(
      `x-amz-checksum-${result.checksum.algorithm.toLowerCase()}`,
      result.checksum.value,
    );
  }
  sendEmpty(ctx, 200);
}

export async function uploadPartCopy(ctx: RequestContext): Promise<void> {
  const partNumber = partNumberParam(ctx);
  const record = await ctx.multipart.get(ctx.bucket!, uploadIdParam(ctx), ctx.key);
  const source = parseCopySource(ctx);
  ctx.continueBody();
  ctx.req.resume();
  const info = await copySourceInfo(ctx, source);
  const rangeText = header(ctx, 'x-amz-copy-source-range');
  let span = { start: 0, end: info.size - 1 };
  if (rangeText !== undefined) span = parseCopySourceRange(rangeText, info.size);
  const found = await ctx.store.bucket(source.bucket).getStream(source.key, {
    versionId: info.versionId,
    ...(rangeText !== undefined ? { range: span } : {}),
  });
  if (!found) throw new S3Error('NoSuchKey', undefined, { Key: source.key });
  const stored = await ctx.multipart.putPart(
    record.uploadId,
    partNumber,
    found.stream as AsyncIterable<Buffer>,
    {},
  );
  if (info.versionId !== 'null') ctx.res.setHeader('x-amz-copy-source-version-id', info.versionId);
  sendXml(
    ctx,
    200,
    `<CopyPartResult xmlns="${S3_XMLNS}">` +
      textElement('LastModified', isoDate(new Date())) +
      textElement('ETag', quoteEtag(stored.etag)) +
      '</CopyPartResult>',
  );
}

function normalizeEtag(text: string): string {
  return text
    .trim()
    .replace(/^"(.*)"$/, '$1')
    .toLowerCase();
}

export async function completeMultipartUpload(ctx: RequestContext): Promise<void> {
  const record = await ctx.multipart.get(ctx.bucket!, uploadIdParam(ctx), ctx.key);
  // Order (InvalidPartOrder) and shape are checked by the protocol layer's parser.
  const requested = parseCompleteMultipartUpload(
    await readSmallBody(ctx, ctx.config.xmlBytesMax),
  ).map((part) => ({ partNumber: part.partNumber, etag: normalizeEtag(part.etag) }));
  const stored = new Map<number, StoredPart>();
  for (const part of await ctx.multipart.listParts(record.uploadId))
    stored.set(part.partNumber, part);
  const chosen = requested.map((want) => {
    const part = stored.get(want.partNumber);
    if (part === undefined || part.etag.toLowerCase() !== want.etag) {
      throw new S3Error('InvalidPart', undefined, {
        PartNumber: String(want.partNumber),
        ETag: want.etag,
      });
    }
    return part;
  });
  for (const part of chosen.slice(0, -1)) {
    if (part.size < ctx.config.partBytesMin) {
      throw new S3Error('EntityTooSmall', undefined, {
        ProposedSize: String(part.size),
        MinSizeAllowed: String(ctx.config.partBytesMin),
        PartNumber: String(part.partNumber),
      });
    }
  }
  const sizes = chosen.map((p) => p.size);
  // S3's multipart ETag from the stored part MD5s: no part is re-read.
  const etag = multipartEtag(chosen.map((p) => Buffer.from(p.etag, 'hex')));
  const put = await ctx.store.bucket(ctx.bucket!).put(
    record.key,
    Readable.from(
      ctx.multipart.assemble(
        record.uploadId,
        requested.map((p) => p.partNumber),
      ),
    ),
    {
      ...(record.contentType !== undefined ? { contentType: record.contentType } : {}),
      ...(record.headers !== undefined ? { headers: record.headers } : {}),
      metadata: record.metadata,
      multipart: { partEtags: chosen.map((p) => p.etag), partSizes: sizes },
      ...writeConditions(ctx),
    },
  );
  await ctx.multipart.remove(record);
  if (put.versionId !== 'null') ctx.res.setHeader('x-amz-version-id', put.versionId);
  sendXml(
    ctx,
    200,
    `<CompleteMultipartUploadResult xmlns="${S3_XMLNS}">` +
      textElement('Location', `/${ctx.bucket!}/${record.key}`) +
      textElement('Bucket', ctx.bucket!) +
      textElement('Key', record.key) +
      textElement('ETag', quoteEtag(etag)) +
      '</CompleteMultipartUploadResult>',
  );
}

export async function abortMultipartUpload(ctx: RequestContext): Promise<void> {
  const record = await ctx.multipart.get(ctx.bucket!, uploadIdParam(ctx), ctx.key);
  await ctx.multipart.remove(record);
  sendEmpty(ctx, 204);
}

export async function listParts(ctx: RequestContext): Promise<void> {
  const record = await ctx.multipart.get(ctx.bucket!, uploadIdParam(ctx), ctx.key);
  const maxText = ctx.params.get('max-parts');
  const maxParts = maxText === undefined ? LIST_MAX : Math.min(Number(maxText), LIST_MAX);
  const markerText = ctx.params.get('part-number-marker') ?? '0';
  if (!Number.isSafeInteger(maxParts) || maxParts < 0 || !/^\d{1,5}$/.test(markerText)) {
    throw new S3Error('InvalidArgument', 'max-parts and part-number-marker must be integers');
  }
  const marker = Number(markerText);
  const after = (await ctx.multipart.listParts(record.uploadId)).filter(
    (p) => p.partNumber > marker,
  );
  const shown = after.slice(0, maxParts);
  const truncated = after.length > shown.length;
  let parts = '';
  for (const p of shown) {
    parts +=
      '<Part>' +
      textElement('PartNumber', p.partNumber) +
      textElement('LastModified', isoDate(p.lastModified)) +
      textElement('ETag', quoteEtag(p.etag)) +
      textElement('Size', p.size) +
      '</Part>';
  }
  sendXml(
    ctx,
    200,
    `<ListPartsResult xmlns="${S3_XMLNS}">` +
      textElement('Bucket', ctx.bucket!) +
      textElement('Key', record.key) +
      textElement('UploadId', record.uploadId) +
      owner('Initiator') +
      owner('Owner') +
      textElement('StorageClass', 'STANDARD') +
      textElement('PartNumberMarker', marker) +
      (shown.length > 0 ? textElement('NextPartNumberMarker', shown.at(-1)!.partNumber) : '') +
      textElement('MaxParts', maxParts) +
      textElement('IsTruncated', truncated) +
      (record.checksumAlgorithm !== undefined
        ? textElement('ChecksumAlgorithm', record.checksumAlgorithm)
        : '') +
      parts +
      '</ListPartsResult>',
  );
}

function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export async function listMultipartUploads(ctx: RequestContext): Promise<void> {
  if (!(await ctx.store.getBucket(ctx.bucket!))) {
    throw new S3Error('NoSuchBucket', undefined, { BucketName: ctx.bucket! });
  }
  const prefix = ctx.params.get('prefix') ?? '';
  const delimiter = ctx.params.get('delimiter') || undefined;
  const keyMarker = ctx.params.get('key-marker') ?? '';
  const uploadIdMarker = ctx.params.get('upload-id-marker') ?? '';
  const maxText = ctx.params.get('max-uploads');
  const maxUploads = maxText === undefined ? LIST_MAX : Math.min(Number(maxText), LIST_MAX);
  if (!Number.isSafeInteger(maxUploads) || maxUploads < 0) {
    throw new S3Error('InvalidArgument', 'max-uploads must be an integer');
  }
  const uploads = (await ctx.multipart.listUploads(ctx.bucket!))
    .filter((u) => u.key.startsWith(prefix))
    .filter((u) => {
      if (keyMarker === '') return true;
      const order = byteCompare(u.key, keyMarker);
      return order > 0 || (order === 0 && uploadIdMarker !== '' && u.uploadId > uploadIdMarker);
    })
    .sort((a, b) => byteCompare(a.key, b.key) || a.uploadId.localeCompare(b.uploadId));
  let body = '';
  let count = 0;
  let truncated = false;
  let lastPrefix: string | undefined;
  let next: { key: string; uploadId: string } | undefined;
  for (const u of uploads) {
    if (delimiter !== undefined) {
      const cut = u.key.indexOf(delimiter, prefix.length);
      if (cut >= 0) {
        const rolled = u.key.slice(0, cut + delimiter.length);
        if (rolled === lastPrefix) continue;
        if (count === maxUploads) {
          truncated = true;
          break;
        }
        lastPrefix = rolled;
        body += '<CommonPrefixes>' + textElement('Prefix', rolled) + '</CommonPrefixes>';
        count++;
        continue;
      }
    }
    if (count === maxUploads) {
      truncated = true;
      break;
    }
    body +=
      '<Upload>' +
      textElement('Key', u.key) +
      textElement('UploadId', u.uploadId) +
      owner('Initiator') +
      owner('Owner') +
      textElement('StorageClass', 'STANDARD') +
      textElement('Initiated', u.initiated) +
      '</Upload>';
    count++;
    next = { key: u.key, uploadId: u.uploadId };
  }
  sendXml(
    ctx,
    200,
    `<ListMultipartUploadsResult xmlns="${S3_XMLNS}">` +
      textElement('Bucket', ctx.bucket!) +
      textElement('KeyMarker', keyMarker) +
      textElement('UploadIdMarker', uploadIdMarker) +
      (truncated && next
        ? textElement('NextKeyMarker', next.key) + textElement('NextUploadIdMarker', next.uploadId)
        : '') +
      textElement('Prefix', prefix) +
      (delimiter !== undefined ? textElement('Delimiter', delimiter) : '') +
      textElement('MaxUploads', maxUploads) +
      textElement('IsTruncated', truncated) +
      body +
      '</ListMultipartUploadsResult>',
  );
}
