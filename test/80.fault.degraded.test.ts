/**
 * Degraded writes through the Store (issue 7): with one drive of 4+2
 * failing, puts go on (write quorum 5) and the engine stats report the
 * degraded drive and the heal queue; with two, puts fail with
 * ERR_STORE_QUORUM and are never visible; once the drives are back the
 * automatic heal empties the queue. Snapshot against log: the index a
 * snapshot gives equals the one a full scan gives, and a difference is
 * reported. The native tests (native/engine/degraded_test.cc) cover the
 * restart, fdatasync and power-loss cases.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TesseraError } from '../lib/errors';
import type { NativeStoreEngine } from '../lib/store/engine_binding';
import { Store } from '../lib/store/store';
import { checkSnapshotAgainstLog } from '../lib/store/verify_snapshot';

const dirs: string[] = [];
function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-degr-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function body(seed: number, n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = (seed * 31 + i * 7) & 0xff;
  return out;
}

function nativeOf(store: Store) {
  return (store as unknown as { engine: NativeStoreEngine }).engine.native;
}

describe('fault: degraded writes through the Store', () => {
  it('writes on with one drive failing, fails below the quorum, heals when it is back', async () => {
    const path = freshDir();
    const store = await Store.open({
      path,
      testFaults: true,
      driveProbeIntervalMs: 0,
      healRateBytesPerSec: 0,
    });
    assert.equal(nativeOf(store).info().writeQuorum, 5);
    await store.createBucket('bkt');
    const bucket = store.bucket('bkt');
    nativeOf(store).testFailDrive(2, 'write', true);
    const acked = new Map<string, Buffer>();
    for (let i = 0; i < 10; i++) {
      const data = body(i, 1000 + i * 9000);
      await bucket.put(`k${i}`, data);
      acked.set(`k${i}`, data);
    }
    let stats = nativeOf(store).stats();
    assert.equal(stats.degradedDrives, 1);
    assert.equal(stats.degradedDriveMask, 4);
    assert.ok(stats.healQueue! > 0, `heal queue ${stats.healQueue}`);
    nativeOf(store).testFailDrive(4, 'sync', true);
    await assert.rejects(
      bucket.put('doomed', body(99, 5000)),
      (e: unknown) => e instanceof TesseraError && e.code === 'ERR_STORE_QUORUM',
    );
    assert.equal(await bucket.get('doomed'), undefined);
    for (const [key, data] of acked) assert.ok((await bucket.get(key))?.body.equals(data), key);
    nativeOf(store).testClearFaults();
    await bucket.put('after', body(7, 3000));
    acked.set('after', body(7, 3000));
    assert.equal(await nativeOf(store).waitHealIdle(30000), true);
    stats = nativeOf(store).stats();
    assert.equal(stats.degradedDrives, 0);
    assert.equal(stats.healQueue, 0);
    assert.ok(stats.chunksAutoHealed! > 0);
    const report = await store.scrub();
    assert.equal(report.chunksBad, 0);
    await store.close();
    const again = await Store.open({ path });
    for (const [key, data] of acked) {
      assert.ok((await again.bucket('bkt').get(key))?.body.equals(data), key);
    }
    assert.equal(await again.bucket('bkt').get('doomed'), undefined);
    await again.close();
  });

  it('rejects a write quorum outside k..k+m', async () => {
    await assert.rejects(
      Store.open({ path: freshDir(), writeQuorum: 3 }),
      (e: unknown) => e instanceof TesseraError && e.code === 'ERR_INVALID_ARG_VALUE',
    );
    await assert.rejects(
      Store.open({ path: freshDir(), writeQuorum: 1.5 }),
      (e: unknown) => e instanceof TesseraError && e.code === 'ERR_OUT_OF_RANGE',
    );
  });
});

describe('fault: snapshot against the log', () => {
  it('finds the snapshot equal to a full scan, and reports a difference', async () => {
    const path = freshDir();
    const store = await Store.open({ path });
    await store.createBucket('ver', { versioning: true });
    for (let i = 0; i < 20; i++) await store.bucket('ver').put(`k${i % 7}`, body(i, 100 * i));
    await store.bucket('ver').delete('k3');
    await store.close();
    const ok = await checkSnapshotAgainstLog(path);
    assert.equal(ok.snapshotLoaded, true);
    assert.equal(ok.entries, 22); // the bucket, 20 versions, 1 delete marker
    assert.deepEqual(ok.mismatches, []);
    // The log loses what the snapshot still lists: three drives' segments
    // gone (beyond parity), so a scan finds no version the snapshot has.
    for (const d of [0, 1, 2]) {
      rmSync(join(path, `drive-${d}`, 'segments'), { recursive: true });
    }
    const bad = await checkSnapshotAgainstLog(path);
    assert.ok(bad.mismatches.length > 0);
    assert.match(bad.mismatches[0]!, /not in the log/);
  });
});
