/**
 * `Range` for GetObject, as S3 answers it:
 *
 * - `bytes=a-b`, `bytes=a-`, `bytes=-n` select one range; an end past the
 *   object is clamped, `-n` larger than the object means the whole object
 *   (still a 206 with a Content-Range).
 * - A range that starts at or past the end of the object, `bytes=-0`, or any
 *   range on an empty object is unsatisfiable: 416 InvalidRange.
 * - A header that does not parse (other unit, `a>b`, junk) is ignored, as RFC
 *   9110 requires: the whole object with 200.
 * - Several ranges (`bytes=0-1,5-9`): S3 does not serve multipart/byteranges
 *   and answers the whole object with 200; so do we.
 */
import { S3Error } from '../errors';

/** Longest Range header we look at; longer ones are ignored, never scanned. */
export const range_header_bytes_max = 256;

export type RangeRequest =
  | { readonly kind: 'whole' }
  | {
      readonly kind: 'partial';
      readonly start: number;
      readonly end: number;
      readonly contentRange: string;
    };

const SINGLE_RE = /^bytes=(\d{0,15})-(\d{0,15})$/;

export function parseRange(header: string | undefined, size: number): RangeRequest {
  if (header === undefined || header.length > range_header_bytes_max) return { kind: 'whole' };
  const spec = header.trim().replace(/^bytes\s*=\s*/i, 'bytes=');
  if (!spec.startsWith('bytes=') || spec.includes(',')) return { kind: 'whole' };
  const m = SINGLE_RE.exec(spec.replace(/\s+/g, ''));
  if (m === null || (m[1] === '' && m[2] === '')) return { kind: 'whole' };
  let start: number;
  let end: number;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) throw unsatisfiable(size);
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    if (m[2] !== '' && Number(m[2]) < start) return { kind: 'whole' };
    if (start >= size) throw unsatisfiable(size);
    end = m[2] === '' ? size - 1 : Number(m[2]);
    end = Math.min(end, size - 1);
  }
  return { kind: 'partial', start, end, contentRange: `bytes ${start}-${end}/${size}` };
}

function unsatisfiable(size: number): S3Error {
  return new S3Error('InvalidRange', undefined, { ActualObjectSize: String(size) });
}

/**
 * `x-amz-copy-source-range` for UploadPartCopy: exactly `bytes=a-b`, inside
 * the source object; unlike GET, anything else is an error.
 */
export function parseCopySourceRange(header: string, size: number): { start: number; end: number } {
  const m = /^bytes=(\d{1,15})-(\d{1,15})$/.exec(header.trim());
  if (m === null || Number(m[2]) < Number(m[1])) {
    throw new S3Error(
      'InvalidArgument',
      'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy',
      {
        ArgumentName: 'x-amz-copy-source-range',
        ArgumentValue: header,
      },
    );
  }
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end >= size) {
    throw new S3Error(
      'InvalidRange',
      `Range specified is not valid for source object of size: ${size}`,
      {
        ActualObjectSize: String(size),
      },
    );
  }
  return { start, end };
}
