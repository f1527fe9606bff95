/**
 * Where the thread pool starts to pay: per-stripe latency of an 8+4 encode
 * run inline (encodeSync through the binding) versus on the libuv pool
 * (the binding's async encode, awaited one at a time), for stripe sizes
 * from 16 KiB to 8 MiB. docs/ec.md ("Crossover") quotes this table.
 *
 *   taskset -c 1 node --import tsx bench/ec/crossover.ts [--json]
 */
import { performance } from 'node:perf_hooks';
import { binding } from '../../lib/binding';
import { ReedSolomon } from '../../lib/index';

const k = 8;
const m = 4;

function stripe(stripeBytes: number): Uint8Array[] {
  const shard = stripeBytes / k;
  return Array.from({ length: k + m }, () => new Uint8Array(shard).fill(0x5a));
}

async function perOpUs(op: () => void | Promise<void>, budgetMs: number): Promise<number> {
  const samples: number[] = [];
  const until = performance.now() + budgetMs;
  for (let i = 0; i < 20; i++) await op();
  while (performance.now() < until || samples.length < 20) {
    const t0 = performance.now();
    await op();
    samples.push((performance.now() - t0) * 1000);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const codec = new binding.EcCodec(k, m, 'builtin', '');
  const rows: Array<{
    stripeKiB: number;
    inlineUs: number;
    poolUs: number;
    poolOverInline: number;
  }> = [];
  for (const kib of [16, 64, 256, 1024, 2048, 4096, 8192]) {
    const shards = stripe(kib * 1024);
    const inlineUs = await perOpUs(() => codec.encodeSync(shards), 300);
    const poolUs = await perOpUs(() => codec.encode(shards), 300);
    rows.push({ stripeKiB: kib, inlineUs, poolUs, poolOverInline: poolUs / inlineUs });
  }
  const rs = new ReedSolomon(k, m);
  if (json) {
    console.log(
      JSON.stringify({ kernel: codec.kernel, inlineBytesMax: rs.inlineBytesMax, rows }, null, 2),
    );
    return;
  }
  console.log(
    `kernel ${codec.kernel}; ReedSolomon.inlineBytesMax = ${rs.inlineBytesMax} data bytes`,
  );
  console.log('stripe KiB | inline us (p50) | thread pool us (p50) | pool / inline');
  for (const row of rows) {
    console.log(
      `${String(row.stripeKiB).padStart(10)} | ${row.inlineUs.toFixed(1).padStart(15)} | ` +
        `${row.poolUs.toFixed(1).padStart(20)} | ${row.poolOverInline.toFixed(2).padStart(13)}`,
    );
  }
}

void main();
