/**
 * Scrub and heal through the Store API (issue 7): damage is reported,
 * reads stay exact, one heal makes every chunk verify; passes report
 * progress, stop on an AbortSignal and resume from a persisted cursor
 * after a restart. The full damage matrix and the bit-rot fuzz are native
 * tests (native/engine/fault_test.cc).
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  writeSync,
  writeFileSync,
  closeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TesseraError } from '../lib/errors';
import { Store } from '../lib/store/store';
import type { ScrubProgress } from '../lib/store/scrub';

const dirs: string[] = [];
function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-fault-'));
  dirs.push(dir);
  return dir;
}
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function body(seed: number, n: number): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Flips one bit in chunk `stripe` of segment 0 on `drive`. */
function flip(path: string, drive: number, stripe: number, byte: number): void {
  const file = join(path, `drive-${drive}`, 'segments', 'seg-0000000000000000.dat');
  const fd = openSync(file, 'r+');
  const b = Buffer.alloc(1);
  const offset = 4096 + stripe * 4096 + byte;
  readSync(fd, b, 0, 1, offset);
  b[0] = b[0]! ^ 0x10;
  writeSync(fd, b, 0, 1, offset);
  closeSync(fd);
}

describe('fault: scrub and heal through the Store', function () {
  this.timeout(120_000);

  it('reports damage, reads exact bytes, heals, and then every chunk verifies', async () => {
    const path = freshDir();
    let store = await Store.open({ path, dataShards: 4, parityShards: 2 });
    await store.createBucket('bkt');
    const data = body(7, 300_000);
    await store.bucket('bkt').put('k', data);
    const clean = await store.scrub();
    assert.equal(clean.chunksBad, 0);
    assert.equal(clean.stripesUnrecoverable, 0);
    assert.ok(clean.chunksChecked > 0);
    await store.close();

    // Two drives damaged: a data chunk and a parity chunk of stripe 1, plus
    // a data chunk of stripe 2.
    flip(path, 0, 1, 100);
    flip(path, 5, 1, 4000);
    flip(path, 2, 2, 7);
    store = await Store.open({ path });
    const got = await store.bucket('bkt').get('k');
    assert.equal(sha(got!.body), sha(data));
    const found = await store.scrub();
    assert.equal(found.chunksBad, 3);
    assert.equal(found.stripesUnrecoverable, 0);
    assert.deepEqual(found.damage.filter((d) => d.includes('chunk bad')).length, 3);
    const healed = await store.heal();
    assert.equal(healed.chunksBad, 3);
    assert.equal(healed.chunksHealed, 3);
    const after = await store.scrub();
    assert.equal(after.chunksBad, 0);
    assert.equal(sha((await store.bucket('bkt').get('k'))!.body), sha(data));
    await store.close();
    // Still whole after a restart.
    store = await Store.open({ path });
    assert.equal((await store.scrub()).chunksBad, 0);
    await store.close();
  });

  it('reports progress, stops on abort, and resumes from its cursor after a restart', async () => {
    const path = freshDir();
    let store = await Store.open({ path, dataShards: 4, parityShards: 2 });
    await store.createBucket('bkt');
    await store.bucket('bkt').put('big', body(3, 3_000_000));
    const controller = new AbortController();
    const seen: ScrubProgress[] = [];
    // ~190 stripes x 24 KiB at 1 MiB/s: several seconds unless aborted.
    const report = await store.scrub({
      signal: controller.signal,
      rateBytesPerSec: 1 << 20,
      onProgress: (p) => {
        seen.push(p);
        if (seen.length === 2) controller.abort();
      },
    });
    assert.equal(report.cancelled, true);
    assert.ok(report.cursor > 0 && report.cursor < report.endAddress, JSON.stringify(report));
    assert.ok(existsSync(join(path, 'drive-0', 'scrub-cursor.json')));
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]!.cursor > seen[i - 1]!.cursor);
    await store.close();

    store = await Store.open({ path });
    const final: ScrubProgress[] = [];
    const resumed = await store.scrub({ onProgress: (p) => final.push(p) });
    assert.equal(resumed.startAddress, report.cursor);
    assert.equal(resumed.cancelled, false);
    assert.equal(resumed.cursor, resumed.endAddress);
    assert.equal(resumed.chunksBad, 0);
    assert.equal(final.at(-1)!.fraction, 1);
    assert.ok(!existsSync(join(path, 'drive-0', 'scrub-cursor.json')));
    // A new pass starts from the beginning again.
    assert.equal((await store.scrub()).startAddress, 0);
    await store.close();
  });

  it('validates its options', async () => {
    const store = await Store.open({ path: freshDir(), dataShards: 2, parityShards: 1 });
    await assert.rejects(
      store.scrub({ rateBytesPerSec: -1 }),
      (e: unknown) =>
        e instanceof TesseraError &&
        e.code === 'ERR_OUT_OF_RANGE' &&
        e.message === 'options.rateBytesPerSec must be a non-negative integer, got -1',
    );
    await assert.rejects(
      store.heal({ onProgress: 3 as never }),
      (e: unknown) => e instanceof TesseraError && e.code === 'ERR_INVALID_ARG_TYPE',
    );
    const aborted = AbortSignal.abort();
    await assert.rejects(store.scrub({ signal: aborted }), { name: 'AbortError' });
    await store.close();
  });
});

