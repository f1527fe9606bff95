/**
 * Request-body decoding and verification as one Transform stream.
 *
 * Input: the raw HTTP body. Output: the object's bytes. Handles every
 * `x-amz-content-sha256` mode (hex digest, UNSIGNED-PAYLOAD, and the three
 * aws-chunked STREAMING-* modes), verifies each chunk signature, the trailer
 * signature, Content-MD5 and `x-amz-checksum-*` (header or trailer), and the
 * decoded length.
 *
 * Commit safety: whole-body checks can only run after the last byte, so the
 * stream always holds back its most recent output chunk and releases it
 * only once every check passed. A consumer therefore never sees the end of
 * a body that fails verification: it sees an error instead of 'end', and
 * `verified` rejects with the same S3Error. Memory is bounded by one input
 * chunk plus a line buffer of at most `chunk_line_bytes_max`.
 */
import { type Hash, createHash, createHmac } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import type { HeaderValues } from '../auth/canonical';
import { headerValues, sha256Hex } from '../auth/canonical';
import type { AuthResult } from '../auth/sigv4';
import { signaturesEqual } from '../auth/sigv4';
import { S3Error } from '../errors';
import {
  type ChecksumAlgorithm,
  type ChecksumFunctions,
  type IncrementalChecksum,
  checksumAlgorithmOfHeader,
  checksumHeaderName,
  createChecksum,
  decodeChecksumValue,
  parseChecksumAlgorithm,
} from './checksums';
import { fallbackChecksumFunctions } from './checksums_fallback';

/** Longest chunk-size line or trailer line we buffer (a signed size line is ~90 bytes). */
export const chunk_line_bytes_max = 4096;
/** Smallest signed chunk except the last one (S3's rule; bounds HMACs per byte). */
export const signed_chunk_bytes_min = 8192;
/** Most trailer bytes in one body. */
export const trailer_bytes_max = 16384;

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const SIZE_LINE_RE = /^([0-9a-fA-F]{1,12})(?:;chunk-signature=([0-9a-f]{64}))?$/;

export type PayloadMode =
  | 'sha256'
  | 'UNSIGNED-PAYLOAD'
  | 'STREAMING-UNSIGNED-PAYLOAD-TRAILER'
  | 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD'
  | 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';

export interface PayloadDecoderOptions {
  /** The verified request signature (payload hash, and the chain seed for signed chunks). */
  readonly auth: Pick<AuthResult, 'payloadHash' | 'signingKey' | 'amzDate' | 'scope' | 'signature'>;
  /** Request headers, lower-case names. Only headers carry checksums: presigned query parameters never do. */
  readonly headers: HeaderValues;
  readonly checksumFunctions?: ChecksumFunctions;
  /** Refuse bodies whose declared length is larger (EntityTooLarge). */
  readonly length_bytes_max?: number;
  /** Compute the MD5 of the decoded body (the single-part ETag); default true. */
  readonly computeMd5?: boolean;
}

export interface PayloadChecksum {
  readonly algorithm: ChecksumAlgorithm;
  /** Base64 of the big-endian digest, as in `x-amz-checksum-*`. */
  readonly value: string;
  /** Where the client's value came from; 'computed' when it only named the algorithm. */
  readonly source: 'header' | 'trailer' | 'computed';
}

export interface PayloadResult {
  readonly length: number;
  readonly md5: Buffer | undefined;
  readonly checksum: PayloadChecksum | undefined;
}

function single(headers: HeaderValues, name: string): string | undefined {
  const values = headerValues(headers, name);
  if (values.length > 1) throw new S3Error('InvalidArgument', `${name} given more than once`);
  return values[0];
}

function parseLength(value: string, name: string): number {
  if (!/^\d{1,15}$/.test(value))
    throw new S3Error('InvalidArgument', `${name} must be a non-negative integer, got '${value}'`);
  return Number(value);
}

function payloadMode(payloadHash: string): PayloadMode {
  return /^[0-9a-f]{64}$/.test(payloadHash) ? 'sha256' : (payloadHash as PayloadMode);
}

function isChunked(mode: PayloadMode): boolean {
  return mode.startsWith('STREAMING-');
}

function hasTrailer(mode: PayloadMode): boolean {
  return mode.endsWith('-TRAILER');
}

