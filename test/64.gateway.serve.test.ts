/**
 * `tessera serve`: settings precedence, refusals (exit 2), and graceful
 * shutdown on SIGTERM (drain in-flight requests, exit 0; a second signal
 * exits 1).
 */
import { strict as assert } from 'node:assert';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { resolveServeSettings } from '../lib/cli/serve';
import { ACCESS_KEY, SECRET_KEY, signRequest } from './61.gateway.harness';
import type { Gateway } from '../lib/gateway/server';

const root = join(__dirname, '..');

describe('64 gateway: tessera serve settings', () => {
  it('uses the embedded defaults: ./tessera-data, 127.0.0.1:9000, EC 4+2, dev credentials on loopback', () => {
    const s = resolveServeSettings({}, {});
    assert.equal(s.dataDir, join(process.cwd(), 'tessera-data'));
    assert.deepEqual([s.host, s.port, s.dataShards, s.parityShards], ['127.0.0.1', 9000, 4, 2]);
    assert.equal(s.devCredentials, true);
    assert.equal(s.region, 'us-east-1');
    assert.equal(s.logLevel, 'info');
    assert.equal(s.shutdownTimeoutMs, 25_000);
  });

  it('takes flags over TESSERA_* over AWS_* over defaults', () => {
    const env = {
      TESSERA_DATA_DIR: '/srv/t',
      TESSERA_HOST: '0.0.0.0',
      TESSERA_PORT: '9100',
      TESSERA_ACCESS_KEY: 'tk',
      TESSERA_SECRET_KEY: 'ts',
      AWS_ACCESS_KEY_ID: 'ak',
      AWS_SECRET_ACCESS_KEY: 'as',
      TESSERA_REGION: 'eu-west-1',
      TESSERA_DOMAIN: 's3.local',
      LOG_LEVEL: 'debug',
    };
    const fromEnv = resolveServeSettings({}, env);
    assert.deepEqual(
      [
        fromEnv.dataDir,
        fromEnv.host,
        fromEnv.port,
        fromEnv.accessKey,
        fromEnv.secretKey,
        fromEnv.region,
        fromEnv.domain,
        fromEnv.logLevel,
      ],
      ['/srv/t', '0.0.0.0', 9100, 'tk', 'ts', 'eu-west-1', 's3.local', 'debug'],
    );
    const aws = resolveServeSettings(
      { host: '10.0.0.1' },
      { AWS_ACCESS_KEY_ID: 'ak', AWS_SECRET_ACCESS_KEY: 'as' },
    );
    assert.deepEqual([aws.accessKey, aws.secretKey, aws.devCredentials], ['ak', 'as', false]);
    const flags = resolveServeSettings(
      { port: '9200', host: '127.0.0.2', accessKey: 'fk', secretKey: 'fs', ec: '8+3' },
      env,
    );
    assert.deepEqual(
      [flags.port, flags.host, flags.accessKey, flags.dataShards, flags.parityShards],
      [9200, '127.0.0.2', 'fk', 8, 3],
    );
  });

  it('refuses a non-loopback address without credentials, half pairs and bad values', () => {
    assert.throws(() => resolveServeSettings({ host: '0.0.0.0' }, {}), {
      message:
        'refusing to listen on 0.0.0.0 without credentials: set --access-key/--secret-key or TESSERA_ACCESS_KEY/TESSERA_SECRET_KEY',
    });
    assert.throws(() => resolveServeSettings({}, { TESSERA_ACCESS_KEY: 'x' }), {
      message: 'TESSERA_ACCESS_KEY and TESSERA_SECRET_KEY must be set together',
    });
    assert.throws(() => resolveServeSettings({ port: '70000' }, {}), {
      message: "--port must be an integer in 0..65535, got '70000'",
    });
    assert.throws(() => resolveServeSettings({ ec: '4-2' }, {}), {
      message: "--ec must look like 4+2, got '4-2'",
    });
    assert.throws(() => resolveServeSettings({ logLevel: 'loud' }, {}), /log level must be one of/);
  });

  it('the CLI exits 2 on usage errors, with the message on stderr', function () {
    this.timeout(30_000);
    const bin = join(root, 'bin', 'tessera.js');
    const env = { PATH: process.env.PATH ?? '' };
    let result = spawnSync(process.execPath, [bin, 'serve', '--host', '0.0.0.0'], {
      encoding: 'utf8',
      env,
    });
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /refusing to listen on 0\.0\.0\.0 without credentials/);
    result = spawnSync(process.execPath, [bin, 'serve', '--port', 'nine'], {
      encoding: 'utf8',
      env,
    });
    assert.equal(result.status, 2);
    assert.match(result.stderr, /--port must be an integer in 0\.\.65535, got 'nine'/);
    result = spawnSync(process.execPath, [bin, 'serve', '--help'], { encoding: 'utf8', env });
    assert.equal(result.status, 0);
    assert.match(result.stdout, /--shutdown-timeout <seconds>/);
  });
});

