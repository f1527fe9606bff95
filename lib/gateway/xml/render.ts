/**
 * S3 XML response bodies. Every value goes through `escapeXml`; with
 * `encoding-type=url`, keys, prefixes, delimiters and markers are also
 * URL-encoded (RFC 3986, '/' kept) and `<EncodingType>url</EncodingType>` is
 * included, because botocore decodes only when that element is present.
 */
import { uriEncode } from '../request/uri';
import { S3_XMLNS, XML_DECLARATION, escapeXml, textElement } from './escape';

export type EncodingType = 'url' | undefined;

export interface Owner {
  readonly id: string;
  readonly displayName: string;
}

function encodeName(value: string | undefined, encoding: EncodingType): string | undefined {
  if (value === undefined) return undefined;
  return encoding === 'url' ? uriEncode(value, true) : value;
}

function document(root: string, inner: string): string {
  return `${XML_DECLARATION}<${root} xmlns="${S3_XMLNS}">${inner}</${root}>`;
}

function iso(date: Date): string {
  return date.toISOString();
}

/** ETags are always sent quoted. */
export function quoteEtag(etag: string): string {
  return etag.startsWith('"') ? etag : `"${etag}"`;
}

function ownerXml(owner: Owner | undefined, element = 'Owner'): string {
  if (owner === undefined) return '';
  return `<${element}>${textElement('ID', owner.id)}${textElement('DisplayName', owner.displayName)}</${element}>`;
}

function checksumElements(checksum: { algorithm: string; value: string } | undefined): string {
  return checksum === undefined ? '' : textElement(`Checksum${checksum.algorithm}`, checksum.value);
}

export interface ObjectEntry {
  readonly key: string;
  readonly lastModified: Date;
  readonly etag: string;
  readonly size: number;
  readonly storageClass?: string;
  readonly owner?: Owner;
  readonly checksumAlgorithm?: string;
}

function contentsXml(entry: ObjectEntry, encoding: EncodingType): string {
  return (
    '<Contents>' +
    textElement('Key', encodeName(entry.key, encoding)) +
    textElement('LastModified', iso(entry.lastModified)) +
    textElement('ETag', quoteEtag(entry.etag)) +
    (entry.checksumAlgorithm ? textElement('ChecksumAlgorithm', entry.checksumAlgorithm) : '') +
    textElement('Size', entry.size) +
    ownerXml(entry.owner) +
    textElement('StorageClass', entry.storageClass ?? 'STANDARD') +
    '</Contents>'
  );
}

function commonPrefixesXml(prefixes: readonly string[], encoding: EncodingType): string {
  return prefixes
    .map(
      (p) => `<CommonPrefixes>${textElement('Prefix', encodeName(p, encoding))}</CommonPrefixes>`,
    )
    .join('');
}

interface ListCommon {
  readonly bucket: string;
  readonly prefix: string;
  readonly delimiter?: string;
  readonly maxKeys: number;
  readonly isTruncated: boolean;
  readonly contents: readonly ObjectEntry[];
  readonly commonPrefixes: readonly string[];
  readonly encodingType?: EncodingType;
}

export interface ListObjectsV1 extends ListCommon {
  readonly marker: string;
  /** Sent only when a delimiter was given and the listing is truncated (AWS V1 rule). */
  readonly nextMarker?: string;
}

export function renderListObjectsV1(list: ListObjectsV1): string {
  const e = list.encodingType;
  return document(
    'ListBucketResult',
    textElement('Name', list.bucket) +
      textElement('Prefix', encodeName(list.prefix, e)) +
      textElement('Marker', encodeName(list.marker, e)) +
      (list.delimiter !== undefined && list.isTruncated
        ? textElement('NextMarker', encodeName(list.nextMarker, e))
        : '') +
      textElement('MaxKeys', list.maxKeys) +
      textElement('Delimiter', encodeName(list.delimiter, e)) +
      textElement('IsTruncated', list.isTruncated) +
      (e === 'url' ? textElement('EncodingType', 'url') : '') +
      list.contents.map((c) => contentsXml(c, e)).join('') +
      commonPrefixesXml(list.commonPrefixes, e),
  );
}

export interface ListObjectsV2 extends ListCommon {
  readonly continuationToken?: string;
  readonly nextContinuationToken?: string;
  readonly startAfter?: string;
}

export function renderListObjectsV2(list: ListObjectsV2): string {
  const e = list.encodingType;
  return document(
    'ListBucketResult',
    textElement('Name', list.bucket) +
      textElement('Prefix', encodeName(list.prefix, e)) +
      textElement('ContinuationToken', list.continuationToken) +
      textElement(
        'NextContinuationToken',
        list.isTruncated ? list.nextContinuationToken : undefined,
      ) +
      textElement('StartAfter', encodeName(list.startAfter, e)) +
      textElement('KeyCount', list.contents.length + list.commonPrefixes.length) +
      textElement('MaxKeys', list.maxKeys) +
      textElement('Delimiter', encodeName(list.delimiter, e)) +
      textElement('IsTruncated', list.isTruncated) +
      (e === 'url' ? textElement('EncodingType', 'url') : '') +
      list.contents.map((c) => contentsXml(c, e)).join('') +
      commonPrefixesXml(list.commonPrefixes, e),
  );
}

