/**
 * Operation routing: (method, bucket?, key?, query parameter names,
 * x-amz-copy-source) -> S3 operation. Routing is on the presence of
 * parameters (`?uploads` and `?uploads=` alike); parameters that only tune
 * an operation are ignored, and any other subresource answers 501
 * NotImplemented, so an unsupported feature is never silently treated as a
 * plain object or bucket request.
 */
import { S3Error } from '../errors';
import * as buckets from './buckets';
import type { Handler } from './context';
import * as listing from './listing';
import * as multipart from './multipart';
import * as objects from './objects';

export interface Route {
  /** Operation name, as the metrics label. */
  readonly op: string;
  readonly handler: Handler;
}

/** Parameters that tune an operation without naming a subresource. */
const TUNING_PARAMS = new Set([
  'x-id',
  'versionId',
  'partNumber',
  'uploadId',
  'prefix',
  'delimiter',
  'marker',
  'max-keys',
  'encoding-type',
  'list-type',
  'continuation-token',
  'start-after',
  'fetch-owner',
  'key-marker',
  'version-id-marker',
  'upload-id-marker',
  'max-uploads',
  'max-parts',
  'part-number-marker',
  'response-content-type',
  'response-content-language',
  'response-expires',
  'response-cache-control',
  'response-content-disposition',
  'response-content-encoding',
  'x-amz-checksum-mode',
]);

/** Subresources this gateway answers; others are NotImplemented. */
const KNOWN_SUBRESOURCES = new Set([
  'uploads',
  'delete',
  'versioning',
  'versions',
  'location',
  'policy',
  'cors',
  'acl',
]);

function notImplemented(what: string): Route {
  return {
    op: 'NotImplemented',
    handler: async () => {
      throw new S3Error('NotImplemented', `${what} is not implemented by this server.`);
    },
  };
}

/** Picks the operation; `names` are the request's query parameter names. */
export function route(
  method: string,
  bucket: string | undefined,
  key: string | undefined,
  names: ReadonlySet<string>,
  hasCopySource: boolean,
): Route {
  let subresource: string | undefined;
  for (const name of names) {
    if (TUNING_PARAMS.has(name) || name.toLowerCase().startsWith('x-amz-')) continue;
    if (!KNOWN_SUBRESOURCES.has(name)) return notImplemented(`The '${name}' subresource`);
    if (subresource !== undefined)
      return notImplemented(`Combining '${subresource}' and '${name}'`);
    subresource = name;
  }
  const sub = subresource ?? '';
  const methodNotAllowed = notImplemented(
    `${method} ${bucket === undefined ? '/' : key === undefined ? 'on a bucket' : 'on an object'}${sub ? ` ?${sub}` : ''}`,
  );

  if (bucket === undefined) {
    if (method === 'GET' && sub === '') return { op: 'ListBuckets', handler: buckets.listBuckets };
    return methodNotAllowed;
  }
  if (key === undefined) {
    switch (`${method} ${sub}`) {
      case 'PUT ':
        return { op: 'CreateBucket', handler: buckets.createBucket };
      case 'HEAD ':
        return { op: 'HeadBucket', handler: buckets.headBucket };
      case 'DELETE ':
        return { op: 'DeleteBucket', handler: buckets.deleteBucket };
      case 'GET ':
        return names.has('list-type')
          ? { op: 'ListObjectsV2', handler: listing.listObjectsV2 }
          : { op: 'ListObjects', handler: listing.listObjectsV1 };
      case 'GET location':
        return { op: 'GetBucketLocation', handler: buckets.getBucketLocation };
      case 'GET versioning':
        return { op: 'GetBucketVersioning', handler: buckets.getBucketVersioning };
      case 'PUT versioning':
        return { op: 'PutBucketVersioning', handler: buckets.putBucketVersioning };
      case 'GET versions':
        return { op: 'ListObjectVersions', handler: listing.listObjectVersions };
      case 'GET uploads':
        return { op: 'ListMultipartUploads', handler: multipart.listMultipartUploads };
      case 'GET policy':
        return { op: 'GetBucketPolicy', handler: buckets.getBucketPolicy };
      case 'GET cors':
        return { op: 'GetBucketCors', handler: buckets.getBucketCors };
      case 'GET acl':
        return { op: 'GetBucketAcl', handler: buckets.getAcl };
      case 'POST delete':
        return { op: 'DeleteObjects', handler: objects.deleteObjects };
      default:
        return methodNotAllowed;
    }
  }
  const upload = names.has('uploadId');
  switch (`${method} ${sub}`) {
    case 'PUT ':
      if (upload && names.has('partNumber')) {
        return hasCopySource
          ? { op: 'UploadPartCopy', handler: multipart.uploadPartCopy }
          : { op: 'UploadPart', handler: multipart.uploadPart };
      }
      if (upload) return methodNotAllowed;
      return hasCopySource
        ? { op: 'CopyObject', handler: objects.copyObject }
        : { op: 'PutObject', handler: objects.putObject };
    case 'GET ':
      return upload
        ? { op: 'ListParts', handler: multipart.listParts }
        : { op: 'GetObject', handler: objects.getObject };
    case 'HEAD ':
      return { op: 'HeadObject', handler: objects.getObject };
    case 'DELETE ':
      return upload
        ? { op: 'AbortMultipartUpload', handler: multipart.abortMultipartUpload }
        : { op: 'DeleteObject', handler: objects.deleteObject };
    case 'POST uploads':
      return { op: 'CreateMultipartUpload', handler: multipart.createMultipartUpload };
    case 'POST ':
      return upload
        ? { op: 'CompleteMultipartUpload', handler: multipart.completeMultipartUpload }
        : methodNotAllowed;
    case 'GET acl':
      return { op: 'GetObjectAcl', handler: buckets.getAcl };
    default:
      return methodNotAllowed;
  }
}
