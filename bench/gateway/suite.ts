/**
 * The S3 gateway against a plain node:http server serving the same bytes
 * from memory (the ceiling for any HTTP server in Node), with autocannon as
 * the load generator and SigV4-signed requests; and the same 4 KiB GET
 * workload through @aws-sdk/client-s3 against s3rver.
 *
 * Each server runs in its own process (server_child.ts; the gateway from the
 * compiled build in dist/ when `npm run build` made it, as `tessera serve`
 * runs it), the load generators in processes of their own (load_child.ts).
 * Every server is sent the same signed requests. The gateway runs over the
 * native store (the product) and over the in-memory reference model.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { BenchSuite, Measurement, TrialContext } from '../lib/types';
import type { LoadOptions, LoadResult } from './load_child';
import { ACCESS_KEY, BUCKET, SECRET_KEY } from './server_child';

type Kind = 'plain' | 'tessera' | 'tessera-native' | 's3rver';

class NodeSha256 {
  readonly #hash;
  constructor(secret?: unknown) {
    this.#hash =
      secret === undefined
        ? createHash('sha256')
        : // eslint-disable-next-line @typescript-eslint/no-require-imports
          (require('node:crypto') as typeof import('node:crypto')).createHmac(
            'sha256',
            secret as string,
          );
  }
  update(data: Uint8Array | string): void {
    this.#hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return this.#hash.digest();
  }
  reset(): void {}
}

async function startServer(kind: Kind, dir = ''): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(__dirname, 'server_child.ts'), kind, dir],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`${kind} server exited ${code}`)));
  });
  return { child, port };
}

async function stopServer(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

async function signedHeaders(
  port: number,
  method: string,
  path: string,
  body?: Buffer,
  credentials = { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
): Promise<Record<string, string>> {
  const signer = new SignatureV4({
    credentials,
    region: 'us-east-1',
    service: 's3',
    sha256: NodeSha256,
    uriEscapePath: false,
  });
  const hash = createHash('sha256')
    .update(body ?? '')
    .digest('hex');
  const request = new HttpRequest({
    method,
    protocol: 'http:',
    hostname: '127.0.0.1',
    port,
    path,
    headers: {
      host: `127.0.0.1:${port}`,
      'x-amz-content-sha256': hash,
      ...(body ? { 'content-length': String(body.length) } : {}),
    },
  });
  return (await signer.sign(request)).headers as Record<string, string>;
}

/**
 * Load processes per trial. Each is one autocannon event loop; two keep a
 * fast server (the plain one serves ~40K 4 KiB GET/s here) from being
 * limited by a single client core, and every server gets the same two.
 */
const LOAD_PROCESSES = 2;

/** Runs `processes` load generators (load_child.ts), splitting the connections between them. */
async function runLoad(options: LoadOptions, processes: number): Promise<LoadResult[]> {
  const share = Math.max(1, Math.floor(options.connections / processes));
  return Promise.all(
    Array.from(
      { length: processes },
      () =>
        new Promise<LoadResult>((resolve, reject) => {
          const child = spawn(
            process.execPath,
            [
              '--import',
              'tsx',
              join(__dirname, 'load_child.ts'),
              JSON.stringify({ ...options, connections: share }),
            ],
            { stdio: ['ignore', 'pipe', 'inherit'] },
          );
          let out = '';
          child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
          child.once('exit', (code) => {
            if (code !== 0) reject(new Error(`load generator exited ${code}`));
            else resolve(JSON.parse(out) as LoadResult);
          });
        }),
    ),
  );
}

