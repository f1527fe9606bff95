/**
 * Durable replication state: each bucket's rules and each (bucket, rule)
 * cursor, kept in store.bucketConfigs (the engine's hidden internal bucket:
 * erasure-coded, checksummed, dropped with the bucket).
 */
export interface BucketConfigStore {
  get<T>(bucket: string, kind: string): Promise<T | undefined>;
  put(bucket: string, kind: string, value: unknown): Promise<void>;
  delete(bucket: string, kind: string): Promise<void>;
  /** Every bucket that has a document of this kind, with its value. */
  list<T>(kind: string): Promise<Array<{ bucket: string; value: T }>>;
}

/** The part of store.bucketConfigs replication uses (kind 'replication'). */
export interface StoreBucketConfigs {
  get<T>(bucket: string, kind: 'replication'): Promise<T | undefined>;
  put(bucket: string, kind: 'replication', value: unknown): Promise<void>;
  delete(bucket: string, kind: 'replication'): Promise<void>;
  list<T>(kind: 'replication'): Promise<Array<{ bucket: string; value: T }>>;
}

interface ReplicationDocument {
  rules?: unknown;
  cursors?: unknown;
}

const FIELDS: Readonly<Record<string, keyof ReplicationDocument>> = {
  replication: 'rules',
  'replication-cursor': 'cursors',
};

/**
 * Rules and cursors of a bucket in ONE durable document of
 * store.bucketConfigs (kind 'replication': `{ rules, cursors }`), so they
 * are erasure-coded and checksummed like any object and disappear with
 * their bucket. Writes of a bucket are serialised here (read-modify-write).
 */
export class StoreConfigAdapter implements BucketConfigStore {
  private readonly chains = new Map<string, Promise<unknown>>();

  constructor(private readonly configs: StoreBucketConfigs) {}

  private field(kind: string): keyof ReplicationDocument {
    const f = FIELDS[kind];
    if (f === undefined) throw new Error(`bad replication config kind ${kind}`);
    return f;
  }

  private serial<T>(bucket: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.chains.get(bucket) ?? Promise.resolve()).catch(() => undefined).then(fn);
    this.chains.set(bucket, run);
    return run;
  }

  async get<T>(bucket: string, kind: string): Promise<T | undefined> {
    const doc = await this.configs.get<ReplicationDocument>(bucket, 'replication');
    return doc?.[this.field(kind)] as T | undefined;
  }

  put(bucket: string, kind: string, value: unknown): Promise<void> {
    const field = this.field(kind);
    return this.serial(bucket, async () => {
      const doc = (await this.configs.get<ReplicationDocument>(bucket, 'replication')) ?? {};
      doc[field] = value;
      await this.configs.put(bucket, 'replication', doc);
    });
  }

  delete(bucket: string, kind: string): Promise<void> {
    const field = this.field(kind);
    return this.serial(bucket, async () => {
      const doc = (await this.configs.get<ReplicationDocument>(bucket, 'replication')) ?? {};
      delete doc[field];
      if (doc.rules === undefined && doc.cursors === undefined) {
        await this.configs.delete(bucket, 'replication');
      } else {
        await this.configs.put(bucket, 'replication', doc);
      }
    });
  }

  async list<T>(kind: string): Promise<Array<{ bucket: string; value: T }>> {
    const field = this.field(kind);
    const out: Array<{ bucket: string; value: T }> = [];
    for (const { bucket, value } of await this.configs.list<ReplicationDocument>('replication')) {
      if (value[field] !== undefined) out.push({ bucket, value: value[field] as T });
    }
    return out;
  }
}
