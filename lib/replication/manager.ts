/**
 * ReplicationManager: the rules of every bucket, one worker per (bucket,
 * rule), one S3 client and circuit breaker per destination endpoint, and
 * the cursor documents, written with group commit (one write serves every
 * completion that arrived while the previous one was in progress).
 */
import pino, { type Logger } from 'pino';
import type { Registry } from 'prom-client';
import { TesseraError } from '../errors';
import type { PutOptions } from '../store/bucket';
import type { Store } from '../store/store';
import type { ObjectInfo } from '../store/types';
import {
  type BackoffOptions,
  type BreakerOptions,
  CircuitBreaker,
  DEFAULT_BREAKER,
} from './breaker';
import type { ChangeEvent, ChangeFeed } from './feed';
import { ReplicationMetrics } from './metrics';
import {
  type RedactedRule,
  type ReplicationConfig,
  type ReplicationRule,
  redactConfig,
  validateReplicationConfig,
} from './rules';
import { S3TargetClient } from './s3_client';
import { type BucketConfigStore, StoreConfigAdapter } from './state';
import {
  ReplicationWorker,
  type WorkerCursor,
  type WorkerOptions,
  type WorkerStatus,
  describe as describeError,
} from './worker';

export const RULES_KIND = 'replication';
export const CURSOR_KIND = 'replication-cursor';

export interface ReplicationOptions {
  store: Store;
  /** The change log (store.watch); MemoryChangeFeed in tests. */
  feed: ChangeFeed;
  /** Where rules and cursors live; default: store.bucketConfigs (StoreConfigAdapter). */
  configs?: BucketConfigStore;
  logger?: Logger;
  registry?: Registry;
  /** Events in flight per (bucket, rule). Default 16. */
  window?: number;
  backoff?: Partial<BackoffOptions>;
  breaker?: Partial<BreakerOptions>;
  /** Per-request timeout to destinations, ms. Default 30 s. */
  requestTimeoutMs?: number;
  permanentAttempts?: number;
  /** Queue depth above which the alert gauge is 1 and a warning is logged. Default 100 000. */
  queueAlertDepth?: number;
  /** Wall clock for request signatures (tests jump it); never used for ordering. */
  now?: () => number;
  onApplied?: (bucket: string, ruleId: string, event: ChangeEvent) => void;
  /**
   * Objects larger than this replicate as a multipart upload. Default 5 GiB
   * (S3's single-PUT limit); lower it to keep each request short.
   */
  multipartThresholdBytes?: number;
  /** Part size of those uploads, bytes. Default 64 MiB (S3's minimum, 5 MiB, is enforced). */
  multipartPartBytes?: number;
  /** Attempts per part before the upload is aborted and the whole event retried. Default 5. */
  partAttempts?: number;
  /**
   * After a write whose outcome is unknown (timeout, reset after the body
   * was sent, 5xx), how long the worker watches the destination for the
   * write to land before sending it again. Default: requestTimeoutMs.
   */
  inDoubtWaitMs?: number;
  /** Largest object read repair fetches from a replica (buffered). Default 64 MiB. */
  repairBytesMax?: number;
}

export interface ReplicationStatus {
  buckets: Array<{ bucket: string; rules: WorkerStatus[] }>;
}

export type ObjectReplicationStatus = 'PENDING' | 'COMPLETED' | 'FAILED';

type CursorDoc = Record<string, WorkerCursor>;

/** Group commit of one bucket's cursor document. */
class CursorWriter {
  private writing: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  constructor(private readonly write: () => Promise<void>) {}

  flush(): Promise<void> {
    if (this.next) return this.next;
    if (!this.writing) {
      this.writing = this.write().finally(() => (this.writing = undefined));
      return this.writing;
    }
    const after = this.writing;
    this.next = after
      .catch(() => undefined)
      .then(() => {
        this.next = undefined;
        return this.flush();
      });
    return this.next;
  }
}

