// Checks (or with --fix, applies) clang-format on every C++ file in native/.
// Run by `npm run lint`; a file that is not formatted fails the test run.
import { execFileSync, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const fix = process.argv.includes('--fix');
const files = execFileSync(
  'git',
  ['ls-files', '--cached', '--others', '--exclude-standard', 'native'],
  {
    cwd: root,
    encoding: 'utf8',
  },
)
  .split('\n')
  .filter((file) => /\.(cc|h)$/.test(file));
const binary = ['clang-format', 'clang-format-14'].find(
  (name) => spawnSync(name, ['--version']).status === 0,
);
if (!binary) {
  console.error('clang-format is not installed (apt-get install clang-format)');
  process.exit(1);
}
const args = fix ? ['-i', ...files] : ['--dry-run', '--Werror', ...files];
const result = spawnSync(binary, args, { cwd: root, stdio: 'inherit' });
if (result.status !== 0) {
  console.error('C++ formatting differs: run `npm run format`');
  process.exit(1);
}
console.log(`clang-format: ${files.length} files ${fix ? 'formatted' : 'clean'}`);