export interface VersionEntry {
  readonly key: string;
  readonly versionId: string;
  readonly isLatest: boolean;
  readonly lastModified: Date;
  readonly owner?: Owner;
  /** Absent for delete markers. */
  readonly object?: {
    readonly etag: string;
    readonly size: number;
    readonly storageClass?: string;
  };
}

export interface ListVersions {
  readonly bucket: string;
  readonly prefix: string;
  readonly keyMarker: string;
  readonly versionIdMarker: string;
  readonly nextKeyMarker?: string;
  readonly nextVersionIdMarker?: string;
  readonly delimiter?: string;
  readonly maxKeys: number;
  readonly isTruncated: boolean;
  /** Versions and delete markers in key order, newest first within a key. */
  readonly entries: readonly VersionEntry[];
  readonly commonPrefixes: readonly string[];
  readonly encodingType?: EncodingType;
}

export function renderListVersions(list: ListVersions): string {
  const e = list.encodingType;
  const entries = list.entries
    .map((v) => {
      const common =
        textElement('Key', encodeName(v.key, e)) +
        textElement('VersionId', v.versionId) +
        textElement('IsLatest', v.isLatest) +
        textElement('LastModified', iso(v.lastModified));
      if (v.object === undefined)
        return `<DeleteMarker>${common}${ownerXml(v.owner)}</DeleteMarker>`;
      return (
        `<Version>${common}` +
        textElement('ETag', quoteEtag(v.object.etag)) +
        textElement('Size', v.object.size) +
        textElement('StorageClass', v.object.storageClass ?? 'STANDARD') +
        `${ownerXml(v.owner)}</Version>`
      );
    })
    .join('');
  return document(
    'ListVersionsResult',
    textElement('Name', list.bucket) +
      textElement('Prefix', encodeName(list.prefix, e)) +
      textElement('KeyMarker', encodeName(list.keyMarker, e)) +
      textElement('VersionIdMarker', list.versionIdMarker) +
      (list.isTruncated ? textElement('NextKeyMarker', encodeName(list.nextKeyMarker, e)) : '') +
      (list.isTruncated ? textElement('NextVersionIdMarker', list.nextVersionIdMarker) : '') +
      textElement('MaxKeys', list.maxKeys) +
      textElement('Delimiter', encodeName(list.delimiter, e)) +
      textElement('IsTruncated', list.isTruncated) +
      (e === 'url' ? textElement('EncodingType', 'url') : '') +
      entries +
      commonPrefixesXml(list.commonPrefixes, e),
  );
}

export function renderListBuckets(
  owner: Owner,
  buckets: ReadonlyArray<{ readonly name: string; readonly creationDate: Date }>,
): string {
  return document(
    'ListAllMyBucketsResult',
    ownerXml(owner) +
      '<Buckets>' +
      buckets
        .map(
          (b) =>
            `<Bucket>${textElement('Name', b.name)}${textElement('CreationDate', iso(b.creationDate))}</Bucket>`,
        )
        .join('') +
      '</Buckets>',
  );
}

export function renderInitiateMultipartUpload(
  bucket: string,
  key: string,
  uploadId: string,
): string {
  return document(
    'InitiateMultipartUploadResult',
    textElement('Bucket', bucket) + textElement('Key', key) + textElement('UploadId', uploadId),
  );
}

export function renderCompleteMultipartUpload(result: {
  readonly location: string;
  readonly bucket: string;
  readonly key: string;
  readonly etag: string;
  readonly checksum?: { algorithm: string; value: string };
}): string {
  return document(
    'CompleteMultipartUploadResult',
    textElement('Location', result.location) +
      textElement('Bucket', result.bucket) +
      textElement('Key', result.key) +
      textElement('ETag', quoteEtag(result.etag)) +
      checksumElements(result.checksum),
  );
}

export interface PartEntry {
  readonly partNumber: number;
  readonly lastModified: Date;
  readonly etag: string;
  readonly size: number;
  readonly checksum?: { algorithm: string; value: string };
}

export function renderListParts(list: {
  readonly bucket: string;
  readonly key: string;
  readonly uploadId: string;
  readonly partNumberMarker: number;
  readonly nextPartNumberMarker?: number;
  readonly maxParts: number;
  readonly isTruncated: boolean;
  readonly parts: readonly PartEntry[];
  readonly owner?: Owner;
  readonly storageClass?: string;
  readonly checksumAlgorithm?: string;
}): string {
  return document(
    'ListPartsResult',
    textElement('Bucket', list.bucket) +
      textElement('Key', list.key) +
      textElement('UploadId', list.uploadId) +
      ownerXml(list.owner, 'Initiator') +
      ownerXml(list.owner) +
      textElement('StorageClass', list.storageClass ?? 'STANDARD') +
      textElement('PartNumberMarker', list.partNumberMarker) +
      textElement(
        'NextPartNumberMarker',
        list.nextPartNumberMarker ?? list.parts.at(-1)?.partNumber ?? 0,
      ) +
      textElement('MaxParts', list.maxParts) +
      textElement('IsTruncated', list.isTruncated) +
      (list.checksumAlgorithm ? textElement('ChecksumAlgorithm', list.checksumAlgorithm) : '') +
      list.parts
        .map(
          (p) =>
            '<Part>' +
            textElement('PartNumber', p.partNumber) +
            textElement('LastModified', iso(p.lastModified)) +
            textElement('ETag', quoteEtag(p.etag)) +
            textElement('Size', p.size) +
            checksumElements(p.checksum) +
            '</Part>',
        )
        .join(''),
  );
}

