/**
 * Put/Get/DeleteBucketLifecycleConfiguration over `bucket.setLifecycle`,
 * `getLifecycle` and `deleteLifecycle` (docs/lifecycle.md).
 */
import { S3Error } from '../errors';
import { parseLifecycleConfiguration, renderLifecycleConfiguration } from '../xml/lifecycle';
import { type RequestContext, sendEmpty, sendXml } from './context';
import { readSmallBody } from './request_body';

export async function putBucketLifecycle(ctx: RequestContext): Promise<void> {
  const body = await readSmallBody(ctx, ctx.config.xmlBytesMax);
  if (body.length === 0) throw new S3Error('MalformedXML', 'The lifecycle configuration is empty.');
  const rules = parseLifecycleConfiguration(body);
  await ctx.store.bucket(ctx.bucket!).setLifecycle(rules);
  sendEmpty(ctx, 200);
}

export async function getBucketLifecycle(ctx: RequestContext): Promise<void> {
  const rules = await ctx.store.bucket(ctx.bucket!).getLifecycle();
  if (rules === undefined) {
    throw new S3Error('NoSuchLifecycleConfiguration', undefined, { BucketName: ctx.bucket! });
  }
  sendXml(ctx, 200, renderLifecycleConfiguration(rules));
}

export async function deleteBucketLifecycle(ctx: RequestContext): Promise<void> {
  await ctx.store.bucket(ctx.bucket!).deleteLifecycle();
  sendEmpty(ctx, 204);
}
