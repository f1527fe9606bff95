/**
 * Clock jumps change nothing (TESTING.md R2): the source's commit clock
 * (lastModified) jumps back and forth by 5 minutes between overwrites and
 * deletes, and the replicator's signing clock is set ±5 minutes off; the
 * destination still ends with exactly the source's state, in sequence order.
 */
import assert from 'node:assert/strict';
import type { ModelEngine } from './support/model_engine';
import {
  type ReplEnv,
  rule,
  startEnv,
  targetKeys,
  targetObject,
  targetVersions,
} from './support/replication_env';

describe('92 replication: clock jumps', function () {
  this.timeout(30_000);
  let env: ReplEnv;
  afterEach(async () => env?.close());

  for (const versioned of [false, true]) {
    it(`±5 min jumps of the source and signing clocks change nothing (${versioned ? 'versioned' : 'unversioned'})`, async () => {
      env = await startEnv({}, [{ name: 'dst', versioned }]);
      const engine = (env.source.store as unknown as { engine: ModelEngine }).engine;
      const base = Date.now();
      const offsets = [0, +300_000, -300_000, +299_000, -301_000, 0];
      await env.source.store.createBucket('src', { versioning: versioned });
      await env.manager.setReplication('src', { rules: [rule(env.proxy.url, 'dst')] });
      for (const [round, offset] of offsets.entries()) {
        engine.now = () => new Date(base + offset);
        env.clockOffsetMs = -offset;
        for (let k = 0; k < 5; k++) {
          await env.source.put('src', `k${k}`, Buffer.from(`round ${round} key ${k}`));
        }
        if (round === 3) await env.source.delete('src', 'k1');
        await new Promise((r) => setTimeout(r, 20));
      }
      await env.source.delete('src', 'k4');
      await env.manager.drain(undefined, AbortSignal.timeout(10_000));
      // The newest by sequence wins, although its lastModified is older than others'.
      assert.deepEqual((await targetKeys(env.targetClient, 'dst')).sort(), [
        'k0',
        'k1',
        'k2',
        'k3',
      ]);
      for (const k of [0, 1, 2, 3]) {
        const got = await targetObject(env.targetClient, 'dst', `k${k}`);
        assert.equal(got.body.toString(), `round 5 key ${k}`);
      }
      if (versioned) {
        const versions = await targetVersions(env.target.gw, 'dst');
        assert.equal(versions.get('k0')!.length, 6);
        assert.deepEqual(
          versions.get('k1')!.map((v) => v.deleteMarker),
          [false, false, true, false, false, false, false],
        );
        assert.equal(versions.get('k4')![0]!.deleteMarker, true);
      }
      const status = (await env.manager.status()).buckets[0]!.rules[0]!;
      assert.equal(status.failed, 0);
      assert.equal(status.queueDepth, 0);
    });
  }
});
