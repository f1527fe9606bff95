/**
 * Reed-Solomon throughput, in data bytes per second: tessera's kernels
 * through the raw binding call and through the public ReedSolomon API, the
 * ISA-L backend (libisal.so.2, when present) and @ronomon/reed-solomon, in
 * the same run. Pin it to one core: `taskset -c 1 npm run bench -- ec`.
 *
 * Workloads (docs/ec.md, docs/BENCHMARKS.md): 8+4, 10+4 and 4+2 with 1 MiB
 * stripes (10+4 uses 1000 KiB so shards stay a multiple of 8 bytes, which
 * @ronomon requires), hot (one stripe, cache-resident) and cold (a working
 * set of at least 128 MiB, cycled), encode and reconstruct with m data
 * shards lost; and 8+4 with 32 KiB stripes (4 KiB shards), one call per
 * stripe or batched through encodeMany.
 */
import { performance } from 'node:perf_hooks';
import { binding, type NativeEcCodec } from '../../lib/binding';
import { ReedSolomon } from '../../lib/index';
import type { BenchSuite, Measurement, Trial, TrialContext } from '../lib/types';
import {
  cycle,
  loadRonomon,
  makeStripes as makeStripesOf,
  MiB,
  ronomonEncodeOp,
  type Ronomon,
} from './common';

const cold_working_set_bytes = 128 * MiB;
const batch_stripes = 64;

interface Shape {
  k: number;
  m: number;
  stripeBytes: number;
  label: string;
}

function seconds(context: TrialContext): number {
  return context.quick ? 0.25 : context.long ? 2 : 0.5;
}

/** Stripes of (k+m) shards; one stripe when hot, enough for the cold set. */
function makeStripes(shape: Shape, cold: boolean): Uint8Array[][] {
  return makeStripesOf(shape.k, shape.m, shape.stripeBytes, cold ? cold_working_set_bytes : 0);
}

/**
 * Runs `op` on stripe after stripe for the trial's duration. `stripesPerOp`
 * > 1 for batched calls, so ops/s always counts stripes.
 */
async function timed(
  context: TrialContext,
  dataBytesPerOp: number,
  op: () => void | Promise<void>,
  stripesPerOp = 1,
): Promise<Measurement> {
  const warmUntil = performance.now() + 100;
  while (performance.now() < warmUntil) await op();
  const budgetMs = seconds(context) * 1000;
  let ops = 0;
  const started = performance.now();
  let now = started;
  do {
    for (let i = 0; i < 8; i++) await op();
    ops += 8;
    now = performance.now();
  } while (now - started < budgetMs);
  return { ops: ops * stripesPerOp, bytes: ops * dataBytesPerOp, seconds: (now - started) / 1000 };
}

/** Same as timed() but never awaits: for synchronous calls. */
function timedSync(context: TrialContext, dataBytesPerOp: number, op: () => void): Measurement {
  const warmUntil = performance.now() + 100;
  while (performance.now() < warmUntil) op();
  const budgetMs = seconds(context) * 1000;
  let ops = 0;
  const started = performance.now();
  let now = started;
  do {
    for (let i = 0; i < 8; i++) op();
    ops += 8;
    now = performance.now();
  } while (now - started < budgetMs);
  return { ops, bytes: ops * dataBytesPerOp, seconds: (now - started) / 1000 };
}

const lostData = (m: number) => Array.from({ length: m }, (_, i) => i);

function rawTrial(
  shape: Shape,
  cold: boolean,
  reconstruct: boolean,
  backend: 'builtin' | 'isal',
  kernel: string,
) {
  return (context: TrialContext): Promise<Measurement> => {
    const codec: NativeEcCodec = new binding.EcCodec(shape.k, shape.m, backend, kernel);
    const next = cycle(makeStripes(shape, cold));
    const missing = lostData(shape.m);
    const op = reconstruct
      ? () => codec.reconstructSync(next(), missing)
      : () => codec.encodeSync(next());
    return Promise.resolve(timedSync(context, shape.stripeBytes, op));
  };
}

function publicTrial(shape: Shape, cold: boolean, reconstruct: boolean) {
  return (context: TrialContext): Promise<Measurement> => {
    const rs = new ReedSolomon(shape.k, shape.m);
    const next = cycle(makeStripes(shape, cold));
    const missing = lostData(shape.m);
    return timed(
      context,
      shape.stripeBytes,
      reconstruct ? () => rs.reconstruct(next(), missing) : () => rs.encode(next()),
    );
  };
}

function ronomonTrial(ronomon: Ronomon, shape: Shape, cold: boolean) {
  return (context: TrialContext): Promise<Measurement> => {
    const shard = shape.stripeBytes / shape.k;
    const count = cold ? Math.ceil(cold_working_set_bytes / (shard * (shape.k + shape.m))) : 1;
    const op = ronomonEncodeOp(ronomon, shape.k, shape.m, shape.stripeBytes, count);
    return timed(context, shape.stripeBytes, op);
  };
}

