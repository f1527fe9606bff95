/**
 * Shared helpers for the gateway server tests: an in-process gateway on
 * 127.0.0.1 port 0 over a Store (the reference model until the native
 * engine lands), S3 clients for it, and raw signed requests for the cases
 * no SDK would send.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { Store } from '../lib/store/store';
import { type Gateway, type GatewayOptions, startGateway } from '../lib/gateway/server';
import { ModelEngine } from './support/model_engine';
import { HttpRequest, smithySigner, wireQuery } from './60.gateway.fixtures';

export const ACCESS_KEY = 'test';
export const SECRET_KEY = 'test-secret-key';

export interface TestGateway {
  gw: Gateway;
  store: Store;
  close(): Promise<void>;
}

export type StoreKind = 'model' | 'native';

/** A fresh store: the reference model in memory, or the native engine (4+2) in a temp directory. */
export async function openTestStore(
  kind: StoreKind,
): Promise<{ store: Store; cleanup(): Promise<void> }> {
  if (kind === 'model') {
    const store = new Store(
      new ModelEngine({ inlineBytesMax: 64 * 1024, uploadPieceBytes: 256 * 1024 }),
    );
    return { store, cleanup: async () => undefined };
  }
  const dir = await mkdtemp(join(tmpdir(), 'tessera-gw-'));
  const store = await Store.open({ path: dir, dataShards: 4, parityShards: 2 });
  return {
    store,
    cleanup: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export async function startTestGateway(
  options: Partial<GatewayOptions> = {},
  kind: StoreKind = 'model',
): Promise<TestGateway> {
  const opened = options.store ? undefined : await openTestStore(kind);
  const store = options.store ?? opened!.store;
  const gw = await startGateway({
    credentials: [{ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY }],
    limits: { partBytesMin: 5 * 1024 * 1024 },
    ...options,
    store,
  });
  return {
    gw,
    store,
    close: async () => {
      await gw.close();
      await store.close();
      await opened?.cleanup();
    },
  };
}

export function s3Client(gw: Gateway, extra: Partial<S3ClientConfig> = {}): S3Client {
  return new S3Client({
    endpoint: gw.url,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
    maxAttempts: 1,
    ...extra,
  });
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** Sends exactly these bytes (no client normalisation) and collects the answer. */
export function rawRequest(
  gw: Gateway,
  method: string,
  target: string,
  headers: Record<string, string>,
  body?: Buffer | string,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port: gw.port, method, path: target, headers, agent: false },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(parts),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export interface SignOptions {
  method: string;
  path: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Payload hash to sign; hex SHA-256 of the body by default. */
  payloadHash?: string;
  secret?: string;
  accessKey?: string;
  signingDate?: Date;
  /** Headers added after signing (unsigned). */
  unsigned?: Record<string, string>;
}

/** Signs a request with @smithy/signature-v4 and returns the wire target and headers. */
export async function signRequest(
  gw: Gateway,
  options: SignOptions,
): Promise<{ target: string; headers: Record<string, string> }> {
  const { createHash } = await import('node:crypto');
  const body = options.body ?? '';
  const payloadHash = options.payloadHash ?? createHash('sha256').update(body).digest('hex');
  const request = new HttpRequest({
    method: options.method,
    protocol: 'http:',
    hostname: '127.0.0.1',
    port: gw.port,
    path: options.path,
    query: options.query ?? {},
    headers: {
      host: `127.0.0.1:${gw.port}`,
      'x-amz-content-sha256': payloadHash,
      ...(options.body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}),
      ...options.headers,
    },
  });
  const signer = smithySigner(options.accessKey ?? ACCESS_KEY, options.secret ?? SECRET_KEY);
  const signed = (await signer.sign(request, {
    ...(options.signingDate ? { signingDate: options.signingDate } : {}),
  })) as HttpRequest;
  const query = wireQuery(signed.query);
  return {
    target: signed.path + (query ? `?${query}` : ''),
    headers: { ...(signed.headers as Record<string, string>), ...options.unsigned },
  };
}

/** Presigns a request with @smithy/signature-v4 and returns the wire target. */
export async function presign(
  gw: Gateway,
  options: {
    method: string;
    path: string;
    expiresIn?: number;
    signingDate?: Date;
    secret?: string;
  },
): Promise<string> {
  const request = new HttpRequest({
    method: options.method,
    protocol: 'http:',
    hostname: '127.0.0.1',
    port: gw.port,
    path: options.path,
    query: {},
    headers: { host: `127.0.0.1:${gw.port}`, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
  });
  const signer = smithySigner(ACCESS_KEY, options.secret ?? SECRET_KEY);
  const signed = await signer.presign(request, {
    expiresIn: options.expiresIn ?? 300,
    ...(options.signingDate ? { signingDate: options.signingDate } : {}),
  });
  return signed.path + '?' + wireQuery(signed.query ?? {});
}

/** The <Code> of an S3 XML error body. */
export function errorCode(body: Buffer): string | undefined {
  return /<Code>([^<]*)<\/Code>/.exec(body.toString('utf8'))?.[1];
}

/** Deterministic bytes of any size (xorshift), so every byte read back can be compared. */
export function pattern(size: number, seed = 1): Buffer {
  const bytes = Buffer.alloc(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    bytes[i] = x & 0xff;
  }
  return bytes;
}
