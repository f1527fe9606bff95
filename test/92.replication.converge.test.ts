/**
 * Replication convergence under faults (TESTING.md R1, R2): a random put /
 * overwrite / delete workload on the source while the link to the
 * destination gateway goes down, is reset, is slowed, the destination
 * gateway restarts, the replicator restarts on its durable state, and the
 * signing clock jumps ±5 minutes. After the faults stop and the queue
 * drains, the destination equals the source: keys, bytes, metadata, and
 * (versioned) the exact version and delete-marker sequence of every key, so
 * no duplicate and no resurrected delete. 50 fault events in npm test,
 * 2000 with TESSERA_LONG=1. The seed prints; TESSERA_SEED replays it.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type ReplEnv,
  rule,
  startEnv,
  targetKeys,
  targetObject,
  targetVersions,
  userMetadata,
} from './support/replication_env';
import { TARGET_SECRET } from './support/replication_env';

const seed = Number(process.env.TESSERA_SEED ?? Math.floor(Math.random() * 2 ** 31));

function mulberry32(a: number): () => number {
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SIZES = [0, 1, 100, 4096, 20_000, 70_000, 300_000];
const FAULTS = Number(process.env.TESSERA_REPL_FAULTS ?? (process.env.TESSERA_LONG ? 2000 : 50));

type Fault = 'down' | 'reset' | 'slow' | 'restart-target' | 'restart-source' | 'clock';
const FAULT_KINDS: Fault[] = ['down', 'reset', 'slow', 'restart-target', 'restart-source', 'clock'];

async function workload(
  env: ReplEnv,
  bucket: string,
  random: () => number,
  stop: { done: boolean },
  counts: { puts: number; deletes: number },
): Promise<void> {
  const workers = 4;
  const keysPer = 6;
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      const r = mulberry32(Math.floor(random() * 2 ** 31));
      while (!stop.done) {
        const key = `k${w}-${Math.floor(r() * keysPer)}${r() < 0.2 ? '/deep é' : ''}`;
        if (r() < 0.7) {
          const size = SIZES[Math.floor(r() * SIZES.length)]!;
          const body = Buffer.alloc(size, Math.floor(r() * 256));
          if (size >= 4) body.writeUInt32LE(Math.floor(r() * 2 ** 32), 0);
          await env.source.put(bucket, key, body, {
            metadata: { n: String(counts.puts), ...(r() < 0.3 ? { extra: 'ü-' + w } : {}) },
            contentType: r() < 0.5 ? 'application/x-test' : 'text/plain',
          });
          counts.puts++;
        } else {
          await env.source.delete(bucket, key);
          counts.deletes++;
        }
        // Long runs write less per fault, so memory (the reference engines
        // keep every version in memory) stays bounded over 2000 faults.
        await sleep(Math.floor(r() * (FAULTS > 400 ? 30 : 4)));
      }
    }),
  );
}

async function injectFaults(env: ReplEnv, random: () => number, log: Record<Fault, number>) {
  for (let i = 0; i < FAULTS; i++) {
    const kind = FAULT_KINDS[Math.floor(random() * FAULT_KINDS.length)]!;
    log[kind]++;
    const hold = 20 + Math.floor(random() * 150);
    switch (kind) {
      case 'down':
        env.proxy.mode = 'down';
        env.proxy.resetAll();
        await sleep(hold);
        env.proxy.mode = 'up';
        break;
      case 'reset':
        env.proxy.resetAll();
        await sleep(hold / 4);
        break;
      case 'slow':
        env.proxy.slowMs = 2 + Math.floor(random() * 20);
        env.proxy.mode = 'slow';
        await sleep(hold);
        env.proxy.mode = 'up';
        break;
      case 'restart-target':
        await env.restartTarget();
        await sleep(hold / 4);
        break;
      case 'restart-source':
        await env.restartManager();
        await sleep(hold / 4);
        break;
      case 'clock':
        env.clockOffsetMs = random() < 0.5 ? -5 * 60_000 : 5 * 60_000;
        await sleep(hold);
        env.clockOffsetMs = 0;
        break;
    }
  }
}

async function assertConverged(env: ReplEnv, bucket: string, dest: string, versioned: boolean) {
  const source = env.source.store.bucket(bucket);
  const sourceKeys: string[] = [];
  for await (const e of source.list()) if (e.type === 'object') sourceKeys.push(e.key);
  assert.deepEqual((await targetKeys(env.targetClient, dest)).sort(), sourceKeys.sort());
  for (const key of sourceKeys) {
    const want = (await source.get(key))!;
    const got = await targetObject(env.targetClient, dest, key);
    assert.ok(got.body.equals(want.body), `bytes of ${key}`);
    assert.deepEqual(userMetadata(got.metadata), want.metadata, `metadata of ${key}`);
    assert.equal(got.contentType, want.contentType, `content type of ${key}`);
  }
  if (!versioned) return;
  // Every version and delete marker, in order: no duplicate, nothing resurrected.
  const target = await targetVersions(env.target.gw, dest);
  const wanted = new Map<string, Array<{ deleteMarker: boolean; etag: string }>>();
  for await (const v of source.listVersions()) {
    const list = wanted.get(v.key) ?? [];
    list.push({ deleteMarker: v.deleteMarker, etag: v.deleteMarker ? '' : v.etag });
    wanted.set(v.key, list);
  }
  assert.deepEqual([...target.keys()].sort(), [...wanted.keys()].sort());
  for (const [key, versions] of wanted) {
    const got = (target.get(key) ?? []).map((v) => ({
      deleteMarker: v.deleteMarker,
      etag: v.etag,
    }));
    assert.deepEqual(got, versions, `versions of ${key}`);
  }
}

for (const versioned of [false, true]) {
  describe(`92 replication: convergence under faults (${versioned ? 'versioned' : 'unversioned'})`, function () {
    this.timeout(FAULTS > 50 ? 0 : 90_000);
    let env: ReplEnv;
    after(async () => env?.close());

    it(`converges after ${FAULTS} fault events: same keys, bytes, metadata${versioned ? ', versions' : ''}; secrets never logged`, async () => {
      const s = seed + (versioned ? 1 : 0);
      console.log(`      seed: TESSERA_SEED=${seed}`);
      const random = mulberry32(s);
      env = await startEnv({}, [{ name: 'dst', versioned }]);
      await env.source.store.createBucket('src', { versioning: versioned });
      await env.manager.setReplication('src', { rules: [rule(env.proxy.url, 'dst')] });
      const stop = { done: false };
      const counts = { puts: 0, deletes: 0 };
      const faults: Record<Fault, number> = {
        down: 0,
        reset: 0,
        slow: 0,
        'restart-target': 0,
        'restart-source': 0,
        clock: 0,
      };
      const load = workload(env, 'src', random, stop, counts);
      await injectFaults(env, random, faults);
      stop.done = true;
      await load;
      env.proxy.mode = 'up';
      const drained = AbortSignal.timeout(60_000 + FAULTS * 100);
      try {
        await env.manager.drain(undefined, drained);
      } catch (error) {
        const status = JSON.stringify(await env.manager.status());
        throw new Error(`the queue did not drain: ${String(error)}; status ${status}`);
      }
      console.log(
        `      ${counts.puts} puts, ${counts.deletes} deletes, faults ${JSON.stringify(faults)}`,
      );
      await assertConverged(env, 'src', 'dst', versioned);
      const status = await env.manager.status();
      assert.equal(status.buckets[0]!.rules[0]!.failed, 0);
      assert.equal(status.buckets[0]!.rules[0]!.queueDepth, 0);
      const text = env.logs.join('') + JSON.stringify(status);
      assert.ok(!text.includes(TARGET_SECRET), 'the destination secret appears in logs or status');
    });
  });
}
