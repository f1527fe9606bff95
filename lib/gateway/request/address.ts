/**
 * Where a request points: (bucket, key), from path-style or virtual-host
 * addressing. Keys are data, never paths: nothing is normalised, so `..`,
 * `%2e%2e`, `//` and backslashes stay literal key bytes inside the bucket
 * the URL names first. `/bucket-A/../evil/key` is bucket `bucket-A`, key
 * `../evil/key` (CVE-2026-54917 was a router that resolved `..` after the
 * authorizer had checked bucket-A).
 */
import { S3Error } from '../errors';
import { validateBucketName, validateKey } from './limits';
import { percentDecode } from './uri';

export interface AddressOptions {
  /**
   * Base domains for virtual-host style (`--domain`): a Host of
   * `<bucket>.<domain>` names the bucket. Requests to any other host are
   * path-style.
   */
  readonly domains?: readonly string[];
}

export interface Address {
  readonly style: 'path' | 'virtual';
  /** `undefined` for service-level requests (ListBuckets). */
  readonly bucket: string | undefined;
  /** `undefined` for bucket-level requests; never empty. */
  readonly key: string | undefined;
}

/** The host without port, lower-cased; IPv6 literals keep their brackets. */
export function hostName(host: string): string {
  const lower = host.trim().toLowerCase();
  if (lower.startsWith('[')) {
    const end = lower.indexOf(']');
    return end < 0 ? lower : lower.slice(0, end + 1);
  }
  const colon = lower.lastIndexOf(':');
  return colon < 0 ? lower : lower.slice(0, colon);
}

function virtualBucket(host: string | undefined, domains: readonly string[]): string | undefined {
  if (host === undefined || domains.length === 0) return undefined;
  const name = hostName(host);
  for (const domain of domains) {
    const suffix = '.' + domain.toLowerCase();
    if (name.endsWith(suffix) && name.length > suffix.length) return name.slice(0, -suffix.length);
  }
  return undefined;
}

/** Resolves the raw (still percent-encoded) path and Host header into (bucket, key). */
export function resolveAddress(
  rawPath: string,
  host: string | undefined,
  options: AddressOptions = {},
): Address {
  if (!rawPath.startsWith('/')) {
    throw new S3Error(
      'InvalidURI',
      "Couldn't parse the specified URI: the request target must start with '/'.",
    );
  }
  const bucketFromHost = virtualBucket(host, options.domains ?? []);
  if (bucketFromHost !== undefined) {
    const keyText = percentDecode(rawPath.slice(1), false);
    return {
      style: 'virtual',
      bucket: validateBucketName(bucketFromHost),
      key: keyText === '' ? undefined : validateKey(keyText),
    };
  }
  const rest = rawPath.slice(1);
  if (rest === '') return { style: 'path', bucket: undefined, key: undefined };
  const slash = rest.indexOf('/');
  const bucketText = percentDecode(slash < 0 ? rest : rest.slice(0, slash), false);
  const keyText = slash < 0 ? '' : percentDecode(rest.slice(slash + 1), false);
  return {
    style: 'path',
    bucket: validateBucketName(bucketText),
    key: keyText === '' ? undefined : validateKey(keyText),
  };
}

export interface CopySource {
  readonly bucket: string;
  readonly key: string;
  readonly versionId: string | undefined;
}

/**
 * `x-amz-copy-source`: URL-encoded `bucket/key` with an optional leading '/'
 * and `?versionId=`. The key is validated like a URL key and kept literal.
 */
export function parseCopySource(header: string): CopySource {
  const invalid = (why: string) =>
    new S3Error('InvalidArgument', `Invalid copy source: ${why}.`, {
      ArgumentName: 'x-amz-copy-source',
      ArgumentValue: header,
    });
  let text = header.startsWith('/') ? header.slice(1) : header;
  let versionId: string | undefined;
  const q = text.indexOf('?');
  if (q >= 0) {
    const query = text.slice(q + 1);
    text = text.slice(0, q);
    if (!query.startsWith('versionId=')) throw invalid("only '?versionId=' may follow the key");
    versionId = percentDecode(query.slice('versionId='.length), false);
    if (versionId === '') throw invalid('the versionId is empty');
  }
  const slash = text.indexOf('/');
  if (slash <= 0 || slash === text.length - 1) throw invalid("it must be 'bucket/key'");
  return {
    bucket: validateBucketName(percentDecode(text.slice(0, slash), false)),
    key: validateKey(percentDecode(text.slice(slash + 1), false)),
    versionId,
  };
}
