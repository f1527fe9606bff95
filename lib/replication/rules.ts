/**
 * Replication rules of a bucket: validation, and the redacted form that is
 * the only one ever returned or logged (no credentials).
 */
import { TesseraError } from '../errors';

export interface ReplicationDestination {
  /** `http(s)://host[:port]` of any S3-compatible endpoint. */
  endpoint: string;
  region: string;
  bucket: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

export interface ReplicationRule {
  id: string;
  destination: ReplicationDestination;
  /** Only keys starting with this replicate (default: every key). */
  prefix?: string;
  /** Whether deletes (delete markers, and deletes in unversioned buckets) replicate. */
  deleteMarkerReplication: boolean;
  /** Whether objects that exist when the rule is created are copied (backfill). */
  existingObjects: boolean;
}

export interface ReplicationConfig {
  rules: ReplicationRule[];
}

/** What get/list/status return: the destination without its credentials. */
export interface RedactedRule extends Omit<ReplicationRule, 'destination'> {
  destination: Omit<ReplicationDestination, 'credentials'>;
}

export const RULES_MAX = 16;
const RULE_ID_RE = /^[A-Za-z0-9._-]{1,64}$/;
const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const ACCESS_KEY_RE = /^[A-Za-z0-9._~+/-]{1,128}$/;

function invalid(message: string): TesseraError {
  return new TesseraError('ERR_INVALID_ARG_VALUE', message);
}

/** A normalised copy of `config`, or ERR_INVALID_ARG_VALUE (messages never quote a secret). */
export function validateReplicationConfig(config: unknown): ReplicationConfig {
  if (
    typeof config !== 'object' ||
    config === null ||
    !Array.isArray((config as ReplicationConfig).rules)
  ) {
    throw invalid('replication config must be { rules: [...] }');
  }
  const rules = (config as ReplicationConfig).rules;
  if (rules.length === 0 || rules.length > RULES_MAX) {
    throw invalid(`replication config must have 1..${RULES_MAX} rules`);
  }
  const ids = new Set<string>();
  const out: ReplicationRule[] = [];
  for (const [i, rule] of rules.entries()) {
    const at = `rules[${i}]`;
    if (typeof rule !== 'object' || rule === null) throw invalid(`${at} must be an object`);
    if (typeof rule.id !== 'string' || !RULE_ID_RE.test(rule.id)) {
      throw invalid(`${at}.id must be 1..64 characters of [A-Za-z0-9._-]`);
    }
    if (ids.has(rule.id)) throw invalid(`${at}.id '${rule.id}' is used twice`);
    ids.add(rule.id);
    const d = rule.destination as Partial<ReplicationDestination> | undefined;
    if (typeof d !== 'object' || d === null) throw invalid(`${at}.destination must be an object`);
    let url: URL;
    try {
      url = new URL(String(d.endpoint));
    } catch {
      throw invalid(`${at}.destination.endpoint must be an http(s) URL`);
    }
    if (
      (url.protocol !== 'http:' && url.protocol !== 'https:') ||
      url.username !== '' ||
      url.password !== '' ||
      (url.pathname !== '/' && url.pathname !== '') ||
      url.search !== '' ||
      url.hash !== ''
    ) {
      throw invalid(
        `${at}.destination.endpoint must be http(s)://host[:port] with no path or user info`,
      );
    }
    if (typeof d.region !== 'string' || !/^[a-z0-9-]{1,64}$/.test(d.region)) {
      throw invalid(`${at}.destination.region must be a region name such as us-east-1`);
    }
    if (typeof d.bucket !== 'string' || !BUCKET_RE.test(d.bucket)) {
      throw invalid(`${at}.destination.bucket must be a bucket name (3..63 of [a-z0-9.-])`);
    }
    const c = d.credentials;
    if (
      typeof c !== 'object' ||
      c === null ||
      typeof c.accessKeyId !== 'string' ||
      !ACCESS_KEY_RE.test(c.accessKeyId) ||
      typeof c.secretAccessKey !== 'string' ||
      c.secretAccessKey.length === 0 ||
      c.secretAccessKey.length > 256
    ) {
      throw invalid(`${at}.destination.credentials must be { accessKeyId, secretAccessKey }`);
    }
    if (
      rule.prefix !== undefined &&
      (typeof rule.prefix !== 'string' || Buffer.byteLength(rule.prefix) > 1024)
    ) {
      throw invalid(`${at}.prefix must be a string of at most 1024 bytes`);
    }
    if (typeof rule.deleteMarkerReplication !== 'boolean') {
      throw invalid(`${at}.deleteMarkerReplication must be a boolean`);
    }
    if (typeof rule.existingObjects !== 'boolean') {
      throw invalid(`${at}.existingObjects must be a boolean`);
    }
    const normal: ReplicationRule = {
      id: rule.id,
      destination: {
        endpoint: url.origin,
        region: d.region,
        bucket: d.bucket,
        credentials: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey },
      },
      deleteMarkerReplication: rule.deleteMarkerReplication,
      existingObjects: rule.existingObjects,
    };
    if (rule.prefix !== undefined && rule.prefix !== '') normal.prefix = rule.prefix;
    out.push(normal);
  }
  return { rules: out };
}

export function redactRule(rule: ReplicationRule): RedactedRule {
  const d = rule.destination;
  const out: RedactedRule = {
    ...rule,
    destination: { endpoint: d.endpoint, region: d.region, bucket: d.bucket },
  };
  return out;
}

export function redactConfig(config: ReplicationConfig): { rules: RedactedRule[] } {
  return { rules: config.rules.map(redactRule) };
}
