/**
 * Issue 5's read and large-object figures, each against a peer measured in
 * the same run:
 * - 4 KiB gets: tessera with its read cache warm vs lmdb-js gets; tessera
 *   with the cache off vs raw random 4 KiB O_DIRECT reads.
 * - 64 MiB objects, 4+2 and 8+4: put vs raw sequential O_DIRECT writes
 *   (1 MiB, several in flight; the target is 0.8 x k/(k+m) of it), get vs
 *   raw sequential O_DIRECT reads (target 0.8x).
 * - 1000 concurrent 1 MiB puts: event-loop delay p99 and peak RSS.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Store } from '../../lib/store/store';
import type { Measurement, Trial, TrialContext } from '../lib/types';
import { MiB, rawRandomReads, rawSequentialRead, rawSequentialWrite } from './raw_io';
import { pool } from '../lib/pool';

const GET_OBJECTS = 8192; // 32 MiB of 4 KiB objects: fits the default 64 MiB cache
const GET_IN_FLIGHT = 64;
const LARGE_BYTES = 64 * MiB;
const RAW_DEPTH = 4; // libuv's pool has 4 threads

function getCount(context: TrialContext): number {
  return context.quick ? 50000 : context.long ? 1000000 : 200000;
}

function largeCount(context: TrialContext): number {
  return context.quick ? 2 : context.long ? 8 : 4;
}

function keyOf(i: number): string {
  return `obj/${String(i).padStart(6, '0')}`;
}

function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x;
  };
}

async function loadedStore(context: TrialContext, cacheBytes: number | undefined) {
  const options = cacheBytes === undefined ? {} : { cacheBytes };
  const store = await Store.open({ path: join(context.dir, 'store'), ...options });
  await store.createBucket('bench');
  const bucket = store.bucket('bench');
  const body = Buffer.alloc(4096, 0x5a);
  await pool(GET_OBJECTS, 256, (i) => bucket.put(keyOf(i), body));
  return { store, bucket };
}

async function tesseraGets(context: TrialContext, cached: boolean): Promise<Measurement> {
  const { store, bucket } = await loadedStore(context, cached ? undefined : 0);
  if (cached) await pool(GET_OBJECTS, GET_IN_FLIGHT, (i) => bucket.get(keyOf(i))); // warm
  const total = getCount(context);
  const next = lcg(7);
  // store.stats() counts the hot-object map's hits too (lib/store).
  const before = (await store.stats()).cache;
  const { seconds, latenciesUs } = await pool(total, GET_IN_FLIGHT, async () => {
    const got = await bucket.get(keyOf(next() % GET_OBJECTS));
    if (got?.body.length !== 4096) throw new Error('wrong body');
  });
  const after = (await store.stats()).cache;
  await store.close();
  return {
    ops: total,
    bytes: total * 4096,
    seconds,
    latenciesUs,
    extra: {
      hitRate: Number(((after.hits - before.hits) / total).toFixed(3)),
      cacheMiB: Number((after.bytes / MiB).toFixed(1)),
    },
  };
}

async function lmdbGets(context: TrialContext): Promise<Measurement> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const lmdb = require('lmdb') as typeof import('lmdb');
  const db = lmdb.open({ path: join(context.dir, 'lmdb'), encoding: 'binary' });
  const body = Buffer.alloc(4096, 0x5a);
  await db.transaction(() => {
    for (let i = 0; i < GET_OBJECTS; i++) db.put(keyOf(i), body);
  });
  for (let i = 0; i < GET_OBJECTS; i++) db.get(keyOf(i)); // warm, like the cache
  const total = getCount(context);
  const next = lcg(7);
  const latenciesUs: number[] = [];
  const started = performance.now();
  for (let i = 0; i < total; i++) {
    const t0 = performance.now();
    const got = db.get(keyOf(next() % GET_OBJECTS)) as Buffer | undefined;
    if (got?.length !== 4096) throw new Error('wrong body');
    latenciesUs.push((performance.now() - t0) * 1000);
  }
  const seconds = (performance.now() - started) / 1000;
  await db.close();
  return { ops: total, bytes: total * 4096, seconds, latenciesUs };
}

async function rawGets(context: TrialContext): Promise<Measurement> {
  const path = join(context.dir, 'raw-gets.dat');
  await rawSequentialWrite(path, GET_OBJECTS * 4096, RAW_DEPTH);
  const total = Math.min(getCount(context), 100000);
  const { seconds, latenciesUs } = await rawRandomReads(path, GET_OBJECTS * 4096, total, RAW_DEPTH);
  return { ops: total, bytes: total * 4096, seconds, latenciesUs };
}

function largeBody(): Buffer {
  const body = Buffer.allocUnsafe(LARGE_BYTES);
  const next = lcg(99);
  for (let i = 0; i < body.length; i += 4) body.writeUInt32LE(next(), i);
  return body;
}

interface LargePutOptions {
  segmentZeroFill?: 'small-groups' | 'always';
  /** 'serial': each new segment created one drive after another (before session 4). */
  segmentCreate?: 'parallel' | 'serial';
  /** Puts of distinct keys in flight at once (1: one awaited put after another). */
  inFlight?: number;
}

