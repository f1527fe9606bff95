/**
 * The store's own figures (store.stats()) as Prometheus metrics named
 * `tessera_store_*` (docs/metrics.md). They are collected at scrape time:
 * one store.stats() per scrape (shared by every metric of that scrape),
 * nothing kept between scrapes but the last figures for a failed one.
 */
import type { Registry } from 'prom-client';
import type { Store } from '../../store/store';
import { LATENCY_BUCKETS_SECONDS, STORE_OPS, type StoreStats } from '../../store/stats';

type MetricType = 'gauge' | 'counter' | 'histogram';

interface Sample {
  value: number;
  labels?: Record<string, string | number>;
  metricName?: string;
}

interface Definition {
  name: string;
  help: string;
  type: MetricType;
  values: (s: StoreStats) => Sample[];
}

const one = (value: number): Sample[] => [{ value }];

const DEFINITIONS: Definition[] = [
  {
    name: 'tessera_store_objects',
    help: 'Current versions that are not delete markers',
    type: 'gauge',
    values: (s) => one(s.objects),
  },
  {
    name: 'tessera_store_versions',
    help: 'Versions kept, delete markers included',
    type: 'gauge',
    values: (s) => one(s.versions),
  },
  {
    name: 'tessera_store_delete_markers',
    help: 'Delete markers kept',
    type: 'gauge',
    values: (s) => one(s.deleteMarkers),
  },
  {
    name: 'tessera_store_buckets',
    help: 'Buckets, the store internal ones included',
    type: 'gauge',
    values: (s) => one(s.buckets),
  },
  {
    name: 'tessera_store_logical_bytes',
    help: 'Body bytes of every version kept',
    type: 'gauge',
    values: (s) => one(s.logicalBytes),
  },
  {
    name: 'tessera_store_current_bytes',
    help: 'Body bytes of current versions',
    type: 'gauge',
    values: (s) => one(s.currentBytes),
  },
  {
    name: 'tessera_store_physical_bytes',
    help: 'Bytes of segment files on all drives (preallocated size)',
    type: 'gauge',
    values: (s) => one(s.physicalBytes),
  },
  {
    name: 'tessera_store_log_bytes',
    help: 'Log data bytes written (before parity)',
    type: 'gauge',
    values: (s) => one(s.logBytes),
  },
  {
    name: 'tessera_store_live_bytes',
    help: 'Log bytes held by the records of live versions',
    type: 'gauge',
    values: (s) => one(s.liveBytes),
  },
  {
    name: 'tessera_store_dead_bytes',
    help: 'Log bytes not held by a live version (reclaimable by GC)',
    type: 'gauge',
    values: (s) => one(s.deadBytes),
  },
  {
    name: 'tessera_store_segments',
    help: 'Segments present on the drives',
    type: 'gauge',
    values: (s) => one(s.segments),
  },
  {
    name: 'tessera_store_index_memory_bytes',
    help: 'Estimated memory of the in-memory index',
    type: 'gauge',
    values: (s) => one(s.indexMemoryBytes),
  },
  {
    name: 'tessera_store_cache_hits_total',
    help: 'Reads served from the read cache',
    type: 'counter',
    values: (s) => one(s.cache.hits),
  },
  {
    name: 'tessera_store_cache_misses_total',
    help: 'Reads the read cache did not hold',
    type: 'counter',
    values: (s) => one(s.cache.misses),
  },
  {
    name: 'tessera_store_cache_bytes',
    help: 'Bytes held by the read cache',
    type: 'gauge',
    values: (s) => one(s.cache.bytes),
  },
  {
    name: 'tessera_store_operations_total',
    help: 'Store operations finished, by operation',
    type: 'counter',
    values: (s) => STORE_OPS.map((op) => ({ value: s.operations[op].count, labels: { op } })),
  },
  {
    name: 'tessera_store_operation_errors_total',
    help: 'Store operations that failed, by operation',
    type: 'counter',
    values: (s) => STORE_OPS.map((op) => ({ value: s.operations[op].errors, labels: { op } })),
  },
  {
    name: 'tessera_store_operation_duration_seconds',
    help: 'Duration of store operations, by operation',
    type: 'histogram',
    values: (s) =>
      STORE_OPS.flatMap((op): Sample[] => {
        const o = s.operations[op];
        const name = 'tessera_store_operation_duration_seconds';
        return [
          ...LATENCY_BUCKETS_SECONDS.map((le, i) => ({
            metricName: `${name}_bucket`,
            labels: { op, le },
            value: o.buckets[i]!,
          })),
          { metricName: `${name}_bucket`, labels: { op, le: '+Inf' }, value: o.count },
          { metricName: `${name}_sum`, labels: { op }, value: o.sumSeconds },
          { metricName: `${name}_count`, labels: { op }, value: o.count },
        ];
      }),
  },
  {
    name: 'tessera_store_degraded_drives',
    help: 'Drives that writes currently skip',
    type: 'gauge',
    values: (s) => one(s.degradedDrives),
  },
  {
    name: 'tessera_store_heal_queue_stripes',
    help: 'Stripes rebuilt from parity by reads, waiting for heal',
    type: 'gauge',
    values: (s) => one(s.healQueue),
  },
  {
    name: 'tessera_store_gc_running',
    help: '1 while garbage collection runs',
    type: 'gauge',
    values: (s) => one(s.gc.running ? 1 : 0),
  },
  {
    name: 'tessera_store_gc_segments_reclaimed_total',
    help: 'Segments garbage collection reclaimed',
    type: 'counter',
    values: (s) => one(s.gc.segmentsReclaimed),
  },
  {
    name: 'tessera_store_gc_reclaimed_bytes_total',
    help: 'Bytes garbage collection reclaimed',
    type: 'counter',
    values: (s) => one(s.gc.bytesReclaimed),
  },
  {
    name: 'tessera_store_change_seq',
    help: 'The newest committed change sequence',
    type: 'gauge',
    values: (s) => one(s.changes.committedSeq),
  },
  {
    name: 'tessera_store_commit_groups_total',
    help: 'Commit groups written',
    type: 'counter',
    values: (s) => one(s.engine.commitGroups),
  },
  {
    name: 'tessera_store_commit_groups_failed_total',
    help: 'Commit groups whose write or fdatasync failed',
    type: 'counter',
    values: (s) => one(s.engine.commitGroupsFailed),
  },
  {
    name: 'tessera_store_writes_total',
    help: 'Writes decided by the committer',
    type: 'counter',
    values: (s) => one(s.engine.writes),
  },
  {
    name: 'tessera_store_chunks_read_total',
    help: 'Chunks read from the drives',
    type: 'counter',
    values: (s) => one(s.engine.chunksRead),
  },
  {
    name: 'tessera_store_chunks_bad_total',
    help: 'Chunks that failed verification on read',
    type: 'counter',
    values: (s) => one(s.engine.chunksBad),
  },
  {
    name: 'tessera_store_stripes_reconstructed_total',
    help: 'Stripes rebuilt from parity on read',
    type: 'counter',
    values: (s) => one(s.engine.stripesReconstructed),
  },
];

/** Names of the metrics registerStoreMetrics adds. */
export const STORE_METRIC_NAMES: readonly string[] = DEFINITIONS.map((d) => d.name);

/** Registers every `tessera_store_*` metric of `store` in `registry`. */
export function registerStoreMetrics(registry: Registry, store: Store): void {
  // One stats() per scrape: the first metric asks, the rest share it.
  let pending: Promise<StoreStats | undefined> | undefined;
  let last: StoreStats | undefined;
  const current = (): Promise<StoreStats | undefined> => {
    pending ??= store
      .stats()
      .then(
        (s) => (last = s),
        () => last, // closed or failing store: the last figures, or none
      )
      .finally(() => {
        setImmediate(() => (pending = undefined));
      });
    return pending;
  };
  for (const d of DEFINITIONS) {
    const metric = {
      name: d.name,
      help: d.help,
      type: d.type,
      aggregator: 'sum',
      get: async () => {
        const s = await current();
        return {
          name: d.name,
          help: d.help,
          type: d.type,
          aggregator: 'sum',
          values: s === undefined ? [] : d.values(s),
        };
      },
      reset: () => undefined,
    };
    registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0]);
  }
}
