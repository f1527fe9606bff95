/**
 * TesseraError: every error tessera raises on purpose.
 *
 * `code` is stable and is what callers match on: the S3 error code where S3
 * has one (`NoSuchKey`, `PreconditionFailed`, ...), Node's argument codes for
 * caller mistakes (`ERR_INVALID_ARG_TYPE`, `ERR_INVALID_ARG_VALUE`,
 * `ERR_OUT_OF_RANGE`), and `ERR_STORE_*` for local states. `statusCode` is the
 * HTTP status the S3 gateway answers with, so the mapping exists once.
 */

/** Codes raised by the native core; the addon reports the same list. */
export const NATIVE_STATUS_CODES = [
  'OK',
  'ERR_INVALID_ARG_VALUE',
  'ERR_OUT_OF_RANGE',
  'NoSuchKey',
  'PreconditionFailed',
  'ERR_STORE_IO',
  'ERR_STORE_NO_SPACE',
  'ERR_STORE_CORRUPT',
  'ERR_STORE_QUORUM',
  'ERR_STORE_LOCKED',
  'ERR_STORE_CLOSED',
  'ERR_STORE_UNSUPPORTED',
  'ERR_STORE_INTERNAL',
  'ERR_STORE_CHANGES_EXPIRED',
] as const;

/** HTTP status for each code; codes not listed are caller errors (400). */
const HTTP_STATUS: Readonly<Record<string, number>> = {
  NoSuchKey: 404,
  NoSuchBucket: 404,
  NoSuchUpload: 404,
  NoSuchVersion: 404,
  PreconditionFailed: 412,
  InvalidRange: 416,
  BucketAlreadyOwnedByYou: 409,
  BucketAlreadyExists: 409,
  BucketNotEmpty: 409,
  ConditionalRequestConflict: 409,
  NotImplemented: 501,
  ERR_STORE_IO: 500,
  ERR_STORE_NO_SPACE: 507,
  ERR_STORE_CORRUPT: 500,
  ERR_STORE_QUORUM: 503,
  ERR_STORE_LOCKED: 503,
  ERR_STORE_CLOSED: 503,
  ERR_STORE_UNSUPPORTED: 501,
  ERR_STORE_INTERNAL: 500,
  ERR_STORE_BINDING: 500,
  ERR_STORE_CHANGES_EXPIRED: 410,
  ABORT_ERR: 499,
};

export interface TesseraErrorOptions {
  cause?: unknown;
}

export class TesseraError extends Error {
  /** Stable machine-readable code; see the module comment. */
  readonly code: string;
  /** HTTP status the gateway answers with for this code. */
  readonly statusCode: number;
  /** errno of the failed system call, for ERR_STORE_IO and friends. */
  errno?: number;
  /** Symbolic errno name, e.g. 'EIO'. */
  syscallError?: string;

  constructor(code: string, message: string, options?: TesseraErrorOptions) {
    super(message, options);
    this.name = 'TesseraError';
    this.code = code;
    this.statusCode = HTTP_STATUS[code] ?? 400;
  }
}

/** Thrown when an operation's AbortSignal fires, shaped like Node's. */
export class AbortError extends TesseraError {
  constructor(signal: AbortSignal) {
    super('ABORT_ERR', 'The operation was aborted', { cause: signal.reason });
    this.name = 'AbortError';
  }
}