function isSignedChunks(mode: PayloadMode): boolean {
  return mode.startsWith('STREAMING-AWS4-HMAC-SHA256-PAYLOAD');
}

/** `Content-Encoding` to store: the header without its `aws-chunked` token (undefined if nothing is left). */
export function storedContentEncoding(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const kept = value
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '' && t.toLowerCase() !== 'aws-chunked');
  return kept.length === 0 ? undefined : kept.join(', ');
}

type State = 'size' | 'data' | 'data-crlf' | 'final-crlf' | 'trailer' | 'done';

export class PayloadDecoder extends Transform {
  /** Settles once the whole body was checked: the result, or the S3Error that refused it. */
  readonly verified: Promise<PayloadResult>;
  readonly mode: PayloadMode;

  #resolve!: (result: PayloadResult) => void;
  #reject!: (error: Error) => void;
  #settled = false;

  readonly #expectedLength: number;
  readonly #sha256: Hash | undefined;
  readonly #md5: Hash | undefined;
  readonly #contentMd5: Buffer | undefined;
  readonly #checksum: IncrementalChecksum | undefined;
  readonly #headerChecksum: Buffer | undefined;
  readonly #trailerName: string | undefined;
  readonly #auth: PayloadDecoderOptions['auth'];

  #length = 0;
  #held: Buffer | undefined;

  // aws-chunked framing state
  #state: State = 'size';
  #line: Buffer[] = [];
  #lineBytes = 0;
  #chunkRemaining = 0;
  #chunkSignature: string | undefined;
  #chunkHash: Hash | undefined;
  #previousSignature: string;
  #trailerBytes = 0;
  #chunkCount = 0;
  #smallChunkSeen = false;
  #trailers = new Map<string, string>();
  #trailerCanonical = '';
  #trailerSigned = false;

