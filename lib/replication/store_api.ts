/**
 * What Store and Bucket expose of replication: per-bucket rules (stored
 * even while no replicator runs; a replicator started later picks them up)
 * and the running manager, if any.
 */
import { TesseraError } from '../errors';
import type { ObjectInfo } from '../store/types';
import type { ChangeFeed } from './feed';
import type { ReplicationManager, ReplicationOptions } from './manager';
import { RULES_KIND, CURSOR_KIND } from './manager';
import {
  type RedactedRule,
  type ReplicationConfig,
  redactConfig,
  validateReplicationConfig,
} from './rules';
import { StoreConfigAdapter, type StoreBucketConfigs } from './state';

export type StoreReplicationOptions = Omit<ReplicationOptions, 'store' | 'feed' | 'configs'> & {
  /** The change log; default: the store's own (store.watch) when it has one. */
  feed?: ChangeFeed;
};

export class ReplicationApi {
  manager: ReplicationManager | undefined;

  private running(): ReplicationManager | undefined {
    return this.manager && !this.manager.isClosed ? this.manager : undefined;
  }
  private readonly configs: StoreConfigAdapter;

  constructor(configs: StoreBucketConfigs) {
    this.configs = new StoreConfigAdapter(configs);
  }

  /** Read repair from a replica (undefined when no running rule has the version). */
  async repairRead(info: ObjectInfo): Promise<Buffer | undefined> {
    return this.running()?.repairRead(info);
  }

  async set(bucket: string, config: unknown): Promise<void> {
    const m = this.running();
    if (m) return m.setReplication(bucket, config);
    await this.configs.put(bucket, RULES_KIND, validateReplicationConfig(config));
  }

  async get(bucket: string): Promise<{ rules: RedactedRule[] } | undefined> {
    const m = this.running();
    if (m) return m.getReplication(bucket);
    const config = await this.configs.get<ReplicationConfig>(bucket, RULES_KIND);
    return config ? redactConfig(config) : undefined;
  }

  async delete(bucket: string): Promise<void> {
    const m = this.running();
    if (m) return m.deleteReplication(bucket);
    await this.configs.delete(bucket, RULES_KIND);
    await this.configs.delete(bucket, CURSOR_KIND);
  }
}

/** The store's own change feed, when the store has one (store.watch). */
export function storeFeed(store: object): ChangeFeed | undefined {
  const s = store as Partial<ChangeFeed> & { watch?: unknown; committedSeq?: () => number };
  if (typeof s.watch !== 'function') return undefined;
  const feed: ChangeFeed = { watch: (options) => s.watch!.call(store, options) };
  if (s.retention) feed.retention = s.retention;
  if (typeof s.committedSeq === 'function') feed.head = () => s.committedSeq!.call(store);
  if (typeof s.changes === 'function') {
    feed.changes = (fromSeq, maxEvents) => s.changes!.call(store, fromSeq, maxEvents);
  }
  return feed;
}

export function noFeed(): TesseraError {
  return new TesseraError(
    'ERR_STORE_UNSUPPORTED',
    'replication needs a change feed: this store has no watch(); pass options.feed',
  );
}
