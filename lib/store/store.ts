/**
 * Store: an open tessera store over k+m drive directories. Created with
 * `await Store.open(options)`; closed with `await store.close()` (or `await
 * using`), which drains in-flight work and makes everything durable.
 */
import { TesseraError } from '../errors';
import { Bucket } from './bucket';
import type { EngineInfo, StoreEngine } from './engine';
import { type EngineOpenOptions, NativeStoreEngine, validateOpenOptions } from './engine_binding';
import { InflightTracker } from './inflight';
import type { BucketInfo } from './types';
import { validateBucketName } from './validate';
import { type ScrubOptions, type ScrubReport, validateScrubOptions } from './scrub';
import { GarbageCollector } from '../gc/collector';
import { resolveGcOptions, validateRunOptions } from '../gc/policy';
import type { GcOptions, GcReport, GcRunOptions, NativeGcHandle, SpaceStats } from '../gc/types';

export interface CreateBucketOptions {
  /** Keep every version of every key (S3 versioning 'Enabled'). */
  versioning?: boolean;
}

export type StoreOpenOptions = EngineOpenOptions & {
  /**
   * Space reclamation (docs/gc.md): options of the background collector, or
   * false to turn it off (store.gc() still works). Default: on.
   */
  gc?: GcOptions | false;
};

export class Store {
  private readonly inflight = new InflightTracker();
  private closed: Promise<void> | undefined;
  private collector: GarbageCollector | undefined;

  /**
   * Opens the store on `path` (drives `path/drive-<i>`) or on `drives`,
   * creating it when the drives are empty. A second open of the same drives
   * fails with ERR_STORE_LOCKED.
   */
  static async open(options: StoreOpenOptions): Promise<Store> {
    const valid = validateOpenOptions(options);
    const gc = (options as { gc?: unknown }).gc;
    const gcOptions = gc === false ? resolveGcOptions({ background: false }) : resolveGcOptions(gc);
    const store = new Store(await NativeStoreEngine.open(valid));
    store.startGc(gcOptions);
    return store;
  }

  private startGc(options: ReturnType<typeof resolveGcOptions>): void {
    if (!(this.engine instanceof NativeStoreEngine)) return;
    const handle = this.engine.native as unknown as NativeGcHandle;
    this.collector = new GarbageCollector(handle, this.engine.info().drives, options);
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

  /** @internal Use Store.open(); tests may wrap another engine with openOnEngine(). */
  constructor(private readonly engine: StoreEngine) {}

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
    await this.inflight.run(() => this.engine.deleteBucket(name));
  }

  /** Settings of one bucket, or undefined when it does not exist. */
  async getBucket(name: string): Promise<BucketInfo | undefined> {
    validateBucketName(name);
    return this.inflight.run(() => this.engine.getBucket(name));
  }

  async listBuckets(): Promise<BucketInfo[]> {
    return this.inflight.run(() => this.engine.listBuckets());
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
    return new Bucket(validateBucketName(name), this.engine, this.inflight);
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

  /** Waits for in-flight operations, then closes the engine. Idempotent. */
  close(): Promise<void> {
    // A scrub or heal in flight stops after its batch (its cursor is kept).
    if (this.closed === undefined && this.engine instanceof NativeStoreEngine) {
      this.engine.cancelScrub();
    }
    // The collector stops first: its timer, then any compaction (cancelled).
    const gcStopped = this.closed === undefined ? this.collector?.stop() : undefined;
    this.closed ??= Promise.resolve(gcStopped)
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
