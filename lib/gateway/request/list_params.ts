/**
 * Query parameters of the listing operations, validated once: ListObjects
 * V1 and V2, ListObjectVersions, ListMultipartUploads and ListParts. Page
 * sizes default to and are capped at 1000, as S3 (a larger value is
 * clamped, a malformed one is 400 InvalidArgument); `encoding-type` is
 * `url` or absent.
 */
import { S3Error } from '../errors';
import type { EncodingType } from '../xml/render';
import { queryValue } from './parse';
import type { QueryParam } from './uri';

export const list_page_size_max = 1000;

function pageSize(query: readonly QueryParam[], name: string): number {
  const text = queryValue(query, name);
  if (text === undefined || text === '') return list_page_size_max;
  if (!/^\d{1,10}$/.test(text)) {
    throw new S3Error(
      'InvalidArgument',
      `Provided ${name} not an integer or within integer range`,
      {
        ArgumentName: name,
        ArgumentValue: text,
      },
    );
  }
  return Math.min(Number(text), list_page_size_max);
}

function encodingType(query: readonly QueryParam[]): EncodingType {
  const text = queryValue(query, 'encoding-type');
  if (text === undefined || text === '') return undefined;
  if (text.toLowerCase() === 'url') return 'url';
  throw new S3Error('InvalidArgument', 'Invalid Encoding Method specified in Request', {
    ArgumentName: 'encoding-type',
    ArgumentValue: text,
  });
}

/** An optional string parameter; empty means absent (clients send `delimiter=` and `prefix=`). */
function optional(query: readonly QueryParam[], name: string): string | undefined {
  const value = queryValue(query, name);
  return value === '' ? undefined : value;
}

export interface ListObjectsParams {
  readonly prefix: string;
  readonly delimiter: string | undefined;
  readonly maxKeys: number;
  readonly encodingType: EncodingType;
}

export interface ListObjectsV1Params extends ListObjectsParams {
  readonly marker: string | undefined;
}

export interface ListObjectsV2Params extends ListObjectsParams {
  /** Opaque; when present, `startAfter` is ignored (S3 rule). */
  readonly continuationToken: string | undefined;
  readonly startAfter: string | undefined;
  readonly fetchOwner: boolean;
}

function common(query: readonly QueryParam[]): ListObjectsParams {
  return {
    prefix: queryValue(query, 'prefix') ?? '',
    delimiter: optional(query, 'delimiter'),
    maxKeys: pageSize(query, 'max-keys'),
    encodingType: encodingType(query),
  };
}

export function parseListObjectsV1(query: readonly QueryParam[]): ListObjectsV1Params {
  return { ...common(query), marker: optional(query, 'marker') };
}

export function parseListObjectsV2(query: readonly QueryParam[]): ListObjectsV2Params {
  const continuationToken = queryValue(query, 'continuation-token');
  if (continuationToken === '') {
    throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', {
      ArgumentName: 'continuation-token',
    });
  }
  const fetchOwner = queryValue(query, 'fetch-owner');
  return {
    ...common(query),
    continuationToken,
    startAfter: continuationToken === undefined ? optional(query, 'start-after') : undefined,
    fetchOwner: fetchOwner === 'true',
  };
}

export interface ListVersionsParams extends ListObjectsParams {
  readonly keyMarker: string | undefined;
  readonly versionIdMarker: string | undefined;
}

export function parseListObjectVersions(query: readonly QueryParam[]): ListVersionsParams {
  const keyMarker = optional(query, 'key-marker');
  const versionIdMarker = optional(query, 'version-id-marker');
  if (versionIdMarker !== undefined && keyMarker === undefined) {
    throw new S3Error(
      'InvalidArgument',
      'A version-id marker cannot be specified without a key marker.',
      {
        ArgumentName: 'version-id-marker',
      },
    );
  }
  return { ...common(query), keyMarker, versionIdMarker };
}

export interface ListUploadsParams {
  readonly prefix: string;
  readonly delimiter: string | undefined;
  readonly maxUploads: number;
  readonly keyMarker: string | undefined;
  readonly uploadIdMarker: string | undefined;
  readonly encodingType: EncodingType;
}

export function parseListMultipartUploads(query: readonly QueryParam[]): ListUploadsParams {
  return {
    prefix: queryValue(query, 'prefix') ?? '',
    delimiter: optional(query, 'delimiter'),
    maxUploads: pageSize(query, 'max-uploads'),
    keyMarker: optional(query, 'key-marker'),
    uploadIdMarker: optional(query, 'upload-id-marker'),
    encodingType: encodingType(query),
  };
}

export interface ListPartsParams {
  readonly uploadId: string;
  readonly maxParts: number;
  readonly partNumberMarker: number;
}

export function parseListParts(query: readonly QueryParam[]): ListPartsParams {
  const uploadId = queryValue(query, 'uploadId') ?? '';
  if (uploadId === '') throw new S3Error('NoSuchUpload');
  const marker = queryValue(query, 'part-number-marker');
  if (marker !== undefined && marker !== '' && !/^\d{1,5}$/.test(marker)) {
    throw new S3Error(
      'InvalidArgument',
      'Provided part-number-marker not an integer or within integer range',
      {
        ArgumentName: 'part-number-marker',
        ArgumentValue: marker,
      },
    );
  }
  return {
    uploadId,
    maxParts: pageSize(query, 'max-parts'),
    partNumberMarker: marker === undefined || marker === '' ? 0 : Number(marker),
  };
}
