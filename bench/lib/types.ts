/**
 * The benchmark harness's contract. A suite is a module under
 * bench/<suite>/suite.ts exporting `suite: BenchSuite`. The runner starts
 * every trial run in a fresh Node process, interleaves trials (A B A B ...)
 * so that peers share the machine's noise, and summarizes the runs.
 */

/** What one trial run measured. */
export interface Measurement {
  /** Operations completed (objects, stripes, lookups...). */
  ops: number;
  /** Payload bytes processed, for MiB/s; 0 when not meaningful. */
  bytes: number;
  /** Wall time of the measured section, seconds. */
  seconds: number;
  /** Per-operation latencies in microseconds, when the trial records them. */
  latenciesUs?: number[];
  /** Anything else worth printing (e.g. { rssMiB: 120 }). */
  extra?: Record<string, number | string>;
}

export interface TrialContext {
  /** Scratch directory on the real disk (not tmpfs), removed after the run. */
  dir: string;
  /** True for `--quick`: trials should do less work. */
  quick: boolean;
  /** True for `--long`. */
  long: boolean;
}

export interface Trial {
  /** Unique within the suite, e.g. 'tessera encode 8+4 1MiB'. */
  name: string;
  /** Trials in one group are compared; the group's baseline gives ratio 1. */
  group: string;
  /** Who is measured: 'tessera', 'isa-l', 'lmdb-js', 'node:fs', ... */
  subject: string;
  /** The baseline of its group (at most one per group). */
  baseline?: boolean;
  run(context: TrialContext): Promise<Measurement>;
}

export interface BenchSuite {
  name: string;
  description: string;
  /** Built lazily, so a suite can skip peers that are not installed. */
  trials(): Promise<Trial[]> | Trial[];
}
