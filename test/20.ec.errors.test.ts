import { strict as assert } from 'node:assert';
import { ReedSolomon, TesseraError } from '../lib/index';

function expectError(fn: () => unknown, code: string, message: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof TesseraError, `not a TesseraError: ${String(error)}`);
    assert.equal(error.message, message);
    assert.equal(error.code, code);
    return true;
  });
}

async function expectRejection(
  promise: () => Promise<unknown>,
  code: string,
  message: string,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof TesseraError, `not a TesseraError: ${String(error)}`);
    assert.equal(error.message, message);
    assert.equal(error.code, code);
    return true;
  });
}

function stripe(count: number, length = 16): Uint8Array[] {
  return Array.from({ length: count }, () => new Uint8Array(length));
}

function detached(length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  structuredClone(bytes.buffer, { transfer: [bytes.buffer] });
  return bytes;
}

describe('20 ec: ReedSolomon argument errors, message for message', () => {
  const usable = ReedSolomon.kernels().join(', ');

  const constructorCases: Array<[string, () => unknown, string, string]> = [
    [
      'k = 0',
      () => new ReedSolomon(0, 2),
      'ERR_OUT_OF_RANGE',
      'dataShards must be an integer in 1..32, got 0',
    ],
    [
      'k = 33',
      () => new ReedSolomon(33, 2),
      'ERR_OUT_OF_RANGE',
      'dataShards must be an integer in 1..32, got 33',
    ],
    [
      'k = 2.5',
      () => new ReedSolomon(2.5, 2),
      'ERR_OUT_OF_RANGE',
      'dataShards must be an integer in 1..32, got 2.5',
    ],
    [
      'k = NaN',
      () => new ReedSolomon(NaN, 2),
      'ERR_OUT_OF_RANGE',
      'dataShards must be an integer in 1..32, got NaN',
    ],
    [
      "k = '4'",
      () => new ReedSolomon('4' as unknown as number, 2),
      'ERR_INVALID_ARG_TYPE',
      "dataShards must be an integer in 1..32, got '4'",
    ],
    [
      'm = 0',
      () => new ReedSolomon(4, 0),
      'ERR_OUT_OF_RANGE',
      'parityShards must be an integer in 1..16, got 0',
    ],
    [
      'm = 17',
      () => new ReedSolomon(4, 17),
      'ERR_OUT_OF_RANGE',
      'parityShards must be an integer in 1..16, got 17',
    ],
    [
      'm undefined',
      () => new ReedSolomon(4, undefined as unknown as number),
      'ERR_INVALID_ARG_TYPE',
      'parityShards must be an integer in 1..16, got undefined',
    ],
    [
      'options null',
      () => new ReedSolomon(4, 2, null as unknown as object),
      'ERR_INVALID_ARG_TYPE',
      'options must be an object, got null',
    ],
    [
      'backend unknown',
      () => new ReedSolomon(4, 2, { backend: 'fast' as 'auto' }),
      'ERR_INVALID_ARG_VALUE',
      "backend must be 'auto', 'builtin' or 'isal', got 'fast'",
    ],
    [
      'backend not a string',
      () => new ReedSolomon(4, 2, { backend: 1 as unknown as 'auto' }),
      'ERR_INVALID_ARG_TYPE',
      "backend must be 'auto', 'builtin' or 'isal', got 1",
    ],
    [
      'kernel unknown',
      () => new ReedSolomon(4, 2, { kernel: 'avx9000' }),
      'ERR_INVALID_ARG_VALUE',
      `kernel must be one of ${usable}, got 'avx9000'`,
    ],
    [
      'kernel not a string',
      () => new ReedSolomon(4, 2, { kernel: 7 as unknown as string }),
      'ERR_INVALID_ARG_TYPE',
      'kernel must be a string, got 7',
    ],
    [
      'kernel with backend isal',
      () => new ReedSolomon(4, 2, { backend: 'isal', kernel: 'scalar' }),
      'ERR_INVALID_ARG_VALUE',
      "kernel 'scalar' cannot be combined with backend 'isal'",
    ],
  ];

  for (const [name, fn, code, message] of constructorCases) {
    it(`constructor: ${name}`, () => expectError(fn, code, message));
  }

  it('constructor: a kernel this CPU cannot run', () => {
    const foreign = ['neon', 'gfni-avx512', 'ssse3'].find(
      (k) => !ReedSolomon.kernels().includes(k),
    );
    assert.ok(foreign !== undefined);
    expectError(
      () => new ReedSolomon(4, 2, { kernel: foreign }),
      'ERR_STORE_UNSUPPORTED',
      `kernel '${foreign}' is not usable on this CPU; usable: ${usable}`,
    );
  });

  it('constructor: environment variables are validated by name', () => {
    const saved = process.env.TESSERA_EC_KERNEL;
    const savedBackend = process.env.TESSERA_EC_BACKEND;
    try {
      process.env.TESSERA_EC_KERNEL = 'avx9000';
      expectError(
        () => new ReedSolomon(4, 2),
        'ERR_INVALID_ARG_VALUE',
        `TESSERA_EC_KERNEL must be one of ${usable}, got 'avx9000'`,
      );
      delete process.env.TESSERA_EC_KERNEL;
      process.env.TESSERA_EC_BACKEND = 'gpu';
      expectError(
        () => new ReedSolomon(4, 2),
        'ERR_INVALID_ARG_VALUE',
        "TESSERA_EC_BACKEND must be 'auto', 'builtin' or 'isal', got 'gpu'",
      );
    } finally {
      if (saved === undefined) delete process.env.TESSERA_EC_KERNEL;
      else process.env.TESSERA_EC_KERNEL = saved;
      if (savedBackend === undefined) delete process.env.TESSERA_EC_BACKEND;
      else process.env.TESSERA_EC_BACKEND = savedBackend;
    }
  });

  const rs = new ReedSolomon(4, 2);
  const stripeCases: Array<[string, () => unknown, string, string]> = [
    [
      'not an array',
      () => rs.encodeSync(new Uint8Array(6) as unknown as Uint8Array[]),
      'ERR_INVALID_ARG_TYPE',
      'shards must be an array of 6 Buffers or Uint8Arrays, got an instance of Uint8Array',
    ],
    [
      'too few shards',
      () => rs.encodeSync(stripe(5)),
      'ERR_INVALID_ARG_VALUE',
      'shards must have 6 entries (4 data + 2 parity), got 5',
    ],
    [
      'too many shards',
      () => rs.encodeSync(stripe(7)),
      'ERR_INVALID_ARG_VALUE',
      'shards must have 6 entries (4 data + 2 parity), got 7',
    ],
    [
      'a string shard',
      () => rs.encodeSync([...stripe(2), 'abc' as unknown as Uint8Array, ...stripe(3)]),
      'ERR_INVALID_ARG_TYPE',
      "shards[2] must be a Buffer or Uint8Array, got 'abc'",
    ],
    [
      'an ArrayBuffer shard',
      () => rs.encodeSync([new ArrayBuffer(16) as unknown as Uint8Array, ...stripe(5)]),
      'ERR_INVALID_ARG_TYPE',
      'shards[0] must be a Buffer or Uint8Array, got an instance of ArrayBuffer',
    ],
    [
      'a missing shard',
      () => rs.encodeSync([...stripe(5), undefined as unknown as Uint8Array]),
      'ERR_INVALID_ARG_TYPE',
      'shards[5] must be a Buffer or Uint8Array, got undefined',
    ],
    [
      'unequal lengths',
      () => rs.encodeSync([...stripe(3), new Uint8Array(15), ...stripe(2)]),
      'ERR_INVALID_ARG_VALUE',
      'shards must all have the same length: shards[0] has 16 bytes, shards[3] has 15',
    ],
    [
      'empty shards',
      () => rs.encodeSync(stripe(6, 0)),
      'ERR_OUT_OF_RANGE',
      'shards[0] length must be in 1..1073741824, got 0',
    ],
    [
      'a detached shard',
      () => rs.encodeSync([...stripe(4), detached(16), ...stripe(1)]),
      'ERR_INVALID_ARG_VALUE',
      'shards[4] is backed by a detached ArrayBuffer',
    ],
    [
      'verify checks too',
      () => rs.verify(stripe(5)),
      'ERR_INVALID_ARG_VALUE',
      'shards must have 6 entries (4 data + 2 parity), got 5',
    ],
  ];

  for (const [name, fn, code, message] of stripeCases) {
    it(`stripe: ${name}`, () => expectError(fn, code, message));
  }

  const missingCases: Array<[string, unknown, string, string]> = [
    ['not an array', 3, 'ERR_INVALID_ARG_TYPE', 'missing must be an array of shard indexes, got 3'],
    ['empty', [], 'ERR_INVALID_ARG_VALUE', 'missing must list at least one shard index'],
    [
      'more than m',
      [0, 1, 2],
      'ERR_INVALID_ARG_VALUE',
      'cannot reconstruct 3 missing shards with 2 parity shards',
    ],
    ['out of range', [1, 6], 'ERR_OUT_OF_RANGE', 'missing[1] must be an integer in 0..5, got 6'],
    ['negative', [-1], 'ERR_OUT_OF_RANGE', 'missing[0] must be an integer in 0..5, got -1'],
    ['fractional', [1.5], 'ERR_OUT_OF_RANGE', 'missing[0] must be an integer in 0..5, got 1.5'],
    [
      'not a number',
      ['1'],
      'ERR_INVALID_ARG_TYPE',
      "missing[0] must be an integer in 0..5, got '1'",
    ],
    ['duplicate', [4, 4], 'ERR_INVALID_ARG_VALUE', 'missing lists shard 4 twice'],
  ];

  for (const [name, missing, code, message] of missingCases) {
    it(`missing: ${name} (sync and async)`, async () => {
      expectError(() => rs.reconstructSync(stripe(6), missing as number[]), code, message);
      await expectRejection(() => rs.reconstruct(stripe(6), missing as number[]), code, message);
    });
  }

  it('async calls reject with the same errors', async () => {
    await expectRejection(
      () => rs.encode(stripe(5)),
      'ERR_INVALID_ARG_VALUE',
      'shards must have 6 entries (4 data + 2 parity), got 5',
    );
    await expectRejection(
      () => rs.encodeMany('x' as unknown as Uint8Array[][]),
      'ERR_INVALID_ARG_TYPE',
      "stripes must be an array of stripes, got 'x'",
    );
    await expectRejection(
      () => rs.encodeMany([stripe(6), [...stripe(5), 5 as unknown as Uint8Array]]),
      'ERR_INVALID_ARG_TYPE',
      'stripes[1][5] must be a Buffer or Uint8Array, got 5',
    );
    await expectRejection(
      () => rs.encodeMany([stripe(6), stripe(6, 8), stripe(2)]),
      'ERR_INVALID_ARG_VALUE',
      'stripes[2] must have 6 entries (4 data + 2 parity), got 2',
    );
  });

  it('the isal backend, when absent, is an explicit unsupported error', function () {
    if (ReedSolomon.isal().available) {
      console.log(
        '    skipped here: libisal is present (the absent case runs in 20.ec.reed_solomon)',
      );
      this.skip();
    }
    expectError(
      () => new ReedSolomon(4, 2, { backend: 'isal' }),
      'ERR_STORE_UNSUPPORTED',
      `backend 'isal' is unavailable: ${ReedSolomon.isal().reason}`,
    );
  });
});
