/**
 * S3 errors: the one table from error code to HTTP status and default
 * message, the mapping from the store's codes to S3 codes, and the XML error
 * body. Every failure the gateway answers goes through `toS3Error` and
 * `renderErrorResponse`, so a code can never leave with two statuses.
 */
import { TesseraError } from '../errors';
import { XML_DECLARATION, textElement } from './xml/escape';

interface S3ErrorSpec {
  readonly status: number;
  readonly message: string;
}

/** Every S3 error code the gateway may answer, with AWS's status and message. */
export const S3_ERRORS = {
  AccessDenied: { status: 403, message: 'Access Denied' },
  AccessForbidden: {
    status: 403,
    message:
      "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
  },
  AuthorizationHeaderMalformed: {
    status: 400,
    message: 'The authorization header that you provided is not valid.',
  },
  AuthorizationQueryParametersError: {
    status: 400,
    message: 'The authorization query parameters that you provided are not valid.',
  },
  BadDigest: {
    status: 400,
    message:
      'The Content-MD5 or checksum value that you specified did not match what the server received.',
  },
  BucketAlreadyExists: {
    status: 409,
    message: 'The requested bucket name is not available.',
  },
  BucketAlreadyOwnedByYou: {
    status: 409,
    message: 'The bucket that you tried to create already exists, and you own it.',
  },
  BucketNotEmpty: { status: 409, message: 'The bucket that you tried to delete is not empty.' },
  ConditionalRequestConflict: {
    status: 409,
    message: 'A conflicting operation occurred. Retry the request.',
  },
  EntityTooLarge: {
    status: 400,
    message: 'Your proposed upload exceeds the maximum allowed object size.',
  },
  EntityTooSmall: {
    status: 400,
    message: 'Your proposed upload is smaller than the minimum allowed object size.',
  },
  IllegalVersioningConfigurationException: {
    status: 400,
    message: 'The versioning configuration specified in the request is invalid.',
  },
  IncompleteBody: {
    status: 400,
    message: 'You did not provide the number of bytes specified by the Content-Length HTTP header.',
  },
  InsufficientStorage: {
    status: 507,
    message: 'The storage has no space left for this request.',
  },
  InternalError: {
    status: 500,
    message: 'We encountered an internal error. Please try again.',
  },
  InvalidAccessKeyId: {
    status: 403,
    message: 'The AWS access key ID that you provided does not exist in our records.',
  },
  InvalidArgument: { status: 400, message: 'Invalid Argument' },
  InvalidBucketName: { status: 400, message: 'The specified bucket is not valid.' },
  InvalidChunkSizeError: {
    status: 403,
    message: 'Only the last chunk is allowed to have a size less than 8192 bytes',
  },
  InvalidDigest: {
    status: 400,
    message: 'The Content-MD5 or checksum value that you specified is not valid.',
  },
  InvalidLocationConstraint: {
    status: 400,
    message: 'The specified location (Region) constraint is not valid.',
  },
  InvalidPart: {
    status: 400,
    message:
      "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified ETag might not have matched the uploaded part's ETag.",
  },
  InvalidPartOrder: {
    status: 400,
    message:
      'The list of parts was not in ascending order. The parts list must be specified in order by part number.',
  },
  InvalidRange: { status: 416, message: 'The requested range cannot be satisfied.' },
  InvalidRequest: { status: 400, message: 'Invalid Request' },
  BadRequest: { status: 400, message: 'Insufficient information. Origin request header needed.' },
  InvalidURI: { status: 400, message: "Couldn't parse the specified URI." },
  KeyTooLongError: { status: 400, message: 'Your key is too long.' },
  MalformedTrailerError: {
    status: 400,
    message:
      'The request contained trailing data that was not well-formed or did not conform to our published schema.',
  },
  MalformedXML: {
    status: 400,
    message:
      'The XML that you provided was not well formed or did not validate against our published schema.',
  },
  MaxMessageLengthExceeded: { status: 400, message: 'Your request was too large.' },
  MetadataTooLarge: {
    status: 400,
    message: 'Your metadata headers exceed the maximum allowed metadata size.',
  },
  MethodNotAllowed: {
    status: 405,
    message: 'The specified method is not allowed against this resource.',
  },
  MissingContentLength: {
    status: 411,
    message: 'You must provide the Content-Length HTTP header.',
  },
  NoSuchBucket: { status: 404, message: 'The specified bucket does not exist.' },
  NoSuchBucketPolicy: {
    status: 404,
    message: 'The specified bucket does not have a bucket policy.',
  },
  ReplicationConfigurationNotFoundError: {
    status: 404,
    message: 'The replication configuration was not found.',
  },
  NoSuchCORSConfiguration: {
    status: 404,
    message: 'The specified bucket does not have a CORS configuration.',
  },
  NoSuchKey: { status: 404, message: 'The specified key does not exist.' },
  NoSuchLifecycleConfiguration: {
    status: 404,
    message: 'The lifecycle configuration does not exist.',
  },
  NoSuchUpload: {
    status: 404,
    message:
      'The specified multipart upload does not exist. The upload ID might not be valid, or the multipart upload might have been aborted or completed.',
  },
  NoSuchVersion: {
    status: 404,
    message: 'The version ID specified in the request does not match an existing version.',
  },
  NotImplemented: {
    status: 501,
    message: 'A header or query you provided implies functionality that is not implemented.',
  },
  NotModified: { status: 304, message: 'Not Modified' },
  OperationAborted: {
    status: 409,
    message:
      'A conflicting conditional operation is currently in progress against this resource. Try again.',
  },
  PreconditionFailed: {
    status: 412,
    message: 'At least one of the preconditions that you specified did not hold.',
  },
  RequestTimeout: {
    status: 400,
    message:
      'Your socket connection to the server was not read from or written to within the timeout period.',
  },
  RequestTimeTooSkewed: {
    status: 403,
    message: "The difference between the request time and the server's time is too large.",
  },
  ServiceUnavailable: { status: 503, message: 'Please reduce your request rate.' },
  SignatureDoesNotMatch: {
    status: 403,
    message:
      'The request signature that we calculated does not match the signature that you provided. Check your key and signing method.',
  },
  SlowDown: { status: 503, message: 'Please reduce your request rate.' },
  UnexpectedContent: {
    status: 400,
    message: 'This request contains unsupported content.',
  },
  XAmzContentSHA256Mismatch: {
    status: 400,
    message: "The provided 'x-amz-content-sha256' header does not match what was computed.",
  },
} as const satisfies Readonly<Record<string, S3ErrorSpec>>;

