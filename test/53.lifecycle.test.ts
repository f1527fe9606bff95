/**
 * Lifecycle rules (lib/lifecycle/): validation and persistence, then expiry
 * with an injected clock for each rule type, versioned and unversioned
 * buckets, the rate bound, and a pass interrupted by close() and resumed.
 */
import { strict as assert } from 'node:assert';
import { MultipartStore } from '../lib/gateway/handlers/multipart_store';
import { DAY_MS, dueAfterDays } from '../lib/lifecycle/rules';
import type { LifecycleOptions } from '../lib/lifecycle/runner';
import { Store } from '../lib/store/store';
import { code, tempDirFactory } from './support/temp_dirs';

const freshDir = tempDirFactory('life');

/** A clock the test moves; starts at the real time (objects are stamped with it). */
function fakeClock() {
  let offset = 0;
  return {
    now: () => Date.now() + offset,
    advanceDays(days: number) {
      offset += days * DAY_MS;
    },
  };
}

function open(path: string, lifecycle: LifecycleOptions = {}) {
  return Store.open({
    path,
    dataShards: 2,
    parityShards: 1,
    lifecycle: { enabled: false, objectsPerSecond: 100_000, ...lifecycle },
  });
}

async function keys(store: Store, bucket: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of store.bucket(bucket).list()) if (e.type === 'object') out.push(e.key);
  return out;
}

async function versions(store: Store, bucket: string) {
  const out: { key: string; marker: boolean; latest: boolean; versionId: string }[] = [];
  for await (const v of store.bucket(bucket).listVersions()) {
    out.push({ key: v.key, marker: v.deleteMarker, latest: v.isLatest, versionId: v.versionId });
  }
  return out;
}

describe('lifecycle: rules', function () {
  this.timeout(30_000);

  it('computes due dates as S3 does (N days, rounded up to midnight UTC)', () => {
    const t = Date.parse('2014-01-15T10:30:00Z');
    assert.equal(new Date(dueAfterDays(t, 3)).toISOString(), '2014-01-19T00:00:00.000Z');
    assert.equal(
      new Date(dueAfterDays(Date.parse('2014-01-15T00:00:00Z'), 1)).toISOString(),
      '2014-01-17T00:00:00.000Z',
    );
  });

  it('sets, gets (ids filled in), persists across reopen and deletes rules', async () => {
    const path = freshDir();
    let store = await open(path);
    await store.createBucket('logs');
    const bucket = store.bucket('logs');
    assert.equal(await bucket.getLifecycle(), undefined);
    await bucket.setLifecycle([
      { id: 'tmp', status: 'Enabled', prefix: 'tmp/', expiration: { days: 7 } },
      { status: 'Disabled', noncurrentVersionExpiration: { noncurrentDays: 30 } },
      {
        id: 'date',
        status: 'Enabled',
        expiration: { date: '2030-01-01T00:00:00Z' },
        abortIncompleteMultipartUpload: { daysAfterInitiation: 2 },
      },
    ]);
    const rules = await bucket.getLifecycle();
    assert.equal(rules!.length, 3);
    assert.deepEqual(rules![0], {
      id: 'tmp',
      status: 'Enabled',
      prefix: 'tmp/',
      expiration: { days: 7 },
    });
    assert.match(rules![1]!.id, /^[A-Za-z0-9_-]{16}$/);
    assert.equal(rules![1]!.prefix, '');
    assert.deepEqual(rules![2]!.expiration, { date: new Date('2030-01-01T00:00:00Z') });
    await store.close();
    store = await open(path);
    try {
      assert.deepEqual(await store.bucket('logs').getLifecycle(), rules);
      await store.bucket('logs').deleteLifecycle();
      assert.equal(await store.bucket('logs').getLifecycle(), undefined);
      await store.bucket('logs').deleteLifecycle();
      await assert.rejects(store.bucket('nope').getLifecycle(), code('NoSuchBucket'));
      await assert.rejects(
        store.bucket('nope').setLifecycle([{ status: 'Enabled', expiration: { days: 1 } }]),
        code('NoSuchBucket'),
      );
    } finally {
      await store.close();
    }
  });

  it('refuses malformed rules with precise codes and keeps the old rules', async () => {
    const store = await open(freshDir());
    try {
      await store.createBucket('bkt1');
      const bucket = store.bucket('bkt1');
      const good = [{ id: 'a', status: 'Enabled' as const, expiration: { days: 1 } }];
      await bucket.setLifecycle(good);
      const bad: [unknown, string, RegExp][] = [
        [[], 'InvalidArgument', /at least one rule/],
        ['x', 'InvalidArgument', /must be an array/],
        [[{ status: 'Enabled' }], 'InvalidArgument', /at least one action/],
        [[{ status: 'On', expiration: { days: 1 } }], 'InvalidArgument', /status/],
        [[{ status: 'Enabled', expiration: { days: 0 } }], 'InvalidArgument', /positive integer/],
        [[{ status: 'Enabled', expiration: { days: 1.5 } }], 'InvalidArgument', /positive/],
        [
          [{ status: 'Enabled', expiration: { days: 1, expiredObjectDeleteMarker: true } }],
          'InvalidArgument',
          /exactly one/,
        ],
        [
          [{ status: 'Enabled', expiration: { date: '2030-01-01T10:00:00Z' } }],
          'InvalidArgument',
          /midnight UTC/,
        ],
        [
          [{ status: 'Enabled', noncurrentVersionExpiration: { noncurrentDays: -1 } }],
          'InvalidArgument',
          /noncurrentDays/,
        ],
        [
          [
            { id: 'x', status: 'Enabled', expiration: { days: 1 } },
            { id: 'x', status: 'Enabled', expiration: { days: 2 } },
          ],
          'InvalidArgument',
          /used twice/,
        ],
        [
          [{ id: 'i'.repeat(256), status: 'Enabled', expiration: { days: 1 } }],
          'InvalidArgument',
          /255/,
        ],
        [[{ status: 'Enabled', expiration: { days: 1 }, colour: 1 }], 'InvalidArgument', /colour/],
        [
          [{ status: 'Enabled', expiration: { days: 1 }, filter: { tag: {} } }],
          'NotImplemented',
          /tag/,
        ],
        [
          [{ status: 'Enabled', transitions: [{ days: 1, storageClass: 'GLACIER' }] }],
          'NotImplemented',
          /transitions/,
        ],
        [
          [
            {
              status: 'Enabled',
              noncurrentVersionExpiration: { noncurrentDays: 1, newerNoncurrentVersions: 2 },
            },
          ],
          'NotImplemented',
          /newerNoncurrentVersions/,
        ],
      ];
      for (const [rules, expected, message] of bad) {
        await assert.rejects(bucket.setLifecycle(rules as never), (error: unknown) => {
          code(expected)(error);
          assert.match((error as Error).message, message);
          return true;
        });
      }
      const many = Array.from({ length: 1001 }, () => ({
        status: 'Enabled',
        expiration: { days: 1 },
      }));
      await assert.rejects(bucket.setLifecycle(many as never), code('InvalidArgument'));
      assert.deepEqual(await bucket.getLifecycle(), [{ ...good[0], prefix: '' }]);
    } finally {
      await store.close();
    }
  });
});

