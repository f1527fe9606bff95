/**
 * PutBucketLifecycleConfiguration's body to lifecycle rules, and rules back
 * to GetBucketLifecycleConfiguration's document (S3 shapes; docs/lifecycle.md).
 *
 * Structure errors are MalformedXML; values the store rejects (days that are
 * not positive integers, duplicate ids, a date not at midnight) come back
 * from `bucket.setLifecycle` as InvalidArgument with a precise message; S3
 * features tessera lacks (tag and size filters, transitions,
 * NewerNoncurrentVersions) are NotImplemented rather than ignored.
 */
import type { LifecycleRule, NormalizedRule } from '../../lifecycle/rules';
import { S3Error } from '../errors';
import { S3_XMLNS, textElement } from './escape';
import { type XmlElement, childNamed, childrenNamed, malformedXml, parseXml } from './parse';

function notImplemented(what: string): S3Error {
  return new S3Error('NotImplemented', `Lifecycle ${what} is not supported by this server.`);
}

const RULE_ELEMENTS = new Set([
  'ID',
  'Filter',
  'Prefix',
  'Status',
  'Expiration',
  'NoncurrentVersionExpiration',
  'AbortIncompleteMultipartUpload',
]);

/** An integer element as a number; anything else is passed on for the store to refuse. */
function integer(element: XmlElement): number {
  const text = element.text.trim();
  if (!/^-?\d{1,16}$/.test(text)) {
    throw new S3Error(
      'InvalidArgument',
      `'${element.name}' must be a positive integer, got '${text.slice(0, 40)}'.`,
      { ArgumentName: element.name, ArgumentValue: text.slice(0, 40) },
    );
  }
  return Number(text);
}

function boolean(element: XmlElement): boolean {
  const text = element.text.trim();
  if (text === 'true') return true;
  if (text === 'false') return false;
  throw malformedXml(`<${element.name}> must be true or false`);
}

function onlyChildren(element: XmlElement, allowed: readonly string[]): void {
  for (const child of element.children) {
    if (!allowed.includes(child.name)) {
      throw malformedXml(`<${element.name}> cannot contain <${child.name}>`);
    }
  }
}

function parseFilter(filter: XmlElement): string {
  const children = filter.children;
  if (children.length === 0) return '';
  if (children.length > 1) {
    throw malformedXml('<Filter> holds one of <Prefix>, <Tag>, <ObjectSize...> or <And>');
  }
  const only = children[0]!;
  switch (only.name) {
    case 'Prefix':
      return only.text;
    case 'And': {
      for (const c of only.children) {
        if (c.name === 'Tag' || c.name.startsWith('ObjectSize')) {
          throw notImplemented('tag and object-size filters');
        }
      }
      onlyChildren(only, ['Prefix']);
      return childNamed(only, 'Prefix')?.text ?? '';
    }
    case 'Tag':
    case 'ObjectSizeGreaterThan':
    case 'ObjectSizeLessThan':
      throw notImplemented('tag and object-size filters');
    default:
      throw malformedXml(`<Filter> cannot contain <${only.name}>`);
  }
}