export class ReplicationManager {
  private readonly workers = new Map<string, ReplicationWorker[]>();
  private readonly writers = new Map<string, CursorWriter>();
  private readonly clients = new Map<
    string,
    { client: S3TargetClient; breaker: CircuitBreaker; users: number }
  >();
  private readonly metrics: ReplicationMetrics;
  private readonly logger: Logger;
  private readonly workerOptions: WorkerOptions;
  private readonly breakerOptions: BreakerOptions;
  private closed = false;
  private readonly healing = new Set<Promise<void>>();
  private readonly repairBytesMax: number;
  /** Serialises rule changes per bucket. */
  private readonly changing = new Map<string, Promise<unknown>>();

  private readonly configs: BucketConfigStore;

  private constructor(private readonly options: ReplicationOptions) {
    this.configs = options.configs ?? new StoreConfigAdapter(options.store.bucketConfigs);
    this.metrics = new ReplicationMetrics(options.registry);
    this.metrics.refresh = () => this.status();
    this.logger = (options.logger ?? pino({ enabled: false })).child({ component: 'replication' });
    this.workerOptions = {
      window: options.window ?? 16,
      backoff: { baseMs: 100, capMs: 30_000, ...options.backoff },
      permanentAttempts: options.permanentAttempts ?? 3,
      dispatchAhead: 1024,
      multipartThresholdBytes: options.multipartThresholdBytes ?? 5 * 1024 ** 3,
      multipartPartBytes: options.multipartPartBytes ?? 64 * 1024 * 1024,
      partAttempts: options.partAttempts ?? 5,
      inDoubtWaitMs: options.inDoubtWaitMs ?? options.requestTimeoutMs ?? 30_000,
      queueAlertDepth: options.queueAlertDepth ?? 100_000,
    };
    this.breakerOptions = { ...DEFAULT_BREAKER, ...options.breaker };
    this.repairBytesMax = options.repairBytesMax ?? 64 * 1024 * 1024;
  }