export type S3ErrorCode = keyof typeof S3_ERRORS;

export function isS3ErrorCode(code: string): code is S3ErrorCode {
  return Object.prototype.hasOwnProperty.call(S3_ERRORS, code);
}

/**
 * Store and argument codes (lib/errors.ts) to S3 codes. Quorum loss, a locked
 * or closing store are transient: 503 makes every SDK retry. Corruption the
 * store could not repair is a 500 (also retried, and logged loudly).
 */
export const STORE_CODE_TO_S3: Readonly<Record<string, S3ErrorCode>> = {
  ERR_INVALID_ARG_VALUE: 'InvalidArgument',
  ERR_INVALID_ARG_TYPE: 'InvalidArgument',
  ERR_OUT_OF_RANGE: 'InvalidArgument',
  ERR_STORE_IO: 'InternalError',
  ERR_STORE_NO_SPACE: 'InsufficientStorage',
  ERR_STORE_CORRUPT: 'InternalError',
  ERR_STORE_QUORUM: 'ServiceUnavailable',
  ERR_STORE_LOCKED: 'ServiceUnavailable',
  ERR_STORE_CLOSED: 'ServiceUnavailable',
  ERR_STORE_UNSUPPORTED: 'NotImplemented',
  ERR_STORE_INTERNAL: 'InternalError',
  // The change feed is not an S3 operation; should it surface, it is the server's.
  ERR_STORE_CHANGES_EXPIRED: 'InternalError',
  ERR_STORE_BINDING: 'InternalError',
  ABORT_ERR: 'RequestTimeout',
};

