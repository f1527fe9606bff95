/**
 * Durable 4 KiB puts (issue 5): tessera's Store over the native engine
 * against lmdb-js with durable commits (every commit fdatasync'd before its
 * promise resolves: noSync false, overlappingSync false), and against the
 * raw ceiling this benchmark measures itself on the same filesystem: the
 * same bytes written as one batched write + fdatasync per 64 objects
 * (node:fs, buffered: Node Buffers cannot be aligned for O_DIRECT).
 *
 * Groups: 64 puts in flight (throughput), and one awaited put (latency).
 */
import { open as openFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Store } from '../../lib/store/store';
import type { BenchSuite, Measurement, TrialContext, Trial } from '../lib/types';
import { readAndLargeTrials } from './reads_large';
import { pool } from '../lib/pool';

const OBJECT_BYTES = 4096;
const IN_FLIGHT = 64;

function count(context: TrialContext, concurrent: boolean): number {
  if (concurrent) return context.quick ? 5000 : context.long ? 100000 : 20000;
  return context.quick ? 300 : context.long ? 5000 : 1000;
}

async function tesseraPuts(context: TrialContext, limit: number): Promise<Measurement> {
  const total = count(context, limit > 1);
  const store = await Store.open({ path: join(context.dir, 'store') });
  await store.createBucket('bench');
  const bucket = store.bucket('bench');
  const body = Buffer.alloc(OBJECT_BYTES, 0x5a);
  const { seconds, latenciesUs } = await pool(total, limit, (i) => bucket.put(`k${i}`, body));
  const info = store.info();
  await store.close();
  return {
    ops: total,
    bytes: total * OBJECT_BYTES,
    seconds,
    latenciesUs,
    extra: { ioBackend: info.ioBackend, directIO: String(info.directIO), k: 4, m: 2 },
  };
}

async function lmdbPuts(context: TrialContext, limit: number): Promise<Measurement> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const lmdb = require('lmdb') as typeof import('lmdb');
  const total = count(context, limit > 1);
  const db = lmdb.open({
    path: join(context.dir, 'lmdb'),
    noSync: false,
    overlappingSync: false,
    encoding: 'binary',
  });
  const body = Buffer.alloc(OBJECT_BYTES, 0x5a);
  const { seconds, latenciesUs } = await pool(total, limit, (i) => db.put(`k${i}`, body));
  await db.close();
  return { ops: total, bytes: total * OBJECT_BYTES, seconds, latenciesUs };
}

/** The raw ceiling: `batch` objects per write + fdatasync, appended. */
async function rawPuts(context: TrialContext, batch: number): Promise<Measurement> {
  const total = count(context, batch > 1);
  const file = await openFile(join(context.dir, 'raw.dat'), 'w');
  const bytes = Buffer.alloc(OBJECT_BYTES * batch, 0x5a);
  const latenciesUs: number[] = [];
  const started = performance.now();
  let offset = 0;
  for (let done = 0; done < total; done += batch) {
    const t0 = performance.now();
    await file.write(bytes, 0, bytes.length, offset);
    await file.datasync();
    offset += bytes.length;
    latenciesUs.push((performance.now() - t0) * 1000);
  }
  const seconds = (performance.now() - started) / 1000;
  await file.close();
  return { ops: total, bytes: total * OBJECT_BYTES, seconds, latenciesUs };
}

function hasLmdb(): boolean {
  try {
    require.resolve('lmdb');
    return true;
  } catch {
    return false;
  }
}

export const suite: BenchSuite = {
  name: 'store',
  description:
    'issue 5: durable 4 KiB puts, 4 KiB gets (cached/uncached), 64 MiB put/get, 1000 concurrent 1 MiB puts; vs lmdb-js and raw ceilings',
  trials: () => {
    const trials: Trial[] = [];
    const inFlight = `4KiB durable put, ${IN_FLIGHT} in flight`;
    if (hasLmdb()) {
      trials.push({
        name: 'lmdb-js put (noSync false, overlappingSync false)',
        group: inFlight,
        subject: 'lmdb-js',
        baseline: true,
        run: (c) => lmdbPuts(c, IN_FLIGHT),
      });
    }
    trials.push(
      {
        name: `tessera bucket.put 4+2 (${hasLmdb() ? '' : 'lmdb not installed; '}group commit)`,
        group: inFlight,
        subject: 'tessera',
        baseline: !hasLmdb(),
        run: (c) => tesseraPuts(c, IN_FLIGHT),
      },
      {
        name: `raw ceiling: ${IN_FLIGHT} x 4KiB per write + fdatasync (node:fs)`,
        group: inFlight,
        subject: 'node:fs',
        run: (c) => rawPuts(c, IN_FLIGHT),
      },
      {
        name: 'raw: one 4KiB write + fdatasync (node:fs)',
        group: '4KiB durable put, one awaited',
        subject: 'node:fs',
        baseline: true,
        run: (c) => rawPuts(c, 1),
      },
      {
        name: 'tessera bucket.put 4+2, awaited one at a time',
        group: '4KiB durable put, one awaited',
        subject: 'tessera',
        run: (c) => tesseraPuts(c, 1),
      },
    );
    if (hasLmdb()) {
      trials.push({
        name: 'lmdb-js put, awaited one at a time',
        group: '4KiB durable put, one awaited',
        subject: 'lmdb-js',
        run: (c) => lmdbPuts(c, 1),
      });
    }
    trials.push(...readAndLargeTrials(hasLmdb()));
    return trials;
  },
};
