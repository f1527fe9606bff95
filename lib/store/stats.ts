/**
 * store.stats(): what the store holds and how it has been doing
 * (docs/metrics.md lists every field, its source and its Prometheus name).
 */

/** Operations timed by the store (Bucket methods). */
export const STORE_OPS = ['put', 'get', 'head', 'delete', 'list'] as const;
export type StoreOp = (typeof STORE_OPS)[number];

/** Upper bounds (seconds) of the latency histogram buckets; +Inf is implied. */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

export interface OpStats {
  /** Calls finished (successes and failures). */
  count: number;
  /** Calls that threw (a TesseraError or anything else). */
  errors: number;
  /** Sum of the durations, seconds. */
  sumSeconds: number;
  /** Cumulative: buckets[i] calls took <= LATENCY_BUCKETS_SECONDS[i]. */
  buckets: number[];
}

export interface StoreStats {
  /** Current versions that are not delete markers (what a plain list shows). */
  objects: number;
  /** Every version kept, delete markers included. */
  versions: number;
  deleteMarkers: number;
  buckets: number;
  /** Body bytes of every version kept (what users stored). */
  logicalBytes: number;
  /** Body bytes of current versions only. */
  currentBytes: number;
  /** Bytes of segment files on all drives (preallocated size × drives). */
  physicalBytes: number;
  /** Log data bytes written so far (before parity). */
  logBytes: number;
  /** Log bytes held by the records of live versions (their fragments too). */
  liveBytes: number;
  /**
   * Log bytes not held by a live version: superseded and deleted records,
   * aborted uploads, group headers and stripe padding. GC reclaims these.
   */
  deadBytes: number;
  segments: number;
  /** Estimated memory of the in-memory index (see docs/metrics.md). */
  indexMemoryBytes: number;
  cache: {
    hits: number;
    misses: number;
    /** hits / (hits + misses); null before any cached read. */
    hitRatio: number | null;
    bytes: number;
  };
  operations: Record<StoreOp, OpStats>;
  /** Drives that writes currently skip (see docs/metrics.md). */
  degradedDrives: number;
  /** Stripes reads had to rebuild from parity, waiting for heal. */
  healQueue: number;
  gc: {
    /** Whether this build has GC; false: the fields below stay 0. */
    available: boolean;
    running: boolean;
    segmentsReclaimed: number;
    bytesReclaimed: number;
  };
  changes: {
    /** The newest committed change sequence. */
    committedSeq: number;
  };
  engine: {
    commitGroups: number;
    writes: number;
    commitGroupsFailed: number;
    chunksRead: number;
    chunksBad: number;
    stripesReconstructed: number;
  };
}

/** Counts and times operations; one per store. */
export class OpRecorder {
  private readonly ops: Record<StoreOp, OpStats>;

  constructor() {
    const make = (): OpStats => ({
      count: 0,
      errors: 0,
      sumSeconds: 0,
      buckets: LATENCY_BUCKETS_SECONDS.map(() => 0),
    });
    this.ops = { put: make(), get: make(), head: make(), delete: make(), list: make() };
  }

  record(op: StoreOp, seconds: number, failed: boolean): void {
    const s = this.ops[op];
    s.count++;
    if (failed) s.errors++;
    s.sumSeconds += seconds;
    for (let i = LATENCY_BUCKETS_SECONDS.length - 1; i >= 0; i--) {
      if (seconds > LATENCY_BUCKETS_SECONDS[i]!) break;
      s.buckets[i]!++;
    }
  }

  /** Runs `work`, timing it as one `op`. */
  async time<T>(op: StoreOp, work: () => Promise<T>): Promise<T> {
    const start = process.hrtime.bigint();
    let failed = true;
    try {
      const result = await work();
      failed = false;
      return result;
    } finally {
      this.record(op, Number(process.hrtime.bigint() - start) / 1e9, failed);
    }
  }

  snapshot(): Record<StoreOp, OpStats> {
    const copy = {} as Record<StoreOp, OpStats>;
    for (const op of STORE_OPS) {
      const s = this.ops[op];
      copy[op] = { ...s, buckets: [...s.buckets] };
    }
    return copy;
  }
}
