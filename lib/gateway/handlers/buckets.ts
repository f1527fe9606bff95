/**
 * Service and bucket operations: ListBuckets, CreateBucket, HeadBucket,
 * DeleteBucket, GetBucketLocation, Get/PutBucketVersioning, and the answers
 * s3cmd `info` expects for policy, CORS and ACL.
 */
import { S3Error } from '../errors';
import { S3_XMLNS, textElement } from '../xml/escape';
import { TesseraError } from '../../errors';
import { type RequestContext, OWNER_ID, OWNER_NAME, isoDate, sendEmpty, sendXml } from './context';
import { corsConfigs } from './cors';
import { MULTIPART_BUCKET } from './multipart_store';
import { readSmallBody } from './request_body';
import { parseCreateBucketConfiguration, parseVersioningConfiguration } from '../xml/requests';

async function requireBucket(ctx: RequestContext) {
  const info = await ctx.store.getBucket(ctx.bucket!);
  if (!info) throw new S3Error('NoSuchBucket', undefined, { BucketName: ctx.bucket! });
  return info;
}

export async function listBuckets(ctx: RequestContext): Promise<void> {
  const buckets = (await ctx.store.listBuckets()).filter((b) => b.name !== MULTIPART_BUCKET);
  let out = '';
  for (const b of buckets) {
    out +=
      '<Bucket>' +
      textElement('Name', b.name) +
      textElement('CreationDate', isoDate(b.creationDate)) +
      '</Bucket>';
  }
  sendXml(
    ctx,
    200,
    `<ListAllMyBucketsResult xmlns="${S3_XMLNS}">` +
      '<Owner>' +
      textElement('ID', OWNER_ID) +
      textElement('DisplayName', OWNER_NAME) +
      '</Owner>' +
      `<Buckets>${out}</Buckets>` +
      '</ListAllMyBucketsResult>',
  );
}

export async function createBucket(ctx: RequestContext): Promise<void> {
  const body = await readSmallBody(ctx, ctx.config.xmlBytesMax);
  const location = parseCreateBucketConfiguration(body).locationConstraint ?? '';
  {
    const expected = ctx.config.region === 'us-east-1' ? ['', 'us-east-1'] : [ctx.config.region];
    if (!expected.includes(location)) {
      throw new S3Error(
        'InvalidLocationConstraint',
        `The specified location-constraint '${location}' is not valid for this endpoint.`,
      );
    }
  }
  try {
    await ctx.store.createBucket(ctx.bucket!, {});
  } catch (error) {
    // An owned existing bucket answers 200, as us-east-1 does (rclone PUTs it before every copy).
    if (!(error instanceof TesseraError && error.code === 'BucketAlreadyOwnedByYou')) throw error;
  }
  ctx.res.setHeader('location', `/${ctx.bucket!}`);
  sendEmpty(ctx, 200);
}

export async function headBucket(ctx: RequestContext): Promise<void> {
  await requireBucket(ctx);
  ctx.res.setHeader('x-amz-bucket-region', ctx.config.region);
  sendEmpty(ctx, 200);
}

export async function deleteBucket(ctx: RequestContext): Promise<void> {
  if ((await ctx.multipart.listUploads(ctx.bucket!)).length > 0) {
    await requireBucket(ctx);
    throw new S3Error(
      'BucketNotEmpty',
      'The bucket you tried to delete has incomplete multipart uploads.',
    );
  }
  await ctx.store.deleteBucket(ctx.bucket!);
  // The store dropped the bucket's settings (CORS included): a bucket made
  // later under this name starts without CORS rules.
  corsConfigs(ctx.store).forget(ctx.bucket!);
  sendEmpty(ctx, 204);
}

export async function getBucketLocation(ctx: RequestContext): Promise<void> {
  await requireBucket(ctx);
  const region = ctx.config.region === 'us-east-1' ? '' : ctx.config.region;
  sendXml(ctx, 200, `<LocationConstraint xmlns="${S3_XMLNS}">${region}</LocationConstraint>`);
}

export async function getBucketVersioning(ctx: RequestContext): Promise<void> {
  const info = await requireBucket(ctx);
  const status = info.versioning === 'Disabled' ? '' : textElement('Status', info.versioning);
  sendXml(
    ctx,
    200,
    `<VersioningConfiguration xmlns="${S3_XMLNS}">${status}</VersioningConfiguration>`,
  );
}

export async function putBucketVersioning(ctx: RequestContext): Promise<void> {
  const { status } = parseVersioningConfiguration(await readSmallBody(ctx, ctx.config.xmlBytesMax));
  if (status === undefined) {
    throw new S3Error(
      'IllegalVersioningConfigurationException',
      'The Versioning element must be Enabled or Suspended.',
    );
  }
  await ctx.store.setBucketVersioning(ctx.bucket!, status);
  sendEmpty(ctx, 200);
}

export async function getBucketPolicy(ctx: RequestContext): Promise<void> {
  await requireBucket(ctx);
  throw new S3Error('NoSuchBucketPolicy', undefined, { BucketName: ctx.bucket! });
}

/** The fixed ACL every bucket and object has: the single owner with FULL_CONTROL. */
export async function getAcl(ctx: RequestContext): Promise<void> {
  await requireBucket(ctx);
  if (ctx.key !== undefined) {
    const info = await ctx.store.bucket(ctx.bucket!).head(ctx.key);
    if (!info) throw new S3Error('NoSuchKey', undefined, { Key: ctx.key });
  }
  const owner = textElement('ID', OWNER_ID) + textElement('DisplayName', OWNER_NAME);
  sendXml(
    ctx,
    200,
    `<AccessControlPolicy xmlns="${S3_XMLNS}">` +
      `<Owner>${owner}</Owner>` +
      '<AccessControlList><Grant>' +
      `<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser">${owner}</Grantee>` +
      '<Permission>FULL_CONTROL</Permission>' +
      '</Grant></AccessControlList>' +
      '</AccessControlPolicy>',
  );
}
