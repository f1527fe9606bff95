/**
 * Test environment for replication: a source Store (model engine) with a
 * MemoryChangeFeed fed by every put and delete, a destination gateway
 * behind a FaultProxy, a ReplicationManager whose logs are captured, and
 * the comparison of source and destination used by the convergence tests.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import {
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  type S3Client,
  GetObjectCommand,
  CreateBucketCommand,
  PutBucketVersioningCommand,
} from '@aws-sdk/client-s3';
import pino from 'pino';
import { Store } from '../../lib/store/store';
import type { PutOptions } from '../../lib/store/bucket';
import { MemoryChangeFeed } from '../../lib/replication/feed';
import { ReplicationManager, type ReplicationOptions } from '../../lib/replication/manager';
import { decodeMeta } from '../../lib/replication/s3_client';
import { FileConfigStore } from '../../lib/replication/state';
import { SEQ_TAG, VERSION_TAG } from '../../lib/replication/worker';
import { ModelEngine } from './model_engine';
import { FaultProxy } from './fault_proxy';
import { ACCESS_KEY, SECRET_KEY, type TestGateway, s3Client, startTestGateway } from '../61.gateway.harness';

export const TARGET_SECRET = 'replication-target-secret-0123456789';
export const TARGET_KEY = 'repl-target';

export class SourceFeed {
  readonly feed = new MemoryChangeFeed();
  constructor(readonly store: Store) {}

  async put(bucket: string, key: string, body: Buffer, options: PutOptions = {}): Promise<void> {
    const r = await this.store.bucket(bucket).put(key, body, options);
    this.feed.append({
      type: 'created',
      bucket,
      key,
      versionId: r.versionId,
      size: r.size,
      etag: r.etag,
      deleteMarker: false,
    });
  }

  async delete(bucket: string, key: string): Promise<void> {
    const r = await this.store.bucket(bucket).delete(key);
    if (r.deleteMarker) {
      this.feed.append({
        type: 'created',
        bucket,
        key,
        versionId: r.versionId ?? 'null',
        size: 0,
        etag: '',
        deleteMarker: true,
      });
    } else {
      this.feed.append({ type: 'deleted', bucket, key, versionId: 'null', size: 0, etag: '', deleteMarker: false });
    }
  }
}

export interface ReplEnv {
  source: SourceFeed;
  target: TestGateway;
  targetClient: S3Client;
  proxy: FaultProxy;
  configs: FileConfigStore;
  logs: string[];
  manager: ReplicationManager;
  stateDir: string;
  restartTarget(): Promise<void>;
  close(): Promise<void>;
}

export function captureLogger(lines: string[]): pino.Logger {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return pino({ level: 'debug' }, sink);
}

export async function startEnv(
  options: Partial<ReplicationOptions> = {},
  targetBuckets: Array<{ name: string; versioned: boolean }> = [],
): Promise<ReplEnv> {
  const store = new Store(new ModelEngine({ inlineBytesMax: 64 * 1024, uploadPieceBytes: 256 * 1024 }));
  const source = new SourceFeed(store);
  const targetStore = new Store(new ModelEngine({ inlineBytesMax: 64 * 1024, uploadPieceBytes: 256 * 1024 }));
  const credentials = [
    { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
    { accessKeyId: TARGET_KEY, secretAccessKey: TARGET_SECRET },
  ];
  let target = await startTestGateway({ store: targetStore, credentials });
  const targetClient = s3Client(target.gw);
  for (const b of targetBuckets) {
    await targetClient.send(new CreateBucketCommand({ Bucket: b.name }));
    if (b.versioned) {
      await targetClient.send(
        new PutBucketVersioningCommand({ Bucket: b.name, VersioningConfiguration: { Status: 'Enabled' } }),
      );
    }
  }
  const proxy = new FaultProxy(target.gw.port);
  await proxy.start();
  const stateDir = await mkdtemp(join(tmpdir(), 'tessera-repl-'));
  const configs = new FileConfigStore(stateDir);
  const logs: string[] = [];
  const manager = await ReplicationManager.start({
    store,
    feed: source.feed,
    configs,
    logger: captureLogger(logs),
    backoff: { baseMs: 5, capMs: 100 },
    breaker: { failureThreshold: 3, openMs: 20, openMsMax: 200 },
    requestTimeoutMs: 3000,
    ...options,
  });
  const env: ReplEnv = {
    source,
    get target() {
      return target;
    },
    targetClient,
    proxy,
    configs,
    logs,
    manager,
    stateDir,
    async restartTarget() {
      await target.gw.close();
      target = await startTestGateway({ store: targetStore, credentials });
      (targetClient.config as unknown as { endpoint: unknown }).endpoint = undefined;
      proxy.upstreamPort = target.gw.port;
    },
    async close() {
      await env.manager.close();
      await proxy.close();
      await target.gw.close();
      targetClient.destroy();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
  return env;
}

export function rule(
  proxyUrl: string,
  bucket: string,
  extra: Partial<{ id: string; prefix: string; deleteMarkerReplication: boolean; existingObjects: boolean }> = {},
) {
  return {
    id: extra.id ?? 'r1',
    destination: {
      endpoint: proxyUrl,
      region: 'us-east-1',
      bucket,
      credentials: { accessKeyId: TARGET_KEY, secretAccessKey: TARGET_SECRET },
    },
    ...(extra.prefix !== undefined ? { prefix: extra.prefix } : {}),
    deleteMarkerReplication: extra.deleteMarkerReplication ?? true,
    existingObjects: extra.existingObjects ?? false,
  };
}

export interface VersionView {
  id: string;
  deleteMarker: boolean;
  etag: string;
}

/** Versions of every key on the destination, newest first, via the AWS SDK (independent of our client). */
export async function targetVersions(client: S3Client, bucket: string): Promise<Map<string, VersionView[]>> {
  const out = new Map<string, VersionView[]>();
  let keyMarker: string | undefined;
  let versionMarker: string | undefined;
  for (;;) {
    const page = await client.send(
      new ListObjectVersionsCommand({ Bucket: bucket, KeyMarker: keyMarker, VersionIdMarker: versionMarker }),
    );
    const all = [
      ...(page.Versions ?? []).map((v) => ({
        key: v.Key!,
        view: { id: v.VersionId!, deleteMarker: false, etag: (v.ETag ?? '').replace(/"/g, '') },
      })),
      ...(page.DeleteMarkers ?? []).map((v) => ({
        key: v.Key!,
        view: { id: v.VersionId!, deleteMarker: true, etag: '' },
      })),
    ];
    for (const v of all) {
      const list = out.get(v.key) ?? [];
      list.push(v.view);
      out.set(v.key, list);
    }
    if (!page.IsTruncated) break;
    keyMarker = page.NextKeyMarker;
    versionMarker = page.NextVersionIdMarker;
  }
  return out;
}

/** Current keys of the destination. */
export async function targetKeys(client: S3Client, bucket: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  for (;;) {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    for (const o of page.Contents ?? []) keys.push(o.Key!);
    if (!page.IsTruncated) break;
    token = page.NextContinuationToken;
  }
  return keys;
}

export async function targetObject(
  client: S3Client,
  bucket: string,
  key: string,
  versionId?: string,
): Promise<{ body: Buffer; metadata: Record<string, string>; contentType?: string }> {
  const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }));
  const body = Buffer.from(await got.Body!.transformToByteArray());
  const metadata = { ...(got.Metadata ?? {}) };
  return { body, metadata, ...(got.ContentType !== undefined ? { contentType: got.ContentType } : {}) };
}

/** Metadata as the source has it: replica tags removed, RFC 2047 words decoded. */
export function userMetadata(metadata: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata)) out[k] = decodeMeta(v);
  delete out[SEQ_TAG];
  delete out[VERSION_TAG];
  return out;
}