async function load(
  kind: Kind,
  context: TrialContext,
  options: { method: 'GET' | 'PUT'; key: string; connections: number; objectBytes: number },
): Promise<Measurement> {
  const { child, port } = await startServer(kind, context.dir);
  try {
    const path = `/${BUCKET}/${options.key}`;
    const body = options.method === 'PUT' ? Buffer.alloc(options.objectBytes, 0x61) : undefined;
    if (kind === 's3rver') await seedS3rver(port, options.key, options.objectBytes);
    // Every server gets the same request bytes: the plain server is sent the
    // same signed headers (and ignores them), so it parses as much as the
    // gateway does and only the answering differs.
    const headers: Record<string, string> = await signedHeaders(
      port,
      options.method,
      path,
      body,
      kind === 's3rver' ? S3RVER_CREDENTIALS : undefined,
    );
    // autocannon sets Host and Content-Length itself (same values as signed).
    delete headers.host;
    delete headers['content-length'];
    const duration = context.quick ? 3 : context.long ? 20 : 8;
    const loads = await runLoad(
      {
        url: `http://127.0.0.1:${port}${path}`,
        method: options.method,
        headers,
        ...(body ? { body: body.toString('latin1') } : {}),
        connections: options.connections,
        duration,
      },
      LOAD_PROCESSES,
    );
    const errors = loads.reduce((n, r) => n + r.errors, 0);
    const non2xx = loads.reduce((n, r) => n + r.non2xx, 0);
    if (errors > 0 || non2xx > 0) {
      throw new Error(`${kind}: ${errors} errors, ${non2xx} non-2xx answers`);
    }
    const requests = loads.reduce((n, r) => n + r.requests, 0);
    return {
      ops: requests,
      bytes: requests * options.objectBytes,
      seconds: duration,
      extra: {
        p50ms: Math.max(...loads.map((r) => r.latencyP50)),
        p99ms: Math.max(...loads.map((r) => r.latencyP99)),
      },
    };
  } finally {
    await stopServer(child);
  }
}

/** s3rver accepts only its fixed key pair. */
const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** s3rver starts empty: the object the GETs read is put first, through the SDK. */
async function seedS3rver(port: number, key: string, size: number): Promise<void> {
  const s3 = new S3Client({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: S3RVER_CREDENTIALS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
  try {
    await s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: Buffer.alloc(size, 0x62) }),
    );
  } finally {
    s3.destroy();
  }
}

/** Many concurrent GetObject calls through the SDK, as a test suite would use s3rver. */
async function sdkGets(kind: Kind, context: TrialContext): Promise<Measurement> {
  const { child, port } = await startServer(kind, context.dir);
  const s3 = new S3Client({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    forcePathStyle: true,
    // s3rver accepts only its fixed S3RVER/S3RVER pair.
    credentials:
      kind === 's3rver'
        ? S3RVER_CREDENTIALS
        : { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
    // s3rver predates the 2025 checksum defaults; both servers get the same client.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  try {
    const body = Buffer.alloc(4096, 0x62);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'sdk-4k', Body: body }));
    const seconds = context.quick ? 3 : context.long ? 20 : 8;
    const deadline = performance.now() + seconds * 1000;
    const latenciesUs: number[] = [];
    const worker = async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        const out = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'sdk-4k' }));
        const got = await out.Body!.transformToByteArray();
        if (got.length !== 4096) throw new Error(`${kind}: got ${got.length} bytes`);
        latenciesUs.push((performance.now() - t0) * 1000);
      }
    };
    const started = performance.now();
    await Promise.all(Array.from({ length: 16 }, worker));
    const elapsed = (performance.now() - started) / 1000;
    return {
      ops: latenciesUs.length,
      bytes: latenciesUs.length * 4096,
      seconds: elapsed,
      latenciesUs,
    };
  } finally {
    s3.destroy();
    await stopServer(child);
  }
}

