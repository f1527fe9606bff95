/**
 * The request body as the store should see it: decoded (plain or
 * aws-chunked), verified (payload SHA-256, chunk signatures, trailer
 * signature, x-amz-checksum-*, Content-MD5, declared lengths) and streamed
 * with backpressure. Every check that can fail does so before the generator
 * finishes, and Bucket.put commits only after it finishes, so a body that
 * fails verification never becomes visible.
 *
 * Lives here until the protocol layer (lib/gateway/payload/) exports a
 * decoder with the same shape; `decodeRequestBody` is the only entry point.
 */
import { createHash, createHmac } from 'node:crypto';
import { S3Error } from '../errors';
import { signaturesEqual } from '../auth/sigv4';
import {
  type ChecksumAlgorithm,
  type IncrementalChecksum,
  checksumAlgorithmOfHeader,
  checksumHeaderName,
  createChecksum,
  decodeChecksumValue,
  parseChecksumAlgorithm,
} from '../payload/checksums';
import { fallbackChecksumFunctions } from '../payload/checksums_fallback';
import { type RequestContext, header } from './context';

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
/** A chunk header line (`hex-size;chunk-signature=...`) or trailer line is at most this long. */
const CHUNK_LINE_BYTES_MAX = 4096;
/** Trailers after the last chunk, bytes in total. */
const TRAILER_BYTES_MAX = 16 * 1024;
/** aws-chunked chunk size limit: S3 caps the declared size of one chunk. */
const CHUNK_BYTES_MAX = 64 * 1024 * 1024;

/** What the body turned out to be, filled in as the generator runs. */
export interface DecodedBodyResult {
  /** Bytes of content (after aws-chunked decoding). */
  bytes: number;
  /** Verified checksum, base64, when the client sent one (header or trailer). */
  checksum?: { algorithm: ChecksumAlgorithm; value: string };
}

export interface DecodeOptions {
  /** Content larger than this is refused with EntityTooLarge. */
  maxBytes: number;
  /** Ignore (do not require or verify) checksum headers, e.g. presigned query parameters. */
  result?: DecodedBodyResult;
}

interface Plan {
  chunked: boolean;
  signedChunks: boolean;
  trailerExpected: string | undefined;
  signedTrailer: boolean;
  /** Length of the decoded content, when declared. */
  declaredLength: number | undefined;
  payloadSha256: string | undefined;
  checksum: IncrementalChecksum | undefined;
  checksumExpected: Buffer | undefined;
  md5Expected: Buffer | undefined;
}

function parseLength(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,16}$/.test(value)) throw new S3Error('InvalidArgument', `${name} is not a length`);
  return Number(value);
}

