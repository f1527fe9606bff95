/**
 * The SigV4 canonical request, as AWS defines it for S3:
 *
 *   METHOD \n canonical URI \n canonical query \n canonical headers \n
 *   \n signed-header list \n payload hash
 *
 * For S3 the URI is not normalised and not double-encoded: each segment of
 * the path the client sent is decoded and re-encoded per RFC 3986, '/' kept.
 */
import * as crypto from 'node:crypto';
import { type QueryParam, percentDecode, uriEncode } from '../request/uri';

const PLAIN_PATH_RE = /^[A-Za-z0-9\-._~/]*$/;

/** Canonical URI: every '/'-separated segment decoded, then RFC 3986-encoded. */
export function canonicalUri(rawPath: string): string {
  if (rawPath === '') return '/';
  // Only unreserved characters and '/': decoding and re-encoding is the identity.
  if (PLAIN_PATH_RE.test(rawPath)) return rawPath;
  return rawPath
    .split('/')
    .map((segment) => uriEncode(percentDecode(segment, false), false))
    .join('/');
}

/**
 * Canonical query: names and values RFC 3986-encoded, sorted by encoded name
 * then encoded value, `X-Amz-Signature` left out (presigned URLs carry it).
 */
export function canonicalQuery(params: readonly QueryParam[]): string {
  const pairs: Array<[string, string]> = [];
  for (const p of params) {
    if (p.name === 'X-Amz-Signature') continue;
    pairs.push([uriEncode(p.name, false), uriEncode(p.value, false)]);
  }
  pairs.sort((a, b) => compareAscii(a[0], b[0]) || compareAscii(a[1], b[1]));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

function compareAscii(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const NEEDS_FOLDING_RE = /[\t\r\n]| {2}|^ | $/;

/** A header value as SigV4 canonicalises it: trimmed, runs of spaces/tabs folded to one space. */
export function canonicalHeaderValue(value: string): string {
  if (!NEEDS_FOLDING_RE.test(value)) return value;
  return value
    .replace(/[\r\n]/g, ' ')
    .replace(/[ \t]+/g, ' ')
    .replace(/^ | $/g, '');
}

export type HeaderValues = Readonly<Record<string, string | readonly string[] | undefined>>;

/** Values of a header (names are lower case, as Node gives them). */
export function headerValues(headers: HeaderValues, name: string): readonly string[] {
  const value = headers[name];
  if (value === undefined) return [];
  return typeof value === 'string' ? [value] : value;
}

/** Canonical header block: `name:value\n` per signed header; repeated headers joined by ','. */
export function canonicalHeaders(headers: HeaderValues, signedHeaders: readonly string[]): string {
  let out = '';
  for (const name of signedHeaders) {
    out += `${name}:${headerValues(headers, name).map(canonicalHeaderValue).join(',')}\n`;
  }
  return out;
}

export interface CanonicalRequestParts {
  readonly method: string;
  readonly rawPath: string;
  readonly query: readonly QueryParam[];
  readonly headers: HeaderValues;
  readonly signedHeaders: readonly string[];
  readonly payloadHash: string;
}

export function canonicalRequest(parts: CanonicalRequestParts): string {
  return [
    parts.method,
    canonicalUri(parts.rawPath),
    canonicalQuery(parts.query),
    canonicalHeaders(parts.headers, parts.signedHeaders),
    parts.signedHeaders.join(';'),
    parts.payloadHash,
  ].join('\n');
}

/** One-shot `crypto.hash` (Node >= 20.12) skips the Hash object; createHash otherwise. */
const oneShotHash = (crypto as { hash?: (algorithm: string, data: string | Buffer) => string })
  .hash;

export function sha256Hex(data: string | Buffer): string {
  if (oneShotHash !== undefined) return oneShotHash('sha256', data);
  return crypto.createHash('sha256').update(data).digest('hex');
}

/** AWS4-HMAC-SHA256 \n amz-date \n scope \n hex(sha256(canonical request)). */
export function stringToSign(amzDate: string, scope: string, canonical: string): string {
  return `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${sha256Hex(canonical)}`;
}
