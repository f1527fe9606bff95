import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { checksums, TesseraError } from '../lib/index';

/** Seeded PRNG (mulberry32) so failures replay with TESSERA_SEED. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const seed = Number(process.env.TESSERA_SEED ?? Math.floor(Math.random() * 2 ** 31));

function bytes(random: () => number, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(random() * 256);
  return b;
}

/** Bit-at-a-time CRC-64/NVME in plain TypeScript: an independent oracle. */
function crc64nvmeSlow(data: Uint8Array, prev = 0n): bigint {
  const poly = 0x9a6c9329ac4bc9b5n;
  const mask = (1n << 64n) - 1n;
  let crc = ~prev & mask;
  for (const byte of data) {
    crc ^= BigInt(byte);
    for (let k = 0; k < 8; k++) crc = crc & 1n ? (crc >> 1n) ^ poly : crc >> 1n;
  }
  return ~crc & mask;
}

function expectError(fn: () => unknown, code: string, message: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof TesseraError);
    assert.equal(error.code, code);
    assert.equal(error.message, message);
    return true;
  });
}

describe('40 checksum: CRC32C, CRC32 and CRC64/NVME', () => {
  before(() => console.log(`      seed: TESSERA_SEED=${seed}`));

  it('matches the standard check values for "123456789"', () => {
    assert.equal(checksums.crc32c('123456789'), 0xe3069283);
    assert.equal(checksums.crc32('123456789'), 0xcbf43926);
    assert.equal(checksums.crc64nvme('123456789'), 0xae8b14860a799888n);
    assert.equal(checksums.crc32c(''), 0);
    assert.equal(checksums.crc64nvme(new Uint8Array(0)), 0n);
  });

  it('matches the RFC 3720 CRC32C vectors', () => {
    assert.equal(checksums.crc32c(Buffer.alloc(32, 0)), 0x8a9136aa);
    assert.equal(checksums.crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
    assert.equal(checksums.crc32c(Buffer.from([...Array(32).keys()])), 0x46dd794e);
  });

  it('agrees with zlib.crc32 and a TypeScript CRC64 on random sizes and offsets', () => {
    const random = rng(seed);
    const pool = bytes(random, 70_000);
    for (let round = 0; round < 300; round++) {
      const length = Math.floor(random() * (round < 100 ? 300 : 66_000));
      const offset = Math.floor(random() * 64);
      const view = pool.subarray(offset, offset + length);
      const prev = Math.floor(random() * 2 ** 32);
      assert.equal(checksums.crc32(view, prev), zlibCrc32(view, prev), `len ${length}`);
      if (length < 2000) {
        const prev64 = BigInt(prev) * 0x100000001n;
        assert.equal(checksums.crc64nvme(view, prev64), crc64nvmeSlow(view, prev64));
      }
    }
  });

  it('accepts every kind of binary view and hashes only the viewed bytes', () => {
    const backing = randomBytes(4096 + 16);
    const view = new Uint8Array(backing.buffer, backing.byteOffset + 3, 4096);
    const expected = checksums.crc32c(Buffer.from(view));
    assert.equal(checksums.crc32c(new DataView(view.buffer, view.byteOffset, 4096)), expected);
    assert.equal(checksums.crc32c(view.slice().buffer), expected);
    const words = new Uint32Array(view.slice().buffer);
    assert.equal(checksums.crc32c(words), expected);
    assert.equal(checksums.crc32c('é'), checksums.crc32c(Buffer.from('é', 'utf8')));
  });

  it('continues from prev: hashing in pieces equals hashing the whole', () => {
    const random = rng(seed + 1);
    const data = bytes(random, 10_000);
    const cut = Math.floor(random() * data.length);
    const [a, b] = [data.subarray(0, cut), data.subarray(cut)];
    assert.equal(checksums.crc32c(b, checksums.crc32c(a)), checksums.crc32c(data));
    assert.equal(checksums.crc32(b, checksums.crc32(a)), checksums.crc32(data));
    assert.equal(checksums.crc64nvme(b, checksums.crc64nvme(a)), checksums.crc64nvme(data));
  });

  it('combines checksums of parts into the checksum of the whole', () => {
    const random = rng(seed + 2);
    for (let round = 0; round < 50; round++) {
      const data = bytes(random, Math.floor(random() * 5000));
      const cut = Math.floor(random() * (data.length + 1));
      const [a, b] = [data.subarray(0, cut), data.subarray(cut)];
      assert.equal(
        checksums.crc32cCombine(checksums.crc32c(a), checksums.crc32c(b), b.length),
        checksums.crc32c(data),
      );
      assert.equal(
        checksums.crc32Combine(checksums.crc32(a), checksums.crc32(b), b.length),
        checksums.crc32(data),
      );
      assert.equal(
        checksums.crc64nvmeCombine(checksums.crc64nvme(a), checksums.crc64nvme(b), b.length),
        checksums.crc64nvme(data),
      );
    }
    // Lengths far beyond any buffer (a 5 TiB object's last part) are fine.
    const big = 5 * 2 ** 40;
    assert.equal(
      checksums.crc32cCombine(checksums.crc32cCombine(1, 2, big), 3, 7),
      checksums.crc32cCombine(1, checksums.crc32cCombine(2, 3, 7), big + 7),
    );
  });

  it('reports the kernel chosen for this CPU', () => {
    const k = checksums.kernels();
    for (const name of [k.crc32c, k.crc32, k.crc64nvme]) {
      assert.match(name, /^(table|sse42|sse42-3way|pclmul|vpclmul-avx512|arm64-crc|arm64-pmull)$/);
    }
  });

  it('rejects bad arguments with exact codes and messages', () => {
    expectError(
      () => checksums.crc32c(42 as unknown as string),
      'ERR_INVALID_ARG_TYPE',
      'crc32c: data must be a string, Buffer, TypedArray, DataView or ArrayBuffer, got 42',
    );
    expectError(
      () => checksums.crc32(null as unknown as string),
      'ERR_INVALID_ARG_TYPE',
      'crc32: data must be a string, Buffer, TypedArray, DataView or ArrayBuffer, got null',
    );
    expectError(
      () => checksums.crc32c('x', -1),
      'ERR_OUT_OF_RANGE',
      'crc32c: prev must be an integer in 0..4294967295, got -1',
    );
    expectError(
      () => checksums.crc32('x', 2 ** 32),
      'ERR_OUT_OF_RANGE',
      'crc32: prev must be an integer in 0..4294967295, got 4294967296',
    );
    expectError(
      () => checksums.crc32c('x', 1n as unknown as number),
      'ERR_INVALID_ARG_TYPE',
      'crc32c: prev must be a number, got 1n',
    );
    expectError(
      () => checksums.crc64nvme('x', 1 as unknown as bigint),
      'ERR_INVALID_ARG_TYPE',
      'crc64nvme: prev must be a bigint, got 1',
    );
    expectError(
      () => checksums.crc64nvme('x', 1n << 64n),
      'ERR_OUT_OF_RANGE',
      'crc64nvme: prev must be in 0n..18446744073709551615n, got 18446744073709551616n',
    );
    expectError(
      () => checksums.crc32cCombine(1, 2, -1),
      'ERR_OUT_OF_RANGE',
      'crc32cCombine: lengthB must be a safe integer >= 0, got -1',
    );
    expectError(
      () => checksums.crc64nvmeCombine(1n, 2n, 1.5),
      'ERR_OUT_OF_RANGE',
      'crc64nvmeCombine: lengthB must be a safe integer >= 0, got 1.5',
    );
    expectError(
      () => checksums.crc32Combine(1, 2, '3' as unknown as number),
      'ERR_INVALID_ARG_TYPE',
      'crc32Combine: lengthB must be a number, got a string',
    );
  });
});
