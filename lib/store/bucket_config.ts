/**
 * Durable per-bucket configuration (lifecycle rules, replication targets,
 * notification targets, CORS), kept through the engine itself so it is
 * erasure-coded, checksummed and crash-safe like any object.
 *
 * Layout: one JSON object per (kind, bucket) in the internal bucket
 * `.tessera-config` (a leading dot makes it an invalid S3 bucket name, so no
 * client can create, address or list it), key `<kind>/<bucket>`. The record
 * carries the bucket's creation time: a configuration whose bucket was
 * deleted (and perhaps recreated) is ignored even if a crash interrupted its
 * removal, so a new bucket never inherits an old bucket's rules.
 *
 * The store is the only writer of its drives (ERR_STORE_LOCKED), so an
 * in-memory cache per kind, filled on first use and updated after each
 * durable write, is authoritative. Writes to one (kind, bucket) are applied
 * in call order. Values may hold secrets (replication credentials): this
 * module never logs them, and error messages never quote them.
 */
import { TesseraError } from '../errors';
import { Bucket } from './bucket';
import type { StoreEngine } from './engine';
import { InflightTracker } from './inflight';
import type { BucketInfo } from './types';
import { validateBucketName } from './validate';

/** The internal bucket; not a valid S3 name, hidden from listBuckets. */
export const CONFIG_BUCKET = '.tessera-config';

export const BUCKET_CONFIG_KINDS = ['lifecycle', 'replication', 'notification', 'cors'] as const;
export type BucketConfigKind = (typeof BUCKET_CONFIG_KINDS)[number];

/** A configuration is small; 1 MiB bounds a runaway caller. */
export const BUCKET_CONFIG_BYTES_MAX = 1024 * 1024;

interface StoredRecord {
  format: 1;
  kind: BucketConfigKind;
  bucket: string;
  /** The bucket's creationDate (ms) when the value was written. */
  bucketCreatedMs: number;
  value: unknown;
}

interface CacheEntry {
  bucketCreatedMs: number;
  /** The JSON text of the value (copies are parsed from it). */
  json: string;
}

/** True for names the store keeps for itself (not valid S3 bucket names). */
export function isInternalBucket(name: string): boolean {
  return name.startsWith('.');
}

function validateKind(kind: unknown): BucketConfigKind {
  if (typeof kind !== 'string' || !(BUCKET_CONFIG_KINDS as readonly string[]).includes(kind)) {
    throw new TesseraError(
      'InvalidArgument',
      `configuration kind must be one of ${BUCKET_CONFIG_KINDS.join(', ')}, got ${typeof kind === 'string' ? JSON.stringify(kind.slice(0, 40)) : typeof kind}`,
    );
  }
  return kind as BucketConfigKind;
}

function configKey(kind: BucketConfigKind, bucket: string): string {
  return `${kind}/${bucket}`;
}

export class BucketConfigs {
  /** kind -> bucket -> entry; a kind is loaded from disk on first use. */
  private readonly cache = new Map<BucketConfigKind, Promise<Map<string, CacheEntry>>>();
  /** Per (kind, bucket) tail of the write chain. */
  private readonly chains = new Map<string, Promise<void>>();
  private internalReady: Promise<void> | undefined;
  private readonly internal: Bucket;

  /**
   * @internal Created by Store. Every public method is one operation of the
   * store's tracker (close() waits for it); the internal bucket's own calls
   * run inside it, on a tracker of their own that never refuses midway.
   */
  constructor(
    private readonly engine: StoreEngine,
    private readonly inflight: InflightTracker,
  ) {
    this.internal = new Bucket(CONFIG_BUCKET, engine, new InflightTracker());
  }

  /** The value stored for `bucket`, or undefined (also when the bucket does not exist). */
  async get<T>(bucket: string, kind: BucketConfigKind): Promise<T | undefined> {
    validateBucketName(bucket);
    const valid = validateKind(kind);
    return this.inflight.run(async () => {
      const entries = await this.load(valid);
      const entry = entries.get(bucket);
      if (entry === undefined) return undefined;
      if (!(await this.isCurrent(bucket, entry))) return undefined;
      return JSON.parse(entry.json) as T;
    });
  }

  /**
   * Stores `value` (anything JSON can represent) for an existing bucket;
   * resolves once it is durable. NoSuchBucket when the bucket is missing.
   */
  async put(bucket: string, kind: BucketConfigKind, value: unknown): Promise<void> {
    validateBucketName(bucket);
    const valid = validateKind(kind);
    let json: string | undefined;
    try {
      json = JSON.stringify(value);
    } catch {
      json = undefined;
    }
    if (json === undefined) {
      throw new TesseraError(
        'InvalidArgument',
        `a ${valid} configuration must be JSON-serializable`,
      );
    }
    const text = json;
    await this.inflight.run(() =>
      this.serialize(valid, bucket, async () => {
        const info = await this.requireBucket(bucket);
        const record: StoredRecord = {
          format: 1,
          kind: valid,
          bucket,
          bucketCreatedMs: info.creationDate.getTime(),
          value: JSON.parse(text) as unknown,
        };
        const body = Buffer.from(JSON.stringify(record), 'utf8');
        if (body.length > BUCKET_CONFIG_BYTES_MAX) {
          throw new TesseraError(
            'EntityTooLarge',
            `the ${valid} configuration is ${body.length} bytes; the limit is ${BUCKET_CONFIG_BYTES_MAX}`,
          );
        }
        await this.ensureInternal();
        const entries = await this.load(valid);
        await this.internal.put(configKey(valid, bucket), body, {
          contentType: 'application/json',
        });
        entries.set(bucket, { bucketCreatedMs: record.bucketCreatedMs, json: text });
      }),
    );
  }

