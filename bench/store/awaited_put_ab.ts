/**
 * In-process A/B for one awaited 4 KiB put (issue 5): rounds alternate a
 * raw 4 KiB write + fdatasync (node:fs) and tessera `bucket.put` awaited
 * one at a time (one store per variant, opened once), and print each
 * variant's p50 over all rounds and its ratio to raw. Run:
 * `npx tsx bench/store/awaited_put_ab.ts [dir]` (ROUNDS, PER to change the
 * 9 rounds of 200 puts). Not part of the harness: one table.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Store, type StoreOpenOptions } from '../../lib/store/store';

const ROUNDS = Number(process.env.ROUNDS ?? 9);
const PER = Number(process.env.PER ?? 200);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(process.argv[2] ?? tmpdir(), 'tessera-putab-'));
  const body = Buffer.alloc(4096, 0x5a);
  const fh = await open(join(dir, 'raw'), 'w');
  const variants: [string, Partial<StoreOpenOptions>][] = [
    ['io_uring', { ioBackend: 'io_uring' }],
    ['pwrite', { ioBackend: 'pwrite' }],
  ];
  const stores = await Promise.all(
    variants.map(async ([name, o]) => {
      const store = await Store.open({ path: join(dir, name), ...o });
      await store.createBucket('bench');
      return store;
    }),
  );
  const lat: number[][] = [[], ...variants.map(() => [])];
  let n = 0;
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < PER; i++) {
      const t0 = performance.now();
      await fh.write(body, 0, body.length, (n++ % 1024) * 4096);
      await fh.datasync();
      lat[0]!.push((performance.now() - t0) * 1000);
    }
    for (let v = 0; v < stores.length; v++) {
      const bucket = stores[v]!.bucket('bench');
      for (let i = 0; i < PER; i++) {
        const t0 = performance.now();
        await bucket.put(`k${r}-${i}`, body);
        lat[v + 1]!.push((performance.now() - t0) * 1000);
      }
    }
  }
  const p = (a: number[], q: number): number =>
    [...a].sort((x, y) => x - y)[Math.floor(a.length * q)]!;
  const raw = p(lat[0]!, 0.5);
  console.log(`raw write+fdatasync p50 ${raw.toFixed(1)} us p90 ${p(lat[0]!, 0.9).toFixed(1)} us`);
  for (let v = 0; v < variants.length; v++) {
    const a = lat[v + 1]!;
    console.log(
      `tessera ${variants[v]![0]} p50 ${p(a, 0.5).toFixed(1)} us p90 ${p(a, 0.9).toFixed(1)} us: ${(p(a, 0.5) / raw).toFixed(2)}x raw`,
    );
  }
  await fh.close();
  for (const s of stores) await s.close();
  rmSync(dir, { recursive: true, force: true });
}

void main();
