/**
 * The target ratios, measured as paired ratios: each round runs A
 * then B (order alternating) for a short window in the same process, and the
 * ratio of that round is kept; the median and the interquartile range over
 * rounds are printed. On a shared, noisy machine this is steadier than
 * comparing medians of separate trials, because both sides of a ratio see
 * the same moment's load. The suite (bench/ec/suite.ts) gives the full
 * table; this gives the claims.
 *
 *   taskset -c 1 node --import tsx bench/ec/paired.ts [--rounds N] [--json] [--cpu-time]
 *
 * --cpu-time times each window by the process's CPU time (user + system,
 * all threads) instead of wall time, so windows where the process was
 * preempted do not count: on a loaded machine the synchronous raw pairs
 * stay readable. Pairs with async or thread-pool work then compare CPU
 * cost, not latency-bound throughput.
 */
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { binding } from '../../lib/binding';
import { ReedSolomon } from '../../lib/index';
import { cycle, loadRonomon, makeStripes, MiB, ronomonEncodeOp } from './common';

type Op = () => void | Promise<void>;

let clockMs = (): number => performance.now();

/** Process CPU time (user + system, all threads) in milliseconds. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Data bytes per second of `op` over `windowMs` of the chosen clock. */
async function rate(op: Op, bytesPerOp: number, windowMs: number): Promise<number> {
  let ops = 0;
  const started = clockMs();
  let now = started;
  do {
    for (let i = 0; i < 4; i++) await op();
    ops += 4;
    now = clockMs();
  } while (now - started < windowMs);
  return (ops * bytesPerOp) / ((now - started) / 1000);
}

