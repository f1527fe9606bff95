/**
 * The new user's path through the CLI, as processes: every command's help,
 * wrong usage (exit 2), no store and a store locked by a running server
 * (exit 1, the reason on stderr), and `tessera serve` with no
 * configuration: it prints where it listens and which credentials to use,
 * those credentials work, SIGTERM stops it cleanly (exit 0), the offline
 * commands then run, and a restart over the same directory serves the same
 * bytes. Exit codes are the ones docs/cli.md documents.
 */
import { strict as assert } from 'node:assert';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListBucketsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { DEV_ACCESS_KEY, DEV_SECRET_KEY, resolveServeSettings } from '../lib/cli/serve';
import { tempDirFactory } from './support/temp_dirs';

const root = join(__dirname, '..');
const bin = join(root, 'bin', 'tessera.js');
/** No TESSERA_* / AWS_* from the caller's shell: the defaults a new user gets. */
const cleanEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' };
const tempDir = tempDirFactory('cli-newuser');

function tessera(...args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    env: cleanEnv,
    timeout: 60_000,
  });
}

interface Serve {
  child: ChildProcess;
  url: string;
  log: () => string;
  exit: Promise<number | null>;
}

function startServe(dataDir: string): Promise<Serve> {
  const child = spawn(process.execPath, [bin, 'serve', '--data-dir', dataDir, '--port', '0'], {
    env: cleanEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exit = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${out}`)), 30_000);
    const onData = (): void => {
      const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      resolve({ child, url: m[1]!, log: () => out, exit });
    };
    child.stdout!.on('data', onData);
    void exit.then((code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}:\n${out}`));
    });
  });
}

async function stop(serve: Serve): Promise<void> {
  serve.child.kill('SIGTERM');
  assert.equal(await serve.exit, 0, serve.log());
  assert.match(serve.log(), /"msg":"stopped"/);
}

function client(url: string, region = 'us-east-1'): S3Client {
  return new S3Client({
    endpoint: url,
    region,
    forcePathStyle: true,
    credentials: { accessKeyId: DEV_ACCESS_KEY, secretAccessKey: DEV_SECRET_KEY },
    maxAttempts: 1,
  });
}