describe('fault: tessera scrub / heal / verify', function () {
  this.timeout(120_000);
  const bin = join(__dirname, '..', 'bin', 'tessera.js');
  const tessera = (...args: string[]) =>
    spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });

  it('verify exits 0 on a whole store, scrub reports damage (3), heal repairs it (0), and damage beyond parity exits 3', async () => {
    const path = freshDir();
    const store = await Store.open({ path, dataShards: 4, parityShards: 2 });
    await store.createBucket('bkt');
    const data = body(11, 200_000);
    await store.bucket('bkt').put('k', data);
    await store.close();
    let r = tessera('verify', '--data-dir', path, '--json');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).chunksBad, 0);

    flip(path, 1, 1, 5);
    r = tessera('scrub', '--data-dir', path, '--json');
    assert.equal(r.status, 3, r.stderr);
    assert.equal(JSON.parse(r.stdout).chunksBad, 1);
    r = tessera('heal', '--data-dir', path);
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      /^heal: \d+ stripes, \d+ chunks checked; 1 bad chunks, 0 bad segment headers, 1 chunks healed, 0 stripes unrecoverable\n/,
    );
    r = tessera('verify', '--data-dir', path, '--json');
    assert.equal(r.status, 0, r.stderr);

    for (const drive of [0, 1, 2]) flip(path, drive, 1, 9);
    r = tessera('verify', '--data-dir', path, '--json');
    assert.equal(r.status, 3, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.ok(report.stripesUnrecoverable >= 1);
    assert.deepEqual(report.unreadable, ['bkt/k: ERR_STORE_CORRUPT']);
    r = tessera('heal', '--data-dir', path, '--json');
    assert.equal(r.status, 3);
  });

  it('heal --replace-drives formats an empty directory in place of a lost drive and rebuilds it', async () => {
    const path = freshDir();
    const store = await Store.open({ path, dataShards: 4, parityShards: 2 });
    await store.createBucket('bkt');
    const data = body(13, 150_000);
    await store.bucket('bkt').put('k', data);
    await store.close();
    rmSync(join(path, 'drive-3'), { recursive: true });
    mkdirSync(join(path, 'drive-3'));
    let r = tessera('heal', '--data-dir', path, '--json');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /ERR_STORE_QUORUM: drive .*drive-3 has no FORMAT file/);
    r = tessera('heal', '--data-dir', path, '--replace-drives', '--json');
    assert.equal(r.status, 0, r.stderr);
    const healed = JSON.parse(r.stdout);
    assert.ok(healed.chunksHealed > 0);
    assert.equal(healed.chunksHealed, healed.chunksBad);
    r = tessera('verify', '--data-dir', path, '--json');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).chunksBad, 0);
  });

  it('scrub, heal and verify find the store and work with drive 0 gone or its FORMAT damaged', async () => {
    const path = freshDir();
    const store = await Store.open({ path, dataShards: 4, parityShards: 2 });
    await store.createBucket('bkt');
    const data = body(17, 150_000);
    await store.bucket('bkt').put('k', data);
    await store.close();
    // Drive 0's FORMAT is junk: it is down for the open; scrub and verify
    // report it (exit 3), heal without --replace-drives leaves it (3).
    writeFileSync(join(path, 'drive-0', 'FORMAT'), 'junk');
    let r = tessera('scrub', '--data-dir', path, '--json');
    assert.equal(r.status, 3, r.stderr);
    assert.equal(JSON.parse(r.stdout).drivesFormatBad, 1);
    r = tessera('verify', '--data-dir', path, '--json');
    assert.equal(r.status, 3, r.stderr);
    let report = JSON.parse(r.stdout);
    assert.equal(report.drivesFormatBad, 1);
    assert.deepEqual(report.unreadable, []);
    r = tessera('heal', '--data-dir', path, '--json');
    assert.equal(r.status, 3, r.stderr);
    // With --replace-drives the FORMAT is restored as drive 0 (its
    // segment headers say so) and everything verifies.
    r = tessera('heal', '--data-dir', path, '--replace-drives', '--json');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).formatsRestored, 1);
    r = tessera('verify', '--data-dir', path, '--json');
    assert.equal(r.status, 0, r.stderr);
    report = JSON.parse(r.stdout);
    assert.equal(report.drivesFormatBad, 0);
    assert.equal(report.chunksBad, 0);
    // Drive 0 gone altogether: the store is still found; its chunks are
    // reported missing and every object reads back.
    rmSync(join(path, 'drive-0'), { recursive: true });
    r = tessera('verify', '--data-dir', path, '--json');
    assert.equal(r.status, 3, r.stderr);
    report = JSON.parse(r.stdout);
    assert.ok(report.chunksBad > 0);
    assert.equal(report.stripesUnrecoverable, 0);
    assert.deepEqual(report.unreadable, []);
    // An empty directory in its place: heal --replace-drives rebuilds it.
    mkdirSync(join(path, 'drive-0'));
    r = tessera('heal', '--data-dir', path, '--replace-drives', '--json');
    assert.equal(r.status, 0, r.stderr);
    r = tessera('verify', '--data-dir', path, '--json');
    assert.equal(r.status, 0, r.stderr);
    const reopened = await Store.open({ path });
    try {
      assert.equal(sha((await reopened.bucket('bkt').get('k'))!.body), sha(data));
    } finally {
      await reopened.close();
    }
  });

  it('refuses a directory without a store', () => {
    const r = tessera('verify', '--data-dir', freshDir());
    assert.equal(r.status, 1);
    assert.match(r.stderr, /ERR_INVALID_ARG_VALUE: no tessera store at /);
  });
});
