/**
 * Checksums: CRC32C (Castagnoli, what tessera stores with every byte), CRC32
 * (IEEE/zlib/gzip) and CRC64/NVME, the three CRCs S3 clients send as
 * `x-amz-checksum-crc32c`, `-crc32` and `-crc64nvme`.
 *
 * Each function continues from `prev`, the checksum of the bytes before
 * `data` (0 for none), so `crc32c(b, crc32c(a))` equals `crc32c(a + b)`.
 * The `*Combine` functions compute the checksum of `A + B` from the
 * checksums of A and B and the length of B without touching the bytes
 * (multipart composite checksums, hashing pieces in parallel).
 *
 * The calls are synchronous: the native kernels hash around 70 GB/s on
 * AVX-512 hardware (docs/BENCHMARKS.md), so 1 MiB costs about 15 us, less
 * than a hop to a worker thread. To keep the event loop responsive while
 * hashing very large inputs, hash them in slices of a few MiB with `prev`.
 */
import { binding } from '../binding';
import { TesseraError } from '../errors';

/** What can be checksummed; strings are hashed as their UTF-8 bytes. */
export type ChecksumInput = string | ArrayBufferView | ArrayBuffer;

const UINT32_MAX = 0xffff_ffff;
const UINT64_MAX = (1n << 64n) - 1n;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return `a string`;
  return `an instance of ${(value as object)?.constructor?.name ?? 'Object'}`;
}

function toBytes(fn: string, data: unknown): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data))
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  throw new TesseraError(
    'ERR_INVALID_ARG_TYPE',
    `${fn}: data must be a string, Buffer, TypedArray, DataView or ArrayBuffer, got ${describe(data)}`,
  );
}

function checkU32(fn: string, name: string, value: unknown): number {
  if (typeof value !== 'number') {
    throw new TesseraError(
      'ERR_INVALID_ARG_TYPE',
      `${fn}: ${name} must be a number, got ${describe(value)}`,
    );
  }
  if (!Number.isInteger(value) || value < 0 || value > UINT32_MAX) {
    throw new TesseraError(
      'ERR_OUT_OF_RANGE',
      `${fn}: ${name} must be an integer in 0..4294967295, got ${value}`,
    );
  }
  return value;
}

function checkU64(fn: string, name: string, value: unknown): bigint {
  if (typeof value !== 'bigint') {
    throw new TesseraError(
      'ERR_INVALID_ARG_TYPE',
      `${fn}: ${name} must be a bigint, got ${describe(value)}`,
    );
  }
  if (value < 0n || value > UINT64_MAX) {
    throw new TesseraError(
      'ERR_OUT_OF_RANGE',
      `${fn}: ${name} must be in 0n..18446744073709551615n, got ${value}n`,
    );
  }
  return value;
}

function checkLength(fn: string, value: unknown): number {
  if (typeof value !== 'number') {
    throw new TesseraError(
      'ERR_INVALID_ARG_TYPE',
      `${fn}: lengthB must be a number, got ${describe(value)}`,
    );
  }
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new TesseraError(
      'ERR_OUT_OF_RANGE',
      `${fn}: lengthB must be a safe integer >= 0, got ${value}`,
    );
  }
  return value;
}

/** CRC32C (Castagnoli) of `data`, continuing from `prev`. */
export function crc32c(data: ChecksumInput, prev = 0): number {
  return binding.crc32c(toBytes('crc32c', data), checkU32('crc32c', 'prev', prev));
}

/** CRC32 (IEEE 802.3, as zlib and gzip) of `data`, continuing from `prev`. */
export function crc32(data: ChecksumInput, prev = 0): number {
  return binding.crc32(toBytes('crc32', data), checkU32('crc32', 'prev', prev));
}

/** CRC64/NVME of `data`, continuing from `prev`, as a bigint. */
export function crc64nvme(data: ChecksumInput, prev = 0n): bigint {
  return binding.crc64nvme(toBytes('crc64nvme', data), checkU64('crc64nvme', 'prev', prev));
}

/** CRC32C of A + B from crc32c(A), crc32c(B) and B's length in bytes. */
export function crc32cCombine(crcA: number, crcB: number, lengthB: number): number {
  const fn = 'crc32cCombine';
  return binding.crc32cCombine(
    checkU32(fn, 'crcA', crcA),
    checkU32(fn, 'crcB', crcB),
    checkLength(fn, lengthB),
  );
}

/** CRC32 of A + B from crc32(A), crc32(B) and B's length in bytes. */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  const fn = 'crc32Combine';
  return binding.crc32Combine(
    checkU32(fn, 'crcA', crcA),
    checkU32(fn, 'crcB', crcB),
    checkLength(fn, lengthB),
  );
}

/** CRC64/NVME of A + B from crc64nvme(A), crc64nvme(B) and B's length. */
export function crc64nvmeCombine(crcA: bigint, crcB: bigint, lengthB: number): bigint {
  const fn = 'crc64nvmeCombine';
  return binding.crc64nvmeCombine(
    checkU64(fn, 'crcA', crcA),
    checkU64(fn, 'crcB', crcB),
    checkLength(fn, lengthB),
  );
}

/** The native kernel chosen for this CPU, e.g. 'vpclmul-avx512', 'sse42-3way', 'table'. */
export interface ChecksumKernels {
  crc32c: string;
  crc32: string;
  crc64nvme: string;
}

export function kernels(): ChecksumKernels {
  return { ...binding.checksumKernels };
}
