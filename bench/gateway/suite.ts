/**
 * The S3 gateway against a plain node:http server serving the same bytes
 * from memory (the ceiling for any HTTP server in Node), with autocannon as
 * the load generator and SigV4-signed requests; and the same 4 KiB GET
 * workload through @aws-sdk/client-s3 against s3rver.
 *
 * Each server runs in its own process (server_child.ts), the load generator
 * in the trial process. Until the native engine lands, the gateway runs
 * over the reference model store (in memory), so these figures measure the
 * gateway's own cost (parse, SigV4, routing, headers, streaming), not disk.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { BenchSuite, Measurement, TrialContext } from '../lib/types';
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
): Promise<Record<string, string>> {
  const signer = new SignatureV4({
    credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
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

async function load(
  kind: Kind,
  context: TrialContext,
  options: { method: 'GET' | 'PUT'; key: string; connections: number; objectBytes: number },
): Promise<Measurement> {
  const { child, port } = await startServer(kind, context.dir);
  try {
    const path = `/${BUCKET}/${options.key}`;
    const body = options.method === 'PUT' ? Buffer.alloc(options.objectBytes, 0x61) : undefined;
    const headers: Record<string, string> =
      kind === 'plain' ? {} : await signedHeaders(port, options.method, path, body);
    // autocannon sets Host and Content-Length itself (same values as signed).
    delete headers.host;
    delete headers['content-length'];
    const duration = context.quick ? 3 : context.long ? 20 : 8;
    const result = await autocannon({
      url: `http://127.0.0.1:${port}${path}`,
      method: options.method,
      headers,
      ...(body ? { body: body.toString('latin1') } : {}),
      connections: options.connections,
      duration,
    });
    if (result.errors > 0 || result.non2xx > 0) {
      throw new Error(`${kind}: ${result.errors} errors, ${result.non2xx} non-2xx answers`);
    }
    return {
      ops: result.requests.total,
      bytes: result.requests.total * options.objectBytes,
      seconds: duration,
      extra: { p50ms: result.latency.p50, p99ms: result.latency.p99 },
    };
  } finally {
    await stopServer(child);
  }
}

/** Many concurrent GetObject calls through the SDK, as a test suite would use s3rver. */
async function sdkGets(kind: Kind, context: TrialContext): Promise<Measurement> {
  const { child, port } = await startServer(kind);
  const s3 = new S3Client({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    forcePathStyle: true,
    // s3rver accepts only its fixed S3RVER/S3RVER pair.
    credentials:
      kind === 's3rver'
        ? { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }
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
    'S3 gateway vs a plain node:http server (autocannon, signed requests), and SDK GETs vs s3rver; gateway over the in-memory reference store',
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
      name: 's3rver 3.7, 4 KiB GetObject via @aws-sdk/client-s3',
      group: '4 KiB GetObject via SDK, 16 in flight',
      subject: 's3rver',
      baseline: true,
      run: (c) => sdkGets('s3rver', c),
    },
    {
      name: 'tessera gateway, 4 KiB GetObject via @aws-sdk/client-s3',
      group: '4 KiB GetObject via SDK, 16 in flight',
      subject: 'tessera',
      run: (c) => sdkGets('tessera', c),
    },
  ],
};
