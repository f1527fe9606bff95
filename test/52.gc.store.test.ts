/**
 * Space reclamation through the public API (docs/gc.md): the figures of
 * issue 8 after deleting half of the data and one GC run (disk usage and
 * dead bytes reclaimed), exact bytes before and after a reopen, the
 * background timer, the retention hook, option errors and `tessera gc`.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TesseraError } from '../lib/errors';
import { Store } from '../lib/store/store';
import { checkSnapshotAgainstLog } from '../lib/store/verify_snapshot';

// 64 stripes x 4 x 4064 bytes: about 1 MiB of data per segment.
const SEGMENT_STRIPES = 64;

function body(i: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let j = 0; j < size; j++) b[j] = (i * 31 + j * 7) & 0xff;
  return b;
}

/** Allocated bytes of every segment file (what `du` would say). */
function segmentDiskBytes(dir: string): number {
  let total = 0;
  for (const drive of readdirSync(dir)) {
    if (!drive.startsWith('drive-')) continue;
    const seg = join(dir, drive, 'segments');
    for (const f of readdirSync(seg)) total += statSync(join(seg, f)).blocks * 512;
  }
  return total;
}

describe('52 gc: space reclamation through the store', function () {
  this.timeout(120_000);
  const dirs: string[] = [];
  const fresh = (): string => {
    const d = mkdtempSync(join(tmpdir(), 'tessera-gc-'));
    dirs.push(d);
    return d;
  };
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('after deleting half and one GC run: disk <= 1.25x live + one segment, >= 90% of dead reclaimed, every byte intact', async () => {
    const dir = fresh();
    const store = await Store.open({
      path: dir,
      segmentStripes: SEGMENT_STRIPES,
      gc: { background: false },
    });
    await store.createBucket('bkt');
    const bucket = store.bucket('bkt');
    const count = 240;
    const size = 40_000; // about 9.4 MiB in all
    for (let i = 0; i < count; i += 8) {
      await Promise.all(
        Array.from({ length: 8 }, (_, j) => bucket.put(`k${i + j}`, body(i + j, size))),
      );
    }
    for (let i = 0; i < count; i += 2) await bucket.delete(`k${i}`);
    const before = store.spaceStats();
    const diskBefore = segmentDiskBytes(dir);
    const progress: number[] = [];
    const report = await store.gc({ onProgress: (p) => progress.push(p.fraction) });
    const after = store.spaceStats();
    const diskAfter = segmentDiskBytes(dir);
    const k = 4;
    const n = 6;
    // Dead bytes given back: the freed segments' bytes minus the live bytes
    // copied out of them; net of the copies' own overhead (GROUP records,
    // stripe padding), the store's dead bytes fell by `netDead`.
    const reclaimedDead = report.bytesReclaimed - report.bytesMoved;
    const reclaimable = before.deadBytes;
    const netDead = before.deadBytes - after.deadBytes;
    console.log(
      `      before: ${before.segments} segments, live ${before.liveBytes}, dead ${before.deadBytes}, ` +
        `disk ${diskBefore}; after: ${after.segments} segments, live ${after.liveBytes}, ` +
        `dead ${after.deadBytes}, disk ${diskAfter}; run: ${report.segmentsCompacted} compacted, ` +
        `${report.bytesReclaimed} reclaimed, ${report.bytesMoved} moved, ${report.durationMs} ms`,
    );
    assert.ok(report.segmentsCompacted >= 4, 'segments compacted');
    assert.equal(after.liveBytes, before.liveBytes, 'GC never changes live bytes');
    // Copies appended to the segment that was the tail may move twice when
    // that segment is compacted in the same cycle.
    assert.ok(report.bytesMoved <= 1.1 * before.liveBytes, 'moves about the live bytes');
    assert.ok(
      reclaimedDead >= 0.9 * reclaimable,
      `reclaimed ${reclaimedDead} of ${reclaimable} dead bytes`,
    );
    assert.ok(netDead >= 0.9 * reclaimable, `net: dead bytes fell by ${netDead}`);
    assert.ok(
      after.logBytes <= 1.25 * after.liveBytes + after.segmentDataBytes,
      `log bytes ${after.logBytes} vs live ${after.liveBytes}`,
    );
    // On disk: parity makes every byte (k+m)/k; freed segments keep 4 KiB.
    const headerBytes = after.segmentsFreed * 4096 * n;
    assert.ok(
      diskAfter <=
        ((1.25 * after.liveBytes + after.segmentDataBytes) * (k + n - k)) / k +
          after.segments * 4096 * n +
          headerBytes,
      `disk ${diskAfter}`,
    );
    assert.ok(diskAfter < 0.6 * diskBefore, 'disk usage fell with the dead bytes');
    assert.equal(progress.at(-1), 1);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i]! >= progress[i - 1]!);
    const check = async (s: Store): Promise<void> => {
      for (let i = 0; i < count; i++) {
        const got = await s.bucket('bkt').get(`k${i}`);
        if (i % 2 === 0) {
          assert.equal(got, undefined, `k${i} stays deleted`);
        } else {
          assert.ok(got !== undefined && got.body.equals(body(i, size)), `k${i} bytes`);
        }
      }
    };
    await check(store);
    await store.close();
    const reopened = await Store.open({ path: dir, gc: { background: false } });
    await check(reopened);
    const again = reopened.spaceStats();
    assert.equal(again.liveBytes, after.liveBytes, 'usage recomputed exactly at open');
    assert.equal(again.segmentsFreed, after.segmentsFreed);
    const second = await reopened.gc();
    assert.equal(second.bytesMoved, 0, 'a second run finds nothing worth moving');
    await reopened.close();
  });

  it('bench shape (64 KiB objects, every other deleted, 8 segments): a default run reclaims >= 90% of dead bytes net of its copies', async () => {
    // The shape of bench/gc "reclaim half". Copies submitted one at a time
    // each took a commit group alone, padded to whole stripes (a 64 KiB
    // record fills 5 of them): about a fifth of every segment the copies
    // filled was dead again, and only 0.83 of the dead bytes were reclaimed.
    const dir = fresh();
    const store = await Store.open({ path: dir, segmentStripes: 129, gc: { background: false } });
    await store.createBucket('bkt');
    const bucket = store.bucket('bkt');
    const count = 256; // 16 MiB: 8 segments of about 2 MiB
    const size = 64 * 1024;
    for (let i = 0; i < count; i += 32) {
      await Promise.all(
        Array.from({ length: 32 }, (_, j) => bucket.put(`k${i + j}`, body(i + j, size))),
      );
    }
    for (let i = 0; i < count; i += 64) {
      const batch = [];
      for (let j = i; j < i + 64; j += 2) batch.push(bucket.delete(`k${j}`));
      await Promise.all(batch);
    }
    const before = store.spaceStats();
    const report = await store.gc();
    const after = store.spaceStats();
    const tail = before.perSegment.find((x) => x.tail);
    const tailKept =
      tail !== undefined && after.perSegment.some((x) => x.id === tail.id && !x.freed);
    const reclaimable = before.deadBytes - (tailKept ? tail.deadBytes : 0);
    const share = (before.deadBytes - after.deadBytes) / reclaimable;
    console.log(
      `      ${report.segmentsCompacted} compacted; dead ${before.deadBytes} -> ${after.deadBytes} ` +
        `(share ${share.toFixed(3)}); log ${after.logBytes} for live ${after.liveBytes}`,
    );
    assert.ok(before.segments >= 8, `segments ${before.segments}`);
    assert.equal(after.liveBytes, before.liveBytes);
    assert.ok(share >= 0.9, `reclaimed dead share ${share.toFixed(3)}`);
    assert.ok(
      after.logBytes <= 1.25 * after.liveBytes + after.segmentDataBytes,
      `log bytes ${after.logBytes} vs live ${after.liveBytes}`,
    );
    for (let i = 0; i < count; i++) {
      const got = await bucket.get(`k${i}`);
      if (i % 2 === 0) assert.equal(got, undefined, `k${i} stays deleted`);
      else assert.ok(got !== undefined && got.body.equals(body(i, size)), `k${i} bytes`);
    }
    await store.close();
  });

  it('after GC, a full scan (no valid snapshot, or ignoreSnapshot) rebuilds the same store; tessera verify agrees', async () => {
    const dir = fresh();
    const store = await Store.open({ path: dir, segmentStripes: 16, gc: { background: false } });
    await store.createBucket('plain');
    await store.createBucket('vers', { versioning: true });
    const plain = new Map<string, Buffer>();
    const versions = new Map<string, Buffer>(); // key#versionId -> body
    const markers = new Set<string>(); // key#versionId of delete markers
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 60; i++) {
        const key = `k${(i * 7 + round) % 20}`;
        const b = body(round * 100 + i, 6_000 + ((i * 997) % 9_000));
        if (i % 5 === 4) {
          await store.bucket('plain').delete(key);
          plain.delete(key);
        } else {
          await store.bucket('plain').put(key, b);
          plain.set(key, b);
        }
        if (i % 3 === 0) {
          const r = await store.bucket('vers').put(key, b);
          versions.set(`${key}#${r.versionId}`, b);
        } else if (i % 7 === 1) {
          const r = await store.bucket('vers').delete(key);
          markers.add(`${key}#${r.versionId!}`);
        } else if (i % 11 === 2) {
          // Removes one version or delete marker for good.
          const victim = [...versions.keys(), ...markers].find((v) => v.startsWith(`${key}#`));
          if (victim !== undefined) {
            const [k, versionId] = victim.split('#') as [string, string];
            await store.bucket('vers').delete(k, { versionId });
            versions.delete(victim);
            markers.delete(victim);
          }
        }
      }
      const report = await store.gc({ rateBytesPerSec: 0, deadRatio: 0.05 });
      assert.ok(report.segmentsCompacted > 0, `round ${round} compacted segments`);
    }
    await store.close();
    const check = async (s: Store, how: string): Promise<void> => {
      for (let i = 0; i < 20; i++) {
        const want = plain.get(`k${i}`);
        const got = await s.bucket('plain').get(`k${i}`);
        if (want === undefined) assert.equal(got, undefined, `${how}: plain/k${i} stays deleted`);
        else assert.ok(got?.body.equals(want), `${how}: plain/k${i} bytes`);
      }
      const seen = new Set<string>();
      for await (const v of s.bucket('vers').listVersions()) {
        const id = `${v.key}#${v.versionId}`;
        seen.add(id);
        if (v.deleteMarker) {
          assert.ok(markers.has(id), `${how}: delete marker ${id} is expected`);
        } else {
          const got = await s.bucket('vers').get(v.key, { versionId: v.versionId });
          assert.ok(got?.body.equals(versions.get(id)!), `${how}: vers/${id} bytes`);
        }
      }
      for (const id of [...versions.keys(), ...markers]) assert.ok(seen.has(id), `${how}: ${id}`);
      assert.equal(seen.size, versions.size + markers.size, `${how}: nothing resurrected`);
    };
    const verify = await checkSnapshotAgainstLog(dir);
    assert.equal(verify.snapshotLoaded, true);
    assert.deepEqual(verify.mismatches, []);
    assert.ok(verify.entries > 20);
    const scanned = await Store.open({ path: dir, ignoreSnapshot: true, gc: false });
    assert.equal(scanned.spaceStats().segmentsFreed > 0, true);
    await check(scanned, 'ignoreSnapshot');
    await scanned.close();
    // Every snapshot copy damaged: the open falls back to a full scan.
    for (const drive of readdirSync(dir).filter((d) => d.startsWith('drive-'))) {
      const file = join(dir, drive, 'snapshots', 'snapshot.dat');
      const bytes = readFileSync(file);
      bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0xff;
      writeFileSync(file, bytes);
    }
    const rebuilt = await Store.open({ path: dir, gc: false });
    await check(rebuilt, 'damaged snapshots');
    await rebuilt.close();
    const bin = join(__dirname, '..', 'bin', 'tessera.js');
    const result = spawnSync(process.execPath, [bin, 'verify', '--data-dir', dir, '--json'], {
      encoding: 'utf8',
    });
    assert.equal(result.status, 0, result.stdout + result.stderr);
  });

  it('runs in the background on its timer and stops on close', async () => {
    const dir = fresh();
    const store = await Store.open({
      path: dir,
      segmentStripes: 16,
      gc: { intervalMs: 20, deadRatio: 0.3, rateBytesPerSec: 0 },
    });
    await store.createBucket('bkt');
    for (let i = 0; i < 120; i++) await store.bucket('bkt').put(`k${i % 10}`, body(i, 20_000));
    const deadline = Date.now() + 20_000;
    while (store.spaceStats().gc.segmentsCompacted === 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(store.spaceStats().gc.segmentsCompacted > 0, 'the timer compacted segments');
    for (let i = 0; i < 10; i++) {
      const got = await store.bucket('bkt').get(`k${i}`);
      assert.ok(got?.body.equals(body(110 + i, 20_000)));
    }
    await store.close();
    assert.throws(
      () => store.spaceStats(),
      (e: TesseraError) => e.code === 'ERR_STORE_CLOSED',
    );
  });

  it('never compacts a segment a durable consumer still needs (retainFromSeq)', async () => {
    const dir = fresh();
    let hold = 1;
    const store = await Store.open({
      path: dir,
      segmentStripes: 16,
      gc: { background: false, retainFromSeq: () => hold },
    });
    await store.createBucket('bkt');
    for (let i = 0; i < 80; i++) await store.bucket('bkt').put(`k${i % 5}`, body(i, 20_000));
    const held = await store.gc({ rateBytesPerSec: 0 });
    assert.equal(held.segmentsCompacted, 0);
    assert.ok(held.skipped.length > 0 && held.skipped.every((s) => s.reason === 'retained'));
    const space = store.spaceStats();
    const sealed = space.perSegment.filter((s) => !s.tail && !s.freed);
    // Release everything up to the first segment's newest change only.
    hold = sealed[0]!.maxSeq + 1;
    const partial = await store.gc({ rateBytesPerSec: 0 });
    assert.equal(partial.segmentsCompacted, 1);
    hold = Number.POSITIVE_INFINITY;
    const all = await store.gc({ rateBytesPerSec: 0 });
    assert.ok(all.segmentsCompacted > 1);
    await store.close();
  });

  it('keeps what store.retention holds by default; store.stats() reports GC and dead bytes', async () => {
    const dir = fresh();
    const store = await Store.open({ path: dir, segmentStripes: 16, gc: { background: false } });
    await store.createBucket('bkt');
    for (let i = 0; i < 80; i++) await store.bucket('bkt').put(`k${i % 5}`, body(i, 20_000));
    let floor = 1;
    store.retention.hold('test-consumer', () => floor);
    const held = await store.gc({ rateBytesPerSec: 0 });
    assert.equal(held.segmentsCompacted, 0);
    assert.ok(held.skipped.length > 0 && held.skipped.every((s) => s.reason === 'retained'));
    const space = store.spaceStats();
    const sealed = space.perSegment.filter((s) => !s.tail && !s.freed);
    floor = sealed[0]!.maxSeq + 1;
    const partial = await store.gc({ rateBytesPerSec: 0 });
    assert.equal(partial.segmentsCompacted, 1);
    const before = await store.stats();
    store.retention.release('test-consumer');
    const all = await store.gc({ rateBytesPerSec: 0 });
    assert.ok(all.segmentsCompacted > 1);
    const after = await store.stats();
    assert.equal(after.gc.available, true);
    assert.equal(after.gc.running, false);
    assert.equal(after.gc.segmentsReclaimed, 1 + all.segmentsCompacted);
    assert.equal(after.gc.bytesReclaimed - before.gc.bytesReclaimed, all.bytesReclaimed);
    assert.ok(after.deadBytes < before.deadBytes, 'dead bytes fall');
    assert.ok(after.segments < before.segments, 'freed segments no longer count');
    await store.close();
  });

  it('rejects bad options with stable codes', async () => {
    const dir = fresh();
    await assert.rejects(
      Store.open({ path: dir, gc: { deadRatio: 2 } }),
      (e: TesseraError) => e.code === 'ERR_OUT_OF_RANGE',
    );
    await assert.rejects(
      Store.open({ path: dir, segmentStripes: 3 }),
      (e: TesseraError) => e.code === 'ERR_OUT_OF_RANGE',
    );
    const store = await Store.open({ path: dir, gc: false });
    await assert.rejects(
      store.gc({ deadRatio: -1 }),
      (e: TesseraError) => e.code === 'ERR_OUT_OF_RANGE',
    );
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(store.gc({ signal: controller.signal }), { name: 'AbortError' });
    await store.close();
  });

  it('tessera gc compacts a closed store and prints a JSON report', async () => {
    const dir = fresh();
    const store = await Store.open({ path: dir, segmentStripes: 16, gc: false });
    await store.createBucket('bkt');
    for (let i = 0; i < 60; i++) await store.bucket('bkt').put(`k${i % 4}`, body(i, 20_000));
    await store.close();
    const bin = join(__dirname, '..', 'bin', 'tessera.js');
    const result = spawnSync(process.execPath, [bin, 'gc', '--data-dir', dir, '--json'], {
      encoding: 'utf8',
    });
    assert.equal(result.status, 0, result.stderr);
    const report = JSON.parse(result.stdout) as {
      segmentsCompacted: number;
      bytesReclaimed: number;
      before: { segments: number };
      after: { segments: number };
    };
    assert.ok(report.segmentsCompacted > 0);
    assert.ok(report.after.segments < report.before.segments);
    const bad = spawnSync(process.execPath, [bin, 'gc', '--data-dir', dir, '--dead-ratio', 'x'], {
      encoding: 'utf8',
    });
    assert.equal(bad.status, 2); // a bad option value is a usage error (docs/cli.md)
    assert.match(bad.stderr, /--dead-ratio/);
    const reopened = await Store.open({ path: dir, gc: false });
    for (let i = 0; i < 4; i++) {
      const got = await reopened.bucket('bkt').get(`k${i}`);
      assert.ok(got?.body.equals(body(56 + i, 20_000)));
    }
    await reopened.close();
  });
});
