/** The header every benchmark report starts with: what machine, what build. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';

export interface MachineDescription {
  cpu: string;
  cores: number;
  memoryGiB: number;
  /** SIMD flags relevant to tessera's kernels, from /proc/cpuinfo. */
  cpuFlags: string[];
  kernel: string;
  filesystem: string;
  node: string;
  gitSha: string;
  date: string;
}

const RELEVANT_FLAGS = [
  'sse4_2',
  'ssse3',
  'pclmulqdq',
  'avx2',
  'avx512f',
  'avx512bw',
  'avx512vl',
  'avx512vbmi',
  'gfni',
  'vpclmulqdq',
  'asimd',
  'crc32',
  'pmull',
];

function tryRun(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return 'unknown';
  }
}

function cpuFlags(): string[] {
  try {
    const text = readFileSync('/proc/cpuinfo', 'utf8');
    const line = text.split('\n').find((l) => /^(flags|Features)\s*:/.test(l)) ?? '';
    const present = new Set(line.split(':')[1]?.trim().split(/\s+/) ?? []);
    return RELEVANT_FLAGS.filter((flag) => present.has(flag));
  } catch {
    return [];
  }
}

export function describeMachine(dataDir: string): MachineDescription {
  // findmnt names ext4 as such; `stat -f` reports every ext* as "ext2/ext3".
  const mounted = tryRun('findmnt', ['-n', '-o', 'FSTYPE', '-T', dataDir]);
  const fsType = mounted !== 'unknown' ? mounted : tryRun('stat', ['-f', '-c', '%T', dataDir]);
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    cpuFlags: cpuFlags(),
    kernel: `${process.platform} ${release()}`,
    filesystem: `${fsType} (${dataDir})`,
    node: process.version,
    gitSha: tryRun('git', ['rev-parse', '--short', 'HEAD']),
    date: new Date().toISOString(),
  };
}

export function formatMachine(m: MachineDescription): string {
  return [
    `machine : ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB`,
    `flags   : ${m.cpuFlags.join(' ')}`,
    `kernel  : ${m.kernel}; fs ${m.filesystem}`,
    `node    : ${m.node}; git ${m.gitSha}; ${m.date}`,
  ].join('\n');
}
