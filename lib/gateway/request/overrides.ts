/**
 * GetObject's `response-*` query parameters, which replace the stored
 * headers in the response (presigned downloads use them to force a file
 * name or type). Values become header values, so anything that is not a
 * valid header value (CR, LF, NUL, non-Latin-1) is refused rather than
 * passed to `setHeader`.
 */
import { S3Error } from '../errors';
import type { QueryParam } from './uri';

export const RESPONSE_OVERRIDES = {
  'response-content-type': 'content-type',
  'response-content-language': 'content-language',
  'response-expires': 'expires',
  'response-cache-control': 'cache-control',
  'response-content-disposition': 'content-disposition',
  'response-content-encoding': 'content-encoding',
} as const;

const HEADER_VALUE_RE = /^[\t\u0020-\u007e\u0080-\u00ff]*$/;

/** Response headers to set, lower-case names -> values. */
export function responseOverrides(query: readonly QueryParam[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of query) {
    if (!Object.prototype.hasOwnProperty.call(RESPONSE_OVERRIDES, p.name)) continue;
    const header = RESPONSE_OVERRIDES[p.name as keyof typeof RESPONSE_OVERRIDES];
    if (Object.prototype.hasOwnProperty.call(out, header)) {
      throw new S3Error('InvalidArgument', `${p.name} given more than once.`, {
        ArgumentName: p.name,
      });
    }
    if (!HEADER_VALUE_RE.test(p.value)) {
      throw new S3Error('InvalidArgument', `${p.name} is not a valid header value.`, {
        ArgumentName: p.name,
      });
    }
    out[header] = p.value;
  }
  return out;
}