function plan(ctx: RequestContext): Plan {
  const mode = ctx.auth.payloadHash;
  const contentEncoding = (header(ctx, 'content-encoding') ?? '').toLowerCase();
  const chunked = mode.startsWith('STREAMING-');
  if (!chunked && contentEncoding.split(',').some((c) => c.trim() === 'aws-chunked')) {
    throw new S3Error(
      'InvalidArgument',
      'aws-chunked encoding requires a STREAMING-* x-amz-content-sha256 value',
    );
  }
  const declaredLength = chunked
    ? parseLength('x-amz-decoded-content-length', header(ctx, 'x-amz-decoded-content-length'))
    : parseLength('Content-Length', header(ctx, 'content-length'));
  if (chunked && declaredLength === undefined) {
    throw new S3Error('MissingContentLength', 'x-amz-decoded-content-length is required');
  }
  const trailerHeader = header(ctx, 'x-amz-trailer')?.trim().toLowerCase();
  const trailerMode = mode.endsWith('-TRAILER');
  if (trailerHeader !== undefined && !trailerMode) {
    throw new S3Error('InvalidRequest', 'x-amz-trailer requires a *-TRAILER payload mode');
  }
  if (trailerMode && trailerHeader === undefined) {
    throw new S3Error('InvalidRequest', 'a *-TRAILER payload mode requires x-amz-trailer');
  }
  let checksum: IncrementalChecksum | undefined;
  let checksumExpected: Buffer | undefined;
  // Presigned URLs may carry checksum parameters; AWS ignores them, and so do we.
  const headerChecksums = Object.keys(ctx.req.headers)
    .map((name) => [name, checksumAlgorithmOfHeader(name)] as const)
    .filter((pair): pair is readonly [string, ChecksumAlgorithm] => pair[1] !== undefined);
  if (headerChecksums.length > 1) {
    throw new S3Error('InvalidRequest', 'Expecting a single x-amz-checksum- header.');
  }
  if (trailerHeader !== undefined) {
    const algorithm = checksumAlgorithmOfHeader(trailerHeader);
    if (algorithm === undefined) {
      throw new S3Error('InvalidRequest', `unsupported trailer '${trailerHeader}'`);
    }
    if (headerChecksums.length > 0) {
      throw new S3Error('InvalidRequest', 'Expecting a single x-amz-checksum- header.');
    }
    checksum = createChecksum(algorithm, fallbackChecksumFunctions);
  } else if (headerChecksums.length === 1) {
    const [name, algorithm] = headerChecksums[0]!;
    checksumExpected = decodeChecksumValue(algorithm, header(ctx, name)!);
    checksum = createChecksum(algorithm, fallbackChecksumFunctions);
  }
  const declared = header(ctx, 'x-amz-sdk-checksum-algorithm');
  if (declared !== undefined && checksum !== undefined) {
    if (parseChecksumAlgorithm(declared) !== checksum.algorithm) {
      throw new S3Error(
        'InvalidRequest',
        `Value for x-amz-sdk-checksum-algorithm header is invalid: ${declared}`,
      );
    }
  }
  let md5Expected: Buffer | undefined;
  const md5 = header(ctx, 'content-md5');
  if (md5 !== undefined) {
    md5Expected = Buffer.from(md5, 'base64');
    if (md5Expected.length !== 16 || md5Expected.toString('base64') !== md5) {
      throw new S3Error('InvalidDigest', 'The Content-MD5 you specified was invalid.');
    }
  }
  return {
    chunked,
    signedChunks: mode.startsWith('STREAMING-AWS4-HMAC-SHA256-PAYLOAD'),
    trailerExpected: trailerHeader,
    signedTrailer: mode === 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
    declaredLength,
    payloadSha256: /^[0-9a-f]{64}$/.test(mode) ? mode : undefined,
    checksum,
    checksumExpected,
    md5Expected,
  };
}

/**
 * The slow-body guard: a request whose body advances less than the minimum
 * rate over a window is destroyed (the socket closes, the put aborts).
 */
function watchBodyRate(ctx: RequestContext, counter: { bytes: number }): () => void {
  const windowMs = ctx.config.bodyRateWindowMs;
  const minimum = (ctx.config.bodyBytesPerSecondMin * windowMs) / 1000;
  let seen = 0;
  const timer = setInterval(() => {
    if (counter.bytes - seen < minimum) {
      ctx.log.warn({ bytes: counter.bytes }, 'request body below the minimum rate; closing');
      ctx.req.destroy(new S3Error('RequestTimeout'));
    }
    seen = counter.bytes;
  }, windowMs);
  timer.unref();
  return () => clearInterval(timer);
}

function chunkStringToSign(ctx: RequestContext, previous: string, chunkHash: string): string {
  return [
    'AWS4-HMAC-SHA256-PAYLOAD',
    ctx.auth.amzDate,
    ctx.auth.scope,
    previous,
    EMPTY_SHA256,
    chunkHash,
  ].join('\n');
}

function sign(ctx: RequestContext, text: string): string {
  return createHmac('sha256', ctx.auth.signingKey).update(text).digest('hex');
}

/**
 * Decodes and verifies the body. Yields content Buffers; throws the S3Error
 * to answer (after which nothing may be committed). `options.result` is
 * filled in once the generator has finished.
 */
