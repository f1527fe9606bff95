import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  version: string;
  engines: { node: string };
  exports: Record<string, unknown>;
};

/** Runs a snippet in a fresh node process from the package root. */
function runNode(args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' }).trim();
}

describe('00 package: exports and module formats', () => {
  it('require() and import() hand out the same TesseraError class', () => {
    const out = runNode([
      '--input-type=module',
      '-e',
      `import { createRequire } from 'node:module';
       const require = createRequire(import.meta.url);
       const cjs = require('tessera');
       const esm = await import('tessera');
       console.log(JSON.stringify({
         same: cjs.TesseraError === esm.TesseraError && cjs.nativeInfo === esm.nativeInfo,
         version: esm.nativeInfo().version,
       }));`,
    ]);
    assert.deepEqual(JSON.parse(out), { same: true, version: manifest.version });
  });

  it('every CommonJS export is re-exported by the ES module facade', () => {
    const out = runNode([
      '--input-type=module',
      '-e',
      `import { createRequire } from 'node:module';
       const require = createRequire(import.meta.url);
       const cjs = Object.keys(require('tessera')).filter((k) => k !== '__esModule').sort();
       const esm = Object.keys(await import('tessera')).filter((k) => k !== 'default').sort();
       console.log(JSON.stringify([cjs, esm]));`,
    ]);
    const [cjs, esm] = JSON.parse(out) as [string[], string[]];
    assert.deepEqual(esm, cjs);
    assert.ok(cjs.includes('TesseraError'));
  });

  it('declares the Node floor and a types-first exports map', () => {
    assert.equal(manifest.engines.node, '>=20.19');
    const dot = manifest.exports['.'] as Record<string, Record<string, string>>;
    assert.deepEqual(Object.keys(dot.import!), ['types', 'default']);
    assert.deepEqual(Object.keys(dot.require!), ['types', 'default']);
  });
});
