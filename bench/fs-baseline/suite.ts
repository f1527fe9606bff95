/**
 * What a Node user gets without tessera: one file per object through
 * node:fs, without and with fdatasync. These are the "plain files" peers of
 * docs/BENCHMARKS.md and a sanity check of the disk under the benchmark.
 */
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { microSync } from '../lib/micro';
import type { BenchSuite, Measurement, TrialContext } from '../lib/types';
import { nativeInfo } from '../../lib/index';

const OBJECT_BYTES = 4096;

async function writeObjects(context: TrialContext, durable: boolean): Promise<Measurement> {
  const count = context.quick ? 500 : context.long ? 20000 : 3000;
  const payload = Buffer.alloc(OBJECT_BYTES, 0x5a);
  const latenciesUs: number[] = [];
  const started = performance.now();
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    const path = join(context.dir, `object-${i}`);
    if (durable) {
      const handle = await open(path, 'w');
      await handle.write(payload);
      await handle.datasync();
      await handle.close();
    } else {
      await writeFile(path, payload);
    }
    latenciesUs.push((performance.now() - t0) * 1000);
  }
  const seconds = (performance.now() - started) / 1000;
  return { ops: count, bytes: count * OBJECT_BYTES, seconds, latenciesUs };
}

export const suite: BenchSuite = {
  name: 'fs-baseline',
  description:
    'plain files through node:fs, 4 KiB objects in series, and the cost of one addon call',
  trials: () => [
    {
      name: 'node:fs writeFile per object (not durable)',
      group: '4KiB object in series',
      subject: 'node:fs',
      baseline: true,
      run: (context) => writeObjects(context, false),
    },
    {
      name: 'node:fs write + fdatasync per object (durable)',
      group: '4KiB object in series',
      subject: 'node:fs',
      run: (context) => writeObjects(context, true),
    },
    {
      name: 'nativeInfo() (one addon property read + split)',
      group: 'call overhead',
      subject: 'tessera',
      run: (context) => microSync(() => void nativeInfo(), { minTime: context.quick ? 0.2 : 1 }),
    },
  ],
};
