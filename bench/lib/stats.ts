/** Summary statistics over measurements; pure functions, unit-tested. */
import type { Measurement } from './types';

/** Nearest-rank percentile (p in 0..100) of an unsorted sample. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface TrialSummary {
  runs: number;
  opsPerSec: { median: number; min: number; max: number };
  mibPerSec: { median: number; min: number; max: number };
  /** Latency percentiles over all runs' samples, microseconds. */
  latencyUs?: { p50: number; p90: number; p99: number; p999: number };
  extra: Record<string, number | string>;
}

export function summarize(measurements: readonly Measurement[]): TrialSummary {
  const ops = measurements.map((m) => m.ops / m.seconds);
  const mib = measurements.map((m) => m.bytes / m.seconds / (1024 * 1024));
  const samples = measurements.flatMap((m) => m.latenciesUs ?? []);
  const summary: TrialSummary = {
    runs: measurements.length,
    opsPerSec: { median: median(ops), min: Math.min(...ops), max: Math.max(...ops) },
    mibPerSec: { median: median(mib), min: Math.min(...mib), max: Math.max(...mib) },
    extra: {},
  };
  if (samples.length > 0) {
    summary.latencyUs = {
      p50: percentile(samples, 50),
      p90: percentile(samples, 90),
      p99: percentile(samples, 99),
      p999: percentile(samples, 99.9),
    };
  }
  // Numeric extras: the median across runs; strings: the last run's value.
  const keys = new Set(measurements.flatMap((m) => Object.keys(m.extra ?? {})));
  for (const key of keys) {
    const values = measurements.map((m) => m.extra?.[key]).filter((v) => v !== undefined);
    const numbers = values.filter((v): v is number => typeof v === 'number');
    summary.extra[key] = numbers.length === values.length ? median(numbers) : String(values.at(-1));
  }
  return summary;
}
