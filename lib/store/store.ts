/**
 * Store: an open tessera store over k+m drive directories. Created with
 * `await Store.open(options)`; closed with `await store.close()` (or `await
 * using`), which drains in-flight work and makes everything durable.
 */
import { TesseraError } from '../errors';
import { Bucket } from './bucket';
import { BucketConfigs, isInternalBucket } from './bucket_config';
import {
  LifecycleRunner,
  type LifecycleOptions,
  validateLifecycleOptions,
} from '../lifecycle/runner';
import { gatewayUploads } from '../lifecycle/uploads';
import type { EngineInfo, StoreEngine } from './engine';
import { type EngineOpenOptions, NativeStoreEngine, validateOpenOptions } from './engine_binding';
import { InflightTracker } from './inflight';
import type { BucketInfo } from './types';
import { validateBucketName } from './validate';
import { ReplicationManager, type ReplicationStatus } from '../replication/manager';
import {
  ReplicationApi,
  type StoreReplicationOptions,
  noFeed,
  storeFeed,
} from '../replication/store_api';
import { type ScrubOptions, type ScrubReport, validateScrubOptions } from './scrub';
import { GarbageCollector } from '../gc/collector';
import { resolveGcOptions, validateRunOptions } from '../gc/policy';
import type { GcOptions, GcReport, GcRunOptions, NativeGcHandle, SpaceStats } from '../gc/types';
import {
  type ChangeEvent,
  type ChangesPage,
  type WatchOptions,
  validateWatchOptions,
  watchChanges,
} from './changes';
import { RetentionRegistry } from './retention';
import type { StoreStats } from './stats';

export interface CreateBucketOptions {
  /** Keep every version of every key (S3 versioning 'Enabled'). */
  versioning?: boolean;
}

export interface StoreOpenOptions extends EngineOpenOptions {
  /** Background expiry by lifecycle rules (docs/lifecycle.md): rate, interval, clock. */
  lifecycle?: LifecycleOptions;
  /**
   * Space reclamation (docs/gc.md): options of the background collector, or
   * false to turn it off (store.gc() still works). Default: on.
   */
  gc?: GcOptions | false;
}

export class Store {
  private readonly inflight = new InflightTracker();
  private closed: Promise<void> | undefined;
  private collector: GarbageCollector | undefined;
  private readonly closeListeners = new Set<() => void>();
  /**
   * Holds on the change feed: the GC keeps every record with seq >=
   * retention.floor() (docs/events.md, "Retention").
   */
  readonly retention = new RetentionRegistry();
  /**
   * Durable per-bucket configuration (lifecycle, replication, notification,
   * CORS), stored through the engine in a hidden internal bucket.
   */
  readonly bucketConfigs: BucketConfigs;
  private readonly replicationApi: ReplicationApi;

  /**
   * Opens the store on `path` (drives `path/drive-<i>`) or on `drives`,
   * creating it when the drives are empty. A second open of the same drives
   * fails with ERR_STORE_LOCKED.
   */
  static async open(options: StoreOpenOptions): Promise<Store> {
    const valid = validateOpenOptions(options);
    const lifecycle = (options as { lifecycle?: LifecycleOptions }).lifecycle;
    validateLifecycleOptions(lifecycle); // before the drives are opened (and locked)
    const gc = (options as { gc?: unknown }).gc;
    const gcOptions = gc === false ? resolveGcOptions({ background: false }) : resolveGcOptions(gc);
    const opened = new Store(await NativeStoreEngine.open(valid), { lifecycle });
    opened.startGc(gcOptions);
    opened.lifecycle.start();
    return opened;
  }

  private startGc(options: ReturnType<typeof resolveGcOptions>): void {
    if (!(this.engine instanceof NativeStoreEngine)) return;
    const handle = this.engine.native as unknown as NativeGcHandle;
    // The change feed's holds (webhooks, replication, watchers) always
    // apply: a segment with records a consumer still needs is kept.
    const own = options.retainFromSeq;
    const retainFromSeq = (): number =>
      Math.min(own(), this.retention.floor() ?? Number.POSITIVE_INFINITY);
    this.collector = new GarbageCollector(handle, this.engine.info().drives, {
      ...options,
      retainFromSeq,
    });
    this.collector.start();
  }

  /**
   * One garbage-collection run now (docs/gc.md): compacts every sealed
   * segment whose dead ratio reaches the threshold (gc.deadRatio, or
   * options.deadRatio), at the configured rate, and reports segments
   * compacted, bytes reclaimed and bytes moved. Queued behind a background
   * run in progress.
   */
  async gc(options?: GcRunOptions): Promise<GcReport> {
    const valid = validateRunOptions(options);
    this.assertOpen();
    const collector = this.collector;
    if (collector === undefined) {
      throw new TesseraError('ERR_STORE_UNSUPPORTED', 'this store engine has no gc');
    }
    return this.inflight.run(() => collector.run(valid, 'manual'));
  }

