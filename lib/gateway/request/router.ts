/**
 * The operation a request asks for, from its method, its address and the
 * *presence* of query parameters (`?uploads` and `?uploads=` are the same;
 * the SDK's `x-id=PutObject` is ignored). Operations of issue 6 are named;
 * every other S3 sub-resource answers 501 NotImplemented, and methods a
 * resource does not have answer 405 MethodNotAllowed. s3cmd reads `?policy`
 * and `?acl` in `s3cmd info` (ECOSYSTEM.md), so their GETs are operations;
 * writing them is NotImplemented. `?cors` is bucket CORS (handlers/cors.ts).
 */
import type { HeaderValues } from '../auth/canonical';
import { headerValues } from '../auth/canonical';
import { S3Error } from '../errors';
import type { Address } from './address';
import type { QueryParam } from './uri';

export const OPERATIONS = [
  'ListBuckets',
  'CreateBucket',
  'HeadBucket',
  'DeleteBucket',
  'GetBucketLocation',
  'GetBucketVersioning',
  'PutBucketVersioning',
  'GetBucketNotificationConfiguration',
  'PutBucketNotificationConfiguration',
  'ListObjects',
  'ListObjectsV2',
  'ListObjectVersions',
  'ListMultipartUploads',
  'DeleteObjects',
  'PutObject',
  'CopyObject',
  'GetObject',
  'HeadObject',
  'DeleteObject',
  'CreateMultipartUpload',
  'UploadPart',
  'UploadPartCopy',
  'CompleteMultipartUpload',
  'AbortMultipartUpload',
  'ListParts',
  'GetBucketPolicy',
  'GetBucketCors',
  'PutBucketCors',
  'DeleteBucketCors',
  'GetBucketAcl',
  'GetObjectAcl',
  'PutBucketLifecycleConfiguration',
  'GetBucketLifecycleConfiguration',
  'DeleteBucketLifecycle',
  'GetBucketReplication',
  'PutBucketReplication',
  'DeleteBucketReplication',
] as const;
export type Operation = (typeof OPERATIONS)[number];

/** S3 sub-resources we do not implement: their presence alone means 501. */
const UNSUPPORTED_SUBRESOURCES = [
  'accelerate',
  'analytics',
  'attributes',
  'encryption',
  'intelligent-tiering',
  'inventory',
  'legal-hold',
  'logging',
  'metadataConfiguration',
  'metadataTable',
  'metrics',
  'object-lock',
  'ownershipControls',
  'policyStatus',
  'publicAccessBlock',
  'requestPayment',
  'restore',
  'retention',
  'select',
  'session',
  'tagging',
  'torrent',
  'website',
  'renameObject',
] as const;

/** Bucket sub-resources answered read-only (s3cmd info asks for them). */
const BUCKET_READ_ONLY: ReadonlyArray<readonly [string, Operation]> = [
  ['policy', 'GetBucketPolicy'],
  ['acl', 'GetBucketAcl'],
];

function has(query: readonly QueryParam[], name: string): boolean {
  return query.some((p) => p.name === name);
}

function notImplemented(what: string): S3Error {
  return new S3Error('NotImplemented', `${what} is not implemented.`);
}

function methodNotAllowed(method: string, what: string): S3Error {
  return new S3Error('MethodNotAllowed', `The ${method} method is not allowed against ${what}.`, {
    Method: method,
    ResourceType: what.toUpperCase(),
  });
}

