/**
 * Conditional requests (RFC 9110 section 13.2.2 order, which S3 follows):
 *
 * 1. If-Match present and no ETag matches -> 412.
 * 2. Else If-Unmodified-Since present, valid, and the object changed after it -> 412.
 * 3. If-None-Match present and an ETag matches -> 304 for GET/HEAD, 412 otherwise.
 * 4. Else, for GET/HEAD, If-Modified-Since present, valid, and no change since -> 304.
 *
 * If-Match uses strong comparison, If-None-Match weak (a `W/` prefix is
 * ignored). Quotes are optional, as S3 accepts both. Dates have one-second
 * resolution, so Last-Modified is truncated to the second before comparing.
 * Invalid dates are ignored.
 */
import type { HeaderValues } from '../auth/canonical';
import { headerValues } from '../auth/canonical';
import { S3Error } from '../errors';

export interface Validators {
  /** The object's ETag, with or without quotes. */
  readonly etag: string;
  readonly lastModified: Date;
}

export type ConditionOutcome = 'proceed' | 304 | 412;

function unquote(tag: string): string {
  const t = tag.trim();
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t;
}

function etagList(header: string): string[] {
  return header
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
}

function matchesAny(header: string, etag: string, weak: boolean): boolean {
  const target = unquote(etag);
  for (const raw of etagList(header)) {
    if (raw === '*') return true;
    let tag = raw;
    if (tag.startsWith('W/')) {
      if (!weak) continue;
      tag = tag.slice(2);
    }
    if (unquote(tag) === target) return true;
  }
  return false;
}

/** An HTTP date in ms, or undefined when it does not parse. */
export function parseHttpDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
}

function seconds(ms: number): number {
  return Math.floor(ms / 1000);
}

function first(headers: HeaderValues, name: string): string | undefined {
  const values = headerValues(headers, name);
  return values.length === 0 ? undefined : values.join(',');
}

function evaluate(
  prefix: '' | 'x-amz-copy-source-',
  safe: boolean,
  headers: HeaderValues,
  object: Validators,
): ConditionOutcome {
  const ifMatch = first(headers, `${prefix}if-match`);
  const ifNoneMatch = first(headers, `${prefix}if-none-match`);
  const ifModifiedSince = parseHttpDate(first(headers, `${prefix}if-modified-since`));
  const ifUnmodifiedSince = parseHttpDate(first(headers, `${prefix}if-unmodified-since`));
  const modified = seconds(object.lastModified.getTime());

  if (ifMatch !== undefined) {
    if (!matchesAny(ifMatch, object.etag, false)) return 412;
  } else if (ifUnmodifiedSince !== undefined && modified > seconds(ifUnmodifiedSince)) {
    return 412;
  }
  if (ifNoneMatch !== undefined) {
    if (matchesAny(ifNoneMatch, object.etag, true)) return safe ? 304 : 412;
  } else if (safe && ifModifiedSince !== undefined && modified <= seconds(ifModifiedSince)) {
    return 304;
  }
  return 'proceed';
}

/** Conditions of a GET or HEAD on an existing object. */
export function evaluateReadConditions(
  method: string,
  headers: HeaderValues,
  object: Validators,
): ConditionOutcome {
  if (
    headers['if-match'] === undefined &&
    headers['if-none-match'] === undefined &&
    headers['if-modified-since'] === undefined &&
    headers['if-unmodified-since'] === undefined
  ) {
    return 'proceed'; // the common GET: no condition to evaluate
  }
  return evaluate('', method === 'GET' || method === 'HEAD', headers, object);
}

/**
 * `x-amz-copy-source-if-*` of CopyObject/UploadPartCopy, against the source.
 * Every failure is 412 (a copy has no 304).
 */
export function evaluateCopySourceConditions(
  headers: HeaderValues,
  source: Validators,
): 'proceed' | 412 {
  const outcome = evaluate('x-amz-copy-source-', true, headers, source);
  return outcome === 'proceed' ? 'proceed' : 412;
}

/** Throws the S3 answer for a failed read condition (304 NotModified carries no body). */
export function assertReadConditions(
  method: string,
  headers: HeaderValues,
  object: Validators,
): void {
  const outcome = evaluateReadConditions(method, headers, object);
  if (outcome === 304) throw new S3Error('NotModified');
  if (outcome === 412) throw new S3Error('PreconditionFailed');
}

export interface WriteConditions {
  /** Compare-and-swap: the current ETag must be this one (unquoted). */
  readonly ifMatch: string | undefined;
  /** Create-only: `If-None-Match: *`. */
  readonly ifNoneMatch: boolean;
}

/**
 * PutObject / CompleteMultipartUpload conditions, handed to the store which
 * checks them atomically. S3 supports only `If-None-Match: *` on writes and
 * a single ETag in If-Match.
 */
export function parseWriteConditions(headers: HeaderValues): WriteConditions {
  const ifMatch = first(headers, 'if-match');
  const ifNoneMatch = first(headers, 'if-none-match');
  if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*') {
    throw new S3Error('NotImplemented', "If-None-Match on writes supports only '*'.");
  }
  if (ifMatch !== undefined && (etagList(ifMatch).length !== 1 || ifMatch.includes('*'))) {
    throw new S3Error('InvalidArgument', 'If-Match on writes takes exactly one ETag.', {
      ArgumentName: 'If-Match',
      ArgumentValue: ifMatch,
    });
  }
  return {
    ifMatch: ifMatch === undefined ? undefined : unquote(ifMatch),
    ifNoneMatch: ifNoneMatch !== undefined,
  };
}
