/**
 * Space reclamation types (docs/gc.md): the options of the background
 * collector and of `store.gc()`, its report, and the space figures the
 * engine keeps (`store.spaceStats()`).
 */

/** How the collector decides which segments to compact, and how fast. */
export interface GcOptions {
  /** Run on a timer in the background (default true). The timer is unref'd. */
  background?: boolean;
  /** Milliseconds between background checks (default 30 000). */
  intervalMs?: number;
  /** Compact a sealed segment when dead / used >= this (default 0.2). */
  deadRatio?: number;
  /** Bytes moved per second while compacting (default 4 MiB/s; 0: no limit). */
  rateBytesPerSec?: number;
  /** Relocation bytes queued in the engine at once (default 8 MiB). */
  inflightBytes?: number;
  /** Segments compacted per run at most (default 0: no bound). */
  maxSegmentsPerRun?: number;
  /** Low free space: when a drive has less than this fraction free (default 0.1). */
  lowFreeFraction?: number;
  /** The dead ratio used under low free space (default 0.05). */
  urgentDeadRatio?: number;
  /** The rate used under low free space (default 0: no limit). */
  urgentRateBytesPerSec?: number;
  /**
   * The oldest change seq a durable consumer (replication, a resumable
   * watch) still needs; a segment holding any change with seq >= it is
   * never compacted. The store always applies `store.retention.floor()`
   * too (the lower seq wins); this hook adds a hold of its own. Default:
   * none beyond the retention registry.
   */
  retainFromSeq?: () => number;
}

export interface GcProgress {
  /** Segment being compacted. */
  segment: number;
  segmentsDone: number;
  segmentsTotal: number;
  /** Bytes moved so far in this run. */
  bytesMoved: number;
  /** 0..1 over the run (by live bytes to move). */
  fraction: number;
}

export interface GcRunOptions {
  /** Aborting stops after the current batch; nothing half-done is freed. */
  signal?: AbortSignal;
  onProgress?: (progress: GcProgress) => void;
  /** Overrides of the collector's options for this run. */
  deadRatio?: number;
  rateBytesPerSec?: number;
}

export interface GcReport {
  trigger: 'manual' | 'timer' | 'low-space';
  /** Segments that met the policy when the run started. */
  segmentsConsidered: number;
  segmentsCompacted: number;
  /** Log bytes (data before parity) given back: whole segments. */
  bytesReclaimed: number;
  /** File bytes given back over every drive (parity included). */
  physicalBytesReclaimed: number;
  /** Log bytes of live records copied to the head of the log. */
  bytesMoved: number;
  recordsMoved: number;
  /** Segments left alone, with the reason. */
  skipped: { segment: number; reason: string }[];
  cancelled: boolean;
  durationMs: number;
}

export interface SegmentSpace {
  id: number;
  usedBytes: number;
  liveBytes: number;
  deadBytes: number;
  /** Newest change seq written into the segment (relocated copies aside). */
  maxSeq: number;
  freed: boolean;
  tail: boolean;
}

/** Per-store space figures (for store.stats()). */
export interface SpaceStats {
  /** Segments holding data. */
  segments: number;
  /** Segments given back (a 4 KiB header file per drive remains). */
  segmentsFreed: number;
  segmentDataBytes: number;
  segmentFileBytes: number;
  /** Segment file bytes over every drive (parity included). */
  physicalBytes: number;
  /** Data capacity of the segments held (before parity). */
  logBytes: number;
  /** Bytes of records the index needs. */
  liveBytes: number;
  /** Bytes consumed by superseded, deleted or overhead records. */
  deadBytes: number;
  tailSegment: number;
  gc: {
    segmentsCompacted: number;
    bytesMoved: number;
    bytesReclaimed: number;
    running: boolean;
    segment: number;
    moved: number;
    total: number;
  };
  perSegment: SegmentSpace[];
}

export interface NativeCompactReport {
  segment: number;
  freed: boolean;
  skipped: string;
  recordsMoved: number;
  recordsDropped: number;
  bytesMoved: number;
  bytesReclaimed: number;
  physicalBytesReclaimed: number;
}

/** The part of the native engine handle the collector uses. */
export interface NativeGcHandle {
  compact(
    segment: number,
    rateBytesPerSec: number,
    retainFromSeq: number,
    inflightBytes: number,
  ): Promise<NativeCompactReport>;
  cancelCompact(): void;
  spaceStats(): SpaceStats;
}