export async function* decodeRequestBody(
  ctx: RequestContext,
  options: DecodeOptions,
): AsyncGenerator<Buffer> {
  const p = plan(ctx);
  if (p.declaredLength !== undefined && p.declaredLength > options.maxBytes) {
    throw new S3Error(
      'EntityTooLarge',
      `body is ${p.declaredLength} bytes; the limit is ${options.maxBytes}`,
    );
  }
  const result = options.result ?? { bytes: 0 };
  const sha256 = p.payloadSha256 !== undefined ? createHash('sha256') : undefined;
  const md5 = p.md5Expected !== undefined ? createHash('md5') : undefined;
  const wire = { bytes: 0 };
  ctx.continueBody();
  const stopWatch = watchBodyRate(ctx, wire);
  const content = (piece: Buffer): Buffer => {
    result.bytes += piece.length;
    if (result.bytes > options.maxBytes) {
      throw new S3Error('EntityTooLarge', `body exceeds the limit of ${options.maxBytes} bytes`);
    }
    sha256?.update(piece);
    md5?.update(piece);
    p.checksum?.update(piece);
    return piece;
  };
  let trailers = new Map<string, string>();
  try {
    if (!p.chunked) {
      for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
        wire.bytes += chunk.length;
        yield content(chunk);
      }
    } else {
      trailers = yield* decodeChunked(ctx, p, wire, content);
    }
  } catch (error) {
    if (error instanceof S3Error) throw error;
    // The client went away or the socket was cut mid-body.
    throw new S3Error('IncompleteBody', undefined, {}, error);
  } finally {
    stopWatch();
  }
  ctx.receivedBytes += result.bytes;
  if (p.declaredLength !== undefined && result.bytes !== p.declaredLength) {
    throw new S3Error(
      'IncompleteBody',
      `You did not provide the number of bytes specified: ${p.declaredLength} declared, ${result.bytes} received.`,
    );
  }
  if (sha256 !== undefined && sha256.digest('hex') !== p.payloadSha256) {
    throw new S3Error('XAmzContentSHA256Mismatch');
  }
  if (md5 !== undefined && !md5.digest().equals(p.md5Expected!)) {
    throw new S3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.');
  }
  if (p.checksum !== undefined) {
    let expected = p.checksumExpected;
    if (p.trailerExpected !== undefined) {
      const value = trailers.get(p.trailerExpected);
      if (value === undefined) {
        throw new S3Error('MalformedTrailerError', `the trailer ${p.trailerExpected} is missing`);
      }
      expected = decodeChecksumValue(p.checksum.algorithm, value);
    }
    const actual = p.checksum.digest();
    if (!actual.equals(expected!)) {
      throw new S3Error(
        'BadDigest',
        `The ${p.checksum.algorithm} you specified did not match the calculated checksum.`,
      );
    }
    result.checksum = { algorithm: p.checksum.algorithm, value: actual.toString('base64') };
  }
}

