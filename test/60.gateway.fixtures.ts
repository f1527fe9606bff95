/**
 * Shared helpers for the gateway tests: a seeded PRNG that prints its seed
 * and replays from TESSERA_SEED, a node:crypto hash for @smithy/signature-v4,
 * and a signer/converter between smithy's HttpRequest and our SignedRequest.
 */
import { createHash, createHmac } from 'node:crypto';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { SignedRequest } from '../lib/gateway/auth/sigv4';
import { parseQuery, uriEncode } from '../lib/gateway/request/uri';

export const LONG = process.env.TESSERA_LONG === '1';

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

export { HttpRequest };