  constructor(options: PayloadDecoderOptions) {
    super();
    this.verified = new Promise<PayloadResult>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // Callers that only watch the stream must not trip unhandled-rejection checks.
    this.verified.catch(() => undefined);

    const { headers, auth } = options;
    this.#auth = auth;
    this.mode = payloadMode(auth.payloadHash);
    this.#previousSignature = auth.signature;
    const functions = options.checksumFunctions ?? fallbackChecksumFunctions;

    // Declared length: x-amz-decoded-content-length for aws-chunked, Content-Length otherwise.
    if (isChunked(this.mode)) {
      const decoded = single(headers, 'x-amz-decoded-content-length');
      if (decoded === undefined) {
        throw new S3Error(
          'MissingContentLength',
          `x-amz-decoded-content-length is required with ${this.mode}.`,
        );
      }
      this.#expectedLength = parseLength(decoded, 'x-amz-decoded-content-length');
    } else {
      const length = single(headers, 'content-length');
      if (length === undefined) throw new S3Error('MissingContentLength');
      this.#expectedLength = parseLength(length, 'Content-Length');
    }
    if (options.length_bytes_max !== undefined && this.#expectedLength > options.length_bytes_max) {
      throw new S3Error('EntityTooLarge', undefined, {
        ProposedSize: String(this.#expectedLength),
        MaxSizeAllowed: String(options.length_bytes_max),
      });
    }

    this.#sha256 = this.mode === 'sha256' ? createHash('sha256') : undefined;
    this.#md5 = options.computeMd5 === false ? undefined : createHash('md5');

    const contentMd5 = single(headers, 'content-md5');
    if (contentMd5 !== undefined) {
      const bytes = /^[A-Za-z0-9+/]{22}==$/.test(contentMd5)
        ? Buffer.from(contentMd5, 'base64')
        : undefined;
      if (bytes === undefined || bytes.length !== 16) throw new S3Error('InvalidDigest');
      this.#contentMd5 = bytes;
    }
    this.#md5 ??= contentMd5 !== undefined ? createHash('md5') : undefined;

    // Additional checksum: at most one algorithm, from a header or a declared trailer.
    let algorithm: ChecksumAlgorithm | undefined;
    let headerValue: string | undefined;
    for (const name of Object.keys(headers)) {
      if (!name.startsWith('x-amz-checksum-') || headers[name] === undefined) continue;
      // Not digests: the algorithm of a multipart upload, full-object vs composite, GET's opt-in.
      if (
        name === 'x-amz-checksum-algorithm' ||
        name === 'x-amz-checksum-type' ||
        name === 'x-amz-checksum-mode'
      ) {
        continue;
      }
      const found = checksumAlgorithmOfHeader(name);
      if (found === undefined)
        throw new S3Error('InvalidRequest', `Unsupported checksum header '${name}'.`);
      if (algorithm !== undefined) {
        throw new S3Error(
          'InvalidRequest',
          'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.',
        );
      }
      algorithm = found;
      headerValue = single(headers, name);
    }
    const trailerHeader = single(headers, 'x-amz-trailer');
    if (trailerHeader !== undefined) {
      if (!hasTrailer(this.mode)) {
        throw new S3Error(
          'InvalidRequest',
          `x-amz-trailer is only allowed with a STREAMING-*-TRAILER x-amz-content-sha256, got ${this.mode}.`,
        );
      }
      const names = trailerHeader
        .split(',')
        .map((n) => n.trim().toLowerCase())
        .filter((n) => n !== '');
      if (names.length > 1)
        throw new S3Error('InvalidRequest', 'Only one trailing checksum is supported per request.');
      if (names.length === 1) {
        const found = checksumAlgorithmOfHeader(names[0]!);
        if (found === undefined)
          throw new S3Error('InvalidRequest', `Unsupported trailer '${names[0]}'.`);
        if (algorithm !== undefined) {
          throw new S3Error(
            'InvalidRequest',
            'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.',
          );
        }
        algorithm = found;
        this.#trailerName = names[0];
      }
    }
    const sdkAlgorithm = single(headers, 'x-amz-sdk-checksum-algorithm');
    if (sdkAlgorithm !== undefined) {
      const named = parseChecksumAlgorithm(sdkAlgorithm);
      if (algorithm !== undefined && algorithm !== named) {
        throw new S3Error(
          'InvalidRequest',
          `Value for x-amz-sdk-checksum-algorithm header is invalid: it names ${named} but the request carries ${checksumHeaderName(algorithm)}.`,
        );
      }
      algorithm = named;
    }
    if (algorithm !== undefined) {
      this.#checksum = createChecksum(algorithm, functions);
      if (headerValue !== undefined)
        this.#headerChecksum = decodeChecksumValue(algorithm, headerValue);
    }
    if (!isChunked(this.mode)) this.#state = 'done';
  }

  /** Rejects `verified`, with the first error only. */
  #fail(error: Error): Error {
    if (!this.#settled) {
      this.#settled = true;
      this.#reject(error);
    }
    return error;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      if (isChunked(this.mode)) this.#parseChunked(chunk);
      else this.#emit(chunk);
      callback();
    } catch (error) {
      callback(this.#fail(error as Error));
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      const result = this.#finish();
      if (this.#held !== undefined) this.push(this.#held);
      this.#held = undefined;
      this.#settled = true;
      this.#resolve(result);
      callback();
    } catch (error) {
      callback(this.#fail(error as Error));
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#held = undefined;
    // After a verified end there is nothing to reject (and no error to build).
    if (!this.#settled) {
      this.#fail(
        error ?? new S3Error('IncompleteBody', 'The request body ended before it was complete.'),
      );
    }
    callback(error);
  }

  /** Counts, hashes and releases decoded bytes, always keeping the latest slice back. */
  #emit(data: Buffer): void {
    if (data.length === 0) return;
    this.#length += data.length;
    if (this.#length > this.#expectedLength) {
      throw new S3Error(
        'IncompleteBody',
        `The body is longer than the declared ${this.#expectedLength} bytes.`,
      );
    }
    this.#sha256?.update(data);
    this.#md5?.update(data);
    this.#checksum?.update(data);
    if (this.#held !== undefined) this.push(this.#held);
    this.#held = data;
  }

  #finish(): PayloadResult {
    if (this.#state !== 'done') {
      throw new S3Error('IncompleteBody', 'The aws-chunked body ended before its final chunk.');
    }
    if (this.#length !== this.#expectedLength) {
      throw new S3Error(
        'IncompleteBody',
        `You did not provide the number of bytes specified: expected ${this.#expectedLength}, got ${this.#length}.`,
      );
    }
    if (
      this.#sha256 !== undefined &&
      !signaturesEqual(this.#auth.payloadHash, this.#sha256.digest('hex'))
    ) {
      throw new S3Error('XAmzContentSHA256Mismatch');
    }
    const md5 = this.#md5?.digest();
    if (this.#contentMd5 !== undefined && !this.#contentMd5.equals(md5!)) {
      throw new S3Error(
        'BadDigest',
        'The Content-MD5 you specified did not match what we received.',
      );
    }
    let checksum: PayloadChecksum | undefined;
    if (this.#checksum !== undefined) {
      const algorithm = this.#checksum.algorithm;
      const actual = this.#checksum.digest();
      let expected = this.#headerChecksum;
      let source: PayloadChecksum['source'] = expected !== undefined ? 'header' : 'computed';
      if (this.#trailerName !== undefined) {
        const value = this.#trailers.get(this.#trailerName);
        if (value === undefined) {
          throw new S3Error(
            'MalformedTrailerError',
            `The declared trailer ${this.#trailerName} was not sent.`,
          );
        }
        expected = decodeChecksumValue(algorithm, value);
        source = 'trailer';
      }
      if (expected !== undefined && !expected.equals(actual)) {
        throw new S3Error(
          'BadDigest',
          `The ${algorithm} you specified did not match the calculated checksum.`,
        );
      }
      checksum = { algorithm, value: actual.toString('base64'), source };
    }
    return { length: this.#length, md5, checksum };
  }

  // ---- aws-chunked ---------------------------------------------------------

  #parseChunked(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      switch (this.#state) {
        case 'data': {
          const take = Math.min(this.#chunkRemaining, chunk.length - pos);
          const data = chunk.subarray(pos, pos + take);
          this.#chunkHash?.update(data);
          this.#emit(data);
          this.#chunkRemaining -= take;
          pos += take;
          if (this.#chunkRemaining === 0) {
            if (this.#chunkHash !== undefined) this.#verifyChunk(this.#chunkHash.digest('hex'));
            this.#chunkHash = undefined;
            this.#state = 'data-crlf';
          }
          break;
        }
        case 'done':
          throw framing('unexpected bytes after the end of the aws-chunked body');
        default: {
          const line = this.#readLine(chunk, pos);
          if (line === undefined) return;
          pos = line.next;
          this.#onLine(line.text);
        }
      }
    }
  }

  /** Accumulates one CRLF-terminated line; undefined when the chunk ends first. */
  #readLine(chunk: Buffer, pos: number): { text: string; next: number } | undefined {
    const lf = chunk.indexOf(0x0a, pos);
    const end = lf < 0 ? chunk.length : lf + 1;
    this.#lineBytes += end - pos;
    if (this.#lineBytes > chunk_line_bytes_max)
      throw framing(`a line is longer than ${chunk_line_bytes_max} bytes`);
    if (this.#state === 'trailer') {
      this.#trailerBytes += end - pos;
      if (this.#trailerBytes > trailer_bytes_max) {
        throw new S3Error(
          'MalformedTrailerError',
          `The trailer section is longer than ${trailer_bytes_max} bytes.`,
        );
      }
    }
    this.#line.push(chunk.subarray(pos, end));
    if (lf < 0) return undefined;
    const raw = this.#line.length === 1 ? this.#line[0]! : Buffer.concat(this.#line);
    this.#line = [];
    this.#lineBytes = 0;
    if (raw.length < 2 || raw[raw.length - 2] !== 0x0d)
      throw framing('a line does not end with CRLF');
    return { text: raw.subarray(0, raw.length - 2).toString('latin1'), next: end };
  }

  #onLine(text: string): void {
    switch (this.#state) {
      case 'size':
        return this.#onSizeLine(text);
      case 'data-crlf':
        if (text !== '') throw framing('chunk data is longer than its declared size');
        this.#state = 'size';
        return;
      case 'final-crlf':
        if (text !== '') throw framing('the final chunk must be followed by an empty line');
        this.#state = 'done';
        return;
      case 'trailer':
        return this.#onTrailerLine(text);
    }
  }

  #onSizeLine(text: string): void {
    const m = SIZE_LINE_RE.exec(text);
    if (m === null) throw framing(`bad chunk header '${text.slice(0, 100)}'`);
    const size = parseInt(m[1]!, 16);
    const signature = m[2];
    if (isSignedChunks(this.mode) !== (signature !== undefined)) {
      throw framing(
        isSignedChunks(this.mode)
          ? 'a chunk has no chunk-signature'
          : 'unsigned chunks must not carry a chunk-signature',
      );
    }
    if (this.#length + size > this.#expectedLength) {
      throw new S3Error(
        'IncompleteBody',
        `A chunk goes past x-amz-decoded-content-length (${this.#expectedLength}).`,
      );
    }
    this.#chunkSignature = signature;
    if (size > 0) {
      // Each signed chunk costs an HMAC: like S3, only the last data chunk may be small.
      if (signature !== undefined && this.#smallChunkSeen) {
        throw new S3Error('InvalidChunkSizeError', undefined, { Chunk: String(this.#chunkCount) });
      }
      this.#chunkCount++;
      if (size < signed_chunk_bytes_min) this.#smallChunkSeen = true;
      this.#chunkRemaining = size;
      this.#chunkHash = signature !== undefined ? createHash('sha256') : undefined;
      this.#state = 'data';
      return;
    }
    if (signature !== undefined) this.#verifyChunk(EMPTY_SHA256);
    this.#state = hasTrailer(this.mode) ? 'trailer' : 'final-crlf';
  }

  /** Checks a chunk's signature against the chain and advances it. */
  #verifyChunk(dataHash: string): void {
    const stringToSign = [
      'AWS4-HMAC-SHA256-PAYLOAD',
      this.#auth.amzDate,
      this.#auth.scope,
      this.#previousSignature,
      EMPTY_SHA256,
      dataHash,
    ].join('\n');
    const expected = createHmac('sha256', this.#auth.signingKey).update(stringToSign).digest('hex');
    if (!signaturesEqual(expected, this.#chunkSignature!)) {
      throw new S3Error(
        'SignatureDoesNotMatch',
        'The chunk signature that we calculated does not match the signature that you provided.',
      );
    }
    this.#previousSignature = expected;
  }

  #onTrailerLine(text: string): void {
    const signedTrailer = this.mode === 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';
    if (text === '') {
      if (signedTrailer && !this.#trailerSigned) {
        throw new S3Error('MalformedTrailerError', 'The trailer has no x-amz-trailer-signature.');
      }
      this.#state = 'done';
      return;
    }
    if (this.#trailerSigned)
      throw new S3Error(
        'MalformedTrailerError',
        'x-amz-trailer-signature must be the last trailer.',
      );
    const colon = text.indexOf(':');
    if (colon <= 0)
      throw new S3Error('MalformedTrailerError', `Bad trailer line '${text.slice(0, 100)}'.`);
    const name = text.slice(0, colon).trim().toLowerCase();
    const value = text.slice(colon + 1).trim();
    if (name === 'x-amz-trailer-signature') {
      if (!signedTrailer)
        throw new S3Error(
          'MalformedTrailerError',
          'x-amz-trailer-signature is only allowed with signed trailers.',
        );
      const stringToSign = [
        'AWS4-HMAC-SHA256-TRAILER',
        this.#auth.amzDate,
        this.#auth.scope,
        this.#previousSignature,
        sha256Hex(this.#trailerCanonical),
      ].join('\n');
      const expected = createHmac('sha256', this.#auth.signingKey)
        .update(stringToSign)
        .digest('hex');
      if (!signaturesEqual(expected, value)) {
        throw new S3Error(
          'SignatureDoesNotMatch',
          'The trailer signature that we calculated does not match the signature that you provided.',
        );
      }
      this.#trailerSigned = true;
      return;
    }
    if (name !== this.#trailerName) {
      throw new S3Error(
        'MalformedTrailerError',
        `The trailer ${name} was not declared in x-amz-trailer.`,
      );
    }
    if (this.#trailers.has(name))
      throw new S3Error('MalformedTrailerError', `The trailer ${name} was sent twice.`);
    this.#trailers.set(name, value);
    this.#trailerCanonical += `${name}:${value}\n`;
  }
}

function framing(detail: string): S3Error {
  return new S3Error('InvalidRequest', `The aws-chunked body is malformed: ${detail}.`);
}
