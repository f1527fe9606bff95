/**
 * Profiling aid (not a benchmark suite): starts `server_child.ts <kind>`
 * under `node --cpu-prof`, drives signed 4 KiB GETs at it with one
 * autocannon process, stops it, and prints where the .cpuprofile went and
 * the top self-time functions.
 *
 *   node --import tsx bench/gateway/profile.ts [kind=tessera-native] [seconds=8] [connections=16] [GET|PUT]
 *
 * PROFILE_SUMMARY_ONLY=1: no profiler, only req/s and the server's CPU per
 * request (from /proc), for A/B checks of one change.
 */
import { spawn } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import { ACCESS_KEY, BUCKET, SECRET_KEY } from './server_child';

class Sha256 {
  readonly #hash;
  constructor(secret?: unknown) {
    this.#hash =
      secret === undefined ? createHash('sha256') : createHmac('sha256', secret as string);
  }
  update(data: Uint8Array | string): void {
    this.#hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return this.#hash.digest();
  }
  reset(): void {}
}

interface ProfileNode {
  id: number;
  children?: number[];
  callFrame: { functionName: string; url: string; lineNumber: number };
}

/** User + system CPU of a process so far (Linux /proc, clock ticks of 10 ms). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function main(): Promise<void> {
  const kind = process.argv[2] ?? 'tessera-native';
  const seconds = Number(process.argv[3] ?? 8);
  const connections = Number(process.argv[4] ?? 16);
  const method = (process.argv[5] ?? 'GET') as 'GET' | 'PUT';
  const profDir = mkdtempSync(join(tmpdir(), 'gw-prof-'));
  const dataDir = join(process.cwd(), '.bench-data', `profile-${process.pid}`);
  mkdirSync(join(process.cwd(), '.bench-data'), { recursive: true });
  const child = spawn(
    process.execPath,
    [
      '--cpu-prof',
      '--cpu-prof-dir',
      profDir,
      '--import',
      'tsx',
      join(__dirname, 'server_child.ts'),
      kind,
      dataDir,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
  });
  const path = method === 'GET' ? `/${BUCKET}/obj-4k` : `/${BUCKET}/put-4k`;
  const body = method === 'PUT' ? Buffer.alloc(4096, 0x61) : undefined;
  const signer = new SignatureV4({
    credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
    region: 'us-east-1',
    service: 's3',
    sha256: Sha256,
    uriEscapePath: false,
  });
  const signed = await signer.sign(
    new HttpRequest({
      method,
      protocol: 'http:',
      hostname: '127.0.0.1',
      port,
      path,
      headers: {
        host: `127.0.0.1:${port}`,
        'x-amz-content-sha256': createHash('sha256')
          .update(body ?? '')
          .digest('hex'),
        ...(body ? { 'content-length': String(body.length) } : {}),
      },
    }),
  );
  const headers = { ...(signed.headers as Record<string, string>) };
  delete headers.host;
  delete headers['content-length'];
  const cpuBefore = cpuSeconds(child.pid!);
  const result = await autocannon({
    url: `http://127.0.0.1:${port}${path}`,
    method,
    headers,
    ...(body ? { body } : {}),
    connections,
    duration: seconds,
  });
  const cpu = cpuSeconds(child.pid!) - cpuBefore;
  process.stdout.write(
    `${kind} ${method}: ${Math.round(result.requests.average)} req/s, server CPU ${((cpu * 1e6) / result.requests.total).toFixed(1)} us/request, non2xx ${result.non2xx}, errors ${result.errors}\n`,
  );
  if (process.env.PROFILE_SUMMARY_ONLY) {
    child.kill('SIGTERM');
    return;
  }
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
  rmSync(dataDir, { recursive: true, force: true });
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error('no profile written');
  const profile = JSON.parse(readFileSync(join(profDir, file), 'utf8')) as {
    nodes: ProfileNode[];
    samples: number[];
  };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  for (const id of profile.samples) {
    const f = byId.get(id)!.callFrame;
    const name = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(lib|node_modules)\//, '$1/')}:${f.lineNumber + 1}`;
    self.set(name, (self.get(name) ?? 0) + 1);
  }
  const total = profile.samples.length;
  process.stdout.write(`profile: ${join(profDir, file)} (${total} samples)\n`);
  // Inclusive time of the gateway's own functions (self + callees).
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inclusive = new Map<string, number>();
  for (const id of profile.samples) {
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const f = byId.get(at)!.callFrame;
      if (!/\/(lib|dist\/cjs)\//.test(f.url)) continue;
      const name = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(lib|dist\/cjs)\//, '')}:${f.lineNumber + 1}`;
      if (seen.has(name)) continue;
      seen.add(name);
      inclusive.set(name, (inclusive.get(name) ?? 0) + 1);
    }
  }
  process.stdout.write('inclusive (tessera code):\n');
  for (const [name, n] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, 30)) {
    process.stdout.write(`${((100 * n) / total).toFixed(1).padStart(5)}%  ${name}\n`);
  }
  process.stdout.write('self:\n');
  for (const [name, n] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 45)) {
    process.stdout.write(`${((100 * n) / total).toFixed(1).padStart(5)}%  ${name}\n`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(String(error) + '\n');
  process.exit(1);
});
