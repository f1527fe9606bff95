/**
 * Prometheus metrics of replication, on the registry the caller gives
 * (the gateway's) or a private one. Labels: source bucket and rule id
 * (bounded by the rules configured), never a key, never a credential.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export class ReplicationMetrics {
  readonly registry: Registry;
  readonly replicated: Counter<'bucket' | 'rule'>;
  readonly failures: Counter<'bucket' | 'rule' | 'kind'>;
  readonly lag: Gauge<'bucket' | 'rule'>;
  readonly queueDepth: Gauge<'bucket' | 'rule'>;
  readonly queueAlert: Gauge<'bucket' | 'rule'>;
  readonly applied: Gauge<'bucket' | 'rule'>;
  readonly eventLag: Histogram;
  readonly repairs: Counter<'bucket' | 'rule'>;
  readonly breakerOpen: Gauge<'bucket' | 'rule'>;
  /** Called before every scrape so the gauges are current (set by the manager). */
  refresh: (() => Promise<unknown>) | undefined;

  constructor(registry?: Registry) {
    this.registry = registry ?? new Registry();
    const registers = [this.registry];
    const labelNames = ['bucket', 'rule'] as const;
    this.replicated = new Counter({
      name: 'tessera_replication_replicated_total',
      help: 'Versions and deletes the destination acknowledged',
      labelNames,
      registers,
    });
    this.failures = new Counter({
      name: 'tessera_replication_failures_total',
      help: 'Failed replication attempts, by kind (transient, permanent, source)',
      labelNames: ['bucket', 'rule', 'kind'],
      registers,
    });
    this.lag = new Gauge({
      name: 'tessera_replication_lag_seconds',
      help: 'Age of the oldest event read from the change log and not yet acknowledged',
      labelNames,
      registers,
    });
    this.queueDepth = new Gauge({
      name: 'tessera_replication_queue_depth',
      help: 'Events committed and not yet replicated (upper bound: log head minus cursor)',
      labelNames,
      registers,
      collect: async () => {
        await this.refresh?.();
      },
    });
    this.breakerOpen = new Gauge({
      name: 'tessera_replication_breaker_state',
      help: 'Circuit breaker of the destination: 0 closed, 1 half-open, 2 open',
      labelNames,
      registers,
    });
    this.queueAlert = new Gauge({
      name: 'tessera_replication_queue_alert',
      help: '1 while the queue depth is above the configured alert threshold',
      labelNames,
      registers,
    });
    this.applied = new Gauge({
      name: 'tessera_replication_cursor',
      help: 'Commit sequence up to which every event is replicated',
      labelNames,
      registers,
    });
    this.repairs = new Counter({
      name: 'tessera_replication_read_repairs_total',
      help: 'Reads of damaged local objects served from a replica',
      labelNames,
      registers,
    });
    this.eventLag = new Histogram({
      name: 'tessera_replication_event_seconds',
      help: 'Time from reading an event from the log to the destination acknowledging it',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers,
    });
  }
}
