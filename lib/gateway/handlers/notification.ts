/**
 * Get/PutBucketNotificationConfiguration, tessera's subset (docs/events.md,
 * "Webhooks"): S3 names SNS topics, SQS queues and Lambda functions by ARN;
 * tessera delivers to webhooks, so the destination of a Queue-, Topic- or
 * CloudFunctionConfiguration must be an http(s) URL. Events map to
 * 'created' (s3:ObjectCreated:*) and 'deleted' (s3:ObjectRemoved:*);
 * prefix/suffix FilterRules carry over. The stored form is the bucket's
 * 'notification' configuration (store.bucketConfigs). A webhook secret can
 * only be set through the library (setBucketNotification); a PUT here
 * replaces the whole configuration.
 */
import { S3Error } from '../errors';
import { S3_XMLNS, escapeXml, textElement } from '../xml/escape';
import { childNamed, childrenNamed, malformedXml, parseXml } from '../xml/parse';
import type { RequestContext } from './context';
import { sendEmpty, sendXml } from './context';
import { readSmallBody } from './request_body';
import {
  type NotificationConfig,
  type NotificationEvent,
  type WebhookTarget,
  setBucketNotification,
  validateNotificationConfig,
} from '../notifications/webhooks';
import { TesseraError } from '../../errors';

const DESTINATIONS: ReadonlyArray<readonly [string, string]> = [
  ['QueueConfiguration', 'Queue'],
  ['TopicConfiguration', 'Topic'],
  ['CloudFunctionConfiguration', 'CloudFunction'],
];

function eventOf(name: string): NotificationEvent {
  if (/^s3:ObjectCreated:(\*|Put|Post|Copy|CompleteMultipartUpload)$/.test(name)) return 'created';
  if (/^s3:ObjectRemoved:(\*|Delete|DeleteMarkerCreated)$/.test(name)) return 'deleted';
  throw new S3Error(
    'InvalidArgument',
    `Unsupported event ${name}: tessera sends s3:ObjectCreated:* and s3:ObjectRemoved:*.`,
  );
}

async function requireBucket(ctx: RequestContext): Promise<void> {
  if (!(await ctx.store.getBucket(ctx.bucket!)))
    throw new S3Error('NoSuchBucket', undefined, { BucketName: ctx.bucket! });
}

export async function getBucketNotification(ctx: RequestContext): Promise<void> {
  await requireBucket(ctx);
  const config = await ctx.store.bucketConfigs.get<NotificationConfig>(ctx.bucket!, 'notification');
  let out = '';
  for (const w of config?.webhooks ?? []) {
    const events = w.events ?? ['created', 'deleted'];
    let filter = '';
    for (const [name, value] of [
      ['prefix', w.prefix],
      ['suffix', w.suffix],
    ] as const) {
      if (value !== undefined) {
        filter += `<FilterRule>${textElement('Name', name)}${textElement('Value', value)}</FilterRule>`;
      }
    }
    out +=
      '<QueueConfiguration>' +
      textElement('Id', w.id) +
      textElement('Queue', w.url) +
      events
        .map((e) =>
          textElement('Event', e === 'created' ? 's3:ObjectCreated:*' : 's3:ObjectRemoved:*'),
        )
        .join('') +
      (filter === '' ? '' : `<Filter><S3Key>${filter}</S3Key></Filter>`) +
      '</QueueConfiguration>';
  }
  sendXml(
    ctx,
    200,
    `<NotificationConfiguration xmlns="${escapeXml(S3_XMLNS)}">${out}</NotificationConfiguration>`,
  );
}

export async function putBucketNotification(ctx: RequestContext): Promise<void> {
  await requireBucket(ctx);
  const root = parseXml(await readSmallBody(ctx, ctx.config.xmlBytesMax));
  if (root.name !== 'NotificationConfiguration') {
    throw malformedXml(`the root element must be <NotificationConfiguration>, got <${root.name}>`);
  }
  const webhooks: WebhookTarget[] = [];
  for (const child of root.children) {
    const destination = DESTINATIONS.find(([element]) => element === child.name);
    if (destination === undefined) {
      throw new S3Error('NotImplemented', `<${child.name}> is not supported; use webhooks.`);
    }
    const url = childNamed(child, destination[1])?.text.trim() ?? '';
    const events = [...new Set(childrenNamed(child, 'Event').map((e) => eventOf(e.text.trim())))];
    const target: WebhookTarget = {
      id: childNamed(child, 'Id')?.text.trim() || `webhook-${webhooks.length + 1}`,
      url,
    };
    if (events.length > 0 && events.length < 2) target.events = events;
    const key = childNamed(child, 'Filter') && childNamed(childNamed(child, 'Filter')!, 'S3Key');
    for (const rule of key ? childrenNamed(key, 'FilterRule') : []) {
      const name = childNamed(rule, 'Name')?.text.trim().toLowerCase();
      const value = childNamed(rule, 'Value')?.text ?? '';
      if (name === 'prefix') target.prefix = value;
      else if (name === 'suffix') target.suffix = value;
      else throw new S3Error('InvalidArgument', `FilterRule names prefix or suffix, got ${name}.`);
    }
    webhooks.push(target);
  }
  try {
    validateNotificationConfig({ webhooks });
  } catch (error) {
    if (error instanceof TesseraError) throw new S3Error('InvalidArgument', error.message);
    throw error;
  }
  await setBucketNotification(ctx.store, ctx.bucket!, { webhooks });
  sendEmpty(ctx, 200);
}
