/**
 * The benchmark runner: `npm run bench -- [suite...] [options]`.
 *
 *   --runs N      measured runs per trial (default 5; 3 with --quick)
 *   --quick       fewer runs and smaller trials (about a minute in all)
 *   --long        bigger trials, for the numbers in docs/BENCHMARKS.md
 *   --filter RE   only trials whose name or group matches RE
 *   --json        print one JSON document instead of the table
 *   --list        list suites and trials
 *
 * Each run of each trial is a fresh process; runs are interleaved across
 * trials (A B C A B C ...) so peers share the same machine noise; the table
 * gives the median and the min-max over runs, latency percentiles over all
 * samples, and each trial's ratio to its group's baseline.
 */
import { fork } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { describeMachine, formatMachine } from './lib/machine';
import { summarize, type TrialSummary } from './lib/stats';
import type { BenchSuite, Measurement, Trial } from './lib/types';

const benchDir = __dirname;
const root = resolve(benchDir, '..');

interface TrialResult {
  suite: string;
  trial: Pick<Trial, 'name' | 'group' | 'subject' | 'baseline'>;
  summary: TrialSummary;
  ratio?: number;
}

function suiteFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const entry of readdirSync(benchDir, { withFileTypes: true })) {
    const file = join(benchDir, entry.name, 'suite.ts');
    if (entry.isDirectory() && existsSync(file)) files.set(entry.name, file);
  }
  return files;
}

function runTrialInFreshProcess(
  suiteFile: string,
  trial: string,
  dataRoot: string,
): Promise<Measurement> {
  return new Promise((resolvePromise, reject) => {
    const child = fork(join(benchDir, 'lib', 'child.ts'), [suiteFile, trial, dataRoot], {
      execArgv: ['--import', 'tsx', '--expose-gc'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let measurement: Measurement | undefined;
    child.on('message', (message: { measurement?: Measurement }) => {
      measurement = message.measurement;
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code === 0 && measurement) resolvePromise(measurement);
      else reject(new Error(`trial '${trial}' exited with code ${code}`));
    });
  });
}

function fmt(value: number | undefined, digits = 0): string {
  if (value === undefined || !Number.isFinite(value)) return '-';
  if (Math.abs(value) >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
  if (Math.abs(value) >= 1e4) return `${(value / 1e3).toFixed(1)}K`;
  return value.toFixed(digits);
}

function formatTable(results: TrialResult[]): string {
  const header = [
    'group',
    'trial',
    'ops/s (median, min-max)',
    'MiB/s',
    'p50 us',
    'p90 us',
    'p99 us',
    'ratio',
    'extra',
  ];
  const rows = results.map(({ trial, summary, ratio }) => [
    trial.group,
    trial.name + (trial.baseline ? ' (baseline)' : ''),
    `${fmt(summary.opsPerSec.median)} (${fmt(summary.opsPerSec.min)}-${fmt(summary.opsPerSec.max)})`,
    summary.mibPerSec.median > 0 ? fmt(summary.mibPerSec.median, 1) : '-',
    fmt(summary.latencyUs?.p50, 1),
    fmt(summary.latencyUs?.p90, 1),
    fmt(summary.latencyUs?.p99, 1),
    ratio === undefined ? '-' : `${ratio.toFixed(2)}x`,
    Object.entries(summary.extra)
      .map(([k, v]) => `${k}=${typeof v === 'number' ? fmt(v, 2) : v}`)
      .join(' '),
  ]);
  const lines = [header, header.map(() => '---'), ...rows];
  return lines.map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      runs: { type: 'string' },
      quick: { type: 'boolean', default: false },
      long: { type: 'boolean', default: false },
      filter: { type: 'string' },
      json: { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
    },
  });
  const runs = values.runs ? Number(values.runs) : values.quick ? 3 : 5;
  if (!Number.isInteger(runs) || runs < 1)
    throw new Error(`--runs must be a positive integer, got ${values.runs}`);
  const filter = values.filter ? new RegExp(values.filter) : undefined;
  if (values.quick) process.env.TESSERA_BENCH_QUICK = '1';
  if (values.long) process.env.TESSERA_BENCH_LONG = '1';

  const available = suiteFiles();
  const wanted = positionals.length > 0 ? positionals : [...available.keys()];
  const dataRoot = join(root, '.bench-data');
  mkdirSync(dataRoot, { recursive: true });
  const machine = describeMachine(dataRoot);
  const log = (line: string) => process.stderr.write(line + '\n');
  if (!values.json) process.stdout.write(formatMachine(machine) + '\n');

  const report: { machine: typeof machine; runs: number; suites: Record<string, TrialResult[]> } = {
    machine,
    runs,
    suites: {},
  };
  for (const name of wanted) {
    const file = available.get(name);
    if (!file)
      throw new Error(`unknown suite '${name}'; have: ${[...available.keys()].join(', ')}`);
    const { suite } = (await import(file)) as { suite: BenchSuite };
    const trials = (await suite.trials()).filter(
      (t) => !filter || filter.test(t.name) || filter.test(t.group),
    );
    if (values.list) {
      process.stdout.write(`${suite.name}: ${suite.description}\n`);
      for (const t of trials) process.stdout.write(`  [${t.group}] ${t.name}\n`);
      continue;
    }
    const measured = new Map<string, Measurement[]>(trials.map((t) => [t.name, []]));
    for (let run = 1; run <= runs; run++) {
      for (const trial of trials) {
        log(`${suite.name}: run ${run}/${runs} ${trial.name}`);
        measured.get(trial.name)!.push(await runTrialInFreshProcess(file, trial.name, dataRoot));
      }
    }
    const results: TrialResult[] = trials.map((t) => ({
      suite: suite.name,
      trial: { name: t.name, group: t.group, subject: t.subject, baseline: t.baseline },
      summary: summarize(measured.get(t.name)!),
    }));
    for (const result of results) {
      const base = results.find((r) => r.trial.group === result.trial.group && r.trial.baseline);
      if (base) result.ratio = result.summary.opsPerSec.median / base.summary.opsPerSec.median;
    }
    report.suites[suite.name] = results;
    if (!values.json) {
      process.stdout.write(
        `\n## ${suite.name}: ${suite.description} (${runs} runs, fresh process each)\n\n`,
      );
      process.stdout.write(formatTable(results) + '\n');
    }
  }
  rmSync(dataRoot, { recursive: true, force: true });
  if (values.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