async function tesseraLargePuts(
  context: TrialContext,
  k: number,
  m: number,
  opts: LargePutOptions = {},
): Promise<Measurement> {
  const segmentZeroFill = opts.segmentZeroFill ?? 'small-groups';
  const segmentCreate = opts.segmentCreate ?? 'parallel';
  const inFlight = opts.inFlight ?? 1;
  const store = await Store.open({
    path: join(context.dir, 'store'),
    dataShards: k,
    parityShards: m,
    segmentZeroFill,
    segmentCreate,
  });
  await store.createBucket('bench');
  const bucket = store.bucket('bench');
  const body = largeBody();
  const total = largeCount(context) * inFlight;
  const latenciesUs: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < total) {
        const i = next++;
        const t0 = performance.now();
        await bucket.put(`big${i}`, body);
        latenciesUs.push((performance.now() - t0) * 1000);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await store.close();
  return {
    ops: total,
    bytes: total * LARGE_BYTES,
    seconds,
    latenciesUs,
    extra: { k, m, segmentZeroFill, segmentCreate, inFlight },
  };
}

/**
 * How a large get reads (the "before" rows give the same-run A/B):
 * 'current'; 'pieces-joined' hides the engine's readInto, so each 4 MiB
 * piece comes back in its own buffer and the pieces are joined (before
 * session 4); 'drive-at-a-time' opens the store with the pwrite backend,
 * whose reads go one drive after another (synchronous preads, before
 * session 4) instead of all of a batch's drives at once through io_uring.
 */
type LargeGetMode = 'current' | 'pieces-joined' | 'drive-at-a-time';

async function tesseraLargeGets(
  context: TrialContext,
  k: number,
  m: number,
  mode: LargeGetMode = 'current',
): Promise<Measurement> {
  const store = await Store.open({
    path: join(context.dir, 'store'),
    dataShards: k,
    parityShards: m,
    ...(mode === 'drive-at-a-time' ? { ioBackend: 'pwrite' as const } : {}),
  });
  if (mode === 'pieces-joined') {
    // Bench-only: an own property shadows the prototype's readInto.
    const engine = (store as unknown as { engine: { readInto?: unknown } }).engine;
    engine.readInto = undefined;
  }
  await store.createBucket('bench');
  const bucket = store.bucket('bench');
  const body = largeBody();
  const total = largeCount(context);
  for (let i = 0; i < total; i++) await bucket.put(`big${i}`, body);
  // One untimed get first, reported on its own: the process's first large
  // body lands in memory never touched before (faulted in, and on a VM
  // often backed by the host anew), which the raw baseline, reusing its
  // buffers, pays once too but outside a per-object figure.
  const w0 = performance.now();
  if ((await bucket.get('big0'))?.body.length !== LARGE_BYTES) throw new Error('wrong size');
  const firstGetMs = Number((performance.now() - w0).toFixed(1));
  const latenciesUs: number[] = [];
  const started = performance.now();
  for (let i = 0; i < total; i++) {
    const t0 = performance.now();
    const got = await bucket.get(`big${i}`);
    if (got?.body.length !== LARGE_BYTES) throw new Error('wrong size');
    latenciesUs.push((performance.now() - t0) * 1000);
  }
  const seconds = (performance.now() - started) / 1000;
  const ioBackend = store.info().ioBackend;
  await store.close();
  return {
    ops: total,
    bytes: total * LARGE_BYTES,
    seconds,
    latenciesUs,
    extra: { k, m, mode, ioBackend, firstGetMs },
  };
}

