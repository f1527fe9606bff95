/**
 * In-process A/B for cached 4 KiB gets (issue 5): lmdb-js `db.get` and
 * tessera `bucket.get` (64 in flight) alternate in rounds of 20,000 random
 * gets over the same 8192 warm keys; prints the median CPU time per get
 * (`process.cpuUsage`, which other tenants of a shared machine disturb far
 * less than wall time) and the ratio. Run: `npx tsx bench/store/cached_get_ab.ts`
 * (ROUNDS=n to change the 15 rounds). Not part of the harness: one number.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { Store } from '../../lib/store/store';
const require = createRequire(__filename);
const N = 8192,
  ROUNDS = Number(process.env.ROUNDS ?? 15),
  PER = 20000;
const key = (i: number) => `obj/${String(i).padStart(6, '0')}`;
async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-getab-'));
  const store = await Store.open({ path: join(dir, 'store') });
  await store.createBucket('bench');
  const b = store.bucket('bench');
  const body = Buffer.alloc(4096, 0x5a);
  for (let i = 0; i < N; i += 64)
    await Promise.all(Array.from({ length: 64 }, (_, j) => b.put(key(i + j), body)));
  const lmdb = require('lmdb') as typeof import('lmdb');
  const db = lmdb.open({
    path: join(dir, 'lmdb'),
    encoding: 'binary',
    noSync: false,
    overlappingSync: false,
  });
  for (let i = 0; i < N; i += 256)
    await db.transaction(() => {
      for (let j = 0; j < 256; j++) db.put(key(i + j), body);
    });
  for (let i = 0; i < N; i++) {
    await b.get(key(i));
    db.get(key(i));
  }
  let x = 12345;
  const rnd = () => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) % N;
  const t: number[] = [],
    l: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let c = process.cpuUsage();
    for (let i = 0; i < PER; i++) {
      const v = db.get(key(rnd()));
      if (v.length !== 4096) throw new Error('lmdb');
    }
    let d = process.cpuUsage(c);
    l.push((d.user + d.system) / PER);
    c = process.cpuUsage();
    for (let i = 0; i < PER; i += 64) {
      const rs = await Promise.all(Array.from({ length: 64 }, () => b.get(key(rnd()))));
      for (const g of rs) if (!g || g.body.length !== 4096) throw new Error('tessera');
    }
    d = process.cpuUsage(c);
    t.push((d.user + d.system) / PER);
  }
  const med = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1]!;
  console.log(
    `lmdb ${med(l).toFixed(3)} us/get, tessera ${med(t).toFixed(3)} us/get, ratio (lmdb/tessera) ${(med(l) / med(t)).toFixed(2)}x`,
  );
  await store.close();
  db.close();
  rmSync(dir, { recursive: true, force: true });
}
main();