function encodeManyTrial(shape: Shape) {
  return (context: TrialContext): Promise<Measurement> => {
    const rs = new ReedSolomon(shape.k, shape.m);
    const batches = [makeStripesBatch(shape)];
    const next = cycle(batches);
    return timed(
      context,
      shape.stripeBytes * batch_stripes,
      () => rs.encodeMany(next()),
      batch_stripes,
    );
  };
}

function makeStripesBatch(shape: Shape): Uint8Array[][] {
  const batch: Uint8Array[][] = [];
  for (let s = 0; s < batch_stripes; s++) batch.push(makeStripes(shape, false)[0]!);
  return batch;
}

function workloadTrials(
  shape: Shape,
  cold: boolean,
  reconstruct: boolean,
  kernels: readonly string[],
): Trial[] {
  const group = `${reconstruct ? `reconstruct (${shape.m} lost)` : 'encode'} ${shape.label} ${cold ? 'cold' : 'hot'}`;
  const trials: Trial[] = [];
  const isal = ReedSolomon.isal();
  if (isal.available) {
    trials.push({
      name: `${group} | isa-l backend${isal.gfni ? '' : ' (2.30, no GFNI)'} raw`,
      group,
      subject: 'isa-l',
      baseline: true,
      run: rawTrial(shape, cold, reconstruct, 'isal', ''),
    });
  }
  for (const kernel of kernels) {
    trials.push({
      name: `${group} | tessera ${kernel} raw`,
      group,
      subject: 'tessera',
      baseline: !isal.available && kernel === kernels[0],
      run: rawTrial(shape, cold, reconstruct, 'builtin', kernel),
    });
  }
  trials.push({
    name: `${group} | tessera public async API (${ReedSolomon.kernels()[0]})`,
    group,
    subject: 'tessera',
    run: publicTrial(shape, cold, reconstruct),
  });
  return trials;
}

export const suite: BenchSuite = {
  name: 'ec',
  description: 'Reed-Solomon data-bytes throughput per kernel, ISA-L and @ronomon/reed-solomon',
  trials: () => {
    const all = ReedSolomon.kernels().filter((k) => k !== 'scalar');
    const best = all[0]!;
    const someKernels = [...new Set([best, 'avx2'].filter((k) => all.includes(k)))];
    const shapes: Shape[] = [
      { k: 8, m: 4, stripeBytes: MiB, label: '8+4 1MiB' },
      { k: 10, m: 4, stripeBytes: 1000 * 1024, label: '10+4 1000KiB' },
      { k: 4, m: 2, stripeBytes: MiB, label: '4+2 1MiB' },
    ];
    const ronomon = loadRonomon();
    const trials: Trial[] = [];
    for (const shape of shapes) {
      for (const cold of [false, true]) {
        for (const reconstruct of [false, true]) {
          const kernels = shape.k === 8 ? all : someKernels;
          trials.push(...workloadTrials(shape, cold, reconstruct, kernels));
        }
        const group = `encode ${shape.label} ${cold ? 'cold' : 'hot'}`;
        if (ronomon.module) {
          trials.push({
            name: `${group} | @ronomon/reed-solomon (async, thread pool)`,
            group,
            subject: '@ronomon/reed-solomon',
            run: ronomonTrial(ronomon.module, shape, cold),
          });
        }
      }
    }
    const small: Shape = { k: 8, m: 4, stripeBytes: 32 * 1024, label: '8+4 32KiB' };
    const group = 'encode 8+4 32KiB stripes';
    if (ronomon.module) {
      trials.push({
        name: `${group} | @ronomon/reed-solomon (one async call per stripe)`,
        group,
        subject: '@ronomon/reed-solomon',
        baseline: true,
        run: ronomonTrial(ronomon.module, small, false),
      });
    } else {
      console.error(
        `bench ec: @ronomon/reed-solomon not loadable, peer skipped: ${ronomon.reason}`,
      );
    }
    trials.push(
      {
        name: `${group} | tessera encodeMany (${batch_stripes} stripes per call)`,
        group,
        subject: 'tessera',
        baseline: !ronomon.module,
        run: encodeManyTrial(small),
      },
      {
        name: `${group} | tessera public async encode per stripe`,
        group,
        subject: 'tessera',
        run: publicTrial(small, false, false),
      },
      {
        name: `${group} | tessera ${best} raw per stripe`,
        group,
        subject: 'tessera',
        run: rawTrial(small, false, false, 'builtin', best),
      },
    );
    if (ReedSolomon.isal().available) {
      trials.push({
        name: `${group} | isa-l backend raw per stripe`,
        group,
        subject: 'isa-l',
        run: rawTrial(small, false, false, 'isal', ''),
      });
    }
    return trials;
  },
};