export function routeOperation(
  method: string,
  address: Address,
  query: readonly QueryParam[],
  headers: HeaderValues,
): Operation {
  for (const name of UNSUPPORTED_SUBRESOURCES) {
    if (has(query, name)) throw notImplemented(`The '${name}' sub-resource`);
  }
  // OPTIONS (CORS preflight) is answered before routing, in server.ts.
  if (method === 'OPTIONS') throw methodNotAllowed(method, 'resource');
  if (address.key !== undefined && has(query, 'notification')) {
    throw notImplemented("The 'notification' sub-resource on an object");
  }

  if (address.bucket === undefined) {
    if (method === 'GET') return 'ListBuckets';
    throw methodNotAllowed(method, 'service');
  }

  if (address.key === undefined) {
    if (has(query, 'uploadId') || has(query, 'partNumber')) {
      throw new S3Error('InvalidRequest', 'A multipart request needs an object key.');
    }
    if (has(query, 'cors')) {
      if (method === 'GET') return 'GetBucketCors';
      if (method === 'PUT') return 'PutBucketCors';
      if (method === 'DELETE') return 'DeleteBucketCors';
      throw methodNotAllowed(method, 'cors');
    }
    for (const [name, operation] of BUCKET_READ_ONLY) {
      if (!has(query, name)) continue;
      if (method === 'GET') return operation;
      throw notImplemented(`${method} on the '${name}' sub-resource`);
    }
    if (has(query, 'lifecycle')) {
      if (method === 'PUT') return 'PutBucketLifecycleConfiguration';
      if (method === 'GET') return 'GetBucketLifecycleConfiguration';
      if (method === 'DELETE') return 'DeleteBucketLifecycle';
      throw methodNotAllowed(method, 'lifecycle');
    }
    if (has(query, 'location')) {
      if (method === 'GET') return 'GetBucketLocation';
      throw methodNotAllowed(method, 'location');
    }
    if (has(query, 'replication')) {
      if (method === 'GET') return 'GetBucketReplication';
      if (method === 'PUT') return 'PutBucketReplication';
      if (method === 'DELETE') return 'DeleteBucketReplication';
      throw methodNotAllowed(method, 'replication');
    }
    if (has(query, 'notification')) {
      if (method === 'GET') return 'GetBucketNotificationConfiguration';
      if (method === 'PUT') return 'PutBucketNotificationConfiguration';
      throw methodNotAllowed(method, 'notification');
    }
    if (has(query, 'versioning')) {
      if (method === 'GET') return 'GetBucketVersioning';
      if (method === 'PUT') return 'PutBucketVersioning';
      throw methodNotAllowed(method, 'versioning');
    }
    if (has(query, 'versions')) {
      if (method === 'GET') return 'ListObjectVersions';
      throw methodNotAllowed(method, 'versions');
    }
    if (has(query, 'uploads')) {
      if (method === 'GET') return 'ListMultipartUploads';
      throw methodNotAllowed(method, 'uploads');
    }
    if (has(query, 'delete')) {
      if (method === 'POST') return 'DeleteObjects';
      throw methodNotAllowed(method, 'delete');
    }
    switch (method) {
      case 'GET': {
        const listType = query.find((p) => p.name === 'list-type')?.value;
        if (listType === undefined) return 'ListObjects';
        if (listType === '2') return 'ListObjectsV2';
        throw new S3Error('InvalidArgument', `list-type must be 2, got '${listType}'.`, {
          ArgumentName: 'list-type',
          ArgumentValue: listType,
        });
      }
      case 'PUT':
        return 'CreateBucket';
      case 'HEAD':
        return 'HeadBucket';
      case 'DELETE':
        return 'DeleteBucket';
      case 'POST':
        throw notImplemented('POST Object (browser form upload)');
      default:
        throw methodNotAllowed(method, 'bucket');
    }
  }

  if (has(query, 'lifecycle')) throw notImplemented(`The 'lifecycle' sub-resource of an object`);
  if (has(query, 'acl')) {
    if (method === 'GET') return 'GetObjectAcl';
    throw notImplemented(`${method} on the 'acl' sub-resource`);
  }
  const uploadId = has(query, 'uploadId');
  if (has(query, 'uploads')) {
    if (method === 'POST') return 'CreateMultipartUpload';
    throw methodNotAllowed(method, 'uploads');
  }
  if (uploadId) {
    switch (method) {
      case 'PUT':
        if (!has(query, 'partNumber'))
          throw new S3Error('InvalidRequest', 'UploadPart needs a partNumber.');
        return headerValues(headers, 'x-amz-copy-source').length > 0
          ? 'UploadPartCopy'
          : 'UploadPart';
      case 'POST':
        return 'CompleteMultipartUpload';
      case 'DELETE':
        return 'AbortMultipartUpload';
      case 'GET':
        return 'ListParts';
      default:
        throw methodNotAllowed(method, 'upload');
    }
  }
  switch (method) {
    case 'PUT':
      if (has(query, 'partNumber'))
        throw new S3Error('InvalidRequest', 'partNumber on a PUT needs an uploadId.');
      return headerValues(headers, 'x-amz-copy-source').length > 0 ? 'CopyObject' : 'PutObject';
    case 'GET':
      return 'GetObject';
    case 'HEAD':
      return 'HeadObject';
    case 'DELETE':
      return 'DeleteObject';
    case 'POST':
      throw notImplemented('POST on an object');
    default:
      throw methodNotAllowed(method, 'object');
  }
}
