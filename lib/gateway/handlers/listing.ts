/**
 * ListObjects (V1), ListObjectsV2 and ListObjectVersions over the store's
 * paged listing. Common prefixes count toward max-keys; order is the byte
 * order of UTF-8 keys; `encoding-type=url` encodes keys, prefixes and the
 * delimiter and says so with <EncodingType>.
 */
import { S3Error } from '../errors';
import { uriEncode } from '../request/uri';
import { S3_XMLNS, textElement } from '../xml/escape';
import type { ListPage } from '../../store/types';
import { type RequestContext, OWNER_ID, OWNER_NAME, isoDate, quoteEtag, sendXml } from './context';

const MAX_KEYS_DEFAULT = 1000;

function maxKeysParam(ctx: RequestContext, name = 'max-keys'): number {
  const text = ctx.params.get(name);
  if (text === undefined) return MAX_KEYS_DEFAULT;
  if (!/^\d{1,10}$/.test(text)) {
    throw new S3Error('InvalidArgument', `Provided ${name} not an integer or within integer range`);
  }
  return Math.min(Number(text), MAX_KEYS_DEFAULT);
}

function encoder(ctx: RequestContext): (text: string) => string {
  const encoding = ctx.params.get('encoding-type');
  if (encoding === undefined) return (text) => text;
  if (encoding !== 'url')
    throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request');
  return (text) => uriEncode(text, true);
}

function owner(): string {
  return (
    '<Owner>' + textElement('ID', OWNER_ID) + textElement('DisplayName', OWNER_NAME) + '</Owner>'
  );
}

function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

async function page(
  ctx: RequestContext,
  options: {
    prefix: string;
    delimiter: string | undefined;
    startAfter?: string;
    token?: string;
    maxKeys: number;
  },
): Promise<ListPage> {
  if (options.maxKeys === 0) return { objects: [], commonPrefixes: [], isTruncated: false };
  return ctx.store.bucket(ctx.bucket!).listPage({
    prefix: options.prefix,
    maxKeys: options.maxKeys,
    ...(options.delimiter ? { delimiter: options.delimiter } : {}),
    ...(options.token !== undefined
      ? { continuationToken: options.token }
      : options.startAfter
        ? { startAfter: options.startAfter }
        : {}),
  });
}

function contents(result: ListPage, encode: (t: string) => string, withOwner: boolean): string {
  let out = '';
  for (const o of result.objects) {
    out +=
      '<Contents>' +
      textElement('Key', encode(o.key)) +
      textElement('LastModified', isoDate(o.lastModified)) +
      textElement('ETag', quoteEtag(o.etag)) +
      textElement('Size', o.size) +
      (withOwner ? owner() : '') +
      textElement('StorageClass', 'STANDARD') +
      '</Contents>';
  }
  for (const p of result.commonPrefixes) {
    out += '<CommonPrefixes>' + textElement('Prefix', encode(p)) + '</CommonPrefixes>';
  }
  return out;
}

export async function listObjectsV2(ctx: RequestContext): Promise<void> {
  const encode = encoder(ctx);
  const prefix = ctx.params.get('prefix') ?? '';
  const delimiter = ctx.params.get('delimiter') || undefined;
  const maxKeys = maxKeysParam(ctx);
  const token = ctx.params.get('continuation-token');
  const startAfter = ctx.params.get('start-after');
  if (token === '')
    throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect');
  const result = await page(ctx, {
    prefix,
    delimiter,
    maxKeys,
    ...(token !== undefined ? { token } : {}),
    ...(startAfter !== undefined ? { startAfter } : {}),
  });
  const fetchOwner = ctx.params.get('fetch-owner') === 'true';
  sendXml(
    ctx,
    200,
    `<ListBucketResult xmlns="${S3_XMLNS}">` +
      textElement('Name', ctx.bucket!) +
      textElement('Prefix', encode(prefix)) +
      (delimiter !== undefined ? textElement('Delimiter', encode(delimiter)) : '') +
      textElement('MaxKeys', maxKeys) +
      (ctx.params.has('encoding-type') ? textElement('EncodingType', 'url') : '') +
      textElement('KeyCount', result.objects.length + result.commonPrefixes.length) +
      (token !== undefined ? textElement('ContinuationToken', token) : '') +
      (startAfter !== undefined ? textElement('StartAfter', encode(startAfter)) : '') +
      textElement('IsTruncated', result.isTruncated) +
      (result.nextContinuationToken !== undefined
        ? textElement('NextContinuationToken', result.nextContinuationToken)
        : '') +
      contents(result, encode, fetchOwner) +
      '</ListBucketResult>',
  );
}

