/**
 * Replication survives kill -9 of the source (TESTING.md R1): a child
 * process runs a native store with its durable change feed and the
 * replicator, and writes at random; it is killed with SIGKILL at random
 * times, restarted, killed again, while the link to the destination also
 * goes down and slows. Finally a clean child drains the queue, and the
 * destination equals the source: keys, bytes, metadata and, versioned,
 * the exact sequence of versions and delete markers of every key.
 *
 * Needs the store's durable change feed (store.watch); skipped, saying so,
 * on a build without it.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Store } from '../lib/store/store';
import {
  type ReplEnv,
  startEnv,
  targetKeys,
  targetObject,
  targetVersions,
  userMetadata,
} from './support/replication_env';

const seed = Number(process.env.TESSERA_SEED ?? Math.floor(Math.random() * 2 ** 31));
const KILLS = process.env.TESSERA_LONG ? 200 : 8;
// npm test runs the stricter (versioned) case; TESSERA_LONG=1 runs both.
const VARIANTS = process.env.TESSERA_LONG ? [false, true] : [true];
const hasFeed = typeof (Store.prototype as unknown as { watch?: unknown }).watch === 'function';
const child = join(__dirname, 'support', 'replication_source_child.ts');

function startChild(dir: string, endpoint: string, mode: string, s: number, versioned: boolean) {
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', child, dir, endpoint, mode, String(s), versioned ? '1' : '0'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    proc.once('exit', (code) => resolve(code)),
  );
  return { proc, exited, output: () => out, errors: () => err };
}

async function waitFor(predicate: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

for (const versioned of VARIANTS) {
  (hasFeed ? describe : describe.skip)(
    `92 replication: source killed with kill -9 (${versioned ? 'versioned' : 'unversioned'})${hasFeed ? '' : ' [needs store.watch]'}`,
    function () {
      this.timeout(process.env.TESSERA_LONG ? 0 : 150_000);
      let env: ReplEnv;
      let dir: string;
      let running: ChildProcess | undefined;
      after(async () => {
        running?.kill('SIGKILL');
        await env?.close();
        if (dir) await rm(dir, { recursive: true, force: true });
      });

      it(`converges after ${KILLS} SIGKILLs of the source plus link faults`, async () => {
        console.log(`      seed: TESSERA_SEED=${seed}`);
        env = await startEnv({}, [{ name: 'dst', versioned }]);
        dir = await mkdtemp(join(tmpdir(), 'tessera-repl-kill-'));
        let r = seed + (versioned ? 7 : 0);
        const next = () => {
          r = (Math.imul(r, 1103515245) + 12345) & 0x7fffffff;
          return r / 0x7fffffff;
        };
        let faults = 0;
        for (let i = 0; i < KILLS; i++) {
          const c = startChild(dir, env.proxy.url, 'work', seed + i, versioned);
          running = c.proc;
          await waitFor(() => c.output().includes('READY'), 30_000, 'the source child');
          const link = next();
          if (link < 0.25) {
            env.proxy.mode = 'down';
            env.proxy.resetAll();
            faults++;
          } else if (link < 0.5) {
            env.proxy.mode = 'slow';
            env.proxy.slowMs = 5;
            faults++;
          }
          await sleep(100 + Math.floor(next() * 600));
          c.proc.kill('SIGKILL');
          await c.exited;
          faults++;
          env.proxy.mode = 'up';
          assert.equal(c.errors(), '', 'the source child reported an error');
        }
        const d = startChild(dir, env.proxy.url, 'drain', 0, versioned);
        running = d.proc;
        assert.equal(await d.exited, 0, d.errors());
        assert.match(d.output(), /DRAINED/);
        running = undefined;
        console.log(`      ${faults} fault events (${KILLS} SIGKILLs)`);
        const store = await Store.open({ path: dir, dataShards: 2, parityShards: 1 });
        try {
          const source = store.bucket('src');
          const keys: string[] = [];
          for await (const e of source.list()) if (e.type === 'object') keys.push(e.key);
          assert.deepEqual((await targetKeys(env.targetClient, 'dst')).sort(), keys.sort());
          for (const key of keys) {
            const want = (await source.get(key))!;
            const got = await targetObject(env.targetClient, 'dst', key);
            assert.ok(got.body.equals(want.body), `bytes of ${key}`);
            assert.deepEqual(userMetadata(got.metadata), want.metadata, `metadata of ${key}`);
          }
          if (versioned) {
            const target = await targetVersions(env.target.gw, 'dst');
            const wanted = new Map<string, Array<{ deleteMarker: boolean; etag: string }>>();
            for await (const v of source.listVersions()) {
              const list = wanted.get(v.key) ?? [];
              list.push({ deleteMarker: v.deleteMarker, etag: v.deleteMarker ? '' : v.etag });
              wanted.set(v.key, list);
            }
            for (const [key, versions] of wanted) {
              const got = (target.get(key) ?? []).map((v) => ({
                deleteMarker: v.deleteMarker,
                etag: v.etag,
              }));
              assert.deepEqual(got, versions, `versions of ${key}`);
            }
          }
        } finally {
          await store.close();
        }
      });
    },
  );
}
