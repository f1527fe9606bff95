/**
 * Shared helpers for the gateway tests: a seeded PRNG that prints its seed
 * and replays from TESSERA_SEED, a node:crypto hash for @smithy/signature-v4,
 * and a signer/converter between smithy's HttpRequest and our SignedRequest.
 */
import { strict as assert } from 'node:assert';
import { createHash, createHmac } from 'node:crypto';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { SignedRequest } from '../lib/gateway/auth/sigv4';
import { S3Error } from '../lib/gateway/errors';
import { parseQuery, uriEncode } from '../lib/gateway/request/uri';

export const LONG = process.env.TESSERA_LONG === '1';

/** Asserts that `fn` throws an S3Error with this code, HTTP status and (optionally) message. */
export function expectThrow(
  fn: () => unknown,
  code: string,
  status: number,
  message?: string | RegExp,
): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof S3Error, String(e));
    assert.equal(e.code, code, e.message);
    assert.equal(e.statusCode, status);
    if (typeof message === 'string') assert.equal(e.message, message);
    else if (message) assert.match(e.message, message);
    return true;
  });
}

/** xorshift128+ seeded from one 32-bit seed; `seed` is printed by `makeRandom`. */
export class Random {
  #s0: bigint;
  #s1: bigint;
  constructor(readonly seed: number) {
    this.#s0 = BigInt(seed) * 0x9e3779b97f4a7c15n + 1n;
    this.#s1 = (BigInt(seed) ^ 0xdeadbeefn) * 0xbf58476d1ce4e5b9n + 7n;
    for (let i = 0; i < 16; i++) this.next();
  }
  next(): number {
    const mask = (1n << 64n) - 1n;
    let s1 = this.#s0;
    const s0 = this.#s1;
    this.#s0 = s0;
    s1 = (s1 ^ (s1 << 23n)) & mask;
    this.#s1 = s1 ^ s0 ^ (s1 >> 17n) ^ (s0 >> 26n);
    return Number(((this.#s1 + s0) & mask) >> 11n) / 2 ** 53;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
  string(alphabet: readonly string[], min: number, max: number): string {
    let out = '';
    const n = min + this.int(max - min + 1);
    for (let i = 0; i < n; i++) out += this.pick(alphabet);
    return out;
  }
}

export function makeRandom(label: string): Random {
  const seed = process.env.TESSERA_SEED
    ? Number(process.env.TESSERA_SEED)
    : Math.floor(Math.random() * 2 ** 31);
  console.log(`      ${label}: TESSERA_SEED=${seed}`);
  return new Random(seed);
}

/** @smithy Checksum over node:crypto (sha256-js is correct but slow). */
export class NodeSha256 {
  readonly #hash: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  constructor(secret?: unknown) {
    this.#hash =
      secret === undefined
        ? createHash('sha256')
        : createHmac('sha256', secret as string | Uint8Array);
  }
  update(data: Uint8Array | string): void {
    this.#hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return this.#hash.digest();
  }
  reset(): void {
    throw new Error('not used');
  }
}

export function smithySigner(accessKeyId: string, secretAccessKey: string, region = 'us-east-1') {
  return new SignatureV4({
    credentials: { accessKeyId, secretAccessKey },
    region,
    service: 's3',
    sha256: NodeSha256,
    uriEscapePath: false,
  });
}

/** Raw query string as a client puts it on the wire (RFC 3986 encoding). */
export function wireQuery(query: HttpRequest['query']): string {
  const pieces: string[] = [];
  for (const [name, value] of Object.entries(query ?? {})) {
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) {
      pieces.push(
        v === null ? uriEncode(name, false) : `${uriEncode(name, false)}=${uriEncode(v, false)}`,
      );
    }
  }
  return pieces.join('&');
}

/** What our verifier sees for a request smithy signed. */
export function toSignedRequest(request: HttpRequest): SignedRequest {
  const headers: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    (headers[name.toLowerCase()] ??= []).push(value);
  }
  return {
    method: request.method,
    rawPath: request.path,
    query: parseQuery(wireQuery(request.query)),
    headers,
  };
}

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export interface ChunkOptions {
  chunkSize: number;
  signed?: { key: Buffer; date: string; scope: string; seed: string };
  trailer?: { name: string; value: string };
  signTrailer?: boolean;
}

/** An independent aws-chunked encoder, written from the AWS documentation. */
export function awsChunked(data: Buffer, o: ChunkOptions): Buffer {
  const parts: Buffer[] = [];
  let previous = o.signed?.seed ?? '';
  const sign = (hash: string) => {
    const s = o.signed!;
    previous = createHmac('sha256', s.key)
      .update(
        ['AWS4-HMAC-SHA256-PAYLOAD', s.date, s.scope, previous, EMPTY_SHA256, hash].join('\n'),
      )
      .digest('hex');
    return previous;
  };
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += o.chunkSize) chunks.push(data.subarray(i, i + o.chunkSize));
  chunks.push(Buffer.alloc(0));
  for (const chunk of chunks) {
    const ext = o.signed
      ? `;chunk-signature=${sign(createHash('sha256').update(chunk).digest('hex'))}`
      : '';
    parts.push(Buffer.from(`${chunk.length.toString(16)}${ext}\r\n`));
    if (chunk.length > 0) parts.push(chunk, Buffer.from('\r\n'));
  }
  if (o.trailer) {
    const line = `${o.trailer.name}:${o.trailer.value}`;
    parts.push(Buffer.from(line + '\r\n'));
    if (o.signTrailer) {
      const s = o.signed!;
      const sig = createHmac('sha256', s.key)
        .update(
          [
            'AWS4-HMAC-SHA256-TRAILER',
            s.date,
            s.scope,
            previous,
            createHash('sha256')
              .update(line + '\n')
              .digest('hex'),
          ].join('\n'),
        )
        .digest('hex');
      parts.push(Buffer.from(`x-amz-trailer-signature:${sig}\r\n`));
    }
  }
  parts.push(Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

export { HttpRequest };