/** aws-chunked framing: `hex-size[;chunk-signature=sig]\r\n data \r\n ... 0...\r\n trailers \r\n`. */
async function* decodeChunked(
  ctx: RequestContext,
  p: Plan,
  wire: { bytes: number },
  content: (piece: Buffer) => Buffer,
): AsyncGenerator<Buffer, Map<string, string>> {
  let buffered = Buffer.alloc(0);
  let state: 'header' | 'data' | 'data-end' | 'trailer' | 'done' = 'header';
  let remaining = 0;
  let chunkSignature = '';
  let chunkHash = p.signedChunks ? createHash('sha256') : undefined;
  let previous = ctx.auth.signature;
  const trailers = new Map<string, string>();
  let trailerText = '';
  let trailerBytes = 0;
  let trailerSignature: string | undefined;

  const verifyChunk = (hash: string): void => {
    const expected = sign(ctx, chunkStringToSign(ctx, previous, hash));
    if (!signaturesEqual(expected, chunkSignature)) throw new S3Error('SignatureDoesNotMatch');
    previous = expected;
  };

  for await (const piece of ctx.req as AsyncIterable<Buffer>) {
    wire.bytes += piece.length;
    buffered = buffered.length === 0 ? piece : Buffer.concat([buffered, piece]);
    for (;;) {
      if (state === 'header') {
        const end = buffered.indexOf('\r\n');
        if (end < 0) {
          if (buffered.length > CHUNK_LINE_BYTES_MAX) throw malformed('chunk header too long');
          break;
        }
        const line = buffered.subarray(0, end).toString('latin1');
        buffered = buffered.subarray(end + 2);
        const semi = line.indexOf(';');
        const sizeText = semi < 0 ? line : line.slice(0, semi);
        if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText)) throw malformed('bad chunk size');
        remaining = parseInt(sizeText, 16);
        if (remaining > CHUNK_BYTES_MAX) throw malformed('chunk too large');
        if (p.signedChunks) {
          const ext = semi < 0 ? '' : line.slice(semi + 1);
          if (!ext.startsWith('chunk-signature=')) throw malformed('missing chunk-signature');
          chunkSignature = ext.slice('chunk-signature='.length);
          chunkHash = createHash('sha256');
        }
        if (remaining === 0) {
          if (p.signedChunks) verifyChunk(EMPTY_SHA256);
          state = 'trailer';
        } else {
          state = 'data';
        }
        continue;
      }
      if (state === 'data') {
        if (buffered.length === 0) break;
        const take = Math.min(remaining, buffered.length);
        const data = buffered.subarray(0, take);
        buffered = buffered.subarray(take);
        remaining -= take;
        chunkHash?.update(data);
        yield content(data);
        if (remaining === 0) state = 'data-end';
        continue;
      }
      if (state === 'data-end') {
        if (buffered.length < 2) break;
        if (buffered[0] !== 0x0d || buffered[1] !== 0x0a) throw malformed('chunk not followed by CRLF');
        buffered = buffered.subarray(2);
        if (p.signedChunks) verifyChunk(chunkHash!.digest('hex'));
        state = 'header';
        continue;
      }
      if (state === 'trailer') {
        const end = buffered.indexOf('\r\n');
        if (end < 0) {
          if (buffered.length > CHUNK_LINE_BYTES_MAX) throw malformed('trailer line too long');
          break;
        }
        const line = buffered.subarray(0, end).toString('latin1');
        buffered = buffered.subarray(end + 2);
        trailerBytes += end + 2;
        if (trailerBytes > TRAILER_BYTES_MAX) throw malformed('trailers too long');
        if (line === '') {
          state = 'done';
          continue;
        }
        const colon = line.indexOf(':');
        if (colon <= 0) throw malformed('bad trailer line');
        const name = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        if (name === 'x-amz-trailer-signature') {
          trailerSignature = value;
          continue;
        }
        if (name !== p.trailerExpected || trailers.has(name)) {
          throw malformed(`unexpected trailer '${name}'`);
        }
        trailers.set(name, value);
        trailerText += `${name}:${value}\n`;
        continue;
      }
      // done: anything after the final CRLF is a framing error.
      if (buffered.length > 0) throw malformed('data after the final chunk');
      break;
    }
  }
  if (state !== 'done') {
    // Some clients end the body right after the last trailer line without the blank line.
    if (!(state === 'trailer' && buffered.length === 0 && p.trailerExpected !== undefined)) {
      throw new S3Error('IncompleteBody', 'the aws-chunked body ended early');
    }
  }
  if (p.signedTrailer) {
    if (trailerSignature === undefined) throw malformed('missing x-amz-trailer-signature');
    const text = [
      'AWS4-HMAC-SHA256-TRAILER',
      ctx.auth.amzDate,
      ctx.auth.scope,
      previous,
      createHash('sha256').update(trailerText).digest('hex'),
    ].join('\n');
    if (!signaturesEqual(sign(ctx, text), trailerSignature)) {
      throw new S3Error('SignatureDoesNotMatch');
    }
  } else if (trailerSignature !== undefined) {
    throw malformed('x-amz-trailer-signature on an unsigned payload');
  }
  return trailers;
}

function malformed(what: string): S3Error {
  return new S3Error('IncompleteBody', `The aws-chunked body is malformed: ${what}.`);
}

/** Reads a small body (XML) fully, verified like any other, refusing more than `maxBytes`. */
export async function readSmallBody(ctx: RequestContext, maxBytes: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  try {
    for await (const piece of decodeRequestBody(ctx, { maxBytes })) parts.push(piece);
  } catch (error) {
    if (error instanceof S3Error && error.code === 'EntityTooLarge') {
      throw new S3Error('MaxMessageLengthExceeded', `the XML body is limited to ${maxBytes} bytes`);
    }
    throw error;
  }
  return Buffer.concat(parts);
}

export { checksumHeaderName };
