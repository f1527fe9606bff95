/**
 * The handler of each operation `routeOperation` (request/router.ts) names.
 * A Record over the Operation union: adding an operation to the router
 * without a handler is a type error.
 */
import type { Operation } from '../request/router';
import * as buckets from './buckets';
import * as cors from './cors';
import type { Handler } from './context';
import * as lifecycle from './lifecycle';
import * as listing from './listing';
import * as multipart from './multipart';
import * as notification from './notification';
import * as objects from './objects';
import * as replication from './replication';

export const HANDLERS: Readonly<Record<Operation, Handler>> = {
  ListBuckets: buckets.listBuckets,
  CreateBucket: buckets.createBucket,
  HeadBucket: buckets.headBucket,
  DeleteBucket: buckets.deleteBucket,
  GetBucketLocation: buckets.getBucketLocation,
  GetBucketVersioning: buckets.getBucketVersioning,
  PutBucketVersioning: buckets.putBucketVersioning,
  GetBucketNotificationConfiguration: notification.getBucketNotification,
  PutBucketNotificationConfiguration: notification.putBucketNotification,
  GetBucketPolicy: buckets.getBucketPolicy,
  GetBucketCors: cors.getBucketCors,
  PutBucketCors: cors.putBucketCors,
  DeleteBucketCors: cors.deleteBucketCors,
  GetBucketAcl: buckets.getAcl,
  GetObjectAcl: buckets.getAcl,
  ListObjects: listing.listObjectsV1,
  ListObjectsV2: listing.listObjectsV2,
  ListObjectVersions: listing.listObjectVersions,
  ListMultipartUploads: multipart.listMultipartUploads,
  DeleteObjects: objects.deleteObjects,
  PutObject: objects.putObject,
  CopyObject: objects.copyObject,
  GetObject: objects.getObject,
  HeadObject: objects.getObject,
  DeleteObject: objects.deleteObject,
  CreateMultipartUpload: multipart.createMultipartUpload,
  UploadPart: multipart.uploadPart,
  UploadPartCopy: multipart.uploadPartCopy,
  CompleteMultipartUpload: multipart.completeMultipartUpload,
  AbortMultipartUpload: multipart.abortMultipartUpload,
  ListParts: multipart.listParts,
  PutBucketLifecycleConfiguration: lifecycle.putBucketLifecycle,
  GetBucketLifecycleConfiguration: lifecycle.getBucketLifecycle,
  DeleteBucketLifecycle: lifecycle.deleteBucketLifecycle,
  GetBucketReplication: replication.getBucketReplication,
  PutBucketReplication: replication.putBucketReplication,
  DeleteBucketReplication: replication.deleteBucketReplication,
};
