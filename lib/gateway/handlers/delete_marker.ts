/**
 * What S3 says when a read lands on a delete marker: GET/HEAD of a key
 * whose current version is a marker is 404 NoSuchKey with
 * `x-amz-delete-marker: true` and the marker's `x-amz-version-id`; GET/HEAD
 * with the version id of a marker is 405 MethodNotAllowed with the same
 * headers and its Last-Modified. Only looked up on a miss (the Store's
 * `head` hides markers), from the key's own versions: a listing with the key
 * as prefix starts with that key, so the walk stops at the first other key.
 */
import { S3Error } from '../errors';
import type { Bucket } from '../../store/bucket';
import type { VersionEntry } from '../../store/types';
import type { RequestContext } from './context';

async function findMarker(
  bucket: Bucket,
  key: string,
  versionId: string | undefined,
): Promise<VersionEntry | undefined> {
  for await (const v of bucket.listVersions({ prefix: key })) {
    if (v.key !== key) return undefined;
    if (versionId === undefined ? v.isLatest : v.versionId === versionId) {
      return v.deleteMarker ? v : undefined;
    }
  }
  return undefined;
}

/** The error for a GET/HEAD miss, with the delete-marker headers set when it is one. */
export async function readMiss(
  ctx: RequestContext,
  bucket: Bucket,
  versionId: string | undefined,
  fallback: S3Error,
): Promise<S3Error> {
  const marker = await findMarker(bucket, ctx.key!, versionId);
  if (!marker) return fallback;
  ctx.res.setHeader('x-amz-delete-marker', 'true');
  if (marker.versionId !== 'null') ctx.res.setHeader('x-amz-version-id', marker.versionId);
  if (versionId === undefined) return fallback;
  ctx.res.setHeader('last-modified', marker.lastModified.toUTCString());
  return new S3Error(
    'MethodNotAllowed',
    'The specified method is not allowed against a delete marker.',
    {
      Method: ctx.method,
      ResourceType: 'DeleteMarker',
    },
  );
}
