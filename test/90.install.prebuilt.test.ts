/**
 * The prebuilt-binary promise, end to end: pack the tarball with its
 * prebuild, install it into an empty project with install scripts ignored
 * and no compiler, make or python on PATH, then require it, import it, call
 * into the addon and type-check a consumer against the shipped declarations.
 */
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = join(__dirname, '..');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  version: string;
};
const prebuild = join(
  root,
  'prebuilds',
  `${process.platform}-${process.arch}`,
  'tessera.glibc.node',
);

function which(name: string): string {
  return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
}

describe('90 install: the packed tarball works without a compiler', function () {
  this.timeout(15 * 60 * 1000);
  let work: string;
  let sandboxPath: string;
  let consumer: string;
  let env: NodeJS.ProcessEnv;

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'tessera-install-'));
    // A PATH with node, npm and sh only: no g++, make or python.
    sandboxPath = join(work, 'bin');
    mkdirSync(sandboxPath);
    symlinkSync(process.execPath, join(sandboxPath, 'node'));
    symlinkSync(which('sh'), join(sandboxPath, 'sh'));
    const npmCli = join(
      which('npm'),
      '..',
      '..',
      'lib',
      'node_modules',
      'npm',
      'bin',
      'npm-cli.js',
    );
    const npmEntry = existsSync(npmCli)
      ? npmCli
      : execFileSync('sh', ['-c', 'readlink -f "$(command -v npm)"'], { encoding: 'utf8' }).trim();
    writeFileSync(
      join(sandboxPath, 'npm'),
      `#!/bin/sh\nexec "${process.execPath}" "${npmEntry}" "$@"\n`,
      { mode: 0o755 },
    );
    env = {
      HOME: process.env.HOME,
      PATH: sandboxPath,
      npm_config_cache: process.env.npm_config_cache ?? join(process.env.HOME ?? work, '.npm'),
      npm_config_update_notifier: 'false',
      NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS,
    };
    consumer = join(work, 'consumer');
    mkdirSync(consumer);
    writeFileSync(
      join(consumer, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true }),
    );
  });

  after(() => rmSync(work, { recursive: true, force: true }));

  it('npm run prebuildify makes prebuilds/<platform>-<arch>/tessera.glibc.node', () => {
    execFileSync('npm', ['run', 'prebuildify'], { cwd: root, stdio: 'ignore' });
    assert.ok(existsSync(prebuild), `${prebuild} missing`);
  });

  it('the binary needs no optional system library (ISA-L, liburing)', () => {
    const dynamic = execFileSync('readelf', ['-d', prebuild], { encoding: 'utf8' });
    const needed = [...dynamic.matchAll(/\(NEEDED\).*\[(.+)\]/g)].map((m) => m[1]!);
    const allowed = /^(libc|libm|libdl|libpthread|libstdc\+\+|libgcc_s|ld-linux[-\w]*)\.so/;
    for (const lib of needed) assert.match(lib, allowed, `unexpected NEEDED ${lib}`);
    assert.ok(!needed.some((lib) => /isal|uring/.test(lib)));
  });

  it('the sandbox PATH really has no compiler, make or python', () => {
    for (const tool of ['g++', 'cc', 'make', 'python3']) {
      const found = spawnSync('sh', ['-c', `command -v ${tool}`], { env }).status;
      assert.notEqual(found, 0, `${tool} is reachable from the sandbox PATH`);
    }
  });

  it('packs a small tarball with the prebuild and without build output', () => {
    const out = execFileSync(
      'npm',
      ['pack', '--json', '--ignore-scripts', '--pack-destination', work],
      {
        cwd: root,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    const [pack] = JSON.parse(out) as [
      { filename: string; size: number; files: { path: string }[] },
    ];
    const paths = pack.files.map((f) => f.path);
    assert.ok(paths.includes(`prebuilds/${process.platform}-${process.arch}/tessera.glibc.node`));
    assert.ok(paths.includes('dist/cjs/index.js') && paths.includes('dist/index.mjs'));
    assert.ok(paths.includes('binding.gyp'));
    assert.ok(
      !paths.some((p) => p.startsWith('build/') || p.startsWith('test/')),
      'build or test files packed',
    );
    assert.ok(pack.size < 5 * 1024 * 1024, `tarball is ${pack.size} bytes`);
    assert.ok(existsSync(join(work, pack.filename)));
  });

  it('installs with --ignore-scripts and loads through require and import', () => {
    const tarball = join(work, `tessera-${manifest.version}.tgz`);
    // A TypeScript consumer of a Node library has @types/node, as any would.
    execFileSync(
      'npm',
      ['install', '--ignore-scripts', '--no-audit', '--no-fund', tarball, '@types/node@20'],
      {
        cwd: consumer,
        env,
        stdio: 'ignore',
      },
    );
    assert.ok(
      !existsSync(join(consumer, 'node_modules', 'tessera', 'build')),
      'nothing was compiled',
    );
    const script = `
      const t = require('tessera');
      const loaded = require('node-gyp-build').path(require('path').dirname(require.resolve('tessera/package.json')));
      import('tessera').then((esm) => {
        console.log(JSON.stringify({
          version: t.nativeInfo().version,
          same: esm.TesseraError === t.TesseraError,
          loaded,
        }));
      });`;
    for (const extra of [{}, { PREBUILDS_ONLY: '1' }]) {
      const out = execFileSync(process.execPath, ['-e', script], {
        cwd: consumer,
        env: { ...env, ...extra },
        encoding: 'utf8',
      });
      const result = JSON.parse(out) as { version: string; same: boolean; loaded: string };
      assert.equal(result.version, manifest.version);
      assert.equal(result.same, true);
      assert.match(result.loaded, /prebuilds\/linux-x64\/tessera\.glibc\.node$/);
    }
  });

  it('a TypeScript consumer type-checks against the shipped declarations (CJS and ESM)', () => {
    writeFileSync(
      join(consumer, 'cjs.cts'),
      "import { ReedSolomon, Store, TesseraError, nativeInfo, startGateway, createGatewayHandler } from 'tessera';\n" +
        "import type { Gateway, GatewayHandlerOptions } from 'tessera';\n" +
        'const info: { version: string; napiVersion: number } = nativeInfo();\n' +
        "const error: TesseraError = new TesseraError('ERR_STORE_IO', 'x');\n" +
        'export const code: string = error.code + info.version;\n' +
        'export async function roundTrip(path: string): Promise<Buffer | undefined> {\n' +
        '  const store: Store = await Store.open({ path, dataShards: 4, parityShards: 2 });\n' +
        "  await store.createBucket('photos', { versioning: true });\n" +
        "  const put: { etag: string; versionId: string; size: number } = await store.bucket('photos').put('a', 'b', { ifNoneMatch: '*' });\n" +
        "  const got = await store.bucket('photos').get('a', { range: { start: 0, end: 0 } });\n" +
        '  await store.close();\n' +
        '  return put.size > 0 ? got?.body : undefined;\n' +
        '}\n' +
        'export const rs = new ReedSolomon(4, 2);\n' +
        'export async function serve(store: Store): Promise<string> {\n' +
        "  const gw: Gateway = await startGateway({ store, port: 0, credentials: [{ accessKeyId: 'a', secretAccessKey: 'b' }] });\n" +
        "  const options: GatewayHandlerOptions = { credentials: [{ accessKeyId: 'a', secretAccessKey: 'b' }] };\n" +
        '  const handler = createGatewayHandler(store, options);\n' +
        "  require('node:http').createServer(handler).close();\n" +
        '  await gw.close();\n' +
        '  return gw.url;\n' +
        '}\n',
    );
    writeFileSync(
      join(consumer, 'esm.mts'),
      "import { Store, TesseraError, nativeInfo } from 'tessera';\n" +
        'export const v: string = nativeInfo().version;\n' +
        "export const e: number = new TesseraError('NoSuchKey', 'x').statusCode;\n" +
        'export type S = Awaited<ReturnType<typeof Store.open>>;\n',
    );
    writeFileSync(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'node16',
          moduleResolution: 'node16',
          strict: true,
          noEmit: true,
          types: ['node'],
        },
        files: ['cjs.cts', 'esm.mts'],
      }),
    );
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const result = spawnSync(process.execPath, [tsc, '-p', consumer], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stdout + result.stderr);
  });
});