export const suite: BenchSuite = {
  name: 'gateway',
  description:
    'S3 gateway vs a plain node:http server and vs s3rver (autocannon in separate load processes, signed requests), and SDK GETs vs s3rver; gateway over the native store and the in-memory reference store',
  trials: () => [
    {
      name: 'plain node:http, 4 KiB GET from memory',
      group: '4 KiB GET, 32 connections',
      subject: 'node:http',
      baseline: true,
      run: (c) =>
        load('plain', c, { method: 'GET', key: 'obj-4k', connections: 32, objectBytes: 4096 }),
    },
    {
      name: 'tessera gateway, 4 KiB GET (SigV4)',
      group: '4 KiB GET, 32 connections',
      subject: 'tessera',
      run: (c) =>
        load('tessera', c, { method: 'GET', key: 'obj-4k', connections: 32, objectBytes: 4096 }),
    },
    {
      name: 'plain node:http, 1 MiB GET from memory',
      group: '1 MiB GET, 8 connections',
      subject: 'node:http',
      baseline: true,
      run: (c) =>
        load('plain', c, {
          method: 'GET',
          key: 'obj-1m',
          connections: 8,
          objectBytes: 1024 * 1024,
        }),
    },
    {
      name: 'tessera gateway, 1 MiB GET (SigV4)',
      group: '1 MiB GET, 8 connections',
      subject: 'tessera',
      run: (c) =>
        load('tessera', c, {
          method: 'GET',
          key: 'obj-1m',
          connections: 8,
          objectBytes: 1024 * 1024,
        }),
    },
    {
      name: 'tessera gateway, 1 MiB GET, native store 4+2',
      group: '1 MiB GET, 8 connections',
      subject: 'tessera',
      run: (c) =>
        load('tessera-native', c, {
          method: 'GET',
          key: 'obj-1m',
          connections: 8,
          objectBytes: 1024 * 1024,
        }),
    },
    {
      name: 'plain node:http, 4 KiB PUT (body discarded)',
      group: '4 KiB PUT, 32 connections',
      subject: 'node:http',
      baseline: true,
      run: (c) =>
        load('plain', c, { method: 'PUT', key: 'put-4k', connections: 32, objectBytes: 4096 }),
    },
    {
      name: 'tessera gateway, 4 KiB PUT (SigV4 + SHA-256, in-memory store: not durable)',
      group: '4 KiB PUT, 32 connections',
      subject: 'tessera',
      run: (c) =>
        load('tessera', c, { method: 'PUT', key: 'put-4k', connections: 32, objectBytes: 4096 }),
    },
    {
      name: 'tessera gateway, 4 KiB PUT, native store 4+2 (durable)',
      group: '4 KiB PUT, 32 connections',
      subject: 'tessera',
      run: (c) =>
        load('tessera-native', c, {
          method: 'PUT',
          key: 'put-4k',
          connections: 32,
          objectBytes: 4096,
        }),
    },
    {
      name: 'tessera gateway, 4 KiB GET, native store 4+2',
      group: '4 KiB GET, 32 connections',
      subject: 'tessera',
      run: (c) =>
        load('tessera-native', c, {
          method: 'GET',
          key: 'obj-4k',
          connections: 32,
          objectBytes: 4096,
        }),
    },
    {
      name: 's3rver 3.7, 4 KiB GET (SigV4, autocannon)',
      group: '4 KiB GET vs s3rver, 32 connections',
      subject: 's3rver',
      baseline: true,
      run: (c) =>
        load('s3rver', c, { method: 'GET', key: 'obj-4k', connections: 32, objectBytes: 4096 }),
    },
    {
      name: 'tessera gateway, native store 4+2, 4 KiB GET (SigV4, autocannon)',
      group: '4 KiB GET vs s3rver, 32 connections',
      subject: 'tessera',
      run: (c) =>
        load('tessera-native', c, {
          method: 'GET',
          key: 'obj-4k',
          connections: 32,
          objectBytes: 4096,
        }),
    },
    {
      // What any Node server could reach through this workload: the 20x
      // target against s3rver needs this row at 20x or more too.
      name: 'plain node:http from memory, 4 KiB GET (the ceiling of any Node server here)',
      group: '4 KiB GET vs s3rver, 32 connections',
      subject: 'node:http',
      run: (c) =>
        load('plain', c, { method: 'GET', key: 'obj-4k', connections: 32, objectBytes: 4096 }),
    },
    {
      // The SDK client's own ceiling: the same GetObject calls answered by a
      // server that does nothing but send 4 KiB from memory.
      name: 'plain node:http from memory, 4 KiB GetObject via @aws-sdk/client-s3 (the client ceiling)',
      group: '4 KiB GetObject via SDK, 16 in flight',
      subject: 'node:http',
      run: (c) => sdkGets('plain', c),
    },
    {
      name: 's3rver 3.7, 4 KiB GetObject via @aws-sdk/client-s3',
      group: '4 KiB GetObject via SDK, 16 in flight',
      subject: 's3rver',
      baseline: true,
      run: (c) => sdkGets('s3rver', c),
    },
    {
      // The product as shipped: the gateway over the native store (the
      // in-memory reference model is a test oracle, not tuned for this).
      name: 'tessera gateway, native store 4+2, 4 KiB GetObject via @aws-sdk/client-s3',
      group: '4 KiB GetObject via SDK, 16 in flight',
      subject: 'tessera',
      run: (c) => sdkGets('tessera-native', c),
    },
  ],
};
