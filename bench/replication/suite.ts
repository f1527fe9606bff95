/**
 * Replication figures (issue 9), all in one run on loopback:
 *
 * - lag: 64 KiB objects PUT at 100/s into a native source store, replicated
 *   to a tessera gateway (native store, own process); latency = time from
 *   the source PUT's acknowledgement to the destination's acknowledgement.
 * - throughput: 1 MiB objects. Baseline: the destination gateway's own PUT
 *   throughput (the replication client, 16 concurrent PUTs, no source);
 *   against it, draining a backlog of the same objects from a native source
 *   store through the replicator (window 16).
 *
 * The change feed is the in-memory one (the durable feed is separate work):
 * events are appended when the source PUT resolves.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { Store } from '../../lib/store/store';
import { MemoryChangeFeed, type ChangeFeed } from '../../lib/replication/feed';
import { S3TargetClient } from '../../lib/replication/s3_client';
import type { BenchSuite, Measurement, TrialContext } from '../lib/types';
import { ACCESS_KEY, BUCKET, SECRET_KEY } from '../gateway/server_child';

async function startTarget(dir: string): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(__dirname, '..', 'gateway', 'server_child.ts'), 'tessera-native', dir],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`target server exited ${code}`)));
  });
  return { child, port };
}

async function stopTarget(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

function rule(port: number) {
  return {
    rules: [
      {
        id: 'bench',
        destination: {
          endpoint: `http://127.0.0.1:${port}`,
          region: 'us-east-1',
          bucket: BUCKET,
          credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
        },
        deleteMarkerReplication: true,
        existingObjects: false,
      },
    ],
  };
}

function body(size: number, n: number): Buffer {
  const out = Buffer.alloc(size, n & 0xff);
  out.writeUInt32LE(n, 0);
  return out;
}

async function openSource(ctx: TrialContext): Promise<Store> {
  const store = await Store.open({ path: join(ctx.dir, 'src'), dataShards: 4, parityShards: 2 });
  await store.createBucket('src');
  return store;
}

/** The store's own durable feed when it has one (store.watch), else the in-memory one. */
function hasDurableFeed(store: Store): boolean {
  return typeof (store as unknown as { watch?: unknown }).watch === 'function';
}

async function lagTrial(ctx: TrialContext): Promise<Measurement> {
  const target = await startTarget(join(ctx.dir, 'dst'));
  const store = await openSource(ctx);
  const durable = hasDurableFeed(store);
  const feed = durable ? undefined : new MemoryChangeFeed();
  const acked = new Map<string, number>();
  const appliedAt = new Map<string, number>();
  try {
    await store.startReplication({
      ...(feed ? { feed } : {}),
      onApplied: (_b, _r, event) => void appliedAt.set(event.key, performance.now()),
    });
    await store.bucket('src').setReplication(rule(target.port));
    const seconds = ctx.quick ? 4 : 10;
    const total = seconds * 100;
    const payload = 64 * 1024;
    const start = performance.now();
    const puts: Promise<void>[] = [];
    for (let i = 0; i < total; i++) {
      const due = start + i * 10;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      puts.push(
        store
          .bucket('src')
          .put(`lag/${i}`, body(payload, i))
          .then((r) => {
            acked.set(`lag/${i}`, performance.now());
            feed?.append({
              type: 'created',
              bucket: 'src',
              key: `lag/${i}`,
              versionId: r.versionId,
              size: r.size,
              etag: r.etag,
              deleteMarker: false,
            });
          }),
      );
    }
    await Promise.all(puts);
    const putSeconds = (performance.now() - start) / 1000;
    await store.replication!.drain(undefined, AbortSignal.timeout(120_000));
    const elapsed = (performance.now() - start) / 1000;
    // Replication can finish before the source put's promise runs its
    // continuation; such a lag counts as 0.
    const lags: number[] = [];
    for (const [key, t] of acked) {
      const done = appliedAt.get(key);
      if (done !== undefined) lags.push(Math.max(0, done - t) * 1000);
    }
    return {
      ops: lags.length,
      bytes: lags.length * payload,
      seconds: elapsed,
      latenciesUs: lags,
      extra: {
        offeredPutPerS: Math.round(total / putSeconds),
        feed: durable ? 'store.watch' : 'memory',
      },
    };
  } finally {
    await store.close();
    await stopTarget(target.child);
  }
}

const MIB = 1024 * 1024;

async function targetPutTrial(ctx: TrialContext): Promise<Measurement> {
  const target = await startTarget(join(ctx.dir, 'dst'));
  const client = new S3TargetClient({
    endpoint: `http://127.0.0.1:${target.port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
  });
  try {
    const n = ctx.quick ? 32 : 96;
    const bodies = Array.from({ length: n }, (_, i) => body(MIB, i));
    let next = 0;
    const start = performance.now();
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < n) {
          const i = next++;
          await client.putObject(BUCKET, `direct/${i}`, bodies[i]!, MIB, {});
        }
      }),
    );
    const seconds = (performance.now() - start) / 1000;
    return { ops: n, bytes: n * MIB, seconds };
  } finally {
    client.close();
    await stopTarget(target.child);
  }
}

async function replicateTrial(ctx: TrialContext): Promise<Measurement> {
  const target = await startTarget(join(ctx.dir, 'dst'));
  const store = await openSource(ctx);
  const memory = new MemoryChangeFeed();
  // No head(): a new rule starts at sequence 0 and replays the backlog.
  const feed: ChangeFeed = { watch: (o) => memory.watch(o) };
  try {
    const n = ctx.quick ? 32 : 96;
    for (let i = 0; i < n; i++) {
      const r = await store.bucket('src').put(`bulk/${i}`, body(MIB, i));
      memory.append({
        type: 'created',
        bucket: 'src',
        key: `bulk/${i}`,
        versionId: r.versionId,
        size: r.size,
        etag: r.etag,
        deleteMarker: false,
      });
    }
    const manager = await store.startReplication({ feed });
    const start = performance.now();
    await store.bucket('src').setReplication(rule(target.port));
    await manager.drain(memory.head(), AbortSignal.timeout(300_000));
    const seconds = (performance.now() - start) / 1000;
    return { ops: n, bytes: n * MIB, seconds };
  } finally {
    await store.close();
    await stopTarget(target.child);
  }
}

export const suite: BenchSuite = {
  name: 'replication',
  description:
    'replication lag at 100 PUT/s of 64 KiB, and 1 MiB replication vs the target gateway PUT',
  trials: () => [
    {
      name: 'replication lag 64KiB @100 PUT/s (source ack -> target ack)',
      group: 'replication lag',
      subject: 'tessera',
      baseline: true,
      run: lagTrial,
    },
    {
      name: 'target gateway PUT 1MiB (16 concurrent)',
      group: 'replication throughput 1MiB',
      subject: 'tessera-gateway',
      baseline: true,
      run: targetPutTrial,
    },
    {
      name: 'replicate 1MiB backlog (window 16)',
      group: 'replication throughput 1MiB',
      subject: 'tessera',
      run: replicateTrial,
    },
  ],
};
