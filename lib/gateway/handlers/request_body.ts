/**
 * The request body as the store should see it: decoded and verified by the
 * protocol layer's PayloadDecoder (payload SHA-256, chunk and trailer
 * signatures, x-amz-checksum-*, Content-MD5, declared length), with the
 * gateway's slow-body guard, streamed with backpressure. The decoder holds
 * back its last chunk until every check passed, and Bucket.put commits only
 * after the body ends, so a body that fails verification never becomes
 * visible.
 */
import { pipeline } from 'node:stream/promises';
import { S3Error } from '../errors';
import type { ChecksumAlgorithm } from '../payload/checksums';
import { PayloadDecoder } from '../payload/decoder';
import type { RequestContext } from './context';

/** What the body turned out to be, filled in once the generator has finished. */
export interface DecodedBodyResult {
  /** Bytes of content (after aws-chunked decoding). */
  bytes: number;
  /** Verified checksum, base64, when the client sent or named one. */
  checksum?: { algorithm: ChecksumAlgorithm; value: string };
}

export interface DecodeOptions {
  /** Content larger than this is refused with EntityTooLarge. */
  maxBytes: number;
  result?: DecodedBodyResult;
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

/**
 * Decodes and verifies the body. Yields content Buffers; throws the S3Error
 * to answer (after which nothing may be committed).
 */
export async function* decodeRequestBody(
  ctx: RequestContext,
  options: DecodeOptions,
): AsyncGenerator<Buffer> {
  const decoder = new PayloadDecoder({
    auth: ctx.auth,
    headers: ctx.req.headersDistinct,
    length_bytes_max: options.maxBytes,
    // The store computes the ETag itself; MD5 here only when Content-MD5 asks for it.
    computeMd5: false,
  });
  const result = options.result ?? { bytes: 0 };
  const counter = { bytes: 0 };
  ctx.continueBody();
  const stopWatch = watchBodyRate(ctx, counter);
  const piping = pipeline(ctx.req, decoder);
  piping.catch(() => undefined);
  try {
    for await (const piece of decoder as AsyncIterable<Buffer>) {
      counter.bytes += piece.length;
      yield piece;
    }
    await piping;
    const verified = await decoder.verified;
    result.bytes = verified.length;
    if (verified.checksum !== undefined) {
      result.checksum = { algorithm: verified.checksum.algorithm, value: verified.checksum.value };
    }
  } catch (error) {
    const refused = await decoder.verified.then(
      () => undefined,
      (reason: unknown) => reason,
    );
    if (refused instanceof S3Error) throw refused;
    if (error instanceof S3Error) throw error;
    // The client went away or the socket was cut mid-body.
    throw new S3Error('IncompleteBody', undefined, {}, error);
  } finally {
    stopWatch();
    ctx.receivedBytes += counter.bytes;
  }
}

/** Reads a small body (XML) fully, verified like any other, refusing more than `maxBytes`. */
export async function readSmallBody(ctx: RequestContext, maxBytes: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  if (
    ctx.req.headers['content-length'] === undefined &&
    ctx.req.headers['transfer-encoding'] === undefined
  ) {
    ctx.continueBody();
    return Buffer.alloc(0);
  }
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
