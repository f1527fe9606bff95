/**
 * Micro-benchmarks through Benchmark.js (the `benchmark` package): it picks
 * the iteration count and reports a statistically checked rate. Async work
 * uses `defer: true`. The result is a Measurement like any other trial.
 */
import Benchmark from 'benchmark';
import type { Measurement } from './types';

export interface MicroOptions {
  /** Bytes processed per call, for MiB/s. */
  bytesPerOp?: number;
  /** Minimum seconds of sampling (Benchmark.js `minTime`). */
  minTime?: number;
}

function finish(bench: Benchmark, bytesPerOp: number): Measurement {
  const ops = bench.stats.sample.length * bench.count;
  const seconds = ops / bench.hz;
  return {
    ops,
    bytes: ops * bytesPerOp,
    seconds,
    extra: { rmePercent: Number(bench.stats.rme.toFixed(2)) },
  };
}

export function microSync(fn: () => void, options: MicroOptions = {}): Promise<Measurement> {
  return new Promise((resolve, reject) => {
    const bench = new Benchmark('micro', fn, {
      minTime: options.minTime ?? 1,
      onComplete: () => resolve(finish(bench, options.bytesPerOp ?? 0)),
      onError: (event: { target: { error: Error } }) => reject(event.target.error),
    });
    bench.run();
  });
}

export function microAsync(
  fn: () => Promise<unknown>,
  options: MicroOptions = {},
): Promise<Measurement> {
  return new Promise((resolve, reject) => {
    const bench = new Benchmark(
      'micro',
      (deferred: { resolve(): void }) => {
        fn().then(() => deferred.resolve(), reject);
      },
      {
        defer: true,
        minTime: options.minTime ?? 1,
        onComplete: () => resolve(finish(bench, options.bytesPerOp ?? 0)),
        onError: (event: { target: { error: Error } }) => reject(event.target.error),
      },
    );
    bench.run();
  });
}