  /** Removes the value; resolves once the removal is durable. No error when absent. */
  async delete(bucket: string, kind: BucketConfigKind): Promise<void> {
    validateBucketName(bucket);
    const valid = validateKind(kind);
    await this.inflight.run(() => this.serialize(valid, bucket, () => this.remove(valid, bucket)));
  }

  /** Every bucket with a value of `kind`, in bucket-name order. */
  async list<T>(kind: BucketConfigKind): Promise<{ bucket: string; value: T }[]> {
    const valid = validateKind(kind);
    return this.inflight.run(async () => {
      const entries = await this.load(valid);
      const result: { bucket: string; value: T }[] = [];
      for (const [bucket, entry] of entries) {
        if (await this.isCurrent(bucket, entry)) {
          result.push({ bucket, value: JSON.parse(entry.json) as T });
        }
      }
      return result.sort((a, b) => (a.bucket < b.bucket ? -1 : a.bucket > b.bucket ? 1 : 0));
    });
  }

  /**
   * @internal Store.deleteBucket: drops every kind of a deleted bucket. Runs
   * inside the caller's tracked operation.
   */
  async dropBucket(bucket: string): Promise<void> {
    for (const kind of BUCKET_CONFIG_KINDS) {
      await this.serialize(kind, bucket, () => this.remove(kind, bucket));
    }
  }

  /**
   * @internal Store-wide state of a background task (a lifecycle cursor),
   * kept with the same durability under `state/<name>`. Not cached.
   */
  async getState<T>(name: string): Promise<T | undefined> {
    return this.inflight.run(async () => {
      if (!(await this.engine.getBucket(CONFIG_BUCKET))) return undefined;
      const found = await this.internal.get(`state/${name}`);
      return found ? (JSON.parse(found.body.toString('utf8')) as T) : undefined;
    });
  }

  /** @internal Replaces the state `name`; resolves once durable. */
  async putState(name: string, value: unknown): Promise<void> {
    await this.inflight.run(() =>
      this.serialize('state' as BucketConfigKind, name, async () => {
        await this.ensureInternal();
        await this.internal.put(`state/${name}`, JSON.stringify(value), {
          contentType: 'application/json',
        });
      }),
    );
  }

  private async remove(kind: BucketConfigKind, bucket: string): Promise<void> {
    const entries = await this.load(kind);
    if (!entries.has(bucket)) return;
    await this.internal.delete(configKey(kind, bucket));
    entries.delete(bucket);
  }

  /** Runs `work` after every earlier write of the same (kind, bucket). */
  private serialize(kind: BucketConfigKind, bucket: string, work: () => Promise<void>) {
    const id = configKey(kind, bucket);
    const previous = this.chains.get(id) ?? Promise.resolve();
    const next = previous.then(work, work);
    const tail = next.catch(() => undefined);
    this.chains.set(id, tail);
    void tail.then(() => {
      if (this.chains.get(id) === tail) this.chains.delete(id);
    });
    return next;
  }

  private async requireBucket(bucket: string): Promise<BucketInfo> {
    const info = await this.engine.getBucket(bucket);
    if (!info) {
      throw new TesseraError('NoSuchBucket', `bucket ${JSON.stringify(bucket)} does not exist`);
    }
    return info;
  }

  /** The entry belongs to the bucket that exists now (not a deleted namesake). */
  private async isCurrent(bucket: string, entry: CacheEntry): Promise<boolean> {
    const info = await this.engine.getBucket(bucket);
    return info !== undefined && info.creationDate.getTime() === entry.bucketCreatedMs;
  }

  private ensureInternal(): Promise<void> {
    this.internalReady ??= this.engine
      .createBucket(CONFIG_BUCKET, 'Disabled')
      .catch((error: unknown) => {
        if (error instanceof TesseraError && error.code === 'BucketAlreadyOwnedByYou') return;
        this.internalReady = undefined;
        throw error;
      });
    return this.internalReady;
  }

  private load(kind: BucketConfigKind): Promise<Map<string, CacheEntry>> {
    let loaded = this.cache.get(kind);
    if (loaded === undefined) {
      loaded = this.readKind(kind);
      this.cache.set(kind, loaded);
      loaded.catch(() => {
        if (this.cache.get(kind) === loaded) this.cache.delete(kind);
      });
    }
    return loaded;
  }

  private async readKind(kind: BucketConfigKind): Promise<Map<string, CacheEntry>> {
    const entries = new Map<string, CacheEntry>();
    if (!(await this.engine.getBucket(CONFIG_BUCKET))) return entries;
    for await (const item of this.internal.list({ prefix: `${kind}/` })) {
      if (item.type !== 'object') continue;
      const found = await this.internal.get(item.key);
      if (!found) continue;
      let record: StoredRecord;
      try {
        record = JSON.parse(found.body.toString('utf8')) as StoredRecord;
      } catch {
        throw new TesseraError(
          'ERR_STORE_CORRUPT',
          `stored ${kind} configuration ${JSON.stringify(item.key)} is not valid JSON`,
        );
      }
      entries.set(record.bucket, {
        bucketCreatedMs: record.bucketCreatedMs,
        json: JSON.stringify(record.value),
      });
    }
    return entries;
  }
}
