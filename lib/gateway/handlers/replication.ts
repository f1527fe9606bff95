/**
 * Get/Put/DeleteBucketReplication in S3's XML shape.
 *
 * AWS names an IAM role and a destination bucket ARN; an arbitrary S3
 * endpoint needs an endpoint URL and credentials instead. Those are never
 * sent in a request (a request that could choose the URL would let any
 * client make the gateway call any address, and its credentials would be
 * echoed by GET): the operator registers named targets in the gateway's
 * configuration (`replicationTargets`), and the request names one in
 * `<Role>arn:tessera:replication:::target/NAME</Role>`. The destination
 * bucket is `<Destination><Bucket>arn:aws:s3:::NAME</Bucket>` (or the bare
 * name). GET answers the same document: it never holds an endpoint secret.
 * docs/replication.md has an example.
 */
import { S3Error } from '../errors';
import { TesseraError } from '../../errors';
import type { RedactedRule, ReplicationRule } from '../../replication/rules';
import { parseXml, childNamed, childrenNamed, malformedXml, type XmlElement } from '../xml/parse';
import { S3_XMLNS, textElement } from '../xml/escape';
import { type RequestContext, type ReplicationTarget, sendEmpty, sendXml } from './context';
import { readSmallBody } from './request_body';

const ROLE_PREFIX = 'arn:tessera:replication:::target/';

async function requireBucket(ctx: RequestContext): Promise<void> {
  if (!(await ctx.store.getBucket(ctx.bucket!))) {
    throw new S3Error('NoSuchBucket', undefined, { BucketName: ctx.bucket! });
  }
}

function status(parent: XmlElement, name: string, fallback: boolean): boolean {
  const element = childNamed(parent, name);
  if (!element) return fallback;
  const value = childNamed(element, 'Status')?.text.trim();
  if (value !== 'Enabled' && value !== 'Disabled') {
    throw malformedXml(`<${name}><Status> must be Enabled or Disabled`);
  }
  return value === 'Enabled';
}

function rulePrefix(rule: XmlElement): string | undefined {
  const legacy = childNamed(rule, 'Prefix')?.text;
  const filter = childNamed(rule, 'Filter');
  if (filter) {
    if (childNamed(filter, 'Tag') || childNamed(filter, 'And')) {
      throw new S3Error('NotImplemented', 'Replication filters on tags are not supported.');
    }
    return childNamed(filter, 'Prefix')?.text ?? legacy;
  }
  return legacy;
}

export function parseReplicationConfiguration(
  body: Buffer,
  targets: Readonly<Record<string, ReplicationTarget>>,
): ReplicationRule[] {
  const root = parseXml(body);
  if (root.name !== 'ReplicationConfiguration') {
    throw malformedXml(`the root element must be <ReplicationConfiguration>, got <${root.name}>`);
  }
  const role = childNamed(root, 'Role')?.text.trim() ?? '';
  if (!role.startsWith(ROLE_PREFIX)) {
    throw new S3Error(
      'InvalidArgument',
      `<Role> must name a replication target of the gateway: ${ROLE_PREFIX}NAME`,
    );
  }
  const name = role.slice(ROLE_PREFIX.length);
  const target = Object.prototype.hasOwnProperty.call(targets, name) ? targets[name] : undefined;
  if (!target) {
    throw new S3Error(
      'InvalidArgument',
      `No replication target named '${name.slice(0, 64)}' is configured.`,
    );
  }
  const rules: ReplicationRule[] = [];
  for (const [i, rule] of childrenNamed(root, 'Rule').entries()) {
    const enabled = childNamed(rule, 'Status', true).text.trim();
    if (enabled !== 'Enabled' && enabled !== 'Disabled') {
      throw malformedXml('<Rule><Status> must be Enabled or Disabled');
    }
    if (enabled === 'Disabled') continue;
    const destination = childNamed(rule, 'Destination', true);
    const bucket = childNamed(destination, 'Bucket', true)
      .text.trim()
      .replace(/^arn:aws:s3:::/, '');
    const out: ReplicationRule = {
      id: childNamed(rule, 'ID')?.text.trim() || `rule-${i + 1}`,
      destination: {
        endpoint: target.endpoint,
        region: target.region,
        bucket,
        credentials: target.credentials,
      },
      deleteMarkerReplication: status(rule, 'DeleteMarkerReplication', false),
      existingObjects: status(rule, 'ExistingObjectReplication', false),
    };
    const prefix = rulePrefix(rule);
    if (prefix) out.prefix = prefix;
    rules.push(out);
  }
  if (rules.length === 0) throw malformedXml('a replication configuration needs an enabled <Rule>');
  return rules;
}

function targetName(
  rule: RedactedRule,
  targets: Readonly<Record<string, ReplicationTarget>>,
): string | undefined {
  for (const [name, t] of Object.entries(targets)) {
    if (
      t.endpoint.replace(/\/$/, '') === rule.destination.endpoint &&
      t.region === rule.destination.region
    ) {
      return name;
    }
  }
  return undefined;
}

export async function putBucketReplication(ctx: RequestContext): Promise<void> {
  await requireBucket(ctx);
  const body = await readSmallBody(ctx, ctx.config.xmlBytesMax);
  const rules = parseReplicationConfiguration(body, ctx.config.replicationTargets ?? {});
  try {
    await ctx.store.bucket(ctx.bucket!).setReplication({ rules });
  } catch (error) {
    if (error instanceof TesseraError && error.code === 'ERR_INVALID_ARG_VALUE') {
      throw new S3Error('InvalidArgument', error.message);
    }
    throw error;
  }
  sendEmpty(ctx, 200);
}

export async function getBucketReplication(ctx: RequestContext): Promise<void> {
  await requireBucket(ctx);
  const config = await ctx.store.bucket(ctx.bucket!).getReplication();
  if (!config) {
    throw new S3Error('ReplicationConfigurationNotFoundError', undefined, {
      BucketName: ctx.bucket!,
    });
  }
  const targets = ctx.config.replicationTargets ?? {};
  const name = config.rules.map((r) => targetName(r, targets)).find((n) => n !== undefined);
  let xml = `<ReplicationConfiguration xmlns="${S3_XMLNS}">`;
  if (name !== undefined) xml += textElement('Role', ROLE_PREFIX + name);
  for (const [i, rule] of config.rules.entries()) {
    xml +=
      '<Rule>' +
      textElement('ID', rule.id) +
      textElement('Priority', i + 1) +
      textElement('Status', 'Enabled') +
      `<Filter>${textElement('Prefix', rule.prefix ?? '')}</Filter>` +
      `<DeleteMarkerReplication>${textElement('Status', rule.deleteMarkerReplication ? 'Enabled' : 'Disabled')}</DeleteMarkerReplication>` +
      `<ExistingObjectReplication>${textElement('Status', rule.existingObjects ? 'Enabled' : 'Disabled')}</ExistingObjectReplication>` +
      `<Destination>${textElement('Bucket', `arn:aws:s3:::${rule.destination.bucket}`)}</Destination>` +
      '</Rule>';
  }
  xml += '</ReplicationConfiguration>';
  sendXml(ctx, 200, xml);
}

export async function deleteBucketReplication(ctx: RequestContext): Promise<void> {
  await requireBucket(ctx);
  await ctx.store.bucket(ctx.bucket!).deleteReplication();
  sendEmpty(ctx, 204);
}
