/**
 * Lifecycle rules of one bucket: their shape, validation and the dates they
 * make objects due (docs/lifecycle.md).
 *
 * The shape mirrors S3's LifecycleConfiguration in camelCase, restricted to
 * what tessera does: expiration of current objects (after N days or on a
 * date), of noncurrent versions, of expired delete markers, and the abort of
 * incomplete multipart uploads, each under an optional key prefix. Tag and
 * object-size filters, transitions and NewerNoncurrentVersions are refused
 * with NotImplemented rather than silently ignored.
 */
import { randomBytes } from 'node:crypto';
import { TesseraError } from '../errors';
import { isWellFormedUnicode } from '../store/validate';

export interface LifecycleRule {
  /** Unique within the bucket, at most 255 characters; generated when absent. */
  id?: string;
  /** Disabled rules are kept but do nothing. */
  status: 'Enabled' | 'Disabled';
  /** Keys the rule applies to; '' or absent: every key of the bucket. */
  prefix?: string;
  /** Current objects: expire `days` after creation, or on `date`; or remove expired delete markers. */
  expiration?: {
    days?: number;
    /** Midnight UTC, as S3 requires (a Date or an ISO 8601 string). */
    date?: Date | string;
    /** Remove a delete marker that is the only version left of its key. */
    expiredObjectDeleteMarker?: boolean;
  };
  /** Noncurrent versions: delete `noncurrentDays` after they became noncurrent. */
  noncurrentVersionExpiration?: { noncurrentDays: number };
  /** Gateway multipart uploads: abort `daysAfterInitiation` after they were started. */
  abortIncompleteMultipartUpload?: { daysAfterInitiation: number };
}

/** A validated rule, as stored and as getLifecycle() returns it. */
export interface NormalizedRule {
  id: string;
  status: 'Enabled' | 'Disabled';
  prefix: string;
  expiration?: { days?: number; date?: Date; expiredObjectDeleteMarker?: boolean };
  noncurrentVersionExpiration?: { noncurrentDays: number };
  abortIncompleteMultipartUpload?: { daysAfterInitiation: number };
}

/** What bucketConfigs keeps (JSON: dates as ISO strings). */
export interface StoredLifecycle {
  rules: Array<Omit<NormalizedRule, 'expiration'> & { expiration?: StoredExpiration }>;
}
interface StoredExpiration {
  days?: number;
  date?: string;
  expiredObjectDeleteMarker?: boolean;
}

/** S3's limits. */
export const LIFECYCLE_RULES_MAX = 1000;
export const RULE_ID_LENGTH_MAX = 255;
const PREFIX_BYTES_MAX = 1024;
/** Days beyond this are refused (about 2.7 million years is not a plan). */
const DAYS_MAX = 1_000_000_000;
export const DAY_MS = 86_400_000;

const KNOWN_RULE_FIELDS = new Set([
  'id',
  'status',
  'prefix',
  'expiration',
  'noncurrentVersionExpiration',
  'abortIncompleteMultipartUpload',
]);

function invalid(message: string): TesseraError {
  return new TesseraError('InvalidArgument', message);
}