  /** Loads every bucket's rules and starts their workers. */
  static async start(options: ReplicationOptions): Promise<ReplicationManager> {
    const manager = new ReplicationManager(options);
    for (const { bucket, value } of await manager.configs.list<ReplicationConfig>(RULES_KIND)) {
      await manager.startBucket(bucket, value, false);
    }
    return manager;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get registry(): Registry {
    return this.metrics.registry;
  }

  private serial<T>(bucket: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.changing.get(bucket) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(fn);
    this.changing.set(bucket, run);
    return run;
  }

  /** Sets (replaces) the rules of `bucket`. Validated; durable when it resolves. */
  async setReplication(bucket: string, config: unknown): Promise<void> {
    this.assertOpen();
    const valid = validateReplicationConfig(config);
    if (!(await this.options.store.getBucket(bucket))) {
      throw new TesseraError('NoSuchBucket', `bucket ${bucket} does not exist`);
    }
    await this.serial(bucket, async () => {
      await this.stopBucket(bucket);
      await this.configs.put(bucket, RULES_KIND, valid);
      await this.startBucket(bucket, valid, true);
    });
  }

  /** The rules of `bucket` without credentials, or undefined. */
  async getReplication(bucket: string): Promise<{ rules: RedactedRule[] } | undefined> {
    const config = await this.configs.get<ReplicationConfig>(bucket, RULES_KIND);
    return config ? redactConfig(config) : undefined;
  }

  async deleteReplication(bucket: string): Promise<void> {
    this.assertOpen();
    await this.serial(bucket, async () => {
      const workers = this.workers.get(bucket) ?? [];
      await this.stopBucket(bucket);
      for (const w of workers) w.release();
      await this.configs.delete(bucket, RULES_KIND);
      await this.configs.delete(bucket, CURSOR_KIND);
    });
  }

  private async startBucket(
    bucket: string,
    config: ReplicationConfig,
    created: boolean,
  ): Promise<void> {
    const saved = (await this.configs.get<CursorDoc>(bucket, CURSOR_KIND)) ?? {};
    const head = this.options.feed.head ? await this.options.feed.head() : 0;
    const doc: CursorDoc = {};
    const workers: ReplicationWorker[] = [];
    const writer = new CursorWriter(async () => {
      const out: CursorDoc = {};
      for (const w of this.workers.get(bucket) ?? workers) out[w.rule.id] = w.cursor();
      await this.configs.put(bucket, CURSOR_KIND, out);
    });
    this.writers.set(bucket, writer);
    for (const rule of config.rules) {
      const fingerprint = ReplicationWorker.fingerprint(rule);
      let cursor = saved[rule.id];
      if (!cursor || cursor.target !== fingerprint) {
        // A new rule (or a new destination): start at the log head, backfill if asked.
        cursor = { target: fingerprint, applied: head, done: [], dispatched: head, failed: [] };
        if (rule.existingObjects) cursor.backfill = { complete: false };
        if (!created) {
          this.logger.warn(
            { bucket, rule: rule.id },
            'replication rule without a cursor: starting at the log head',
          );
        }
      }
      doc[rule.id] = cursor;
      const { client, breaker } = this.clientFor(rule);
      workers.push(
        new ReplicationWorker(
          bucket,
          rule,
          this.options.store,
          this.options.feed,
          client,
          breaker,
          cursor,
          () => writer.flush(),
          this.workerOptions,
          this.metrics,
          this.logger,
          this.options.onApplied ? (e) => this.options.onApplied!(bucket, rule.id, e) : undefined,
        ),
      );
    }
    await this.configs.put(bucket, CURSOR_KIND, doc);
    this.workers.set(bucket, workers);
    for (const w of workers) w.start();
  }

  private clientFor(rule: ReplicationRule): { client: S3TargetClient; breaker: CircuitBreaker } {
    const d = rule.destination;
    // One client per endpoint and identity; the breaker belongs to the endpoint.
    const id = `${d.endpoint}\u0000${d.region}\u0000${d.credentials.accessKeyId}\u0000${d.credentials.secretAccessKey}`;
    let entry = this.clients.get(id);
    if (!entry) {
      const breaker =
        [...this.clients.entries()].find(([k]) => k.startsWith(`${d.endpoint}\u0000`))?.[1]
          .breaker ?? new CircuitBreaker(this.breakerOptions);
      const clientOptions: ConstructorParameters<typeof S3TargetClient>[0] = {
        endpoint: d.endpoint,
        region: d.region,
        credentials: d.credentials,
        timeoutMs: this.options.requestTimeoutMs ?? 30_000,
      };
      if (this.options.now) clientOptions.now = this.options.now;
      entry = { client: new S3TargetClient(clientOptions), breaker, users: 0 };
      this.clients.set(id, entry);
    }
    entry.users++;
    return entry;
  }

  private async stopBucket(bucket: string): Promise<void> {
    const workers = this.workers.get(bucket);
    if (!workers) return;
    await Promise.all(workers.map((w) => w.stop()));
    await this.writers.get(bucket)?.flush();
    this.workers.delete(bucket);
    this.writers.delete(bucket);
  }

  /** Lag, queue depth and per-target state of every rule. Credentials never appear. */
  async status(): Promise<ReplicationStatus> {
    const buckets: ReplicationStatus['buckets'] = [];
    for (const [bucket, workers] of [...this.workers.entries()].sort(([a], [b]) =>
      a < b ? -1 : 1,
    )) {
      buckets.push({ bucket, rules: await Promise.all(workers.map((w) => w.status())) });
    }
    return { buckets };
  }

  /**
   * `x-amz-replication-status` of one version: FAILED if any rule failed it,
   * else PENDING if any rule has not replicated it, else COMPLETED;
   * undefined when no rule covers the key.
   */
  async objectStatus(
    bucket: string,
    key: string,
    versionId: string,
    sequence?: number,
  ): Promise<ObjectReplicationStatus | undefined> {
    const workers = this.workers.get(bucket);
    if (!workers) return undefined;
    // Without the version's sequence the answer compares with the log head.
    let head: number | undefined;
    if (sequence === undefined) {
      await Promise.all(workers.map((w) => w.probeIdle().catch(() => undefined)));
      head = this.options.feed.head ? await this.options.feed.head() : undefined;
    }
    let result: ObjectReplicationStatus | undefined;
    for (const w of workers) {
      const s = w.objectStatus(key, versionId, sequence, head);
      if (s === 'FAILED') return 'FAILED';
      if (s === 'PENDING') result = 'PENDING';
      else if (s === 'COMPLETED' && result === undefined) result = 'COMPLETED';
    }
    return result;
  }

  /**
   * Read repair: the bytes of `info` from a destination that holds exactly
   * that version (verified by MD5 against the source ETag), or undefined.
   * When found, the local copy is healed in the background
   * (docs/replication.md, "Read repair"): in an unversioned bucket the key is
   * rewritten with the same bytes, metadata and headers, on the condition
   * that its ETag is still the damaged one; a versioned bucket is not
   * rewritten (that would add a version), only served.
   */
  async repairRead(info: ObjectInfo): Promise<Buffer | undefined> {
    for (const w of this.workers.get(info.bucket) ?? []) {
      if (!w.covers(info.key)) continue;
      let bytes: Buffer | undefined;
      try {
        bytes = await w.fetchReplica(info, this.repairBytesMax);
      } catch (error) {
        this.logger.warn(
          { bucket: info.bucket, key: info.key, rule: w.rule.id, err: describeError(error) },
          'read repair: replica unavailable',
        );
        continue;
      }
      if (!bytes) continue;
      this.metrics.repairs.inc({ bucket: info.bucket, rule: w.rule.id });
      this.logger.warn(
        { bucket: info.bucket, key: info.key, versionId: info.versionId, rule: w.rule.id },
        'read repair: served from the replica',
      );
      this.healing.add(
        this.heal(info, bytes).catch((error: unknown) =>
          this.logger.error(
            { bucket: info.bucket, key: info.key, err: describeError(error) },
            'read repair: heal failed',
          ),
        ),
      );
      return bytes;
    }
    return undefined;
  }

  private async heal(info: ObjectInfo, bytes: Buffer): Promise<void> {
    const bucket = this.options.store.bucket(info.bucket);
    const versioning = (await this.options.store.getBucket(info.bucket))?.versioning;
    if (versioning !== 'Disabled' || info.versionId !== 'null') {
      this.logger.warn(
        { bucket: info.bucket, key: info.key, versionId: info.versionId },
        'read repair: versioned object served from the replica, not rewritten',
      );
      return;
    }
    const options: PutOptions = { metadata: info.metadata, ifMatch: info.etag };
    if (info.contentType !== undefined) options.contentType = info.contentType;
    if (info.headers !== undefined) options.headers = info.headers;
    await bucket.put(info.key, bytes, options);
    this.logger.warn({ bucket: info.bucket, key: info.key }, 'read repair: local copy rewritten');
  }

  /** Resolves when background heals started so far are done (tests). */
  async healed(): Promise<void> {
    await Promise.allSettled([...this.healing]);
  }

  /** Resolves when every worker has replicated every event up to `seq` (default: the log head). */
  async drain(seq?: number, signal?: AbortSignal): Promise<void> {
    const upTo = seq ?? (this.options.feed.head ? await this.options.feed.head() : 0);
    for (const workers of this.workers.values()) {
      for (const w of workers) await w.waitFor(upTo, signal);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.healed();
    for (const bucket of [...this.workers.keys()]) await this.stopBucket(bucket);
    for (const { client } of this.clients.values()) client.close();
    this.clients.clear();
  }

  private assertOpen(): void {
    if (this.closed) throw new TesseraError('ERR_STORE_CLOSED', 'replication is closed');
  }
}