/**
 * The ETag's own ceiling: a single put's body is MD5-hashed as one serial
 * stream (S3's ETag for a non-multipart put), so no put of one object can
 * go faster than one core hashes. node:crypto (OpenSSL's assembly MD5) runs
 * at the same speed as the engine's Md5 on this CPU.
 */
async function md5Stream(context: TrialContext): Promise<Measurement> {
  const body = largeBody();
  const total = largeCount(context);
  const latenciesUs: number[] = [];
  const started = performance.now();
  for (let i = 0; i < total; i++) {
    const t0 = performance.now();
    createHash('md5').update(body).digest();
    latenciesUs.push((performance.now() - t0) * 1000);
    await new Promise((resolve) => setImmediate(resolve));
  }
  const seconds = (performance.now() - started) / 1000;
  return { ops: total, bytes: total * LARGE_BYTES, seconds, latenciesUs };
}

async function rawLargeWrites(context: TrialContext): Promise<Measurement> {
  const total = largeCount(context);
  const seconds = await rawSequentialWrite(
    join(context.dir, 'raw-seq.dat'),
    total * LARGE_BYTES,
    RAW_DEPTH,
  );
  return { ops: total, bytes: total * LARGE_BYTES, seconds, extra: { depth: RAW_DEPTH } };
}

async function rawLargeReads(context: TrialContext): Promise<Measurement> {
  const total = largeCount(context);
  const path = join(context.dir, 'raw-seq.dat');
  await rawSequentialWrite(path, total * LARGE_BYTES, RAW_DEPTH);
  const seconds = await rawSequentialRead(path, total * LARGE_BYTES, RAW_DEPTH);
  return { ops: total, bytes: total * LARGE_BYTES, seconds, extra: { depth: RAW_DEPTH } };
}

