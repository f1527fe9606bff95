/**
 * HTTP conditional requests as S3 evaluates them (RFC 9110 section 13.2.2
 * order): If-Match, else If-Unmodified-Since (-> 412); then If-None-Match,
 * else If-Modified-Since (-> 304 on GET/HEAD, 412 on copy sources).
 * Last-Modified is compared at one-second resolution, as HTTP dates carry.
 * Byte ranges (`bytes=a-b`, `a-`, `-n`) are parsed here too.
 */
import { S3Error } from '../errors';
import type { ByteRange } from '../../store/types';

export interface ConditionHeaders {
  ifMatch?: string | undefined;
  ifNoneMatch?: string | undefined;
  ifModifiedSince?: string | undefined;
  ifUnmodifiedSince?: string | undefined;
}

function etagListMatches(list: string, etag: string): boolean {
  return list.split(',').some((raw) => {
    let tag = raw.trim();
    if (tag === '*') return true;
    if (tag.startsWith('W/')) tag = tag.slice(2);
    if (tag.length >= 2 && tag.startsWith('"') && tag.endsWith('"')) tag = tag.slice(1, -1);
    return tag === etag;
  });
}

function seconds(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

/** 'ok', or the status the conditions demand (304 for reads, 412). */
export function evaluateConditions(
  headers: ConditionHeaders,
  etag: string,
  lastModified: Date,
  notModifiedStatus: 304 | 412,
): 'ok' | 304 | 412 {
  const modified = Math.floor(lastModified.getTime() / 1000);
  if (headers.ifMatch !== undefined) {
    if (!etagListMatches(headers.ifMatch, etag)) return 412;
  } else {
    const since = seconds(headers.ifUnmodifiedSince);
    if (since !== undefined && modified > since) return 412;
  }
  if (headers.ifNoneMatch !== undefined) {
    if (etagListMatches(headers.ifNoneMatch, etag)) return notModifiedStatus;
  } else {
    const since = seconds(headers.ifModifiedSince);
    if (since !== undefined && modified <= since) return notModifiedStatus;
  }
  return 'ok';
}

/** Throws PreconditionFailed / NotModified per the evaluation. */
export function enforceConditions(
  headers: ConditionHeaders,
  etag: string,
  lastModified: Date,
  notModifiedStatus: 304 | 412,
): void {
  const outcome = evaluateConditions(headers, etag, lastModified, notModifiedStatus);
  if (outcome === 412)
    throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Match' });
  if (outcome === 304) throw new S3Error('NotModified');
}

const RANGE_RE = /^bytes=(\d{0,16})-(\d{0,16})$/;

/**
 * One byte range, or undefined when the header is absent, malformed or
 * asks for several ranges: S3 then serves the whole object, as HTTP allows.
 */
export function parseRange(value: string | undefined): ByteRange | undefined {
  if (value === undefined) return undefined;
  const m = RANGE_RE.exec(value.trim());
  if (!m) return undefined;
  const [, first, last] = m;
  if (first === '' && last === '') return undefined;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) throw new S3Error('InvalidRange');
    return { suffix };
  }
  const start = Number(first);
  if (last === '') return { start };
  const end = Number(last);
  if (end < start) return undefined;
  return { start, end };
}
