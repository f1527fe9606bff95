/**
 * Replication rules: backfill of existing objects, prefix filters,
 * delete-marker replication on and off, several independent destinations,
 * object status, durable state across a restart, and secrets never in
 * get/status/logs/errors.
 */
import assert from 'node:assert/strict';
import { TesseraError } from '../lib/errors';
import {
  type ReplEnv,
  TARGET_SECRET,
  rule,
  startEnv,
  targetKeys,
  targetObject,
  targetVersions,
} from './support/replication_env';
import { FaultProxy } from './support/fault_proxy';

describe('92 replication: rules', function () {
  this.timeout(30_000);
  let env: ReplEnv;
  afterEach(async () => env?.close());

  it('backfills existing objects when existingObjects is set, and only then', async () => {
    env = await startEnv({}, [
      { name: 'full', versioned: false },
      { name: 'new-only', versioned: false },
    ]);
    await env.source.store.createBucket('src');
    for (let i = 0; i < 40; i++) await env.source.put('src', `old/${i}`, Buffer.from(`old ${i}`));
    await env.manager.setReplication('src', {
      rules: [
        rule(env.proxy.url, 'full', { id: 'full', existingObjects: true }),
        rule(env.proxy.url, 'new-only', { id: 'new-only', existingObjects: false }),
      ],
    });
    await env.source.put('src', 'new', Buffer.from('new'));
    await env.manager.drain();
    const full = (await targetKeys(env.targetClient, 'full')).sort();
    assert.equal(full.length, 41);
    assert.ok(full.includes('new') && full.includes('old/39'));
    assert.equal((await targetObject(env.targetClient, 'full', 'old/7')).body.toString(), 'old 7');
    assert.deepEqual(await targetKeys(env.targetClient, 'new-only'), ['new']);
    const status = await env.manager.status();
    assert.deepEqual(
      status.buckets[0]!.rules.map((r) => [r.ruleId, r.backfill]),
      [
        ['full', 'complete'],
        ['new-only', 'none'],
      ],
    );
  });

  it('replicates only keys under the rule prefix', async () => {
    env = await startEnv({}, [{ name: 'dst', versioned: false }]);
    await env.source.store.createBucket('src');
    await env.manager.setReplication('src', {
      rules: [rule(env.proxy.url, 'dst', { prefix: 'logs/' })],
    });
    await env.source.put('src', 'logs/a', Buffer.from('a'));
    await env.source.put('src', 'logsb', Buffer.from('b'));
    await env.source.put('src', 'data/c', Buffer.from('c'));
    await env.source.put('src', 'logs/d/e', Buffer.from('d'));
    await env.manager.drain();
    assert.deepEqual((await targetKeys(env.targetClient, 'dst')).sort(), ['logs/a', 'logs/d/e']);
    assert.equal(await env.manager.objectStatus('src', 'data/c', 'null'), undefined);
    assert.equal(await env.manager.objectStatus('src', 'logs/a', 'null'), 'COMPLETED');
  });

  for (const versioned of [false, true]) {
    it(`delete replication on and off (${versioned ? 'versioned' : 'unversioned'})`, async () => {
      env = await startEnv({}, [
        { name: 'with-deletes', versioned },
        { name: 'no-deletes', versioned },
      ]);
      await env.source.store.createBucket('src', { versioning: versioned });
      await env.manager.setReplication('src', {
        rules: [
          rule(env.proxy.url, 'with-deletes', { id: 'on', deleteMarkerReplication: true }),
          rule(env.proxy.url, 'no-deletes', { id: 'off', deleteMarkerReplication: false }),
        ],
      });
      await env.source.put('src', 'k', Buffer.from('v1'));
      await env.source.put('src', 'k', Buffer.from('v2'));
      // Unversioned: a version deleted before it replicated is gone for good,
      // so let v2 arrive first.
      if (!versioned) await env.manager.drain();
      await env.source.delete('src', 'k');
      await env.source.put('src', 'kept', Buffer.from('x'));
      await env.manager.drain();
      assert.deepEqual(await targetKeys(env.targetClient, 'with-deletes'), ['kept']);
      assert.deepEqual((await targetKeys(env.targetClient, 'no-deletes')).sort(), ['k', 'kept']);
      assert.equal((await targetObject(env.targetClient, 'no-deletes', 'k')).body.toString(), 'v2');
      if (versioned) {
        const on = await targetVersions(env.target.gw, 'with-deletes');
        assert.deepEqual(
          on.get('k')!.map((v) => v.deleteMarker),
          [true, false, false],
        );
        const off = await targetVersions(env.target.gw, 'no-deletes');
        assert.deepEqual(
          off.get('k')!.map((v) => v.deleteMarker),
          [false, false],
        );
      }
    });
  }

  it('keeps destinations independent: a dead one does not hold the other back', async () => {
    env = await startEnv({}, [{ name: 'dst', versioned: false }]);
    const dead = new FaultProxy(env.target.gw.port);
    await dead.start();
    dead.mode = 'down';
    try {
      await env.source.store.createBucket('src');
      await env.manager.setReplication('src', {
        rules: [
          rule(env.proxy.url, 'dst', { id: 'alive' }),
          rule(dead.url, 'dst', { id: 'dead', prefix: 'never-matches-anything/' }),
        ],
      });
      await env.manager.setReplication('src', {
        rules: [rule(env.proxy.url, 'dst', { id: 'alive' }), rule(dead.url, 'dst', { id: 'dead' })],
      });
      for (let i = 0; i < 20; i++) await env.source.put('src', `k${i}`, Buffer.from(`v${i}`));
      const alive = env.manager;
      // The live destination gets everything while the other is down.
      const deadline = Date.now() + 10_000;
      while ((await targetKeys(env.targetClient, 'dst')).length < 20) {
        assert.ok(Date.now() < deadline, 'the live destination did not converge');
        await new Promise((r) => setTimeout(r, 20));
      }
      const status = (await alive.status()).buckets[0]!.rules;
      const deadStatus = status.find((r) => r.ruleId === 'dead')!;
      assert.notEqual(deadStatus.breaker, 'closed');
      assert.ok(deadStatus.queueDepth > 0);
      assert.equal(await alive.objectStatus('src', 'k3', 'null'), 'PENDING');
      assert.ok(deadStatus.lastError && !deadStatus.lastError.includes(TARGET_SECRET));
      // Prometheus sees the same, on scrape.
      const scraped = await alive.registry.metrics();
      assert.match(scraped, /tessera_replication_breaker_state\{bucket="src",rule="dead"\} [12]/);
      assert.match(scraped, /tessera_replication_queue_depth\{bucket="src",rule="dead"\} [1-9]/);
      assert.match(
        scraped,
        /tessera_replication_failures_total\{bucket="src",rule="dead",kind="transient"\} [1-9]/,
      );
      assert.equal(scraped.includes(TARGET_SECRET), false);
      // It comes back: everything drains, status turns COMPLETED.
      dead.mode = 'up';
      await alive.drain(undefined, AbortSignal.timeout(20_000));
      assert.equal(await alive.objectStatus('src', 'k3', 'null'), 'COMPLETED');
    } finally {
      await dead.close();
    }
  });

  it('records a version refused for good as FAILED and moves on', async () => {
    env = await startEnv({ permanentAttempts: 2 }, [{ name: 'dst', versioned: false }]);
    await env.source.store.createBucket('src');
    // The destination bucket does not exist: 404 NoSuchBucket, a permanent error.
    await env.manager.setReplication('src', { rules: [rule(env.proxy.url, 'missing-bucket')] });
    await env.source.put('src', 'k', Buffer.from('x'));
    await env.manager.drain(undefined, AbortSignal.timeout(10_000));
    assert.equal(await env.manager.objectStatus('src', 'k', 'null'), 'FAILED');
    const r = (await env.manager.status()).buckets[0]!.rules[0]!;
    assert.equal(r.failed, 1);
    assert.match(r.lastError!, /NoSuchBucket/);
  });

  it('returns rules without credentials, validates them, and keeps state across a restart', async () => {
    env = await startEnv({}, [{ name: 'dst', versioned: false }]);
    await env.source.store.createBucket('src');
    await env.manager.setReplication('src', { rules: [rule(env.proxy.url, 'dst')] });
    const got = await env.manager.getReplication('src');
    assert.ok(got);
    assert.equal(JSON.stringify(got).includes(TARGET_SECRET), false);
    assert.equal('credentials' in got.rules[0]!.destination, false);
    await env.source.put('src', 'a', Buffer.from('a'));
    await env.manager.drain();
    await env.restartManager();
    await env.source.put('src', 'b', Buffer.from('b'));
    await env.manager.drain();
    assert.deepEqual((await targetKeys(env.targetClient, 'dst')).sort(), ['a', 'b']);

    const bad = [
      { rules: [] },
      { rules: [{ ...rule(env.proxy.url, 'dst'), id: 'bad id!' }] },
      { rules: [rule('ftp://127.0.0.1:1', 'dst')] },
      { rules: [rule('http://user:pw@127.0.0.1:1', 'dst')] },
      { rules: [rule(env.proxy.url, 'Bad_Bucket')] },
      { rules: [{ ...rule(env.proxy.url, 'dst'), deleteMarkerReplication: 'yes' }] },
      { rules: [rule(env.proxy.url, 'dst'), rule(env.proxy.url, 'dst')] },
    ];
    for (const config of bad) {
      await assert.rejects(env.manager.setReplication('src', config), (error: TesseraError) => {
        assert.equal(error.code, 'ERR_INVALID_ARG_VALUE');
        assert.equal(error.message.includes(TARGET_SECRET), false);
        return true;
      });
    }
    await assert.rejects(
      env.manager.setReplication('nope', { rules: [rule(env.proxy.url, 'dst')] }),
      {
        code: 'NoSuchBucket',
      },
    );
    await env.manager.deleteReplication('src');
    assert.equal(await env.manager.getReplication('src'), undefined);
    assert.deepEqual((await env.manager.status()).buckets, []);
    assert.equal(env.logs.join('').includes(TARGET_SECRET), false);
  });
});