export interface UploadEntry {
  readonly key: string;
  readonly uploadId: string;
  readonly initiated: Date;
  readonly owner?: Owner;
  readonly storageClass?: string;
}

export function renderListMultipartUploads(list: {
  readonly bucket: string;
  readonly keyMarker: string;
  readonly uploadIdMarker: string;
  readonly nextKeyMarker?: string;
  readonly nextUploadIdMarker?: string;
  readonly prefix: string;
  readonly delimiter?: string;
  readonly maxUploads: number;
  readonly isTruncated: boolean;
  readonly uploads: readonly UploadEntry[];
  readonly commonPrefixes: readonly string[];
  readonly encodingType?: EncodingType;
}): string {
  const e = list.encodingType;
  return document(
    'ListMultipartUploadsResult',
    textElement('Bucket', list.bucket) +
      textElement('KeyMarker', encodeName(list.keyMarker, e)) +
      textElement('UploadIdMarker', list.uploadIdMarker) +
      textElement('NextKeyMarker', encodeName(list.nextKeyMarker ?? '', e)) +
      textElement('NextUploadIdMarker', list.nextUploadIdMarker ?? '') +
      textElement('Prefix', encodeName(list.prefix, e)) +
      textElement('Delimiter', encodeName(list.delimiter, e)) +
      textElement('MaxUploads', list.maxUploads) +
      textElement('IsTruncated', list.isTruncated) +
      (e === 'url' ? textElement('EncodingType', 'url') : '') +
      list.uploads
        .map(
          (u) =>
            '<Upload>' +
            textElement('Key', encodeName(u.key, e)) +
            textElement('UploadId', u.uploadId) +
            ownerXml(u.owner, 'Initiator') +
            ownerXml(u.owner) +
            textElement('StorageClass', u.storageClass ?? 'STANDARD') +
            textElement('Initiated', iso(u.initiated)) +
            '</Upload>',
        )
        .join('') +
      commonPrefixesXml(list.commonPrefixes, e),
  );
}

/** CopyObject's body; UploadPartCopy uses the same fields under CopyPartResult. */
export function renderCopyResult(
  root: 'CopyObjectResult' | 'CopyPartResult',
  result: {
    readonly etag: string;
    readonly lastModified: Date;
    readonly checksum?: { algorithm: string; value: string };
  },
): string {
  return document(
    root,
    textElement('ETag', quoteEtag(result.etag)) +
      textElement('LastModified', iso(result.lastModified)) +
      checksumElements(result.checksum),
  );
}

export interface DeletedEntry {
  readonly key: string;
  readonly versionId?: string;
  readonly deleteMarker?: boolean;
  readonly deleteMarkerVersionId?: string;
}

export interface DeleteErrorEntry {
  readonly key: string;
  readonly versionId?: string;
  readonly code: string;
  readonly message: string;
}

/** DeleteObjects' answer; in quiet mode only the errors are listed. */
export function renderDeleteResult(
  deleted: readonly DeletedEntry[],
  errors: readonly DeleteErrorEntry[],
  quiet: boolean,
): string {
  const ok = quiet
    ? ''
    : deleted
        .map(
          (d) =>
            '<Deleted>' +
            textElement('Key', d.key) +
            textElement('VersionId', d.versionId) +
            (d.deleteMarker ? textElement('DeleteMarker', true) : '') +
            textElement('DeleteMarkerVersionId', d.deleteMarkerVersionId) +
            '</Deleted>',
        )
        .join('');
  const failed = errors
    .map(
      (e) =>
        '<Error>' +
        textElement('Key', e.key) +
        textElement('VersionId', e.versionId) +
        textElement('Code', e.code) +
        textElement('Message', e.message) +
        '</Error>',
    )
    .join('');
  return document('DeleteResult', ok + failed);
}

/** GetBucketVersioning: no <Status> for a bucket that never had versioning. */
export function renderVersioningConfiguration(status: 'Enabled' | 'Suspended' | undefined): string {
  return document('VersioningConfiguration', textElement('Status', status));
}

/** GetBucketLocation: empty for us-east-1, as AWS answers. */
export function renderLocationConstraint(region: string): string {
  const value = region === 'us-east-1' ? '' : region;
  return `${XML_DECLARATION}<LocationConstraint xmlns="${S3_XMLNS}">${escapeXml(value)}</LocationConstraint>`;
}
