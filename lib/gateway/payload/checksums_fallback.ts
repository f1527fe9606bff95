/**
 * Table-driven TypeScript CRC32C and CRC64NVME, plus node:zlib's CRC32:
 * the `ChecksumFunctions` the gateway uses until the native SIMD kernels are
 * wired in (the lead swaps `fallbackChecksumFunctions` for the addon's).
 * Correct and incremental, but slow (CRC64NVME well under 1 GB/s); never the
 * hot path once the native ones land.
 */
import { crc32 as zlibCrc32 } from 'node:zlib';
import type { ChecksumFunctions } from './checksums';

/** Reflected CRC-32C (Castagnoli) polynomial. */
const CRC32C_POLY = 0x82f63b78;
/** Reflected CRC-64/NVME polynomial 0x9A6C9329AC4BC9B5, as two 32-bit halves. */
const CRC64NVME_POLY_HI = 0x9a6c9329;
const CRC64NVME_POLY_LO = 0xac4bc9b5;

/** Slicing-by-8 tables for CRC32C: table k maps a byte seen k positions early. */
const CRC32C_TABLES: Uint32Array[] = (() => {
  const tables = Array.from({ length: 8 }, () => new Uint32Array(256));
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ CRC32C_POLY : c >>> 1;
    tables[0]![n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = tables[0]![n]!;
    for (let t = 1; t < 8; t++) {
      c = (c >>> 8) ^ tables[0]![c & 0xff]!;
      tables[t]![n] = c >>> 0;
    }
  }
  return tables;
})();

/** CRC-32C of `data`, continuing from `prev` (the CRC of the bytes before). */
export function crc32cFallback(data: Uint8Array, prev = 0): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = CRC32C_TABLES as [
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
  ];
  let crc = ~prev >>> 0;
  let i = 0;
  const end8 = data.length - (data.length % 8);
  for (; i < end8; i += 8) {
    const lo =
      (crc ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24))) >>> 0;
    crc =
      t7[lo & 0xff]! ^
      t6[(lo >>> 8) & 0xff]! ^
      t5[(lo >>> 16) & 0xff]! ^
      t4[lo >>> 24]! ^
      t3[data[i + 4]!]! ^
      t2[data[i + 5]!]! ^
      t1[data[i + 6]!]! ^
      t0[data[i + 7]!]!;
  }
  for (; i < data.length; i++) crc = (crc >>> 8) ^ t0[(crc ^ data[i]!) & 0xff]!;
  return ~crc >>> 0;
}

const CRC64_HI = new Uint32Array(256);
const CRC64_LO = new Uint32Array(256);
for (let n = 0; n < 256; n++) {
  let hi = 0;
  let lo = n;
  for (let k = 0; k < 8; k++) {
    const carry = lo & 1;
    lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
    hi = hi >>> 1;
    if (carry) {
      hi = (hi ^ CRC64NVME_POLY_HI) >>> 0;
      lo = (lo ^ CRC64NVME_POLY_LO) >>> 0;
    }
  }
  CRC64_HI[n] = hi;
  CRC64_LO[n] = lo;
}

/** CRC-64/NVME of `data`, continuing from `prev`; the 64-bit state lives in two uint32 halves. */
export function crc64nvmeFallback(data: Uint8Array, prev = 0n): bigint {
  const state = ~prev & 0xffffffffffffffffn;
  let hi = Number(state >> 32n) >>> 0;
  let lo = Number(state & 0xffffffffn) >>> 0;
  for (let i = 0; i < data.length; i++) {
    const idx = (lo ^ data[i]!) & 0xff;
    lo = (((lo >>> 8) | ((hi & 0xff) << 24)) ^ CRC64_LO[idx]!) >>> 0;
    hi = ((hi >>> 8) ^ CRC64_HI[idx]!) >>> 0;
  }
  return ~((BigInt(hi) << 32n) | BigInt(lo)) & 0xffffffffffffffffn;
}

/** CRC-32 (ISO-HDLC, as zip and S3 use) from zlib. */
export function crc32Fallback(data: Uint8Array, prev = 0): number {
  return zlibCrc32(data, prev);
}

export const fallbackChecksumFunctions: ChecksumFunctions = {
  crc32: crc32Fallback,
  crc32c: crc32cFallback,
  crc64nvme: crc64nvmeFallback,
};
