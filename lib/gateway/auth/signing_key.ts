/**
 * SigV4 signing-key derivation with a bounded cache. A key depends on the
 * secret, the day, the region and the service, so one derivation (four
 * HMACs) serves every request of a user for a day.
 */
import { createHmac } from 'node:crypto';

export function hmacSha256(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request"). */
export function deriveSigningKey(
  secret: string,
  date: string,
  region: string,
  service: string,
): Buffer {
  const kDate = hmacSha256('AWS4' + secret, date);
  const kRegion = hmacSha256(kDate, region);
  const kService = hmacSha256(kRegion, service);
  return hmacSha256(kService, 'aws4_request');
}

/** Most recently used signing keys; the secret is part of the cache key so a rotated secret never hits. */
export class SigningKeyCache {
  readonly #entries = new Map<string, Buffer>();
  readonly #capacity: number;
  /** The last key served: consecutive requests of one user hit it without touching the map. */
  #last: { secret: string; date: string; region: string; service: string; key: Buffer } | undefined;

  constructor(capacity = 256) {
    this.#capacity = capacity;
  }

  get(secret: string, date: string, region: string, service: string): Buffer {
    const last = this.#last;
    if (
      last !== undefined &&
      last.secret === secret &&
      last.date === date &&
      last.region === region &&
      last.service === service
    ) {
      return last.key;
    }
    const key = this.#lookup(secret, date, region, service);
    this.#last = { secret, date, region, service, key };
    return key;
  }

  #lookup(secret: string, date: string, region: string, service: string): Buffer {
    const cacheKey = `${date}\u0000${region}\u0000${service}\u0000${secret}`;
    const hit = this.#entries.get(cacheKey);
    if (hit !== undefined) {
      this.#entries.delete(cacheKey);
      this.#entries.set(cacheKey, hit);
      return hit;
    }
    const key = deriveSigningKey(secret, date, region, service);
    this.#entries.set(cacheKey, key);
    if (this.#entries.size > this.#capacity) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
    return key;
  }

  get size(): number {
    return this.#entries.size;
  }
}
