/**
 * The native index seen from Node: an ordered prefix scan of one million keys
 * (out of two million) through the batched listing call — one packed Buffer
 * per page — against lmdb-js's getKeys over the same keys, in the same run.
 * Also random point lookups through the addon (one call per key).
 *
 * Every run is a fresh process that builds its own data; only the scan or
 * lookup loop is timed.
 */
import { performance } from 'node:perf_hooks';
import type { BenchSuite, Measurement, TrialContext } from '../lib/types';
import { encodeMeta, type IndexMeta, ObjectIndex } from '../../lib/index-native/object_index';

const PREFIX = 'logs/2024/';

/**
 * The machine is shared: besides wall time, each trial reports its rate per
 * CPU-second of this process (user + system), which other processes' load
 * does not inflate. Ratios in docs/BENCHMARKS.md use both.
 */
function cpuSeconds(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1e6;
}

function withCpu(m: Measurement, cpu: number): Measurement {
  return { ...m, extra: { ...m.extra, opsPerCpuSecond: Math.round(m.ops / cpu) } };
}

function keyCount(context: TrialContext): number {
  return context.quick ? 100_000 : 1_000_000;
}

function keyAt(prefix: string, i: number): string {
  return prefix + String(i).padStart(10, '0');
}

function metaAt(i: number): IndexMeta {
  return {
    segment: i & 0xffff,
    offset: i * 4096,
    length: 4096,
    versionId: BigInt(i + 1),
    size: 1000 + (i % 5000),
    mtimeMs: 1_700_000_000_000 + i,
    etag: Buffer.alloc(16, i & 0xff),
    partCount: 0,
    flags: 0,
  };
}

/** Two prefixes of n keys each, inserted interleaved, in batches. */
function buildIndex(n: number): ObjectIndex {
  const index = new ObjectIndex({ expectedKeys: 2 * n });
  const batch = 10_000;
  for (let base = 0; base < n; base += batch) {
    const parts: Buffer[] = [];
    const metas = Buffer.alloc(2 * batch * 64);
    let count = 0;
    for (let i = base; i < Math.min(n, base + batch); i++) {
      for (const prefix of [PREFIX, 'data/x/']) {
        const key = Buffer.from(keyAt(prefix, i));
        const len = Buffer.alloc(2);
        len.writeUInt16LE(key.length);
        parts.push(len, key);
        encodeMeta(metaAt(i), metas, count * 64);
        count++;
      }
    }
    // putMany is the batched fill; listing is what we time.
    (index as unknown as { native: { putMany: (...a: unknown[]) => number } }).native.putMany(
      'bench',
      Buffer.concat(parts),
      metas.subarray(0, count * 64),
      0,
    );
  }
  return index;
}

async function scanTessera(
  context: TrialContext,
  pageKeys: number,
  makeStrings: boolean,
): Promise<Measurement> {
  const n = keyCount(context);
  const index = buildIndex(n);
  let seen = 0;
  let bytes = 0;
  let continuation: Buffer | undefined;
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  do {
    const page = index.listRaw('bench', { prefix: PREFIX, maxKeys: pageKeys, continuation });
    const packed = page.keys;
    for (let pos = 0; pos < packed.length;) {
      const len = packed.readUInt16LE(pos);
      if (makeStrings) {
        const key = packed.toString('latin1', pos + 2, pos + 2 + len);
        bytes += key.length;
      } else {
        bytes += len;
      }
      pos += 2 + len;
      seen++;
    }
    continuation = page.truncated ? page.next : undefined;
  } while (continuation);
  const cpu = cpuSeconds(cpu0);
  const seconds = (performance.now() - started) / 1000;
  if (seen !== n) throw new Error(`scanned ${seen} keys, expected ${n}`);
  return withCpu({ ops: seen, bytes, seconds }, cpu);
}

async function scanLmdb(context: TrialContext): Promise<Measurement> {
  const n = keyCount(context);
  const { open } = await import('lmdb');
  const db = open({ path: `${context.dir}/lmdb`, noSync: true, compression: false });
  const value = Buffer.alloc(16, 1);
  const batch = 10_000;
  for (let base = 0; base < n; base += batch) {
    db.transactionSync(() => {
      for (let i = base; i < Math.min(n, base + batch); i++) {
        db.putSync(keyAt(PREFIX, i), value);
        db.putSync(keyAt('data/x/', i), value);
      }
    });
  }
  let seen = 0;
  let bytes = 0;
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  for (const key of db.getKeys({ start: PREFIX, end: 'logs/20240' })) {
    bytes += (key as string).length;
    seen++;
  }
  const cpu = cpuSeconds(cpu0);
  const seconds = (performance.now() - started) / 1000;
  await db.close();
  if (seen !== n) throw new Error(`lmdb scanned ${seen} keys, expected ${n}`);
  return withCpu({ ops: seen, bytes, seconds }, cpu);
}

async function lookups(context: TrialContext): Promise<Measurement> {
  const n = keyCount(context);
  const index = buildIndex(n);
  const keys: Buffer[] = [];
  let x = 12345;
  for (let i = 0; i < 100_000; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    keys.push(Buffer.from(keyAt(PREFIX, x % n)));
  }
  const native = (
    index as unknown as { native: { get: (b: string, k: Buffer, o: Buffer) => boolean } }
  ).native;
  const out = Buffer.alloc(64);
  const ops = context.quick ? 200_000 : 2_000_000;
  let found = 0;
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < ops; i++)
    found += native.get('bench', keys[i % keys.length] as Buffer, out) ? 1 : 0;
  const cpu = cpuSeconds(cpu0);
  const seconds = (performance.now() - started) / 1000;
  if (found !== ops) throw new Error(`found ${found} of ${ops}`);
  return withCpu({ ops, bytes: 0, seconds }, cpu);
}

export const suite: BenchSuite = {
  name: 'index',
  description: 'native index from Node: prefix scan of 1M keys vs lmdb-js getKeys; point lookups',
  trials: async () => {
    const trials = [
      {
        name: 'tessera index list, 1000/page, packed keys',
        group: 'prefix scan 1M of 2M keys',
        subject: 'tessera',
        run: (c: TrialContext) => scanTessera(c, 1000, false),
      },
      {
        name: 'tessera index list, 1000/page, + JS string per key',
        group: 'prefix scan 1M of 2M keys',
        subject: 'tessera',
        run: (c: TrialContext) => scanTessera(c, 1000, true),
      },
      {
        name: 'tessera index list, 10000/page, + JS string per key',
        group: 'prefix scan 1M of 2M keys',
        subject: 'tessera',
        run: (c: TrialContext) => scanTessera(c, 10000, true),
      },
      {
        name: 'tessera index get (one addon call per key)',
        group: 'point lookup, 2M keys',
        subject: 'tessera',
        run: lookups,
      },
    ];
    try {
      await import('lmdb');
      trials.push({
        name: 'lmdb-js getKeys',
        group: 'prefix scan 1M of 2M keys',
        subject: 'lmdb-js',
        baseline: true,
        run: scanLmdb,
      } as (typeof trials)[number]);
    } catch {
      // lmdb is a devDependency; without it the scan has no peer (named below).
      for (const trial of trials) {
        if (trial.group.startsWith('prefix scan'))
          trial.name += ' (lmdb-js not installed: no peer)';
      }
    }
    return trials;
  },
};
