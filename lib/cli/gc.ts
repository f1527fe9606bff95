/**
 * `tessera gc` on a store directory (the store must not be open elsewhere:
 * the drives are locked): one garbage-collection run (docs/gc.md), which
 * compacts every sealed segment whose dead ratio reaches the threshold and
 * reports segments compacted, bytes reclaimed and bytes moved.
 *
 * A progress bar (cli-progress) is drawn on stderr only when it is a TTY.
 * SIGINT stops after the current batch; nothing half-done is freed (exit
 * 130).
 */
import { resolve } from 'node:path';
import { isStoreDir } from './store_path';
import type { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { TesseraError } from '../errors';
import { Store } from '../store/store';
import type { GcProgress, GcReport, SpaceStats } from '../gc/types';
import { EXIT_INTERRUPTED, EXIT_OK } from './exit_codes';
import { parseRate } from './scrub';
import { UsageError } from './usage_error';

interface GcFlags {
  dataDir?: string;
  rate?: string;
  deadRatio?: string;
  json?: boolean;
}

/** Set by the action: main() returns it instead of EXIT_OK. */
export let gcExitCode = EXIT_OK;

function parseRatio(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const v = Number(text);
  if (!/^\d*\.?\d+$/.test(text) || !(v >= 0 && v <= 1)) {
    throw new UsageError(`--dead-ratio must be a number in 0..1, got ${text}`);
  }
  return v;
}

function progressSink(json: boolean): { onProgress: (p: GcProgress) => void; stop: () => void } {
  if (json || !process.stderr.isTTY) return { onProgress: () => undefined, stop: () => undefined };
  const bar = new SingleBar({
    stream: process.stderr,
    format: '{bar} {percentage}% | segment {segment} ({done}/{segments}) | {moved} MiB moved',
  });
  let started = false;
  return {
    onProgress: (p) => {
      const payload = {
        segment: p.segment,
        done: p.segmentsDone,
        segments: p.segmentsTotal,
        moved: (p.bytesMoved / (1 << 20)).toFixed(1),
      };
      const value = Math.round(p.fraction * 1000);
      if (!started) {
        bar.start(1000, value, payload);
        started = true;
      } else {
        bar.update(value, payload);
      }
    },
    stop: () => {
      if (started) bar.stop();
      started = false;
    },
  };
}

function printReport(r: GcReport, before: number, after: number): void {
  const mib = (n: number): string => (n / (1 << 20)).toFixed(1);
  process.stdout.write(
    `gc: ${r.segmentsCompacted} of ${r.segmentsConsidered} segments compacted, ` +
      `${mib(r.bytesReclaimed)} MiB reclaimed (${mib(r.physicalBytesReclaimed)} MiB on disk), ` +
      `${mib(r.bytesMoved)} MiB moved, ${r.durationMs} ms; ` +
      `segments ${before} -> ${after}` +
      (r.cancelled ? ' (interrupted)' : '') +
      '\n',
  );
  for (const s of r.skipped) process.stdout.write(`  segment ${s.segment}: ${s.reason}\n`);
}

async function runGc(flags: GcFlags): Promise<number> {
  const path = resolve(flags.dataDir ?? process.env.TESSERA_DATA_DIR ?? './tessera-data');
  // The command opens the store itself and holds its lock: no reads compete
  // with the run, so it goes as fast as the drives allow unless told not to
  // (the store's default rate protects a serving store's reads).
  const rateBytesPerSec = flags.rate === undefined ? 0 : parseRate(flags.rate);
  const deadRatio = parseRatio(flags.deadRatio);
  if (!isStoreDir(path)) {
    throw new TesseraError('ERR_INVALID_ARG_VALUE', `no tessera store at ${path}`);
  }
  const store = await Store.open({ path, gc: { background: false } });
  const controller = new AbortController();
  const onSigint = (): void => controller.abort();
  process.once('SIGINT', onSigint);
  const sink = progressSink(flags.json === true);
  try {
    const before = store.spaceStats();
    const report = await store.gc({
      signal: controller.signal,
      onProgress: sink.onProgress,
      ...(deadRatio === undefined ? {} : { deadRatio }),
      rateBytesPerSec,
    });
    sink.stop();
    const after = store.spaceStats();
    if (flags.json) {
      const totals = (x: SpaceStats): Omit<SpaceStats, 'perSegment'> => {
        const copy: Partial<SpaceStats> = { ...x };
        delete copy.perSegment;
        return copy as Omit<SpaceStats, 'perSegment'>;
      };
      process.stdout.write(
        JSON.stringify({ ...report, before: totals(before), after: totals(after) }) + '\n',
      );
    } else {
      printReport(report, before.segments, after.segments);
    }
    return report.cancelled ? EXIT_INTERRUPTED : EXIT_OK;
  } finally {
    sink.stop();
    process.removeListener('SIGINT', onSigint);
    await store.close();
  }
}

export function registerGc(program: Command): void {
  program
    .command('gc')
    .description('reclaim space: compact segments with dead bytes (one run)')
    .option('--data-dir <dir>', 'store directory (env TESSERA_DATA_DIR, default ./tessera-data)')
    .option(
      '--rate <bytes>',
      'move at most this many bytes per second (suffix K, M, G; default 0: no limit)',
    )
    .option('--dead-ratio <r>', 'compact segments at least this fraction dead (default 0.2)')
    .option('--json', 'print one JSON document')
    .action(async (flags: GcFlags) => {
      gcExitCode = await runGc(flags);
    });
}