  /** Segments, physical/live/dead bytes and GC progress (memory only). */
  spaceStats(): SpaceStats {
    this.assertOpen();
    if (this.collector === undefined) {
      throw new TesseraError('ERR_STORE_UNSUPPORTED', 'this store engine has no space stats');
    }
    return this.collector.space();
  }

  /**
   * Lifecycle expiry: `run()` makes one pass now; background passes follow
   * the `lifecycle` open options. Rules are set per bucket
   * (`bucket.setLifecycle`).
   */
  readonly lifecycle: LifecycleRunner;

  /** @internal Use Store.open(); tests may wrap another engine with openOnEngine(). */
  constructor(
    private readonly engine: StoreEngine,
    options: { lifecycle?: LifecycleOptions | undefined } = {},
  ) {
    this.bucketConfigs = new BucketConfigs(engine, this.inflight);
    this.lifecycle = new LifecycleRunner(
      engine,
      this.inflight,
      this.bucketConfigs,
      gatewayUploads(this),
      options.lifecycle,
    );
    this.replicationApi = new ReplicationApi(this.bucketConfigs);
  }

  /** What the store runs on: drives, k+m, direct I/O and I/O backend in effect. */
  info(): EngineInfo {
    this.assertOpen();
    return this.engine.info();
  }

  async createBucket(name: string, options: CreateBucketOptions = {}): Promise<void> {
    validateBucketName(name);
    if (options.versioning !== undefined && typeof options.versioning !== 'boolean') {
      throw new TesseraError('InvalidArgument', 'options.versioning must be a boolean');
    }
    await this.inflight.run(() =>
      this.engine.createBucket(name, options.versioning ? 'Enabled' : 'Disabled'),
    );
  }

  async deleteBucket(name: string): Promise<void> {
    validateBucketName(name);
    await this.inflight.run(async () => {
      await this.engine.deleteBucket(name);
      // Only once the bucket is gone; a crash in between leaves configurations
      // that BucketConfigs ignores (they name the old bucket's creation time).
      await this.bucketConfigs.dropBucket(name);
    });
  }

  /** Settings of one bucket, or undefined when it does not exist. */
  async getBucket(name: string): Promise<BucketInfo | undefined> {
    validateBucketName(name);
    return this.inflight.run(() => this.engine.getBucket(name));
  }

  async listBuckets(): Promise<BucketInfo[]> {
    const all = await this.inflight.run(() => this.engine.listBuckets());
    return all.filter((b) => !isInternalBucket(b.name));
  }

  /** Turns versioning on ('Enabled') or pauses it ('Suspended'), as S3 does. */
  async setBucketVersioning(name: string, state: 'Enabled' | 'Suspended'): Promise<void> {
    validateBucketName(name);
    if (state !== 'Enabled' && state !== 'Suspended') {
      throw new TesseraError(
        'InvalidArgument',
        `versioning state must be 'Enabled' or 'Suspended', got ${String(state)}`,
      );
    }
    await this.inflight.run(() => this.engine.setBucketVersioning(name, state));
  }

  /** A handle on one bucket; no I/O until it is used (NoSuchBucket then). */
  bucket(name: string): Bucket {
    this.assertOpen();
    return new Bucket(
      validateBucketName(name),
      this.engine,
      this.inflight,
      this.bucketConfigs,
      this.replicationApi,
    );
  }

  /**
   * Starts replicating every bucket that has replication rules
   * (bucket.setReplication), in this process, until close()
   * (docs/replication.md). Idempotent.
   */
  async startReplication(options: StoreReplicationOptions = {}): Promise<ReplicationManager> {
    this.assertOpen();
    const running = this.replicationApi.manager;
    if (running && !running.isClosed) return running;
    const feed = options.feed ?? storeFeed(this);
    if (!feed) throw noFeed();
    const manager = await ReplicationManager.start({ ...options, feed, store: this });
    this.replicationApi.manager = manager;
    return manager;
  }

  /** The running replicator, if startReplication() was called. */
  get replication(): ReplicationManager | undefined {
    const running = this.replicationApi.manager;
    return running && !running.isClosed ? running : undefined;
  }

  /** Lag, queue depth and per-target state of every replication rule (none when not started). */
  async replicationStatus(): Promise<ReplicationStatus> {
    return (await this.replication?.status()) ?? { buckets: [] };
  }

