/**
 * Lifecycle expiry (issue 8): how fast one pass expires objects when the
 * rate is effectively unbounded, against the same deletions issued by hand
 * (awaited `bucket.delete` one after another: the pass does one at a time
 * too, plus the listing and the version condition); and whether the
 * configured bound holds (ops/s must stay at or under it).
 *
 * Objects are 1 KiB, in an unversioned bucket, all due (an injected clock
 * three days ahead). Setting up the objects is not timed.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Store } from '../../lib/store/store';
import type { BenchSuite, Measurement, TrialContext } from '../lib/types';

const DAY_MS = 86_400_000;

function count(context: TrialContext): number {
  return context.quick ? 500 : context.long ? 20000 : 3000;
}

async function filledStore(
  context: TrialContext,
  objectsPerSecond: number,
): Promise<{ store: Store; total: number }> {
  const store = await Store.open({
    path: join(context.dir, 'store'),
    lifecycle: { enabled: false, objectsPerSecond, clock: () => Date.now() + 3 * DAY_MS },
  });
  await store.createBucket('bench');
  const bucket = store.bucket('bench');
  const body = Buffer.alloc(1024, 0x5a);
  const total = count(context);
  const inflight: Promise<unknown>[] = [];
  for (let i = 0; i < total; i++) {
    inflight.push(bucket.put(`logs/${String(i).padStart(6, '0')}`, body));
    if (inflight.length >= 64) await Promise.all(inflight.splice(0));
  }
  await Promise.all(inflight);
  return { store, total };
}

async function pass(context: TrialContext, objectsPerSecond: number): Promise<Measurement> {
  const { store, total } = await filledStore(context, objectsPerSecond);
  await store.bucket('bench').setLifecycle([{ status: 'Enabled', expiration: { days: 1 } }]);
  const started = performance.now();
  const report = await store.lifecycle.run();
  const seconds = (performance.now() - started) / 1000;
  await store.close();
  if (report.expired !== total) throw new Error(`expired ${report.expired} of ${total}`);
  return { ops: total, bytes: 0, seconds, extra: { bound: objectsPerSecond } };
}

async function byHand(context: TrialContext): Promise<Measurement> {
  const { store, total } = await filledStore(context, 1);
  const bucket = store.bucket('bench');
  const started = performance.now();
  for (let i = 0; i < total; i++) await bucket.delete(`logs/${String(i).padStart(6, '0')}`);
  const seconds = (performance.now() - started) / 1000;
  await store.close();
  return { ops: total, bytes: 0, seconds };
}

export const suite: BenchSuite = {
  name: 'lifecycle',
  description: 'lifecycle expiry pass: unbounded throughput vs hand deletes, and the rate bound',
  trials: () => [
    {
      name: 'awaited bucket.delete one by one',
      group: 'expire all (unbounded)',
      subject: 'tessera',
      baseline: true,
      run: byHand,
    },
    {
      name: 'lifecycle pass, objectsPerSecond 1e6',
      group: 'expire all (unbounded)',
      subject: 'tessera',
      run: (context) => pass(context, 1_000_000),
    },
    {
      name: 'lifecycle pass, objectsPerSecond 1000 (bound)',
      group: 'rate bound 1000/s',
      subject: 'tessera',
      baseline: true,
      run: (context) => pass(context, 1000),
    },
  ],
};
