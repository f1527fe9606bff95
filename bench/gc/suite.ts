/**
 * Garbage collection (issue 8, docs/gc.md).
 *
 * - "4 KiB get latency": random 4 KiB gets (4 in flight), read cache off
 *   so that every get reaches the disk, for a fixed window (cut short when
 *   the GC run ends, so every get measured overlaps compaction) on a store holding 4 KiB objects and large objects of which half
 *   were deleted; the baseline runs with GC idle, the peer with one GC run
 *   at its default rate (4 MiB/s moved) started with the window (and at
 *   8 and 16 MiB/s). Issue 8's
 *   target: p99 with GC running at most 2x the idle p99. The group "read
 *   cache on" repeats idle/default with the default cache (gets from memory).
 * - "reclaim half": writes 64 KiB objects, deletes every other one, then
 *   one GC run at full speed; reports disk usage against live bytes and the
 *   share of dead bytes reclaimed (targets: <= 1.25x live + one segment,
 *   >= 90%).
 *
 * Segments are 8 MiB of data (segmentStripes 516) so that a run has
 * several segments to compact; everything else is the default.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Store } from '../../lib/store/store';
import type { BenchSuite, Measurement, TrialContext } from '../lib/types';

const SEGMENT_STRIPES = 516; // 516 x 4 x 4064 bytes: about 8 MiB per segment
const SMALL = 4096;
const LARGE = 64 * 1024;

function diskBytes(dir: string): number {
  let total = 0;
  for (const drive of readdirSync(dir)) {
    if (!drive.startsWith('drive-')) continue;
    const seg = join(dir, drive, 'segments');
    for (const f of readdirSync(seg)) total += statSync(join(seg, f)).blocks * 512;
  }
  return total;
}

async function fill(store: Store, smallCount: number, largeBytes: number): Promise<void> {
  await store.createBucket('bench');
  const bucket = store.bucket('bench');
  const small = Buffer.alloc(SMALL, 0x3c);
  const large = Buffer.alloc(LARGE, 0x5a);
  const largeCount = Math.floor(largeBytes / LARGE);
  // Small and large objects interleaved, so every segment mixes both.
  const ops: (() => Promise<unknown>)[] = [];
  for (let i = 0; i < Math.max(smallCount, largeCount); i++) {
    if (i < smallCount) ops.push(() => bucket.put(`s${i}`, small));
    if (i < largeCount) ops.push(() => bucket.put(`l${i}`, large));
  }
  for (let i = 0; i < ops.length; i += 32) await Promise.all(ops.slice(i, i + 32).map((f) => f()));
  for (let i = 0; i < largeCount; i += 64) {
    const batch = [];
    for (let j = i; j < Math.min(largeCount, i + 64); j += 2) batch.push(bucket.delete(`l${j}`));
    await Promise.all(batch);
  }
}

async function getLatency(
  context: TrialContext,
  withGc: boolean,
  rateBytesPerSec?: number,
  cached = false,
): Promise<Measurement> {
  const dir = join(context.dir, 'store');
  const smallCount = 4000;
  const largeBytes = (context.quick ? 48 : context.long ? 192 : 96) << 20;
  const windowMs = context.quick ? 1500 : context.long ? 6000 : 3000;
  let store = await Store.open({
    path: dir,
    segmentStripes: SEGMENT_STRIPES,
    gc: { background: false },
  });
  await fill(store, smallCount, largeBytes);
  await store.close(); // cold start for both trials: same state on disk
  // Read cache off by default: every get reaches the disk (O_DIRECT), which
  // is what GC's copies compete with; the cached rows are an extra.
  store = await Store.open({
    path: dir,
    gc: { background: false },
    cacheBytes: cached ? undefined : 0,
  });
  const bucket = store.bucket('bench');
  const latenciesUs: number[] = [];
  let gcMs = 0;
  let gcMoved = 0;
  let gcDone = false;
  const started = performance.now();
  const gcRun = withGc
    ? store.gc(rateBytesPerSec === undefined ? {} : { rateBytesPerSec }).then((r) => {
        gcMs = performance.now() - started;
        gcMoved = r.bytesMoved;
        gcDone = true;
      })
    : Promise.resolve();
  let x = 12345;
  let ops = 0;
  async function worker(): Promise<void> {
    // With GC, the window ends when the GC run does (if sooner), so every
    // get measured overlaps compaction.
    while (performance.now() - started < windowMs && !gcDone) {
      x = (x * 1103515245 + 12345) % 2147483648;
      const key = `s${x % smallCount}`;
      const t0 = performance.now();
      const got = await bucket.get(key);
      latenciesUs.push((performance.now() - t0) * 1000);
      if (got === undefined || got.body.length !== SMALL) throw new Error(`lost ${key}`);
      ops++;
    }
  }
  await Promise.all([worker(), worker(), worker(), worker()]);
  const seconds = (performance.now() - started) / 1000;
  const gcStillRunning = withGc && !gcDone;
  await gcRun;
  await store.close();
  return {
    ops,
    bytes: ops * SMALL,
    seconds,
    latenciesUs,
    extra: withGc
      ? {
          gcMs: Math.round(gcMs),
          gcMovedMiB: +(gcMoved / (1 << 20)).toFixed(1),
          getsMs: Math.round(seconds * 1000),
          // true: GC outlasted the window; false: the window was cut short
          // at GC's end. Either way every get measured overlapped the run.
          gcCoveredWindow: String(gcStillRunning),
        }
      : {},
  };
}

async function reclaimHalf(context: TrialContext): Promise<Measurement> {
  const dir = join(context.dir, 'store');
  const largeBytes = (context.quick ? 48 : context.long ? 512 : 128) << 20;
  const store = await Store.open({
    path: dir,
    segmentStripes: SEGMENT_STRIPES,
    gc: { background: false },
  });
  await fill(store, 0, largeBytes);
  const before = store.spaceStats();
  const diskBefore = diskBytes(dir);
  const t0 = performance.now();
  const report = await store.gc({ rateBytesPerSec: 0 });
  const seconds = (performance.now() - t0) / 1000;
  const after = store.spaceStats();
  const diskAfter = diskBytes(dir);
  await store.close();
  // Dead bytes reclaimed, net of any dead bytes the run's copies made
  // (stripe padding): the tail's dead bytes leave the denominator only if
  // the run could not compact the tail (it was never sealed).
  const tail = before.perSegment.find((s) => s.tail);
  const tailKept = tail !== undefined && after.perSegment.some((s) => s.id === tail.id && !s.freed);
  const tailDead = tailKept ? tail.deadBytes : 0;
  const reclaimedShare = (before.deadBytes - after.deadBytes) / (before.deadBytes - tailDead);
  const bound = 1.25 * after.liveBytes + after.segmentDataBytes;
  return {
    ops: report.segmentsCompacted,
    bytes: report.bytesMoved,
    seconds,
    extra: {
      liveMiB: +(after.liveBytes / (1 << 20)).toFixed(1),
      logBeforeMiB: +(before.logBytes / (1 << 20)).toFixed(1),
      logAfterMiB: +(after.logBytes / (1 << 20)).toFixed(1),
      logOverBound: +(after.logBytes / bound).toFixed(3),
      diskBeforeMiB: +(diskBefore / (1 << 20)).toFixed(1),
      diskAfterMiB: +(diskAfter / (1 << 20)).toFixed(1),
      reclaimedDeadShare: +reclaimedShare.toFixed(3),
    },
  };
}

export const suite: BenchSuite = {
  name: 'gc',
  description: 'garbage collection: 4 KiB get latency while GC runs; reclaiming half the data',
  trials: () => [
    {
      name: 'tessera 4 KiB get, GC idle',
      group: '4 KiB get latency',
      subject: 'tessera',
      baseline: true,
      run: (c) => getLatency(c, false),
    },
    {
      name: 'tessera 4 KiB get, GC running (default rate, 4 MiB/s)',
      group: '4 KiB get latency',
      subject: 'tessera',
      run: (c) => getLatency(c, true),
    },
    {
      name: 'tessera 4 KiB get, GC running at 16 MiB/s',
      group: '4 KiB get latency',
      subject: 'tessera',
      run: (c) => getLatency(c, true, 16 << 20),
    },
    {
      name: 'tessera 4 KiB get, GC running at 8 MiB/s',
      group: '4 KiB get latency',
      subject: 'tessera',
      run: (c) => getLatency(c, true, 8 << 20),
    },
    {
      name: 'tessera 4 KiB get, read cache on, GC idle',
      group: '4 KiB get latency, read cache on',
      subject: 'tessera',
      baseline: true,
      run: (c) => getLatency(c, false, undefined, true),
    },
    {
      name: 'tessera 4 KiB get, read cache on, GC running (default rate)',
      group: '4 KiB get latency, read cache on',
      subject: 'tessera',
      run: (c) => getLatency(c, true, undefined, true),
    },
    {
      name: 'tessera delete half + one GC run',
      group: 'reclaim half',
      subject: 'tessera',
      baseline: true,
      run: reclaimHalf,
    },
  ],
};