/** Codes whose store message may reach the client; others get S3's default text. */
const MESSAGE_PASSES_THROUGH = new Set<string>([
  'ERR_INVALID_ARG_VALUE',
  'ERR_INVALID_ARG_TYPE',
  'ERR_OUT_OF_RANGE',
]);

/** Extra elements some errors carry in their XML body (`<Key>`, `<BucketName>`...). */
export type S3ErrorDetails = Readonly<Record<string, string>>;

/** An error the gateway answers as S3 XML; `statusCode` comes from S3_ERRORS. */
export class S3Error extends TesseraError {
  override readonly code: S3ErrorCode;
  readonly details: S3ErrorDetails;

  constructor(code: S3ErrorCode, message?: string, details: S3ErrorDetails = {}, cause?: unknown) {
    super(code, message ?? S3_ERRORS[code].message, cause === undefined ? undefined : { cause });
    this.name = 'S3Error';
    this.code = code;
    this.details = details;
    // TesseraError derives statusCode from its own smaller table; S3_ERRORS is authoritative here.
    Object.defineProperty(this, 'statusCode', { value: S3_ERRORS[code].status, enumerable: true });
  }
}

/** Turns anything thrown by a handler or the store into the S3 error to answer. */
export function toS3Error(error: unknown): S3Error {
  if (error instanceof S3Error) return error;
  if (error instanceof TesseraError) {
    const mapped = STORE_CODE_TO_S3[error.code];
    if (mapped !== undefined) {
      const message = MESSAGE_PASSES_THROUGH.has(error.code) ? error.message : undefined;
      return new S3Error(mapped, message, {}, error);
    }
    // The store raises S3 codes directly where S3 has one (NoSuchKey, KeyTooLongError...).
    // Its messages for caller mistakes (4xx) are precise and safe to show; 5xx text stays ours.
    if (isS3ErrorCode(error.code)) {
      const clientError = S3_ERRORS[error.code].status < 500;
      return new S3Error(error.code, clientError ? error.message : undefined, {}, error);
    }
  }
  return new S3Error('InternalError', undefined, {}, error);
}

export interface ErrorContext {
  /** The request path as received, e.g. `/bucket/key` (S3's `<Resource>`). */
  readonly resource: string;
  readonly requestId: string;
}

/** The XML error body, with Code, Message, the error's details, Resource and RequestId. */
export function renderErrorXml(error: S3Error, context: ErrorContext): string {
  let details = '';
  for (const [name, value] of Object.entries(error.details)) details += textElement(name, value);
  return (
    XML_DECLARATION +
    '<Error>' +
    textElement('Code', error.code) +
    textElement('Message', error.message) +
    details +
    textElement('Resource', context.resource) +
    textElement('RequestId', context.requestId) +
    '</Error>'
  );
}

export interface ErrorResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** `null` for HEAD requests and 304: clients map the status alone. */
  readonly body: Buffer | null;
}

/** Status, headers and body for an error; HEAD and 304 answers carry no body. */
export function renderErrorResponse(
  method: string,
  error: unknown,
  context: ErrorContext,
): ErrorResponse {
  const s3 = toS3Error(error);
  const headers: Record<string, string> = { 'x-amz-request-id': context.requestId };
  if (method === 'HEAD' || s3.statusCode === 304) {
    return { status: s3.statusCode, headers, body: null };
  }
  const body = Buffer.from(renderErrorXml(s3, context), 'utf8');
  headers['content-type'] = 'application/xml';
  headers['content-length'] = String(body.length);
  return { status: s3.statusCode, headers, body };
}
