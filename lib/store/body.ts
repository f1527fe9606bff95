/**
 * Object bodies: every accepted shape becomes one async sequence of Buffers,
 * pulled with backpressure (nothing is read ahead of the consumer), bounded
 * in total size and cancellable with an AbortSignal.
 *
 * Accepted: Buffer, Uint8Array, string (UTF-8), Node Readable, web
 * ReadableStream, AsyncIterable<Uint8Array>.
 */
import { Readable } from 'node:stream';
import { AbortError, TesseraError } from '../errors';

export type Body =
  Buffer | Uint8Array | string | Readable | ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

export interface BodyOptions {
  signal?: AbortSignal | undefined;
  /** Reject with EntityTooLarge once more than this many bytes arrive. */
  maxBytes?: number | undefined;
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function'
  );
}

function isWebStream(value: unknown): value is ReadableStream<Uint8Array> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as ReadableStream).getReader === 'function' &&
    !(value instanceof Readable)
  );
}

/** Throws ERR_INVALID_ARG_TYPE unless `body` is one of the accepted shapes. */
export function validateBody(body: unknown): Body {
  if (
    typeof body === 'string' ||
    body instanceof Uint8Array ||
    body instanceof Readable ||
    isWebStream(body) ||
    isAsyncIterable(body)
  ) {
    return body as Body;
  }
  throw new TesseraError(
    'ERR_INVALID_ARG_TYPE',
    'body must be a Buffer, Uint8Array, string, Readable, ReadableStream or AsyncIterable<Uint8Array>, got ' +
      (body === null ? 'null' : typeof body),
  );
}

/** The body's byte length when known without reading it. */
export function knownLength(body: Body): number | undefined {
  if (typeof body === 'string') return Buffer.byteLength(body, 'utf8');
  if (body instanceof Uint8Array) return body.byteLength;
  return undefined;
}

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array)
    return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  throw new TesseraError(
    'ERR_INVALID_ARG_TYPE',
    `body stream yielded a ${chunk === null ? 'null' : typeof chunk}; expected Uint8Array chunks`,
  );
}

async function* webChunks(stream: ReadableStream<Uint8Array>): AsyncGenerator<unknown> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    // Cancels the source when the consumer stops early (error or abort).
    await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

function rawChunks(body: Body): AsyncIterable<unknown> | Iterable<unknown> {
  if (typeof body === 'string' || body instanceof Uint8Array) return [body];
  if (isWebStream(body)) return webChunks(body);
  return body as AsyncIterable<unknown>;
}

/**
 * Yields the body as Buffers (views, not copies, where the input already is
 * bytes). Stops with AbortError when the signal fires, destroying a Node
 * stream source; with EntityTooLarge past maxBytes.
 */
export async function* bodyChunks(body: Body, options: BodyOptions = {}): AsyncGenerator<Buffer> {
  const { signal, maxBytes = Number.POSITIVE_INFINITY } = options;
  let total = 0;
  const source = rawChunks(body);
  const onAbort = () => {
    if (body instanceof Readable) body.destroy(new AbortError(signal!));
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (signal?.aborted) throw new AbortError(signal);
    for await (const raw of source) {
      if (signal?.aborted) throw new AbortError(signal);
      const chunk = toBuffer(raw);
      total += chunk.byteLength;
      if (total > maxBytes) {
        throw new TesseraError(
          'EntityTooLarge',
          `body is larger than the limit of ${maxBytes} bytes`,
        );
      }
      if (chunk.byteLength > 0) yield chunk;
    }
    if (signal?.aborted) throw new AbortError(signal);
  } catch (error) {
    if (signal?.aborted && !(error instanceof AbortError)) throw new AbortError(signal);
    throw error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (body instanceof Readable && !body.readableEnded) body.destroy();
  }
}

/**
 * Re-cuts a sequence of Buffers into pieces of exactly `size` bytes (the
 * last one shorter). Pieces that come whole from the input are views;
 * pieces assembled from several inputs are copied once.
 */
export async function* rechunk(
  source: AsyncIterable<Buffer>,
  size: number,
): AsyncGenerator<Buffer> {
  if (!Number.isInteger(size) || size <= 0) {
    throw new TesseraError(
      'ERR_OUT_OF_RANGE',
      `chunk size must be a positive integer, got ${size}`,
    );
  }
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const input of source) {
    let chunk = input;
    while (chunk.byteLength > 0) {
      if (pendingBytes === 0 && chunk.byteLength >= size) {
        yield chunk.subarray(0, size);
        chunk = chunk.subarray(size);
        continue;
      }
      const take = Math.min(size - pendingBytes, chunk.byteLength);
      pending.push(chunk.subarray(0, take));
      pendingBytes += take;
      chunk = chunk.subarray(take);
      if (pendingBytes === size) {
        yield Buffer.concat(pending, size);
        pending = [];
        pendingBytes = 0;
      }
    }
  }
  if (pendingBytes > 0) yield Buffer.concat(pending, pendingBytes);
}

/** Reads a whole (small) body into one Buffer. */
export async function readBody(body: Body, options: BodyOptions = {}): Promise<Buffer> {
  if (body instanceof Uint8Array && !options.signal?.aborted) {
    const length = body.byteLength;
    if (options.maxBytes !== undefined && length > options.maxBytes) {
      throw new TesseraError(
        'EntityTooLarge',
        `body is larger than the limit of ${options.maxBytes} bytes`,
      );
    }
    return toBuffer(body);
  }
  const parts: Buffer[] = [];
  let total = 0;
  for await (const chunk of bodyChunks(body, options)) {
    parts.push(chunk);
    total += chunk.byteLength;
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
}