describe('lifecycle: expiry with a fake clock', function () {
  this.timeout(60_000);

  it('expires current objects under a prefix in an unversioned bucket', async () => {
    const clock = fakeClock();
    const store = await open(freshDir(), { clock: clock.now });
    try {
      await store.createBucket('plain');
      const b = store.bucket('plain');
      for (const key of ['logs/a', 'logs/b', 'logsx', 'keep/c']) await b.put(key, key);
      await b.setLifecycle([{ status: 'Enabled', prefix: 'logs/', expiration: { days: 2 } }]);
      let report = await store.lifecycle.run();
      assert.equal(report.completed, true);
      assert.equal(report.expired, 0);
      clock.advanceDays(1);
      report = await store.lifecycle.run();
      assert.equal(report.expired, 0, 'one day is not two');
      clock.advanceDays(2);
      report = await store.lifecycle.run();
      assert.equal(report.expired, 2);
      assert.equal(report.examined, 4);
      assert.deepEqual(await keys(store, 'plain'), ['keep/c', 'logsx']);
      assert.deepEqual(await versions(store, 'plain').then((v) => v.map((x) => x.key)), [
        'keep/c',
        'logsx',
      ]);
      // An object written now (3 days behind the clock) is not due under a 5-day rule.
      await b.put('logs/new', 'n');
      await b.setLifecycle([{ status: 'Enabled', prefix: 'logs/', expiration: { days: 5 } }]);
      report = await store.lifecycle.run();
      assert.equal(report.expired, 0);
      assert.equal((await b.get('logs/new'))!.body.toString(), 'n');
    } finally {
      await store.close();
    }
  });

  it('expires on a date', async () => {
    const clock = fakeClock();
    const store = await open(freshDir(), { clock: clock.now });
    try {
      await store.createBucket('dated');
      await store.bucket('dated').put('k', 'v');
      const tomorrow = new Date(Math.ceil(clock.now() / DAY_MS) * DAY_MS);
      await store
        .bucket('dated')
        .setLifecycle([{ status: 'Enabled', expiration: { date: tomorrow } }]);
      assert.equal((await store.lifecycle.run()).expired, 0);
      clock.advanceDays(1);
      assert.equal((await store.lifecycle.run()).expired, 1);
      assert.deepEqual(await keys(store, 'dated'), []);
    } finally {
      await store.close();
    }
  });

  it('in a versioned bucket: delete markers, noncurrent expiry, expired markers', async () => {
    const clock = fakeClock();
    const store = await open(freshDir(), { clock: clock.now });
    try {
      await store.createBucket('ver', { versioning: true });
      const b = store.bucket('ver');
      await b.put('doc', 'v1');
      await b.put('doc', 'v2');
      await b.put('other', 'x');
      await b.setLifecycle([
        { id: 'cur', status: 'Enabled', prefix: 'doc', expiration: { days: 10 } },
        { id: 'old', status: 'Enabled', noncurrentVersionExpiration: { noncurrentDays: 3 } },
        { id: 'dm', status: 'Enabled', expiration: { expiredObjectDeleteMarker: true } },
      ]);
      // Day 4: v1 (noncurrent since v2 was written today) is due.
      clock.advanceDays(4);
      let report = await store.lifecycle.run();
      assert.equal(report.noncurrentExpired, 1);
      assert.equal(report.expired, 0);
      let all = await versions(store, 'ver');
      assert.deepEqual(
        all.map((v) => [v.key, v.marker]),
        [
          ['doc', false],
          ['other', false],
        ],
      );
      // Day 11: v2 is due: a delete marker hides it; its data stays as a noncurrent version.
      clock.advanceDays(7);
      report = await store.lifecycle.run();
      assert.equal(report.expired, 1);
      assert.equal(await b.head('doc'), undefined);
      all = await versions(store, 'ver');
      assert.deepEqual(
        all.map((v) => [v.key, v.marker, v.latest]),
        [
          ['doc', true, true],
          ['doc', false, false],
          ['other', false, true],
        ],
      );
      // The next pass: v2 has been noncurrent since the marker was written
      // (real time, 11 days behind the clock), so it goes, and the marker,
      // then the only version, is removed in the same pass.
      report = await store.lifecycle.run();
      assert.equal(report.noncurrentExpired, 1);
      assert.equal(report.deleteMarkersRemoved, 1);
      all = await versions(store, 'ver');
      assert.deepEqual(
        all.map((v) => v.key),
        ['other'],
      );
    } finally {
      await store.close();
    }
  });

  it('removes a lone delete marker but not one with older versions', async () => {
    const clock = fakeClock();
    const store = await open(freshDir(), { clock: clock.now });
    try {
      await store.createBucket('dms', { versioning: true });
      const b = store.bucket('dms');
      await b.put('gone', 'x');
      const put = await b.put('kept', 'y');
      await b.delete('gone');
      await b.delete('kept');
      // 'gone' loses its only version: its marker is then alone.
      const gone = (await versions(store, 'dms')).find((v) => v.key === 'gone' && !v.marker)!;
      await b.delete('gone', { versionId: gone.versionId });
      await b.setLifecycle([
        { status: 'Enabled', expiration: { expiredObjectDeleteMarker: true } },
      ]);
      const report = await store.lifecycle.run();
      assert.equal(report.deleteMarkersRemoved, 1);
      const left = await versions(store, 'dms');
      assert.deepEqual(
        left.map((v) => [v.key, v.marker]),
        [
          ['kept', true],
          ['kept', false],
        ],
      );
      assert.equal(left[1]!.versionId, put.versionId);
    } finally {
      await store.close();
    }
  });

  it('never deletes an object overwritten after the scan decided', async () => {
    const store = await open(freshDir());
    try {
      for (const versioning of [false, true]) {
        const name = versioning ? 'race-v' : 'race-u';
        await store.createBucket(name, { versioning });
        const b = store.bucket(name);
        await b.put('k', 'same bytes');
        const seen = (await b.head('k'))!;
        await new Promise((resolve) => setTimeout(resolve, 3));
        await b.put('k', 'same bytes'); // same ETag, newer version
        const engine = (store as unknown as { engine: import('../lib/store/engine').StoreEngine })
          .engine;
        await assert.rejects(
          engine.delete(name, 'k', {
            ifMatch: { etag: seen.etag, lastModifiedMs: seen.lastModified.getTime() },
          }),
          code('PreconditionFailed'),
        );
        if (!versioning) {
          // A version-targeted condition on the 'null' version sees the overwrite too.
          await assert.rejects(
            engine.delete(name, 'k', {
              versionId: 'null',
              ifMatch: { etag: seen.etag, lastModifiedMs: seen.lastModified.getTime() },
            }),
            code('PreconditionFailed'),
          );
        }
        assert.equal((await b.get('k'))!.body.toString(), 'same bytes');
        const now = (await b.head('k'))!;
        await engine.delete(name, 'k', {
          ifMatch: { etag: now.etag, lastModifiedMs: now.lastModified.getTime() },
        });
        assert.equal(await b.head('k'), undefined);
        await assert.rejects(
          engine.delete(name, 'missing', { ifMatch: { etag: now.etag } }),
          code('NoSuchKey'),
        );
      }
    } finally {
      await store.close();
    }
  });

  it('a pass racing overwrites (same bytes) skips them: nothing newer is deleted', async () => {
    const clock = fakeClock();
    const store = await open(freshDir(), { clock: clock.now });
    try {
      type Engine = import('../lib/store/engine').StoreEngine;
      const engine = (store as unknown as { engine: Engine }).engine;
      const original = engine.delete.bind(engine);
      // Every deletion the pass asks for finds its object overwritten first.
      engine.delete = async (bucket, key, options) => {
        await new Promise((resolve) => setTimeout(resolve, 2));
        await store.bucket(bucket).put(key, 'same bytes');
        return original(bucket, key, options);
      };
      for (const versioning of [false, true]) {
        const name = versioning ? 'racing-v' : 'racing-u';
        await store.createBucket(name, { versioning });
        const b = store.bucket(name);
        for (let i = 0; i < 5; i++) await b.put(`k${i}`, 'same bytes');
        await b.put('gone', 'x');
        await b.delete('gone');
        if (versioning) {
          const v = (await versions(store, name)).find((x) => x.key === 'gone' && !x.marker)!;
          await b.delete('gone', { versionId: v.versionId });
        }
        await b.setLifecycle([
          { status: 'Enabled', prefix: 'k', expiration: { days: 1 } },
          { status: 'Enabled', prefix: 'gone', expiration: { expiredObjectDeleteMarker: true } },
        ]);
      }
      clock.advanceDays(3);
      const report = await store.lifecycle.run();
      assert.equal(report.expired, 0);
      assert.equal(report.skipped, 10);
      assert.deepEqual(await keys(store, 'racing-u'), ['k0', 'k1', 'k2', 'k3', 'k4']);
      assert.deepEqual(await keys(store, 'racing-v'), ['gone', 'k0', 'k1', 'k2', 'k3', 'k4']);
      for (const name of ['racing-u', 'racing-v']) {
        assert.ok(!(await versions(store, name)).some((v) => v.key.startsWith('k') && v.marker));
      }
      // The lone marker was "overwritten" by a put too: the marker, now a
      // noncurrent version, may go (it hides nothing); the put survives.
      assert.equal((await store.bucket('racing-v').get('gone'))!.body.toString(), 'same bytes');
    } finally {
      await store.close();
    }
  });

  it('expires a current object in a suspended bucket with a null delete marker', async () => {
    const clock = fakeClock();
    const store = await open(freshDir(), { clock: clock.now });
    try {
      await store.createBucket('susp', { versioning: true });
      const b = store.bucket('susp');
      const kept = await b.put('k', 'versioned');
      await store.setBucketVersioning('susp', 'Suspended');
      await b.put('k', 'null version');
      await b.setLifecycle([{ status: 'Enabled', expiration: { days: 1 } }]);
      clock.advanceDays(3);
      const report = await store.lifecycle.run();
      assert.equal(report.expired, 1);
      assert.equal(await b.head('k'), undefined);
      const all = await versions(store, 'susp');
      assert.deepEqual(
        all.map((v) => [v.versionId, v.marker, v.latest]),
        [
          ['null', true, true],
          [kept.versionId, false, false],
        ],
      );
    } finally {
      await store.close();
    }
  });

  it('aborts incomplete multipart uploads after N days, under the prefix only', async () => {
    const clock = fakeClock();
    const store = await open(freshDir(), { clock: clock.now });
    try {
      await store.createBucket('upl');
      const multipart = new MultipartStore(store);
      const old = await multipart.create({ bucket: 'upl', key: 'big/one', metadata: {} });
      const other = await multipart.create({ bucket: 'upl', key: 'small/two', metadata: {} });
      await multipart.putPart(
        old.uploadId,
        1,
        (async function* () {
          yield Buffer.from('part');
        })(),
        {},
      );
      await store.bucket('upl').setLifecycle([
        {
          status: 'Enabled',
          prefix: 'big/',
          abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
        },
      ]);
      assert.equal((await store.lifecycle.run()).uploadsAborted, 0);
      clock.advanceDays(2);
      assert.equal((await store.lifecycle.run()).uploadsAborted, 1);
      const left = await multipart.listUploads('upl');
      assert.deepEqual(
        left.map((u) => u.uploadId),
        [other.uploadId],
      );
      assert.deepEqual(await multipart.listParts(old.uploadId), []);
    } finally {
      await store.close();
    }
  });

  it('keeps to the rate bound', async () => {
    const clock = fakeClock();
    const store = await open(freshDir(), { clock: clock.now, objectsPerSecond: 25 });
    try {
      await store.createBucket('rate');
      const b = store.bucket('rate');
      for (let i = 0; i < 30; i++) await b.put(`k${String(i).padStart(2, '0')}`, 'x');
      await b.setLifecycle([{ status: 'Enabled', expiration: { days: 1 } }]);
      clock.advanceDays(3);
      const started = performance.now();
      const report = await store.lifecycle.run();
      const elapsed = performance.now() - started;
      assert.equal(report.expired, 30);
      // 30 deletions at most 25 per second: the last one no sooner than 29/25 s.
      assert.ok(elapsed >= (29 / 25) * 1000 - 20, `took ${elapsed.toFixed(0)} ms`);
      assert.deepEqual(await keys(store, 'rate'), []);
    } finally {
      await store.close();
    }
  });

  it('stops on close in the middle of a pass and resumes after reopening', async () => {
    const path = freshDir();
    const clock = fakeClock();
    let store = await open(path, { clock: clock.now, objectsPerSecond: 40 });
    await store.createBucket('aa-first');
    await store.createBucket('bb-second');
    for (const name of ['aa-first', 'bb-second']) {
      const b = store.bucket(name);
      for (let i = 0; i < 25; i++) await b.put(`k${String(i).padStart(2, '0')}`, 'x');
      await b.setLifecycle([{ status: 'Enabled', expiration: { days: 1 } }]);
    }
    clock.advanceDays(3);
    const pass = store.lifecycle.run();
    await new Promise((resolve) => setTimeout(resolve, 400));
    await store.close();
    const first = await pass;
    assert.equal(first.completed, false);
    assert.ok(first.expired > 0 && first.expired < 50, `first pass expired ${first.expired}`);
    store = await open(path, { clock: clock.now });
    try {
      const second = await store.lifecycle.run();
      assert.equal(second.completed, true);
      assert.equal(second.resumedFrom?.bucket, 'aa-first');
      assert.equal(first.expired + second.expired, 50);
      assert.ok(second.examined <= 50 - first.expired, `re-examined ${second.examined}`);
      assert.deepEqual(await keys(store, 'aa-first'), []);
      assert.deepEqual(await keys(store, 'bb-second'), []);
      const third = await store.lifecycle.run();
      assert.equal(third.resumedFrom, undefined);
      assert.equal(third.examined, 0);
    } finally {
      await store.close();
    }
  });

  it('runs in the background on its interval, and close() stops it', async () => {
    const clock = fakeClock();
    const store = await open(freshDir(), { clock: clock.now, enabled: true, intervalMs: 50 });
    try {
      await store.createBucket('bgr');
      await store.bucket('bgr').put('old', 'x');
      await store.bucket('bgr').setLifecycle([{ status: 'Enabled', expiration: { days: 1 } }]);
      clock.advanceDays(2);
      const deadline = Date.now() + 10_000;
      // The object goes before the pass that removed it records its end.
      while ((await keys(store, 'bgr')).length > 0 || store.lifecycle.last?.completed !== true) {
        assert.ok(Date.now() < deadline, 'the background pass did not expire the object');
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      assert.equal(store.lifecycle.last?.completed, true);
    } finally {
      await store.close();
    }
    await assert.rejects(store.lifecycle.run(), code('ERR_STORE_CLOSED'));
  });

  it('validates its options before opening the drives', async () => {
    await assert.rejects(
      Store.open({ path: freshDir(), lifecycle: { objectsPerSecond: 0 } }),
      code('ERR_OUT_OF_RANGE'),
    );
    await assert.rejects(
      Store.open({ path: freshDir(), lifecycle: { clock: 5 as never } }),
      code('ERR_INVALID_ARG_TYPE'),
    );
  });
});
