/**
 * Helpers shared by the store-level tests: scratch directories removed when
 * the run ends, and an assert.rejects predicate for TesseraError codes.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TesseraError } from '../../lib/errors';

/**
 * Returns a function that makes a fresh directory `tessera-<label>-*` under
 * the OS temp dir; every directory it made is removed after the run (a root
 * `after` hook registered when the test file loads).
 */
export function tempDirFactory(label: string): () => string {
  const dirs: string[] = [];
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const dir = mkdtempSync(join(tmpdir(), `tessera-${label}-`));
    dirs.push(dir);
    return dir;
  };
}

/** `assert.rejects(p, code('ERR_X'))`: a TesseraError with exactly this code. */
export function code(expected: string): (error: unknown) => true {
  return (error: unknown) => {
    assert.ok(error instanceof TesseraError, `expected TesseraError, got ${String(error)}`);
    assert.equal(error.code, expected, (error as Error).message);
    return true;
  };
}