export async function listObjectsV1(ctx: RequestContext): Promise<void> {
  const encode = encoder(ctx);
  const prefix = ctx.params.get('prefix') ?? '';
  const delimiter = ctx.params.get('delimiter') || undefined;
  const maxKeys = maxKeysParam(ctx);
  const marker = ctx.params.get('marker') ?? '';
  const result = await page(ctx, { prefix, delimiter, maxKeys, startAfter: marker });
  let nextMarker: string | undefined;
  if (result.isTruncated && delimiter !== undefined) {
    const lastKey = result.objects.at(-1)?.key;
    const lastPrefix = result.commonPrefixes.at(-1);
    nextMarker =
      lastKey === undefined
        ? lastPrefix
        : lastPrefix === undefined
          ? lastKey
          : byteCompare(lastKey, lastPrefix) > 0
            ? lastKey
            : lastPrefix;
  }
  sendXml(
    ctx,
    200,
    `<ListBucketResult xmlns="${S3_XMLNS}">` +
      textElement('Name', ctx.bucket!) +
      textElement('Prefix', encode(prefix)) +
      textElement('Marker', encode(marker)) +
      (nextMarker !== undefined ? textElement('NextMarker', encode(nextMarker)) : '') +
      textElement('MaxKeys', maxKeys) +
      (delimiter !== undefined ? textElement('Delimiter', encode(delimiter)) : '') +
      (ctx.params.has('encoding-type') ? textElement('EncodingType', 'url') : '') +
      textElement('IsTruncated', result.isTruncated) +
      contents(result, encode, true) +
      '</ListBucketResult>',
  );
}

/**
 * ListObjectVersions: the store yields every version of a prefix in key
 * order (newest first within a key); this walks it from the markers, rolls
 * up common prefixes and stops after max-keys entries.
 */
export async function listObjectVersions(ctx: RequestContext): Promise<void> {
  const encode = encoder(ctx);
  const prefix = ctx.params.get('prefix') ?? '';
  const delimiter = ctx.params.get('delimiter') || undefined;
  const maxKeys = maxKeysParam(ctx);
  const keyMarker = ctx.params.get('key-marker') ?? '';
  const versionIdMarker = ctx.params.get('version-id-marker') ?? '';
  const bucket = ctx.store.bucket(ctx.bucket!);
  let body = '';
  let count = 0;
  let truncated = false;
  let lastPrefix: string | undefined;
  let next: { key: string; versionId: string } | undefined;
  let seenMarkerVersion = false;
  for await (const v of bucket.listVersions({ prefix })) {
    if (keyMarker !== '') {
      const order = byteCompare(v.key, keyMarker);
      if (order < 0) continue;
      if (order === 0) {
        // key-marker alone skips the whole key; with version-id-marker, up to that version.
        if (versionIdMarker === '' || !seenMarkerVersion) {
          if (v.versionId === versionIdMarker) seenMarkerVersion = true;
          continue;
        }
      } else if (
        delimiter !== undefined &&
        keyMarker.endsWith(delimiter) &&
        v.key.startsWith(keyMarker)
      ) {
        continue;
      }
    }
    if (delimiter !== undefined) {
      const cut = v.key.indexOf(delimiter, prefix.length);
      if (cut >= 0) {
        const rolled = v.key.slice(0, cut + delimiter.length);
        if (rolled === lastPrefix) continue;
        if (count === maxKeys) {
          truncated = true;
          break;
        }
        lastPrefix = rolled;
        body += '<CommonPrefixes>' + textElement('Prefix', encode(rolled)) + '</CommonPrefixes>';
        count++;
        next = { key: rolled, versionId: '' };
        continue;
      }
    }
    if (count === maxKeys) {
      truncated = true;
      break;
    }
    const element = v.deleteMarker ? 'DeleteMarker' : 'Version';
    body +=
      `<${element}>` +
      textElement('Key', encode(v.key)) +
      textElement('VersionId', v.versionId) +
      textElement('IsLatest', v.isLatest) +
      textElement('LastModified', isoDate(v.lastModified)) +
      (v.deleteMarker
        ? ''
        : textElement('ETag', quoteEtag(v.etag)) +
          textElement('Size', v.size) +
          textElement('StorageClass', 'STANDARD')) +
      owner() +
      `</${element}>`;
    count++;
    next = { key: v.key, versionId: v.versionId };
  }
  sendXml(
    ctx,
    200,
    `<ListVersionsResult xmlns="${S3_XMLNS}">` +
      textElement('Name', ctx.bucket!) +
      textElement('Prefix', encode(prefix)) +
      textElement('KeyMarker', encode(keyMarker)) +
      textElement('VersionIdMarker', versionIdMarker) +
      (truncated && next ? textElement('NextKeyMarker', encode(next.key)) : '') +
      (truncated && next && next.versionId !== ''
        ? textElement('NextVersionIdMarker', next.versionId)
        : '') +
      textElement('MaxKeys', maxKeys) +
      (delimiter !== undefined ? textElement('Delimiter', encode(delimiter)) : '') +
      (ctx.params.has('encoding-type') ? textElement('EncodingType', 'url') : '') +
      textElement('IsTruncated', truncated) +
      body +
      '</ListVersionsResult>',
  );
}
