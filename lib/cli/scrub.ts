/**
 * `tessera scrub`, `tessera heal` and `tessera verify` on a store directory
 * (the store must not be open elsewhere: the drives are locked).
 *
 * - scrub: read and verify every chunk, report damage (exit 0, or 3 when
 *   anything is damaged).
 * - heal: the same, rewriting missing or corrupt chunks from parity (exit 0
 *   when everything is whole afterwards, 3 when data is lost beyond parity).
 * - verify (fsck): the snapshot's index against a full scan of the log
 *   (lib/store/verify_snapshot.ts), then open, scrub every chunk, then read
 *   every current object version in full (index against segments); exit 3
 *   on any corruption or difference.
 *
 * A progress bar (cli-progress) is drawn on stderr only when it is a TTY.
 * SIGINT stops the pass after its current batch; the cursor is kept and
 * the next run resumes (exit 130).
 */
import { resolve } from 'node:path';
import { isStoreDir } from './store_path';
import type { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { checkSnapshotAgainstLog } from '../store/verify_snapshot';
import { TesseraError } from '../errors';
import { Store } from '../store/store';
import type { ScrubProgress, ScrubReport } from '../store/scrub';
import { EXIT_CORRUPTION, EXIT_INTERRUPTED, EXIT_OK } from './exit_codes';
import { UsageError } from './usage_error';

interface PassFlags {
  dataDir?: string;
  rate?: string;
  json?: boolean;
  restart?: boolean;
  replaceDrives?: boolean;
}

/** Set by an action: main() returns it instead of EXIT_OK. */
export let scrubExitCode = EXIT_OK;

export function parseRate(text: string | undefined): number {
  if (text === undefined) return 0;
  const m = /^(\d+)([kKmMgG]?)$/.exec(text);
  if (!m) {
    throw new UsageError(`--rate must be bytes per second (e.g. 50M), got ${text}`);
  }
  const unit = { '': 1, k: 1 << 10, m: 1 << 20, g: 1 << 30 }[m[2]!.toLowerCase()]!;
  return Number(m[1]) * unit;
}

function progressSink(json: boolean): {
  onProgress: (p: ScrubProgress) => void;
  stop: () => void;
} {
  if (json || !process.stderr.isTTY) return { onProgress: () => undefined, stop: () => undefined };
  const bar = new SingleBar({
    stream: process.stderr,
    format: '{bar} {percentage}% | {value}/{total} MiB of log',
  });
  let started = false;
  return {
    onProgress: (p) => {
      const total = Math.ceil(p.end / (1 << 20));
      const value = Math.floor(p.cursor / (1 << 20));
      if (!started) {
        bar.start(total, value);
        started = true;
      } else {
        bar.update(value);
      }
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}

function damaged(r: ScrubReport, heal: boolean): boolean {
  if (r.stripesUnrecoverable > 0) return true;
  if (heal) return r.chunksHealed < r.chunksBad || r.headersHealed < r.headersBad;
  return r.chunksBad > 0 || r.headersBad > 0;
}

function printReport(label: string, r: ScrubReport): void {
  process.stdout.write(
    `${label}: ${r.stripesChecked} stripes, ${r.chunksChecked} chunks checked; ` +
      `${r.chunksBad} bad chunks, ${r.headersBad} bad segment headers, ` +
      `${r.chunksHealed} chunks healed, ${r.stripesUnrecoverable} stripes unrecoverable` +
      (r.cancelled ? ` (interrupted at ${r.cursor} of ${r.endAddress}; run again to resume)` : '') +
      '\n',
  );
  for (const line of r.damage) process.stdout.write(`  ${line}\n`);
}

/** FORMAT counters of the open (the native engine's info; 0 elsewhere). */
function formatCounts(store: Store): { drivesFormatBad: number; formatsRestored: number } {
  const engine = (store as unknown as { engine?: { native?: { info(): object } } }).engine;
  const info = (engine?.native?.info() ?? {}) as Partial<Record<string, unknown>>;
  const n = (v: unknown): number => (typeof v === 'number' ? v : 0);
  return { drivesFormatBad: n(info.drivesFormatBad), formatsRestored: n(info.formatsRestored) };
}

async function runPass(mode: 'scrub' | 'heal' | 'verify', flags: PassFlags): Promise<number> {
  const path = resolve(flags.dataDir ?? process.env.TESSERA_DATA_DIR ?? './tessera-data');
  const rateBytesPerSec = parseRate(flags.rate);
  // Never create a store here: a missing one is an error.
  if (!isStoreDir(path)) {
    throw new TesseraError('ERR_INVALID_ARG_VALUE', `no tessera store at ${path}`);
  }
  const snapshot =
    mode === 'verify'
      ? await checkSnapshotAgainstLog(path, { replaceEmptyDrives: flags.replaceDrives === true })
      : undefined;
  // A maintenance command: no lifecycle pass runs while it works.
  const store = await Store.open({
    path,
    replaceEmptyDrives: flags.replaceDrives === true,
    lifecycle: { enabled: false },
  });
  const controller = new AbortController();
  const onSigint = (): void => controller.abort();
  process.once('SIGINT', onSigint);
  const sink = progressSink(flags.json === true);
  try {
    const options = {
      signal: controller.signal,
      rateBytesPerSec,
      onProgress: sink.onProgress,
      resume: flags.restart !== true,
    };
    const report = mode === 'heal' ? await store.heal(options) : await store.scrub(options);
    sink.stop();
    const unreadable: string[] = [];
    if (mode === 'verify' && !report.cancelled) {
      for (const b of await store.listBuckets()) {
        let token: string | undefined;
        do {
          const page = await store.bucket(b.name).listPage({ continuationToken: token });
          for (const o of page.objects) {
            try {
              await store.bucket(b.name).get(o.key);
            } catch (error) {
              const code = error instanceof TesseraError ? error.code : String(error);
              unreadable.push(`${b.name}/${o.key}: ${code}`);
            }
          }
          token = page.isTruncated ? page.nextContinuationToken : undefined;
        } while (token !== undefined);
      }
    }
    const snapshotBad = snapshot !== undefined && snapshot.mismatches.length > 0;
    // Drives whose FORMAT is damaged are down for this open (their chunks
    // are not checked): damage until `heal --replace-drives` restores them.
    const { drivesFormatBad, formatsRestored } = formatCounts(store);
    if (flags.json) {
      process.stdout.write(
        JSON.stringify({
          ...report,
          unreadable,
          drivesFormatBad,
          formatsRestored,
          ...(snapshot ? { snapshot } : {}),
        }) + '\n',
      );
    } else {
      printReport(mode, report);
      if (drivesFormatBad > 0) {
        process.stdout.write(
          `  ${drivesFormatBad} drive(s) without a valid FORMAT were left out ` +
            `(heal --replace-drives restores them)\n`,
        );
      }
      if (formatsRestored > 0) {
        process.stdout.write(`  ${formatsRestored} damaged FORMAT file(s) restored\n`);
      }
      for (const u of unreadable) process.stdout.write(`  unreadable: ${u}\n`);
      if (snapshot !== undefined) {
        process.stdout.write(
          `snapshot vs log: ${snapshot.snapshotLoaded ? 'snapshot loaded' : 'no snapshot'}, ` +
            `${snapshot.entries} entries, ${snapshot.mismatches.length} differences\n`,
        );
        for (const m of snapshot.mismatches) process.stdout.write(`  ${m}\n`);
      }
    }
    if (report.cancelled) return EXIT_INTERRUPTED;
    return damaged(report, mode === 'heal') ||
      unreadable.length > 0 ||
      snapshotBad ||
      drivesFormatBad > 0
      ? EXIT_CORRUPTION
      : EXIT_OK;
  } finally {
    sink.stop();
    process.removeListener('SIGINT', onSigint);
    await store.close();
  }
}

export function registerScrub(program: Command): void {
  for (const [mode, description] of [
    ['scrub', 'read and verify every chunk of a store; report damage'],
    ['heal', 'scrub and rewrite missing or corrupt chunks from parity'],
    [
      'verify',
      'check segments, snapshot, every chunk and every object (fsck); exit 3 on corruption',
    ],
  ] as const) {
    program
      .command(mode)
      .description(description)
      .option('--data-dir <dir>', 'store directory (env TESSERA_DATA_DIR, default ./tessera-data)')
      .option('--rate <bytes>', 'at most this many bytes per second (suffix K, M, G)')
      .option('--restart', 'ignore the cursor of an interrupted pass')
      .option(
        '--replace-drives',
        'format empty directories in place of lost drives, restore damaged FORMATs (then heal)',
      )
      .option('--json', 'print one JSON document')
      .action(async (flags: PassFlags) => {
        scrubExitCode = await runPass(mode, flags);
      });
  }
}
