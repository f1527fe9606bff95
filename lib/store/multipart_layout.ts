/**
 * Objects assembled from parts (S3 multipart uploads). The writer gives the
 * parts' MD5s and sizes (`PutOptions.multipart`); the Store makes the
 * object's ETag `md5(concat(part MD5s))-N` (the engine keeps it and the part
 * count in the object record, so HEAD, GET and every listing show it) and
 * keeps the part sizes in a reserved metadata entry, outside the caller's
 * 2 KiB of user metadata and never shown in `metadata`.
 */
import { createHash } from 'node:crypto';
import { TesseraError } from '../errors';
import { RESERVED_METADATA_PREFIX } from './validate';

/** S3 part numbers are 1..10000. */
export const PARTS_MAX = 10_000;
/** Reserved metadata entry holding the part sizes. */
export const PART_SIZES_ENTRY = `${RESERVED_METADATA_PREFIX}p-sizes`;
/** A list of unequal sizes longer than this is not kept (only the count). */
const PART_SIZE_LIST_CHARS_MAX = 512;

export interface MultipartOptions {
  /** Hex MD5 of each part, in part order. */
  partEtags: readonly string[];
  /** Byte size of each part, in part order; they add up to the body length. */
  partSizes: readonly number[];
}

export interface ValidatedMultipart {
  /** `<hex md5 of the part md5s>-<count>`. */
  etag: string;
  count: number;
  totalBytes: number;
  /** The reserved metadata entry. */
  entry: Record<string, string>;
}

/** Checks `options.multipart` and derives the ETag and the stored layout. */
export function validateMultipart(value: unknown): ValidatedMultipart | undefined {
  if (value === undefined) return undefined;
  const given = value as Partial<MultipartOptions> | null;
  if (
    typeof given !== 'object' ||
    given === null ||
    !Array.isArray(given.partEtags) ||
    !Array.isArray(given.partSizes)
  ) {
    throw new TesseraError(
      'InvalidArgument',
      'multipart must be { partEtags: string[], partSizes: number[] }',
    );
  }
  const count = given.partEtags.length;
  if (count < 1 || count > PARTS_MAX || given.partSizes.length !== count) {
    throw new TesseraError(
      'InvalidArgument',
      `multipart needs 1..${PARTS_MAX} parts with as many sizes as ETags, got ${count} and ${given.partSizes.length}`,
    );
  }
  const hash = createHash('md5');
  for (const etag of given.partEtags) {
    if (typeof etag !== 'string' || !/^[0-9a-f]{32}$/i.test(etag)) {
      throw new TesseraError(
        'InvalidArgument',
        'multipart.partEtags must be hex MD5s (32 hex digits)',
      );
    }
    hash.update(Buffer.from(etag, 'hex'));
  }
  let totalBytes = 0;
  for (const size of given.partSizes) {
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
      throw new TesseraError('InvalidArgument', 'multipart.partSizes must be byte counts');
    }
    totalBytes += size;
  }
  return {
    etag: `${hash.digest('hex')}-${count}`,
    count,
    totalBytes,
    entry: { [PART_SIZES_ENTRY]: encodePartSizes(given.partSizes) },
  };
}

/** `count*size+last` when uniform (the usual case), else a comma list, else the count. */
function encodePartSizes(sizes: readonly number[]): string {
  const first = sizes[0]!;
  const last = sizes[sizes.length - 1]!;
  if (sizes.slice(0, -1).every((s) => s === first)) return `${sizes.length}*${first}+${last}`;
  const list = sizes.join(',');
  return list.length <= PART_SIZE_LIST_CHARS_MAX ? list : `${sizes.length}`;
}

/** Part count and (when kept) sizes from the reserved entry; undefined when absent. */
export function decodePartSizes(
  text: string | undefined,
): { count: number; sizes?: number[] } | undefined {
  if (text === undefined) return undefined;
  const uniform = /^(\d+)\*(\d+)\+(\d+)$/.exec(text);
  if (uniform) {
    const count = Number(uniform[1]);
    const sizes = new Array<number>(count).fill(Number(uniform[2]));
    sizes[count - 1] = Number(uniform[3]);
    return { count, sizes };
  }
  if (text.includes(',')) {
    const sizes = text.split(',').map(Number);
    return { count: sizes.length, sizes };
  }
  return { count: Number(text) };
}
