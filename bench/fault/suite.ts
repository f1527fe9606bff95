/**
 * Fault tolerance (issue 7): durable 4 KiB puts (64 in flight) on a healthy
 * 4+2 store against the same store with one drive failing every write
 * (degraded: acknowledged on 5 of 6, write quorum k+1), and the rate of the
 * automatic heal once the drive is back. Both put trials run through the
 * test fault layer (testFaults: pwrite backend), so they differ only in the
 * failing drive; a third trial is the plain store (io_uring) for reference.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { NativeStoreEngine } from '../../lib/store/engine_binding';
import { Store } from '../../lib/store/store';
import type { BenchSuite, Measurement, TrialContext } from '../lib/types';
import { pool } from '../lib/pool';

const OBJECT_BYTES = 4096;
const IN_FLIGHT = 64;

function nativeOf(store: Store) {
  return (store as unknown as { engine: NativeStoreEngine }).engine.native;
}

async function puts(
  context: TrialContext,
  mode: 'healthy' | 'degraded' | 'plain',
): Promise<Measurement> {
  const total = context.quick ? 5000 : context.long ? 100000 : 20000;
  const store = await Store.open({
    path: join(context.dir, 'store'),
    ...(mode === 'plain' ? {} : { testFaults: true }),
  });
  await store.createBucket('bench');
  if (mode === 'degraded') nativeOf(store).testFailDrive(2, 'write', true);
  const bucket = store.bucket('bench');
  const body = Buffer.alloc(OBJECT_BYTES, 0x5a);
  const { seconds, latenciesUs } = await pool(total, IN_FLIGHT, (i) => bucket.put(`k${i}`, body));
  const stats = nativeOf(store).stats();
  const info = store.info();
  await store.close();
  if (mode === 'degraded' && stats.degradedDrives !== 1) {
    throw new Error(`expected one degraded drive, stats say ${stats.degradedDrives}`);
  }
  return {
    ops: total,
    bytes: total * OBJECT_BYTES,
    seconds,
    latenciesUs,
    extra: { ioBackend: info.ioBackend, groupsDegraded: String(stats.groupsDegraded) },
  };
}

/** Writes `mib` MiB with drive 2 failing, brings it back, times the heal. */
async function healRate(context: TrialContext): Promise<Measurement> {
  const mib = context.quick ? 64 : context.long ? 1024 : 256;
  const store = await Store.open({
    path: join(context.dir, 'store'),
    testFaults: true,
    driveProbeIntervalMs: 0,
    healRateBytesPerSec: 0,
  });
  await store.createBucket('bench');
  const bucket = store.bucket('bench');
  nativeOf(store).testFailDrive(2, 'write', true);
  const body = Buffer.alloc(1 << 20, 0x33);
  await pool(mib, 8, (i) => bucket.put(`big${i}`, body));
  const queued = nativeOf(store).stats().healQueue!;
  nativeOf(store).testClearFaults();
  const started = performance.now();
  await bucket.put('probe', Buffer.from('x')); // the drive is tried again
  const idle = await nativeOf(store).waitHealIdle(600000);
  const seconds = (performance.now() - started) / 1000;
  const stats = nativeOf(store).stats();
  await store.close();
  if (!idle || stats.healQueue !== 0) throw new Error('the heal did not finish');
  // bytes: the data the missed stripes hold (4 data chunks of 4064 bytes).
  return {
    ops: queued,
    bytes: queued * 4 * 4064,
    seconds,
    latenciesUs: [],
    extra: {
      stripes: String(queued),
      chunksRewritten: String(stats.chunksAutoHealed),
      dataMiB: String(mib),
    },
  };
}

export const suite: BenchSuite = {
  name: 'fault',
  description: 'degraded vs healthy durable puts (one drive of 4+2 failing) and the heal rate',
  trials: () => [
    {
      name: 'healthy 4+2 (fault layer, pwrite), 4KiB put x64 in flight',
      group: '4KiB durable put, 64 in flight',
      subject: 'tessera',
      baseline: true,
      run: (ctx) => puts(ctx, 'healthy'),
    },
    {
      name: 'degraded 4+2, drive 2 failing every write (5 of 6 durable)',
      group: '4KiB durable put, 64 in flight',
      subject: 'tessera',
      run: (ctx) => puts(ctx, 'degraded'),
    },
    {
      name: 'plain store (no fault layer), for reference',
      group: '4KiB durable put, 64 in flight',
      subject: 'tessera',
      run: (ctx) => puts(ctx, 'plain'),
    },
    {
      name: 'automatic heal after the drive returns (unlimited rate), 1 MiB objects',
      group: 'heal rate',
      subject: 'tessera',
      baseline: true,
      run: (ctx) => healRate(ctx),
    },
  ],
};
