/**
 * A current boto3 (>= 1.36, CRC32 request checksums by default) against a
 * real `tessera serve` process on 127.0.0.1, run the way a new user runs it
 * (bin/tessera.js, --port 0, credentials from the environment).
 *
 * The cases live in test/support/boto3_suite.py (one Python process runs
 * them all and prints one `CASE {...}` line each); every case here asserts
 * that its Python case ran and passed. A TLS terminator (node:tls, a
 * throwaway openssl certificate) in front of the gateway lets boto3 use
 * https, which is the only way it sends aws-chunked bodies with CRC32
 * trailers (over http it signs the payload and sends the CRC32 as a header).
 *
 * Python: $TESSERA_PYTHON, else the CI venv /tmp/tessera-ci-venv (.ci/run
 * makes it), else python3 on PATH. Skipped, with the reason printed, when
 * none of them has boto3 >= 1.36.
 */
import { strict as assert } from 'node:assert';
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { type Server, connect } from 'node:net';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { tempDirFactory } from './support/temp_dirs';

const root = join(__dirname, '..');
const ACCESS_KEY = 'boto3-user';
const SECRET_KEY = 'boto3-secret-key';
const CASES = [
  'buckets',
  'put_get_head_metadata',
  'checksum_default_crc32',
  'checksum_when_required',
  'checksum_tls_trailer',
  'ranges',
  'list_v2_paginate',
  'upload_download_multipart',
  'multipart_low_level',
  'copy_object',
  'delete_objects',
  'versioning',
  'presigned',
  'conditional_requests',
  'error_codes',
  'client_defaults',
  'refused_guarantees',
  'cleanup',
];

interface CaseResult {
  name: string;
  ok: boolean;
  skipped?: string;
  error?: string;
  ms: number;
}

/** The first Python with boto3 >= 1.36, or the reason there is none. */
function findPython(): { python: string; version: string } | { reason: string } {
  const candidates = [
    process.env.TESSERA_PYTHON,
    '/tmp/tessera-ci-venv/bin/python3',
    'python3',
  ].filter((c): c is string => c !== undefined && (!c.startsWith('/') || existsSync(c)));
  const seen: string[] = [];
  for (const python of candidates) {
    const probe = spawnSync(python, ['-c', 'import boto3; print(boto3.__version__)'], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    if (probe.status !== 0) {
      seen.push(`${python}: no boto3`);
      continue;
    }
    const version = probe.stdout.trim();
    const [major, minor] = version.split('.').map(Number);
    if (major! > 1 || (major === 1 && minor! >= 36)) return { python, version };
    seen.push(`${python}: boto3 ${version} < 1.36`);
  }
  return {
    reason:
      `no python3 with boto3 >= 1.36 (${seen.join('; ') || 'no python3'}); ` +
      'run: python3 -m venv /tmp/tessera-ci-venv && /tmp/tessera-ci-venv/bin/pip install boto3',
  };
}

/** `tessera serve` as a child; resolves once it logged its URL. */
function startServe(
  dataDir: string,
): Promise<{ child: ChildProcess; url: string; log: () => string }> {
  const child = spawn(
    process.execPath,
    [join(root, 'bin', 'tessera.js'), 'serve', '--data-dir', dataDir, '--port', '0'],
    {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '',
        TESSERA_ACCESS_KEY: ACCESS_KEY,
        TESSERA_SECRET_KEY: SECRET_KEY,
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${out}`)), 30_000);
    const onData = (): void => {
      const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      resolve({ child, url: m[1]!, log: () => out });
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}:\n${out}`));
    });
  });
}

/** A TLS terminator on 127.0.0.1 forwarding raw bytes to the gateway. */
function startTlsProxy(
  dir: string,
  targetPort: number,
): Promise<{ server: Server; url: string; ca: string }> | undefined {
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore', timeout: 20_000 },
    );
  } catch {
    return undefined;
  }
  const server = createTlsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (socket) => {
    const upstream = connect(targetPort, '127.0.0.1');
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      resolve({ server, url: `https://127.0.0.1:${port}`, ca: cert });
    });
  });
}

// At file level: its cleanup must run after the server below has stopped.
const tempDir = tempDirFactory('boto3');

describe('63 gateway: a current boto3 against tessera serve', function () {
  this.timeout(180_000);
  const results = new Map<string, CaseResult>();
  let skipReason: string | undefined;
  let serve: { child: ChildProcess; url: string; log: () => string } | undefined;
  let proxy: { server: Server; url: string; ca: string } | undefined;
  let stderr = '';

  before(async function () {
    const found = findPython();
    if ('reason' in found) {
      skipReason = found.reason;
      process.stdout.write(`      skipping the boto3 suite: ${skipReason}\n`);
      return;
    }
    const dir = tempDir();
    serve = await startServe(join(dir, 'data'));
    proxy = await startTlsProxy(dir, Number(new URL(serve.url).port));
    const args = [join(__dirname, 'support', 'boto3_suite.py'), '--endpoint', serve.url];
    if (proxy) args.push('--tls-endpoint', proxy.url, '--ca', proxy.ca);
    const started = Date.now();
    const stdout = await new Promise<string>((resolve, reject) => {
      const py = spawn(found.python, args, {
        env: {
          PATH: process.env.PATH ?? '',
          HOME: process.env.HOME ?? dir,
          AWS_ACCESS_KEY_ID: ACCESS_KEY,
          AWS_SECRET_ACCESS_KEY: SECRET_KEY,
          AWS_CONFIG_FILE: '/dev/null',
          AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      py.stdout.on('data', (d: Buffer) => (out += d.toString()));
      py.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => py.kill('SIGKILL'), 150_000);
      py.on('error', reject);
      py.on('exit', (code, signal) => {
        clearTimeout(timer);
        if (code !== 0)
          reject(new Error(`boto3 suite exited ${code ?? signal}:\n${out}\n${stderr}`));
        else resolve(out);
      });
    });
    for (const line of stdout.split('\n')) {
      if (line.startsWith('VERSIONS ')) {
        process.stdout.write(
          `      ${found.python}: ${line.slice(9)}, ${Date.now() - started} ms\n`,
        );
      }
      if (!line.startsWith('CASE ')) continue;
      const r = JSON.parse(line.slice(5)) as CaseResult;
      results.set(r.name, r);
    }
  });

  after(async () => {
    proxy?.server.close();
    if (!serve) return;
    const { child } = serve;
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const code = await exited;
    assert.equal(code, 0, `serve did not stop cleanly:\n${serve.log()}`);
    assert.match(serve.log(), /"msg":"stopped"/);
  });

  for (const name of CASES) {
    it(name.replace(/_/g, ' '), function () {
      if (skipReason !== undefined) this.skip();
      const r = results.get(name);
      assert.ok(r, `case ${name} did not report (stderr: ${stderr})`);
      if (r.skipped !== undefined) {
        process.stdout.write(`      (skipped: ${r.skipped})\n`);
        this.skip();
      }
      assert.ok(
        r.ok,
        `${name} failed:\n${r.error}\nserver log tail:\n${serve?.log().slice(-3000)}`,
      );
    });
  }

  it('reported exactly the cases this file expects', function () {
    if (skipReason !== undefined) this.skip();
    assert.deepEqual([...results.keys()], CASES);
  });
});
