import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..');
const bin = join(root, 'bin', 'tessera.js');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  version: string;
};

function tessera(...args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
}

describe('70 cli: exit codes and output streams', () => {
  it('--version prints the package version and exits 0', () => {
    const result = tessera('--version');
    assert.equal(result.status, 0);
    assert.equal(result.stdout.trim(), version);
  });

  it('--help exits 0 and lists the commands', () => {
    const result = tessera('--help');
    assert.equal(result.status, 0);
    assert.match(result.stdout, /info/);
    assert.match(result.stdout, /demo/);
  });

  it('an unknown command is a usage error: exit 2, message on stderr', () => {
    const result = tessera('frobnicate');
    assert.equal(result.status, 2);
    assert.equal(result.stdout, '');
    assert.match(result.stderr, /unknown command 'frobnicate'/);
  });

  it('an unknown option is a usage error too', () => {
    const result = tessera('info', '--bogus');
    assert.equal(result.status, 2);
    assert.match(result.stderr, /unknown option '--bogus'/);
  });

  it('info --json prints one JSON document on stdout', () => {
    const result = tessera('info', '--json');
    assert.equal(result.status, 0);
    const info = JSON.parse(result.stdout) as { version: string; napiVersion: number };
    assert.equal(info.version, version);
    assert.equal(info.napiVersion, 8);
  });
});