describe('64 gateway: tessera serve shutdown', function () {
  this.timeout(30_000);

  function startChild(
    shutdownTimeout = '25',
  ): Promise<{ child: ChildProcess; url: string; port: number; logs: () => string }> {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(__dirname, '64.gateway.serve.child.ts'), shutdownTimeout],
      {
        cwd: root,
        env: {
          ...process.env,
          LOG_LEVEL: 'info',
          TESSERA_ACCESS_KEY: ACCESS_KEY,
          TESSERA_SECRET_KEY: SECRET_KEY,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    return new Promise((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /LISTENING (http:\/\/[^\s]+:(\d+))/.exec(out);
        if (m) resolve({ child, url: m[1]!, port: Number(m[2]), logs: () => out });
      });
      child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      child.once('exit', (code) => reject(new Error(`child exited ${code}: ${out}`)));
    });
  }

  function exitCode(child: ChildProcess): Promise<number | null> {
    return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** Starts a signed PUT whose body arrives in two halves, `gapMs` apart. */
  async function slowPut(port: number, gapMs: number): Promise<number> {
    const body = Buffer.alloc(64 * 1024, 1);
    const put = await signRequest({ port } as Gateway, {
      method: 'PUT',
      path: '/drain-bucket/slow',
      body,
      signingDate: new Date(),
    });
    return new Promise((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, method: 'PUT', path: put.target, headers: put.headers },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.write(body.subarray(0, 32 * 1024));
      setTimeout(() => req.end(body.subarray(32 * 1024)), gapMs);
    });
  }

  it('drains an in-flight request on SIGTERM, then exits 0', async () => {
    const { child, port, logs } = await startChild();
    const create = await signRequest({ port } as Gateway, {
      method: 'PUT',
      path: '/drain-bucket',
      body: '',
    });
    await new Promise<void>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, method: 'PUT', path: create.target, headers: create.headers },
        (res) => {
          assert.equal(res.statusCode, 200);
          res.resume();
          res.on('end', () => resolve());
        },
      );
      req.on('error', reject);
      req.end();
    });
    const exited = exitCode(child);
    const inflight = slowPut(port, 1000);
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGTERM');
    assert.equal(await inflight, 200, 'the in-flight upload completes during the drain');
    assert.equal(await exited, 0, logs());
    assert.match(logs(), /shutting down: draining in-flight requests/);
    assert.match(logs(), /"msg":"stopped"/);
  });

  it('exits 1 on a second signal while draining', async () => {
    const { child, port } = await startChild();
    const create = await signRequest({ port } as Gateway, {
      method: 'PUT',
      path: '/drain-bucket',
      body: '',
    });
    await new Promise<void>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port, method: 'PUT', path: create.target, headers: create.headers },
        (res) => {
          res.resume();
          res.on('end', () => resolve());
        },
      );
      req.on('error', reject);
      req.end();
    });
    const exited = exitCode(child);
    const inflight = slowPut(port, 5000).catch(() => 0);
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGTERM');
    assert.equal(await exited, 1);
    await inflight;
  });
});

describe('64 gateway: tessera serve on a real data directory', function () {
  this.timeout(60_000);

  async function serve(
    dataDir: string,
  ): Promise<{ child: ChildProcess; url: string; output: () => string }> {
    const child = spawn(
      process.execPath,
      [
        join(root, 'bin', 'tessera.js'),
        'serve',
        '--data-dir',
        dataDir,
        '--port',
        '0',
        '--ec',
        '2+1',
      ],
      {
        env: {
          PATH: process.env.PATH ?? '',
          TESSERA_ACCESS_KEY: ACCESS_KEY,
          TESSERA_SECRET_KEY: SECRET_KEY,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    return new Promise((resolve, reject) => {
      const onData = (d: Buffer) => {
        out += d.toString();
        const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out);
        if (m) resolve({ child, url: m[1]!, output: () => out });
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
    });
  }

  it('serves S3 over the data directory, stops on SIGTERM with exit 0, and finds the data again', async () => {
    const { mkdtemp, rm, readdir } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand } =
      await import('@aws-sdk/client-s3');
    const dataDir = await mkdtemp(join(tmpdir(), 'tessera-serve-'));
    try {
      const client = (url: string) =>
        new S3Client({
          endpoint: url,
          region: 'us-east-1',
          forcePathStyle: true,
          credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
        });
      const first = await serve(dataDir);
      let s3 = client(first.url);
      await s3.send(new CreateBucketCommand({ Bucket: 'kept' }));
      await s3.send(
        new PutObjectCommand({ Bucket: 'kept', Key: 'a/b.txt', Body: 'durable bytes' }),
      );
      s3.destroy();
      let exited = new Promise((resolve) => first.child.once('exit', resolve));
      first.child.kill('SIGTERM');
      assert.equal(await exited, 0, first.output());
      assert.deepEqual((await readdir(dataDir)).sort(), ['drive-0', 'drive-1', 'drive-2']);

      const second = await serve(dataDir);
      s3 = client(second.url);
      const got = await s3.send(new GetObjectCommand({ Bucket: 'kept', Key: 'a/b.txt' }));
      assert.equal(await got.Body!.transformToString(), 'durable bytes');
      s3.destroy();
      exited = new Promise((resolve) => second.child.once('exit', resolve));
      second.child.kill('SIGINT');
      assert.equal(await exited, 0);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
