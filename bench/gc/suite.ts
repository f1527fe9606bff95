/**
 * Garbage collection (issue 8, docs/gc.md).
 *
 * - "4 KiB get latency": random 4 KiB gets (4 in flight, read cache off so
 *   each get reads the drives) for a fixed window on a store holding 4 KiB
 *   objects and large objects of which half were deleted; the baseline runs with GC idle, the peer with one GC run
 *   at its default rate (8 MiB/s moved) started with the window, and at
 *   16 and 4 MiB/s. Issue 8's
 *   target: p99 with GC running at most 2x the idle p99.
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
  // No read cache: every get reads its chunks from the drives, the reads
  // that compete with compaction's I/O (with the default cache all 4000
  // small objects are served from memory and GC could not show).
  store = await Store.open({ path: dir, cacheBytes: 0, gc: { background: false } });
  const bucket = store.bucket('bench');
  const latenciesUs: number[] = [];
  let gcMs = 0;
  let gcMoved = 0;
  const started = performance.now();
  const gcRun = withGc
    ? store.gc(rateBytesPerSec === undefined ? {} : { rateBytesPerSec }).then((r) => {
        gcMs = performance.now() - started;
        gcMoved = r.bytesMoved;
      })
    : Promise.resolve();
  let x = 12345;
  let ops = 0;
  async function worker(): Promise<void> {
    while (performance.now() - started < windowMs) {
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
          gcCoveredWindow: String(gcMs >= windowMs),
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
  const tailDead = before.perSegment.find((s) => s.tail)?.deadBytes ?? 0;
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
      name: 'tessera 4 KiB get, GC running (default rate, 8 MiB/s)',
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
      name: 'tessera 4 KiB get, GC running at 4 MiB/s',
      group: '4 KiB get latency',
      subject: 'tessera',
      run: (c) => getLatency(c, true, 4 << 20),
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