  /**
   * Reads and verifies every chunk written so far and reports damage
   * (docs/durability.md). Rate-limited, cancellable with `signal`, resumes
   * an interrupted pass after a restart; progress through `onProgress`.
   */
  async scrub(options?: ScrubOptions): Promise<ScrubReport> {
    return this.scrubPass(false, options);
  }

  /**
   * Like scrub, and rewrites every missing or corrupt chunk from parity, in
   * place, fdatasync'd. Stripes beyond parity stay reported
   * (stripesUnrecoverable).
   */
  async heal(options?: ScrubOptions): Promise<ScrubReport> {
    return this.scrubPass(true, options);
  }

  private scrubPass(heal: boolean, options: ScrubOptions | undefined): Promise<ScrubReport> {
    const valid = validateScrubOptions(options);
    this.assertOpen();
    if (!(this.engine instanceof NativeStoreEngine)) {
      throw new TesseraError('ERR_STORE_UNSUPPORTED', 'this store engine has no scrub');
    }
    const native = this.engine;
    return this.inflight.run(() => native.scrub(heal, valid));
  }

  /**
   * Change events in commit order (docs/events.md): created and deleted
   * versions, delete markers. Live: waits for commits when caught up.
   * `since` resumes after a restart (the last seq processed + 1); without
   * it only changes committed from now on are delivered. Throws
   * ERR_STORE_CHANGES_EXPIRED (error.oldestSeq) when `since` is older than
   * what the log still holds. Ends when `signal` aborts or the store closes.
   */
  watch(options?: WatchOptions): AsyncGenerator<ChangeEvent, void, undefined> {
    const valid = validateWatchOptions(options);
    this.assertOpen();
    const native = this.nativeEngine('watch');
    // "From now" is when watch() is called, not when iteration starts.
    return watchChanges(
      native,
      { ...valid, since: valid.since ?? native.committedSeq() + 1 },
      () => this.inflight.isClosing,
      (wake) => {
        this.closeListeners.add(wake);
        return () => this.closeListeners.delete(wake);
      },
    );
  }

  /**
   * One page of the change feed: events with seq >= fromSeq (at most
   * maxEvents, 1..10000; internal buckets' events are read but left out),
   * and where to continue. The reader under watch(), for consumers that
   * keep their own cursor.
   */
  async changes(fromSeq: number, maxEvents = 1000): Promise<ChangesPage> {
    if (!Number.isSafeInteger(fromSeq) || fromSeq < 1) {
      throw new TesseraError('ERR_OUT_OF_RANGE', `fromSeq must be an integer >= 1, got ${fromSeq}`);
    }
    if (!Number.isInteger(maxEvents) || maxEvents < 1 || maxEvents > 10000) {
      throw new TesseraError(
        'ERR_OUT_OF_RANGE',
        `maxEvents must be an integer in 1..10000, got ${maxEvents}`,
      );
    }
    const native = this.nativeEngine('changes');
    const page = await this.inflight.run(() => native.changes(fromSeq, maxEvents));
    // The store's internal buckets are its own business (as in watch()).
    return { ...page, events: page.events.filter((e) => !isInternalBucket(e.bucket)) };
  }

  /** The newest committed change sequence (0 on an empty store). */
  committedSeq(): number {
    this.assertOpen();
    return this.nativeEngine('committedSeq').committedSeq();
  }

  /**
   * Counts, sizes, operation latencies and health of the store
   * (docs/metrics.md). Counting walks the index on a reader thread:
   * O(versions), a few ms per 100k versions.
   */
  async stats(): Promise<StoreStats> {
    const native = this.nativeEngine('stats');
    return this.inflight.run(() => native.storeStats(this.inflight.ops.snapshot()));
  }

  private nativeEngine(what: string): NativeStoreEngine {
    if (!(this.engine instanceof NativeStoreEngine)) {
      throw new TesseraError('ERR_STORE_UNSUPPORTED', `this store engine has no ${what}`);
    }
    return this.engine;
  }

  /** Waits for in-flight operations, then closes the engine. Idempotent. */
  close(): Promise<void> {
    for (const wake of this.closeListeners) wake();
    // A scrub or heal in flight stops after its batch (its cursor is kept).
    if (this.closed === undefined && this.engine instanceof NativeStoreEngine) {
      this.engine.cancelScrub();
    }
    // The collector stops first: its timer, then any compaction (cancelled).
    const gcStopped = this.closed === undefined ? this.collector?.stop() : undefined;
    this.closed ??= Promise.resolve(gcStopped)
      .then(() => this.replicationApi.manager?.close())
      .then(() => this.lifecycle.stop())
      .then(() => this.inflight.close())
      .then(() => this.engine.close());
    return this.closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private assertOpen(): void {
    if (this.inflight.isClosing) throw new TesseraError('ERR_STORE_CLOSED', 'the store is closed');
  }
}