describe('70 cli: the new user path', function () {
  this.timeout(120_000);

  it('every command and subcommand answers --help with exit 0; the root help lists exit codes', () => {
    const top = tessera('--help');
    assert.equal(top.status, 0);
    for (const command of [
      'info',
      'demo',
      'serve',
      'scrub',
      'heal',
      'verify',
      'gc',
      'replication',
    ]) {
      assert.match(top.stdout, new RegExp(`^  ${command} `, 'm'), `${command} missing from --help`);
    }
    assert.match(top.stdout, /Exit codes: 0 ok, 1 failure, 2 usage error, 3 corruption found/);
    for (const args of [
      ['info', '--help'],
      ['demo', '--help'],
      ['serve', '--help'],
      ['scrub', '--help'],
      ['heal', '--help'],
      ['verify', '--help'],
      ['gc', '--help'],
      ['replication', '--help'],
      ['replication', 'status', '--help'],
      ['help', 'gc'],
      ['put', '--help'],
      ['get', '--help'],
      ['ls', '--help'],
      ['stat', '--help'],
    ]) {
      const r = tessera(...args);
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stdout, /^Usage: tessera /, args.join(' '));
      assert.equal(r.stderr, '');
    }
  });

  it('demo runs erasure coding and a temporary store end to end and removes it', () => {
    const r = tessera('demo', '--json');
    assert.equal(r.status, 0, r.stderr);
    const { steps } = JSON.parse(r.stdout) as { steps: { name: string; detail: string }[] };
    assert.deepEqual(
      steps.map((s) => s.name),
      ['addon', 'cpu', 'erasure', 'store'],
    );
    assert.match(steps[2]!.detail, /shards 1 and 4 lost and rebuilt exactly/);
    const dir = /in (\S+): 4 MiB put durable/.exec(steps[3]!.detail)?.[1];
    assert.ok(dir !== undefined && !existsSync(dir), `demo left ${dir}`);
  });

  it('checks the request region only when one is configured', () => {
    assert.equal(resolveServeSettings({}, {}).regionStrict, false);
    assert.equal(resolveServeSettings({}, {}).region, 'us-east-1');
    assert.equal(resolveServeSettings({}, { TESSERA_REGION: 'eu-west-1' }).regionStrict, true);
    assert.equal(resolveServeSettings({ region: 'eu-west-1' }, {}).regionStrict, true);
  });

  it('wrong usage exits 2 with the reason on stderr and nothing on stdout', () => {
    const dir = tempDir();
    for (const [args, message] of [
      [['scrub', '--data-dir', dir, '--rate', 'fast'], /^error: --rate must be bytes per second/],
      [['heal', '--rate', '10Q'], /^error: --rate must be bytes per second/],
      [
        ['gc', '--data-dir', dir, '--dead-ratio', '2'],
        /^error: --dead-ratio must be a number in 0\.\.1/,
      ],
      [['gc', '--rate', '-1'], /^error: --rate must be bytes per second/],
      [['serve', '--ec', '4'], /^error: --ec must look like 4\+2/],
      [['serve', '--log-level', 'loud'], /^error: log level must be one of/],
      [['scrub', '--data-dir'], /^error: option '--data-dir <dir>' argument missing/],
      [['verify', '--bogus'], /^error: unknown option '--bogus'/],
      [['replication', 'frob'], /^error: unknown command 'frob'/],
      [['replication'], /^Usage: tessera replication/],
      [['put', 'a-file'], /^error: missing required argument 'bucket\/key'/],
      [['put', join(dir, 'absent'), 'bkt/k'], /^error: no such file: /],
      [['get', 'just-a-bucket'], /^error: expected bucket\/key, got 'just-a-bucket'/],
      [['mb', 'bkt', '--ec', 'lots'], /^error: --ec must look like 4\+2/],
    ] as const) {
      const r = tessera(...args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stdout, '', args.join(' '));
      assert.match(r.stderr, message, args.join(' '));
    }
  });

  it('a directory without a store exits 1 and creates nothing', () => {
    const dir = join(tempDir(), 'absent');
    for (const args of [
      ['scrub'],
      ['heal'],
      ['verify'],
      ['gc'],
      ['replication', 'status'],
      ['ls'],
      ['stat', 'bkt/k'],
      ['get', 'bkt/k'],
    ]) {
      const r = tessera(...args, '--data-dir', dir);
      assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^tessera: ERR_INVALID_ARG_VALUE: no tessera store at /);
    }
    assert.equal(spawnSync('test', ['-e', dir]).status, 1, 'a command created the directory');
  });

  it('mb, put, ls, stat, get, rm, rb on a stopped store: bytes back exactly, S3 codes for misses', () => {
    const root = tempDir();
    const dir = join(root, 'store');
    const file = join(root, 'in.bin');
    const data = Buffer.alloc(1_500_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919) >>> 8;
    writeFileSync(file, data);
    const t = (...args: string[]) => tessera(...args, '--data-dir', dir);
    assert.equal(t('mb', 'b').status, 1, 'an invalid bucket name');
    assert.equal(existsSync(dir), false, 'mb made a store for a bucket it refused');
    let r = t('mb', 'bkt');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'made bucket bkt\n');
    r = t('put', file, 'bkt/dir/in.bin', '--content-type', 'application/x-in', '--json');
    assert.equal(r.status, 0, r.stderr);
    const put = JSON.parse(r.stdout) as { size: number; etag: string };
    assert.deepEqual(
      [put.size, put.etag],
      [data.length, createHash('md5').update(data).digest('hex')],
    );
    r = t('ls', 'bkt');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^ +PRE {2}dir\/$/m);
    r = t('ls', 'bkt/dir/', '--json');
    const listed = JSON.parse(r.stdout) as { objects: { key: string; size: number }[] };
    assert.deepEqual(
      listed.objects.map((o) => [o.key, o.size]),
      [['dir/in.bin', data.length]],
    );
    r = t('stat', 'bkt/dir/in.bin');
    assert.match(r.stdout, /^size: +1500000$/m);
    assert.match(r.stdout, /^content-type: +application\/x-in$/m);
    const outFile = join(root, 'out.bin');
    r = t('get', 'bkt/dir/in.bin', outFile);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(readFileSync(outFile).equals(data));
    const toStdout = spawnSync(
      process.execPath,
      [bin, 'get', 'bkt/dir/in.bin', '--data-dir', dir],
      {
        env: cleanEnv,
        maxBuffer: 8 * 1024 * 1024,
      },
    );
    assert.equal(toStdout.status, 0);
    assert.ok(toStdout.stdout.equals(data), 'get to stdout');
    r = t('get', 'bkt/nope');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^tessera: NoSuchKey: no object bkt\/nope/);
    r = t('ls', 'nobucket');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^tessera: NoSuchBucket: /);
    r = t('rb', 'bkt');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^tessera: BucketNotEmpty: /);
    assert.equal(t('rm', 'bkt/dir/in.bin').status, 0);
    assert.equal(t('stat', 'bkt/dir/in.bin').status, 1);
    r = t('rb', 'bkt');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(t('ls').stdout, '');
  });

  it('serve with no configuration: prints URL and credentials, they work, SIGTERM exits 0, locked meanwhile, restart serves the same bytes', async () => {
    // Parent directories that do not exist yet are made, as for ./tessera-data.
    const dir = join(tempDir(), 'var', 'lib', 'tessera');
    const body = Buffer.from('what a new user stores first\n'.repeat(1000));
    let serve = await startServe(dir);
    try {
      assert.match(
        serve.log(),
        /loopback-only development credentials tessera \/ tessera-dev-secret/,
      );
      assert.match(serve.log(), /"accessKey":"tessera"[^\n]*"msg":"tessera S3 gateway listening"/);
      const s3 = client(serve.url);
      await s3.send(new CreateBucketCommand({ Bucket: 'first' }));
      await s3.send(new PutObjectCommand({ Bucket: 'first', Key: 'hello.txt', Body: body }));
      // A shell with AWS_DEFAULT_REGION=eu-central-1 works too: no --region, no check.
      const eu = client(serve.url, 'eu-central-1');
      const buckets = await eu.send(new ListBucketsCommand({}));
      assert.deepEqual(
        buckets.Buckets?.map((b) => b.Name),
        ['first'],
      );
      eu.destroy();

      // While it runs, the store is locked: every offline command says so.
      for (const args of [
        ['scrub'],
        ['gc'],
        ['verify'],
        ['replication', 'status'],
        ['serve', '--port', '0'],
      ]) {
        const r = tessera(...args, '--data-dir', dir);
        assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
        assert.match(
          r.stderr,
          /^tessera: ERR_STORE_LOCKED: the store is open elsewhere/,
          args.join(' '),
        );
      }
      // The same port taken: a clear message, exit 1.
      const port = new URL(serve.url).port;
      const busy = tessera('serve', '--data-dir', join(tempDir(), 'other'), '--port', port);
      assert.equal(busy.status, 1, busy.stderr);
      assert.match(
        busy.stderr,
        new RegExp(`EADDRINUSE: 127\\.0\\.0\\.1:${port} is already in use`),
      );
      s3.destroy();
    } finally {
      await stop(serve);
    }

    // Stopped: the offline commands run on the same directory.
    const verify = tessera('verify', '--data-dir', dir, '--json');
    assert.equal(verify.status, 0, verify.stderr);
    const report = JSON.parse(verify.stdout) as { chunksBad: number; unreadable: string[] };
    assert.deepEqual([report.chunksBad, report.unreadable], [0, []]);
    const gc = tessera('gc', '--data-dir', dir);
    assert.equal(gc.status, 0, gc.stderr);
    assert.match(gc.stdout, /^gc: /);

    serve = await startServe(dir);
    try {
      const s3 = client(serve.url);
      const got = await s3.send(new GetObjectCommand({ Bucket: 'first', Key: 'hello.txt' }));
      assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(body));
      s3.destroy();
    } finally {
      await stop(serve);
    }
  });
});
