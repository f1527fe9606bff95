import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { binding } from '../lib/binding';
import { NATIVE_STATUS_CODES, TesseraError } from '../lib/errors';
import { nativeInfo } from '../lib/index';

describe('10 binding: the addon and how its errors cross', () => {
  it('reports the package version and Node-API 8', () => {
    const { version } = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8'));
    assert.equal(nativeInfo().version, version);
    assert.equal(nativeInfo().napiVersion, 8);
  });

  it('exports the status-code table that lib/errors.ts mirrors', () => {
    assert.deepEqual([...binding.statusCodes], [...NATIVE_STATUS_CODES]);
  });

  it('turns every native status into a TesseraError with its stable code', () => {
    for (let code = 1; code < NATIVE_STATUS_CODES.length; code++) {
      assert.throws(
        () => binding.throwStatusForTest(code, `message ${code}`, 0),
        (error: unknown) => {
          assert.ok(error instanceof TesseraError);
          assert.equal(error.code, NATIVE_STATUS_CODES[code]);
          assert.equal(error.message, `message ${code}`);
          assert.equal(error.errno, undefined);
          return true;
        },
      );
    }
  });

  it('keeps errno and its name for system-call failures', () => {
    assert.throws(
      () => binding.throwStatusForTest(5, 'pwrite drive-2: Input/output error', 5),
      (error: unknown) => {
        assert.ok(error instanceof TesseraError);
        assert.equal(error.code, 'ERR_STORE_IO');
        assert.equal(error.statusCode, 500);
        assert.equal(error.errno, 5);
        assert.equal(error.syscallError, 'EIO');
        return true;
      },
    );
  });

  it('rejects bad arguments to the native layer with a code, not a crash', () => {
    assert.throws(
      () => binding.throwStatusForTest(99, 'x', 0),
      (error: unknown) =>
        error instanceof TesseraError &&
        error.code === 'ERR_OUT_OF_RANGE' &&
        error.message === 'status code must be in 1..13',
    );
    assert.throws(
      () => (binding.setErrorConstructor as (x: unknown) => void)(42),
      (error: unknown) => error instanceof TesseraError && error.code === 'ERR_INVALID_ARG_TYPE',
    );
  });

  it('detects CPU features once, as a list of known names', () => {
    const known = new Set([
      'sse4.2',
      'ssse3',
      'pclmulqdq',
      'avx2',
      'avx512f',
      'avx512bw',
      'avx512vl',
      'gfni',
      'vpclmulqdq',
      'neon',
      'crc32',
      'pmull',
    ]);
    for (const feature of nativeInfo().cpuFeatures) assert.ok(known.has(feature), feature);
  });

  it('maps codes to HTTP statuses for the gateway', () => {
    assert.equal(new TesseraError('NoSuchKey', 'x').statusCode, 404);
    assert.equal(new TesseraError('PreconditionFailed', 'x').statusCode, 412);
    assert.equal(new TesseraError('ERR_INVALID_ARG_VALUE', 'x').statusCode, 400);
    assert.equal(new TesseraError('ERR_STORE_QUORUM', 'x').statusCode, 503);
  });
});