async function concurrentPuts(context: TrialContext): Promise<Measurement> {
  const store = await Store.open({ path: join(context.dir, 'store') });
  await store.createBucket('bench');
  const bucket = store.bucket('bench');
  const body = Buffer.alloc(MiB, 0x33);
  const total = 1000;
  let rssMax = process.memoryUsage.rss();
  const rssBefore = rssMax;
  const sampler = setInterval(() => {
    rssMax = Math.max(rssMax, process.memoryUsage.rss());
  }, 20);
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const latenciesUs: number[] = [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: total }, async (_, i) => {
      const t0 = performance.now();
      await bucket.put(`p${i}`, body);
      latenciesUs.push((performance.now() - t0) * 1000);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  delay.disable();
  clearInterval(sampler);
  rssMax = Math.max(rssMax, process.memoryUsage.rss());
  await store.close();
  return {
    ops: total,
    bytes: total * MiB,
    seconds,
    latenciesUs,
    extra: {
      loopDelayP99ms: Number((delay.percentile(99) / 1e6).toFixed(2)),
      loopDelayMaxms: Number((delay.max / 1e6).toFixed(2)),
      rssBeforeMiB: Math.round(rssBefore / MiB),
      rssMaxMiB: Math.round(rssMax / MiB),
    },
  };
}

/**
 * The machine's own event-loop delay over the same span: an idle Node
 * process (a timer only) on the same loaded cores. Not a ceiling, a
 * control: what a loop that does nothing suffers from the other tenants.
 */
async function idleLoop(context: TrialContext): Promise<Measurement> {
  const seconds = context.quick ? 5 : 10;
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  delay.disable();
  return {
    ops: 1,
    bytes: 0,
    seconds,
    extra: {
      loopDelayP99ms: Number((delay.percentile(99) / 1e6).toFixed(2)),
      loopDelayMaxms: Number((delay.max / 1e6).toFixed(2)),
      rssMaxMiB: Math.round(process.memoryUsage.rss() / MiB),
    },
  };
}

export function readAndLargeTrials(hasLmdb: boolean): Trial[] {
  const trials: Trial[] = [];
  const cachedGroup = `4KiB get, cache warm, ${GET_IN_FLIGHT} in flight`;
  if (hasLmdb) {
    trials.push({
      name: 'lmdb-js get (sync, warm)',
      group: cachedGroup,
      subject: 'lmdb-js',
      baseline: true,
      run: lmdbGets,
    });
  }
  trials.push(
    {
      name: 'tessera bucket.get 4+2, read cache (default 64 MiB)',
      group: cachedGroup,
      subject: 'tessera',
      baseline: !hasLmdb,
      run: (c) => tesseraGets(c, true),
    },
    {
      name: `raw: random 4KiB O_DIRECT reads, ${RAW_DEPTH} in flight (node:fs)`,
      group: '4KiB get, uncached',
      subject: 'node:fs',
      baseline: true,
      run: rawGets,
    },
    {
      name: `tessera bucket.get 4+2, cacheBytes 0, ${GET_IN_FLIGHT} in flight`,
      group: '4KiB get, uncached',
      subject: 'tessera',
      run: (c) => tesseraGets(c, false),
    },
    {
      name: `raw: sequential 1MiB O_DIRECT writes, ${RAW_DEPTH} in flight + fdatasync`,
      group: '64MiB put',
      subject: 'node:fs',
      baseline: true,
      run: rawLargeWrites,
    },
    {
      name: 'ceiling: MD5 of 64MiB, one stream (node:crypto)',
      group: '64MiB put',
      subject: 'node:crypto',
      run: md5Stream,
    },
    {
      name: 'tessera bucket.put 64MiB 4+2',
      group: '64MiB put',
      subject: 'tessera',
      run: (c) => tesseraLargePuts(c, 4, 2),
    },
    {
      name: 'tessera bucket.put 64MiB 4+2, segments created one drive at a time (before)',
      group: '64MiB put',
      subject: 'tessera',
      run: (c) => tesseraLargePuts(c, 4, 2, { segmentCreate: 'serial' }),
    },
    {
      name: 'tessera bucket.put 64MiB 4+2, 2 puts in flight',
      group: '64MiB put',
      subject: 'tessera',
      run: (c) => tesseraLargePuts(c, 4, 2, { inFlight: 2 }),
    },
    {
      name: 'tessera bucket.put 64MiB 8+4',
      group: '64MiB put',
      subject: 'tessera',
      run: (c) => tesseraLargePuts(c, 8, 4),
    },
    {
      name: 'tessera bucket.put 64MiB 8+4, segments created one drive at a time (before)',
      group: '64MiB put',
      subject: 'tessera',
      run: (c) => tesseraLargePuts(c, 8, 4, { segmentCreate: 'serial' }),
    },
    {
      name: 'tessera bucket.put 64MiB 8+4, 2 puts in flight',
      group: '64MiB put',
      subject: 'tessera',
      run: (c) => tesseraLargePuts(c, 8, 4, { inFlight: 2 }),
    },
    {
      name: `raw: sequential 1MiB O_DIRECT reads, ${RAW_DEPTH} in flight`,
      group: '64MiB get',
      subject: 'node:fs',
      baseline: true,
      run: rawLargeReads,
    },
    {
      name: 'tessera bucket.get 64MiB 4+2',
      group: '64MiB get',
      subject: 'tessera',
      run: (c) => tesseraLargeGets(c, 4, 2),
    },
    {
      name: 'tessera bucket.get 64MiB 4+2, pieces in own buffers then joined (before)',
      group: '64MiB get',
      subject: 'tessera',
      run: (c) => tesseraLargeGets(c, 4, 2, 'pieces-joined'),
    },
    {
      name: 'tessera bucket.get 64MiB 4+2, pwrite backend: one drive read at a time',
      group: '64MiB get',
      subject: 'tessera',
      run: (c) => tesseraLargeGets(c, 4, 2, 'drive-at-a-time'),
    },
    {
      name: 'tessera bucket.get 64MiB 8+4',
      group: '64MiB get',
      subject: 'tessera',
      run: (c) => tesseraLargeGets(c, 8, 4),
    },
    {
      name: 'tessera bucket.get 64MiB 8+4, pieces in own buffers then joined (before)',
      group: '64MiB get',
      subject: 'tessera',
      run: (c) => tesseraLargeGets(c, 8, 4, 'pieces-joined'),
    },
    {
      name: 'tessera bucket.get 64MiB 8+4, pwrite backend: one drive read at a time',
      group: '64MiB get',
      subject: 'tessera',
      run: (c) => tesseraLargeGets(c, 8, 4, 'drive-at-a-time'),
    },
    {
      name: 'tessera 1000 concurrent 1MiB puts 4+2 (event-loop delay, RSS)',
      group: '1000 concurrent 1MiB puts',
      subject: 'tessera',
      baseline: true,
      run: concurrentPuts,
    },
    {
      name: 'control: an idle Node process, event-loop delay on the same machine',
      group: '1000 concurrent 1MiB puts',
      subject: 'node',
      run: idleLoop,
    },
  );
  return trials;
}
