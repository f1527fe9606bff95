/**
 * s3rver (a second S3 implementation, a dev dependency) as a replication
 * destination for tests: one process-local server on 127.0.0.1 with a
 * temporary directory and the named buckets, an SDK client for it, and the
 * rule destination that points at it (optionally through another URL, such
 * as a counting proxy in front of it).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';

// s3rver 3 is CommonJS without types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const S3rver = require('s3rver') as new (options: object) => {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
};

/** s3rver accepts these fixed credentials. */
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface S3rverEnv {
  port: number;
  url: string;
  /** An SDK client for reading back what reached the server. */
  sdk: S3Client;
  /** A replication rule destination for `bucket` (through `endpoint` when given). */
  destination(
    bucket: string,
    endpoint?: string,
  ): {
    endpoint: string;
    region: string;
    bucket: string;
    credentials: typeof CREDENTIALS;
  };
  close(): Promise<void>;
}

export async function startS3rver(buckets: string[]): Promise<S3rverEnv> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-s3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: dir,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  const { port } = await server.run();
  const url = `http://127.0.0.1:${port}`;
  const sdk = new S3Client({
    endpoint: url,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: CREDENTIALS,
  });
  return {
    port,
    url,
    sdk,
    destination: (bucket, endpoint = url) => ({
      endpoint,
      region: 'us-east-1',
      bucket,
      credentials: CREDENTIALS,
    }),
    close: async () => {
      sdk.destroy();
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
