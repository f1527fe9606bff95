/** Byte ranges: validated shape first, then resolved against a size. */
import { TesseraError } from '../errors';
import type { ByteRange } from './types';

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

export function validateRange(range: unknown): ByteRange | undefined {
  if (range === undefined) return undefined;
  if (typeof range !== 'object' || range === null) {
    throw new TesseraError('InvalidArgument', 'range must be { start, end? } or { suffix }');
  }
  const r = range as { start?: unknown; end?: unknown; suffix?: unknown };
  if (r.suffix !== undefined) {
    if (r.start !== undefined || r.end !== undefined) {
      throw new TesseraError(
        'InvalidArgument',
        'range.suffix cannot be combined with start or end',
      );
    }
    if (!isNonNegativeInteger(r.suffix) || r.suffix === 0) {
      throw new TesseraError(
        'InvalidArgument',
        `range.suffix must be a positive integer, got ${String(r.suffix)}`,
      );
    }
    return { suffix: r.suffix };
  }
  if (!isNonNegativeInteger(r.start)) {
    throw new TesseraError(
      'InvalidArgument',
      `range.start must be a non-negative integer, got ${String(r.start)}`,
    );
  }
  if (r.end !== undefined && (!isNonNegativeInteger(r.end) || r.end < r.start)) {
    throw new TesseraError(
      'InvalidArgument',
      `range.end must be an integer >= range.start, got ${String(r.end)}`,
    );
  }
  return r.end === undefined ? { start: r.start } : { start: r.start, end: r.end };
}

/** Inclusive [start, end] within an object of `size` bytes, or InvalidRange. */
export function resolveRange(range: ByteRange, size: number): { start: number; end: number } {
  if ('suffix' in range) {
    if (size === 0)
      throw new TesseraError(
        'InvalidRange',
        'the requested range is not satisfiable (empty object)',
      );
    return { start: Math.max(0, size - range.suffix), end: size - 1 };
  }
  if (range.start >= size) {
    throw new TesseraError(
      'InvalidRange',
      `the requested range starts at ${range.start} but the object has ${size} bytes`,
    );
  }
  return { start: range.start, end: Math.min(range.end ?? size - 1, size - 1) };
}