function notImplemented(what: string): TesseraError {
  return new TesseraError('NotImplemented', `lifecycle ${what} is not supported by tessera`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function positiveDays(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > DAYS_MAX) {
    throw invalid(`${what} must be a positive integer, got ${JSON.stringify(value) ?? 'nothing'}`);
  }
  return value;
}

function parseDate(value: unknown, where: string): Date {
  const date =
    value instanceof Date
      ? new Date(value.getTime())
      : typeof value === 'string'
        ? new Date(value)
        : undefined;
  if (date === undefined || Number.isNaN(date.getTime())) {
    throw invalid(`${where}.date must be a Date or an ISO 8601 string`);
  }
  if (date.getTime() % DAY_MS !== 0) {
    throw invalid(`${where}.date must be at midnight UTC, got ${date.toISOString()}`);
  }
  return date;
}

function validateRule(raw: unknown, index: number): NormalizedRule {
  const where = `rules[${index}]`;
  if (!isRecord(raw)) throw invalid(`${where} must be an object`);
  for (const field of Object.keys(raw)) {
    if (
      field === 'transitions' ||
      field === 'transition' ||
      field === 'noncurrentVersionTransitions'
    )
      throw notImplemented('transitions (storage classes)');
    if (field === 'filter' || field === 'tags' || field === 'tag')
      throw notImplemented('tag and object-size filters (use prefix)');
    if (!KNOWN_RULE_FIELDS.has(field)) throw invalid(`${where} has an unknown field '${field}'`);
  }
  let id: string;
  if (raw.id === undefined || raw.id === '') {
    id = randomBytes(12).toString('base64url');
  } else if (typeof raw.id !== 'string' || !isWellFormedUnicode(raw.id)) {
    throw invalid(`${where}.id must be a string`);
  } else if (raw.id.length > RULE_ID_LENGTH_MAX) {
    throw invalid(`${where}.id is longer than ${RULE_ID_LENGTH_MAX} characters`);
  } else {
    id = raw.id;
  }
  if (raw.status !== 'Enabled' && raw.status !== 'Disabled') {
    throw invalid(`${where}.status must be 'Enabled' or 'Disabled'`);
  }
  let prefix = '';
  if (raw.prefix !== undefined) {
    if (typeof raw.prefix !== 'string' || !isWellFormedUnicode(raw.prefix))
      throw invalid(`${where}.prefix must be a string`);
    if (Buffer.byteLength(raw.prefix, 'utf8') > PREFIX_BYTES_MAX)
      throw invalid(`${where}.prefix is longer than ${PREFIX_BYTES_MAX} bytes`);
    prefix = raw.prefix;
  }
  const rule: NormalizedRule = { id, status: raw.status, prefix };

  if (raw.expiration !== undefined) {
    const e = raw.expiration;
    if (!isRecord(e)) throw invalid(`${where}.expiration must be an object`);
    for (const field of Object.keys(e)) {
      if (!['days', 'date', 'expiredObjectDeleteMarker'].includes(field))
        throw invalid(`${where}.expiration has an unknown field '${field}'`);
    }
    const given = ['days', 'date', 'expiredObjectDeleteMarker'].filter((f) => e[f] !== undefined);
    if (given.length !== 1) {
      throw invalid(
        `${where}.expiration needs exactly one of days, date and expiredObjectDeleteMarker`,
      );
    }
    if (e.days !== undefined)
      rule.expiration = { days: positiveDays(e.days, `${where}.expiration.days`) };
    else if (e.date !== undefined)
      rule.expiration = { date: parseDate(e.date, `${where}.expiration`) };
    else {
      if (typeof e.expiredObjectDeleteMarker !== 'boolean')
        throw invalid(`${where}.expiration.expiredObjectDeleteMarker must be a boolean`);
      rule.expiration = { expiredObjectDeleteMarker: e.expiredObjectDeleteMarker };
    }
  }
  if (raw.noncurrentVersionExpiration !== undefined) {
    const n = raw.noncurrentVersionExpiration;
    if (!isRecord(n)) throw invalid(`${where}.noncurrentVersionExpiration must be an object`);
    if (n.newerNoncurrentVersions !== undefined) throw notImplemented('newerNoncurrentVersions');
    for (const field of Object.keys(n)) {
      if (field !== 'noncurrentDays')
        throw invalid(`${where}.noncurrentVersionExpiration has an unknown field '${field}'`);
    }
    rule.noncurrentVersionExpiration = {
      noncurrentDays: positiveDays(
        n.noncurrentDays,
        `${where}.noncurrentVersionExpiration.noncurrentDays`,
      ),
    };
  }
  if (raw.abortIncompleteMultipartUpload !== undefined) {
    const a = raw.abortIncompleteMultipartUpload;
    if (!isRecord(a)) throw invalid(`${where}.abortIncompleteMultipartUpload must be an object`);
    for (const field of Object.keys(a)) {
      if (field !== 'daysAfterInitiation')
        throw invalid(`${where}.abortIncompleteMultipartUpload has an unknown field '${field}'`);
    }
    rule.abortIncompleteMultipartUpload = {
      daysAfterInitiation: positiveDays(
        a.daysAfterInitiation,
        `${where}.abortIncompleteMultipartUpload.daysAfterInitiation`,
      ),
    };
  }
  if (
    rule.expiration === undefined &&
    rule.noncurrentVersionExpiration === undefined &&
    rule.abortIncompleteMultipartUpload === undefined
  ) {
    throw invalid(`${where} has no action: at least one action needs to be specified in a rule`);
  }
  return rule;
}

/** Validates a whole configuration (1..1000 rules, unique ids). */
export function validateLifecycle(rules: unknown): NormalizedRule[] {
  if (!Array.isArray(rules)) throw invalid('lifecycle rules must be an array');
  if (rules.length === 0) throw invalid('a lifecycle configuration needs at least one rule');
  if (rules.length > LIFECYCLE_RULES_MAX) {
    throw invalid(
      `a lifecycle configuration has at most ${LIFECYCLE_RULES_MAX} rules, got ${rules.length}`,
    );
  }
  const normalized = rules.map((rule, i) => validateRule(rule, i));
  const seen = new Set<string>();
  for (const rule of normalized) {
    if (seen.has(rule.id))
      throw invalid(`rule id ${JSON.stringify(rule.id)} is used twice; ids must be unique`);
    seen.add(rule.id);
  }
  return normalized;
}

export function toStored(rules: NormalizedRule[]): StoredLifecycle {
  return {
    rules: rules.map((rule) => {
      const { expiration, ...rest } = rule;
      if (expiration === undefined) return rest;
      const stored: StoredExpiration = {};
      if (expiration.days !== undefined) stored.days = expiration.days;
      if (expiration.date !== undefined) stored.date = expiration.date.toISOString();
      if (expiration.expiredObjectDeleteMarker !== undefined)
        stored.expiredObjectDeleteMarker = expiration.expiredObjectDeleteMarker;
      return { ...rest, expiration: stored };
    }),
  };
}

export function fromStored(stored: StoredLifecycle): NormalizedRule[] {
  return stored.rules.map((rule) => {
    const { expiration, ...rest } = rule;
    if (expiration === undefined) return rest;
    const e: NonNullable<NormalizedRule['expiration']> = {};
    if (expiration.days !== undefined) e.days = expiration.days;
    if (expiration.date !== undefined) e.date = new Date(expiration.date);
    if (expiration.expiredObjectDeleteMarker !== undefined)
      e.expiredObjectDeleteMarker = expiration.expiredObjectDeleteMarker;
    return { ...rest, expiration: e };
  });
}

/**
 * When an object made at `fromMs` is due after `days` days: S3's rule, the
 * time plus N days rounded up to the next midnight UTC.
 */
export function dueAfterDays(fromMs: number, days: number): number {
  return Math.floor((fromMs + days * DAY_MS) / DAY_MS) * DAY_MS + DAY_MS;
}

/** Byte-wise prefix test, as S3 compares keys. */
export function matchesPrefix(rule: NormalizedRule, key: string): boolean {
  return rule.prefix === '' || key.startsWith(rule.prefix);
}
