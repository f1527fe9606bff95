/**
 * Runs exactly one trial in this (fresh) process and sends its Measurement
 * to the parent over IPC. Started by bench/run.ts; not meant to be run by
 * hand: `node --import tsx bench/lib/child.ts <suite-file> <trial-name>`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchSuite } from './types';

async function main(): Promise<void> {
  const [suiteFile, trialName, dataRoot] = process.argv.slice(2);
  if (!suiteFile || !trialName || !dataRoot)
    throw new Error('usage: child.ts <suite> <trial> <dir>');
  const { suite } = (await import(suiteFile)) as { suite: BenchSuite };
  const trial = (await suite.trials()).find((t) => t.name === trialName);
  if (!trial) throw new Error(`no trial '${trialName}' in suite ${suite.name}`);
  const dir = mkdtempSync(join(dataRoot, 'trial-'));
  try {
    const measurement = await trial.run({
      dir,
      quick: process.env.TESSERA_BENCH_QUICK === '1',
      long: process.env.TESSERA_BENCH_LONG === '1',
    });
    await new Promise<void>((resolve, reject) =>
      process.send!({ measurement }, (error: Error | null) => (error ? reject(error) : resolve())),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
