/**
 * S3 additional checksums (`x-amz-checksum-*`): the algorithms, their
 * base64 wire form, and incremental hashers over pluggable CRC functions.
 */
import { createHash } from 'node:crypto';
import { S3Error } from '../errors';

/** Incremental CRCs; the native addon provides SIMD ones, checksums_fallback.ts a TS one. */
export interface ChecksumFunctions {
  crc32(data: Uint8Array, prev?: number): number;
  crc32c(data: Uint8Array, prev?: number): number;
  crc64nvme(data: Uint8Array, prev?: bigint): bigint;
}

export const CHECKSUM_ALGORITHMS = ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const;
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

/** Digest size in bytes of each algorithm: the base64 value must decode to exactly this. */
export const CHECKSUM_BYTES: Readonly<Record<ChecksumAlgorithm, number>> = {
  CRC32: 4,
  CRC32C: 4,
  CRC64NVME: 8,
  SHA1: 20,
  SHA256: 32,
};

/** `x-amz-checksum-crc32` -> 'CRC32'; `undefined` for any other header name. */
export function checksumAlgorithmOfHeader(name: string): ChecksumAlgorithm | undefined {
  if (!name.startsWith('x-amz-checksum-')) return undefined;
  const upper = name.slice('x-amz-checksum-'.length).toUpperCase();
  return (CHECKSUM_ALGORITHMS as readonly string[]).includes(upper)
    ? (upper as ChecksumAlgorithm)
    : undefined;
}

export function checksumHeaderName(algorithm: ChecksumAlgorithm): string {
  return `x-amz-checksum-${algorithm.toLowerCase()}`;
}

export function parseChecksumAlgorithm(value: string): ChecksumAlgorithm {
  const upper = value.toUpperCase();
  if ((CHECKSUM_ALGORITHMS as readonly string[]).includes(upper)) return upper as ChecksumAlgorithm;
  throw new S3Error('InvalidRequest', `Checksum algorithm provided is unsupported: '${value}'.`);
}

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes a checksum value; anything but canonical base64 of the right size is InvalidRequest. */
export function decodeChecksumValue(algorithm: ChecksumAlgorithm, value: string): Buffer {
  const bytes = BASE64_RE.test(value) ? Buffer.from(value, 'base64') : undefined;
  if (bytes === undefined || bytes.length !== CHECKSUM_BYTES[algorithm]) {
    throw new S3Error(
      'InvalidRequest',
      `Value for ${checksumHeaderName(algorithm)} header is invalid.`,
    );
  }
  return bytes;
}

export interface IncrementalChecksum {
  readonly algorithm: ChecksumAlgorithm;
  update(data: Uint8Array): void;
  /** The big-endian digest; call once, after the last update. */
  digest(): Buffer;
}

export function createChecksum(
  algorithm: ChecksumAlgorithm,
  functions: ChecksumFunctions,
): IncrementalChecksum {
  switch (algorithm) {
    case 'SHA1':
    case 'SHA256': {
      const hash = createHash(algorithm === 'SHA1' ? 'sha1' : 'sha256');
      return { algorithm, update: (d) => void hash.update(d), digest: () => hash.digest() };
    }
    case 'CRC64NVME': {
      let crc = 0n;
      return {
        algorithm,
        update: (d) => void (crc = functions.crc64nvme(d, crc)),
        digest: () => {
          const out = Buffer.alloc(8);
          out.writeBigUInt64BE(crc);
          return out;
        },
      };
    }
    default: {
      const fn = algorithm === 'CRC32' ? functions.crc32 : functions.crc32c;
      let crc = 0;
      return {
        algorithm,
        update: (d) => void (crc = fn(d, crc)),
        digest: () => {
          const out = Buffer.alloc(4);
          out.writeUInt32BE(crc >>> 0);
          return out;
        },
      };
    }
  }
}
