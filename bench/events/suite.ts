/**
 * The change feed (issue 8): what a live watcher costs durable puts, how
 * fast the feed reads back from the log, and what store.stats() costs.
 *
 * Groups:
 * - 4 KiB durable puts, 64 in flight, without (baseline) and with one live
 *   store.watch() consuming every event as it commits.
 * - Reading the feed from seq 1 after a reopen (cold caches of the feed,
 *   not of the OS), store.changes() pages of 1000: events/s.
 * - store.stats() over a store of N objects: calls/s.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Store } from '../../lib/store/store';
import type { BenchSuite, Measurement, TrialContext } from '../lib/types';

const OBJECT_BYTES = 4096;
const IN_FLIGHT = 64;

function objects(context: TrialContext): number {
  return context.quick ? 3000 : context.long ? 100000 : 20000;
}

async function fill(store: Store, total: number, limit: number): Promise<number[]> {
  await store.createBucket('bench');
  const bucket = store.bucket('bench');
  const body = Buffer.alloc(OBJECT_BYTES, 0x5a);
  const latenciesUs: number[] = [];
  let next = 0;
  async function worker(): Promise<void> {
    while (next < total) {
      const i = next++;
      const t0 = performance.now();
      await bucket.put(`k${i}`, body);
      latenciesUs.push((performance.now() - t0) * 1000);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, total) }, worker));
  return latenciesUs;
}

async function puts(context: TrialContext, watched: boolean): Promise<Measurement> {
  const total = objects(context);
  const store = await Store.open({ path: join(context.dir, 'store') });
  let seen = 0;
  let watching: Promise<void> | undefined;
  const controller = new AbortController();
  if (watched) {
    watching = (async () => {
      for await (const event of store.watch({ signal: controller.signal })) {
        if (event.type === 'created') seen++;
        if (seen === total) break;
      }
    })();
  }
  const t0 = performance.now();
  const latenciesUs = await fill(store, total, IN_FLIGHT);
  if (watching) await watching; // every event delivered
  const seconds = (performance.now() - t0) / 1000;
  controller.abort();
  await store.close();
  return {
    ops: total,
    bytes: total * OBJECT_BYTES,
    seconds,
    latenciesUs,
    extra: watched ? { eventsSeen: seen } : {},
  };
}

async function readFeed(context: TrialContext): Promise<Measurement> {
  const total = objects(context);
  const path = join(context.dir, 'store');
  let store = await Store.open({ path });
  await fill(store, total, IN_FLIGHT);
  await store.close();
  store = await Store.open({ path });
  const latenciesUs: number[] = [];
  let events = 0;
  let from = 1;
  const t0 = performance.now();
  for (;;) {
    const p0 = performance.now();
    const page = await store.changes(from, 1000);
    latenciesUs.push((performance.now() - p0) * 1000);
    events += page.events.length;
    if (page.events.length === 0) break;
    from = page.nextSeq;
  }
  const seconds = (performance.now() - t0) / 1000;
  await store.close();
  if (events !== total) throw new Error(`read ${events} events of ${total}`);
  return { ops: events, bytes: 0, seconds, latenciesUs, extra: { pageEvents: 1000 } };
}

async function stats(context: TrialContext): Promise<Measurement> {
  const total = objects(context);
  const store = await Store.open({ path: join(context.dir, 'store') });
  await fill(store, total, IN_FLIGHT);
  const calls = context.quick ? 20 : 50;
  const latenciesUs: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) {
    const c0 = performance.now();
    const s = await store.stats();
    latenciesUs.push((performance.now() - c0) * 1000);
    if (s.objects !== total) throw new Error(`stats counted ${s.objects} of ${total}`);
  }
  const seconds = (performance.now() - t0) / 1000;
  await store.close();
  return { ops: calls, bytes: 0, seconds, latenciesUs, extra: { objects: total } };
}

export const suite: BenchSuite = {
  name: 'events',
  description: 'change feed: watcher cost on durable puts, feed read rate, store.stats() cost',
  trials: () => [
    {
      name: 'tessera 4 KiB puts x64, no watcher',
      group: 'durable 4 KiB puts, 64 in flight',
      subject: 'tessera',
      baseline: true,
      run: (ctx) => puts(ctx, false),
    },
    {
      name: 'tessera 4 KiB puts x64, one live watcher',
      group: 'durable 4 KiB puts, 64 in flight',
      subject: 'tessera',
      run: (ctx) => puts(ctx, true),
    },
    {
      name: 'tessera feed read from seq 1 after reopen (pages of 1000)',
      group: 'feed read',
      subject: 'tessera',
      baseline: true,
      run: readFeed,
    },
    {
      name: 'tessera store.stats()',
      group: 'stats',
      subject: 'tessera',
      baseline: true,
      run: stats,
    },
  ],
};