function parseRule(rule: XmlElement): LifecycleRule {
  for (const child of rule.children) {
    if (child.name === 'Transition' || child.name === 'NoncurrentVersionTransition') {
      throw notImplemented('transitions (storage classes)');
    }
    if (!RULE_ELEMENTS.has(child.name)) throw malformedXml(`<Rule> cannot contain <${child.name}>`);
  }
  const status = childNamed(rule, 'Status', true).text.trim();
  if (status !== 'Enabled' && status !== 'Disabled') {
    throw malformedXml(`<Status> must be Enabled or Disabled, got '${status.slice(0, 40)}'`);
  }
  const result: LifecycleRule = { status };
  const id = childNamed(rule, 'ID');
  if (id !== undefined) result.id = id.text;

  const filter = childNamed(rule, 'Filter');
  const prefix = childNamed(rule, 'Prefix');
  if (filter !== undefined && prefix !== undefined) {
    throw malformedXml('a <Rule> has either <Filter> or <Prefix>, not both');
  }
  if (filter !== undefined) result.prefix = parseFilter(filter);
  else if (prefix !== undefined) result.prefix = prefix.text;

  const expiration = childNamed(rule, 'Expiration');
  if (expiration !== undefined) {
    onlyChildren(expiration, ['Days', 'Date', 'ExpiredObjectDeleteMarker']);
    const days = childNamed(expiration, 'Days');
    const date = childNamed(expiration, 'Date');
    const marker = childNamed(expiration, 'ExpiredObjectDeleteMarker');
    const given = [days, date, marker].filter((e) => e !== undefined).length;
    if (given !== 1) {
      throw malformedXml(
        '<Expiration> needs exactly one of <Days>, <Date> and <ExpiredObjectDeleteMarker>',
      );
    }
    if (days !== undefined) result.expiration = { days: integer(days) };
    else if (date !== undefined) {
      const text = date.text.trim();
      if (Number.isNaN(Date.parse(text))) {
        throw new S3Error(
          'InvalidArgument',
          `'Date' must be an ISO 8601 date, got '${text.slice(0, 40)}'.`,
        );
      }
      result.expiration = { date: text };
    } else result.expiration = { expiredObjectDeleteMarker: boolean(marker!) };
  }
  const noncurrent = childNamed(rule, 'NoncurrentVersionExpiration');
  if (noncurrent !== undefined) {
    if (childNamed(noncurrent, 'NewerNoncurrentVersions') !== undefined) {
      throw notImplemented('NewerNoncurrentVersions');
    }
    onlyChildren(noncurrent, ['NoncurrentDays']);
    result.noncurrentVersionExpiration = {
      noncurrentDays: integer(childNamed(noncurrent, 'NoncurrentDays', true)),
    };
  }
  const abort = childNamed(rule, 'AbortIncompleteMultipartUpload');
  if (abort !== undefined) {
    onlyChildren(abort, ['DaysAfterInitiation']);
    result.abortIncompleteMultipartUpload = {
      daysAfterInitiation: integer(childNamed(abort, 'DaysAfterInitiation', true)),
    };
  }
  return result;
}

/** The rules of a LifecycleConfiguration document (1..1000 are checked by the store). */
export function parseLifecycleConfiguration(body: Buffer | string): LifecycleRule[] {
  const root = parseXml(body);
  if (root.name !== 'LifecycleConfiguration') {
    throw malformedXml(`the root element must be <LifecycleConfiguration>, got <${root.name}>`);
  }
  onlyChildren(root, ['Rule']);
  const rules = childrenNamed(root, 'Rule');
  if (rules.length === 0) throw malformedXml('<LifecycleConfiguration> needs at least one <Rule>');
  return rules.map(parseRule);
}

/** GetBucketLifecycleConfiguration's document; rules always carry a <Filter> (empty: every key). */
export function renderLifecycleConfiguration(rules: readonly NormalizedRule[]): string {
  let out = '';
  for (const rule of rules) {
    let actions = '';
    const e = rule.expiration;
    if (e !== undefined) {
      actions +=
        '<Expiration>' +
        textElement('Days', e.days) +
        textElement('Date', e.date?.toISOString()) +
        textElement('ExpiredObjectDeleteMarker', e.expiredObjectDeleteMarker) +
        '</Expiration>';
    }
    if (rule.noncurrentVersionExpiration !== undefined) {
      actions +=
        '<NoncurrentVersionExpiration>' +
        textElement('NoncurrentDays', rule.noncurrentVersionExpiration.noncurrentDays) +
        '</NoncurrentVersionExpiration>';
    }
    if (rule.abortIncompleteMultipartUpload !== undefined) {
      actions +=
        '<AbortIncompleteMultipartUpload>' +
        textElement(
          'DaysAfterInitiation',
          rule.abortIncompleteMultipartUpload.daysAfterInitiation,
        ) +
        '</AbortIncompleteMultipartUpload>';
    }
    out +=
      '<Rule>' +
      textElement('ID', rule.id) +
      `<Filter>${rule.prefix === '' ? '' : textElement('Prefix', rule.prefix)}</Filter>` +
      textElement('Status', rule.status) +
      actions +
      '</Rule>';
  }
  return `<LifecycleConfiguration xmlns="${S3_XMLNS}">${out}</LifecycleConfiguration>`;
}
