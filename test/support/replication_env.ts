/**
 * Test environment for replication: a source Store (model engine) with a
 * MemoryChangeFeed fed by every put and delete, a destination gateway
 * behind a FaultProxy, a ReplicationManager whose logs are captured, and
 * the comparison of source and destination used by the convergence tests.
 */
import { Writable } from 'node:stream';
import {
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
import type { ReplicationManager, ReplicationOptions } from '../../lib/replication/manager';
import { decodeMeta } from '../../lib/replication/s3_client';
import { SEQ_TAG, VERSION_TAG } from '../../lib/replication/worker';
import { ModelEngine } from './model_engine';
import { FaultProxy } from './fault_proxy';
import {
  ACCESS_KEY,
  SECRET_KEY,
  type TestGateway,
  rawRequest,
  s3Client,
  signRequest,
  startTestGateway,
} from '../61.gateway.harness';

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
      this.feed.append({
        type: 'deleted',
        bucket,
        key,
        versionId: 'null',
        size: 0,
        etag: '',
        deleteMarker: false,
      });
    }
  }
}

export interface ReplEnv {
  source: SourceFeed;
  target: TestGateway;
  targetClient: S3Client;
  proxy: FaultProxy;
  logs: string[];
  readonly manager: ReplicationManager;
  /** Added to the wall clock the replicator signs with (clock-jump tests). */
  clockOffsetMs: number;
  /** Stops the replicator and starts a new one on the same state (a source restart). */
  restartManager(): Promise<void>;
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
  const store = new Store(
    new ModelEngine({ inlineBytesMax: 64 * 1024, uploadPieceBytes: 256 * 1024 }),
  );
  const source = new SourceFeed(store);
  const targetStore = new Store(
    new ModelEngine({ inlineBytesMax: 64 * 1024, uploadPieceBytes: 256 * 1024 }),
  );
  const credentials = [
    { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
    { accessKeyId: TARGET_KEY, secretAccessKey: TARGET_SECRET },
  ];
  let target = await startTestGateway({ store: targetStore, credentials });
  let targetClient = s3Client(target.gw);
  for (const b of targetBuckets) {
    await targetClient.send(new CreateBucketCommand({ Bucket: b.name }));
    if (b.versioned) {
      await targetClient.send(
        new PutBucketVersioningCommand({
          Bucket: b.name,
          VersioningConfiguration: { Status: 'Enabled' },
        }),
      );
    }
  }
  const proxy = new FaultProxy(target.gw.port);
  await proxy.start();
  const logs: string[] = [];
  const managerOptions: Omit<ReplicationOptions, 'store'> = {
    feed: source.feed,
    logger: captureLogger(logs),
    backoff: { baseMs: 5, capMs: 100 },
    breaker: { failureThreshold: 3, openMs: 20, openMsMax: 200 },
    requestTimeoutMs: 3000,
    now: () => Date.now() + env.clockOffsetMs,
    ...options,
  };
  let manager = await store.startReplication(managerOptions);
  const env: ReplEnv = {
    clockOffsetMs: 0,
    source,
    get target() {
      return target;
    },
    get targetClient() {
      return targetClient;
    },
    proxy,
    logs,
    get manager() {
      return manager;
    },
    async restartManager() {
      await manager.close();
      manager = await store.startReplication(managerOptions);
    },
    async restartTarget() {
      await target.gw.close();
      target = await startTestGateway({ store: targetStore, credentials });
      targetClient.destroy();
      targetClient = s3Client(target.gw);
      proxy.upstreamPort = target.gw.port;
    },
    async close() {
      await env.manager.close();
      await proxy.close();
      await target.gw.close();
      targetClient.destroy();
    },
  };
  return env;
}

export function rule(
  proxyUrl: string,
  bucket: string,
  extra: Partial<{
    id: string;
    prefix: string;
    deleteMarkerReplication: boolean;
    existingObjects: boolean;
  }> = {},
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

/**
 * Versions of every key on the destination, newest first, read from the raw
 * ListObjectVersions XML in document order (the SDK splits versions and
 * delete markers into two arrays and loses their interleaving).
 */
export async function targetVersions(
  gw: TestGateway['gw'],
  bucket: string,
): Promise<Map<string, VersionView[]>> {
  const out = new Map<string, VersionView[]>();
  let query: Record<string, string> = { versions: '', 'max-keys': '1000' };
  for (;;) {
    const signed = await signRequest(gw, { method: 'GET', path: `/${bucket}`, query });
    const answer = await rawRequest(gw, 'GET', signed.target, signed.headers);
    if (answer.status !== 200) throw new Error(`ListObjectVersions: ${answer.status}`);
    const xml = answer.body.toString('utf8');
    for (const m of xml.matchAll(/<(Version|DeleteMarker)>([\s\S]*?)<\/\1>/g)) {
      const key = unescapeXml(/<Key>([^<]*)<\/Key>/.exec(m[2]!)![1]!);
      const list = out.get(key) ?? [];
      list.push({
        id: /<VersionId>([^<]*)<\/VersionId>/.exec(m[2]!)?.[1] ?? 'null',
        deleteMarker: m[1] === 'DeleteMarker',
        etag:
          m[1] === 'DeleteMarker'
            ? ''
            : (/<ETag>([^<]*)<\/ETag>/.exec(m[2]!)?.[1] ?? '').replace(/&quot;|"/g, ''),
      });
      out.set(key, list);
    }
    if (!/<IsTruncated>true<\/IsTruncated>/.test(xml)) break;
    query = {
      versions: '',
      'max-keys': '1000',
      'key-marker': unescapeXml(/<NextKeyMarker>([^<]*)<\/NextKeyMarker>/.exec(xml)![1]!),
      'version-id-marker': /<NextVersionIdMarker>([^<]*)<\/NextVersionIdMarker>/.exec(xml)![1]!,
    };
  }
  return out;
}

function unescapeXml(text: string): string {
  return text
    .replace(
      /&(lt|gt|amp|quot|apos);/g,
      (_m, n: string) => ({ lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" })[n]!,
    )
    .replace(/&#(\d+);/g, (_m, d: string) => String.fromCodePoint(Number(d)))
    .replace(/&#x([0-9a-fA-F]+);/g, (_m, h: string) => String.fromCodePoint(parseInt(h, 16)));
}

/** Current keys of the destination. */
export async function targetKeys(client: S3Client, bucket: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  for (;;) {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }),
    );
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
  const got = await client.send(
    new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: versionId }),
  );
  const body = Buffer.from(await got.Body!.transformToByteArray());
  const metadata = { ...(got.Metadata ?? {}) };
  return {
    body,
    metadata,
    ...(got.ContentType !== undefined ? { contentType: got.ContentType } : {}),
  };
}

/** Metadata as the source has it: replica tags removed, RFC 2047 words decoded. */
export function userMetadata(metadata: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata)) out[k] = decodeMeta(v);
  delete out[SEQ_TAG];
  delete out[VERSION_TAG];
  return out;
}