interface Pair {
  name: string;
  target: string;
  a: { label: string; op: Op; bytes: number };
  b: { label: string; op: Op; bytes: number };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string' },
      json: { type: 'boolean', default: false },
      'cpu-time': { type: 'boolean', default: false },
    },
  });
  if (values['cpu-time']) clockMs = cpuMs;
  const clock = values['cpu-time'] ? 'process CPU time' : 'wall time';
  const rounds = Number(values.rounds ?? 15);
  const windowMs = 120;
  const best = ReedSolomon.kernels()[0]!;
  const hot = makeStripes(8, 4, MiB, 0);
  const hotStripe = hot[0]!;
  const cold = cycle(makeStripes(8, 4, MiB, 128 * MiB));
  const small = makeStripes(8, 4, 32 * 1024, 0)[0]!;
  const batch = Array.from({ length: 64 }, () => makeStripes(8, 4, 32 * 1024, 0)[0]!);
  const rs = new ReedSolomon(8, 4);
  const raw = new binding.EcCodec(8, 4, 'builtin', best);
  const avx2 = ReedSolomon.kernels().includes('avx2')
    ? new binding.EcCodec(8, 4, 'builtin', 'avx2')
    : undefined;
  const isal = ReedSolomon.isal().available ? new binding.EcCodec(8, 4, 'isal', '') : undefined;
  const ronomon = loadRonomon().module;
  const lost = [0, 1, 2, 3];

  const pairs: Pair[] = [];
  if (isal) {
    pairs.push(
      {
        name: `8+4 1MiB hot encode: ${best} raw / ISA-L raw`,
        target: '>= 2.3',
        a: { label: best, op: () => raw.encodeSync(hotStripe), bytes: MiB },
        b: { label: 'isal', op: () => isal.encodeSync(hotStripe), bytes: MiB },
      },
      {
        name: `8+4 1MiB cold encode: ${best} raw / ISA-L raw`,
        target: '>= 1.0',
        a: { label: best, op: () => raw.encodeSync(cold()), bytes: MiB },
        b: { label: 'isal', op: () => isal.encodeSync(cold()), bytes: MiB },
      },
    );
    if (avx2) {
      pairs.push({
        name: '8+4 1MiB hot encode: avx2 raw / ISA-L raw',
        target: '>= 1.0',
        a: { label: 'avx2', op: () => avx2.encodeSync(hotStripe), bytes: MiB },
        b: { label: 'isal', op: () => isal.encodeSync(hotStripe), bytes: MiB },
      });
    }
  }
  pairs.push(
    {
      name: `8+4 1MiB hot: reconstruct (4 lost) / encode, ${best} raw`,
      target: '>= 0.85',
      a: { label: 'reconstruct', op: () => raw.reconstructSync(hotStripe, lost), bytes: MiB },
      b: { label: 'encode', op: () => raw.encodeSync(hotStripe), bytes: MiB },
    },
    {
      name: '8+4 1MiB hot encode: public await rs.encode / raw encodeSync',
      target: '>= 0.9',
      a: { label: 'public', op: () => rs.encode(hotStripe), bytes: MiB },
      b: { label: 'raw', op: () => raw.encodeSync(hotStripe), bytes: MiB },
    },
  );
  if (ronomon) {
    pairs.push(
      {
        name: '8+4 1MiB hot encode: public await rs.encode / @ronomon',
        target: '>= 4',
        a: { label: 'public', op: () => rs.encode(hotStripe), bytes: MiB },
        b: { label: 'ronomon', op: ronomonEncodeOp(ronomon, 8, 4, MiB, 1), bytes: MiB },
      },
      {
        name: '8+4 32KiB stripes: rs.encodeMany (64 per call) / @ronomon per stripe',
        target: '>= 5',
        a: { label: 'encodeMany', op: () => rs.encodeMany(batch), bytes: 64 * 32 * 1024 },
        b: { label: 'ronomon', op: ronomonEncodeOp(ronomon, 8, 4, 32 * 1024, 1), bytes: 32 * 1024 },
      },
      {
        name: '8+4 32KiB stripes: await rs.encode per stripe / @ronomon per stripe',
        target: '(info)',
        a: { label: 'public', op: () => rs.encode(small), bytes: 32 * 1024 },
        b: { label: 'ronomon', op: ronomonEncodeOp(ronomon, 8, 4, 32 * 1024, 1), bytes: 32 * 1024 },
      },
    );
  } else {
    console.error('@ronomon/reed-solomon not loadable: its pairs are skipped');
  }

  const results = [];
  for (const pair of pairs) {
    await rate(pair.a.op, pair.a.bytes, 50);
    await rate(pair.b.op, pair.b.bytes, 50);
    const ratios: number[] = [];
    const aRates: number[] = [];
    const bRates: number[] = [];
    for (let r = 0; r < rounds; r++) {
      let a: number;
      let b: number;
      if (r % 2 === 0) {
        a = await rate(pair.a.op, pair.a.bytes, windowMs);
        b = await rate(pair.b.op, pair.b.bytes, windowMs);
      } else {
        b = await rate(pair.b.op, pair.b.bytes, windowMs);
        a = await rate(pair.a.op, pair.a.bytes, windowMs);
      }
      ratios.push(a / b);
      aRates.push(a);
      bRates.push(b);
    }
    const sorted = (v: number[]) => [...v].sort((x, y) => x - y);
    const q = (v: number[], p: number) =>
      sorted(v)[Math.min(v.length - 1, Math.floor(p * v.length))]!;
    results.push({
      pair: pair.name,
      target: pair.target,
      ratioMedian: q(ratios, 0.5),
      ratioQ1: q(ratios, 0.25),
      ratioQ3: q(ratios, 0.75),
      aGBs: q(aRates, 0.5) / 1e9,
      bGBs: q(bRates, 0.5) / 1e9,
    });
  }
  if (values.json) {
    console.log(JSON.stringify({ rounds, windowMs, clock, results }, null, 2));
    return;
  }
  console.log(
    `paired ratios, ${rounds} rounds of ${windowMs} ms (${clock}) per side; GB/s = 1e9 data bytes/s (medians)`,
  );
  console.log('| pair | target | ratio (median, IQR) | A GB/s | B GB/s |');
  console.log('| --- | --- | --- | --- | --- |');
  for (const r of results) {
    console.log(
      `| ${r.pair} | ${r.target} | ${r.ratioMedian.toFixed(2)}x (${r.ratioQ1.toFixed(2)}-${r.ratioQ3.toFixed(2)}) | ` +
        `${r.aGBs.toFixed(1)} | ${r.bGBs.toFixed(1)} |`,
    );
  }
}

void main();
