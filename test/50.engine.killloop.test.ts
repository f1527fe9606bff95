/**
 * kill -9 loop (issue 5): a child process writes and deletes objects on the
 * native engine and reports each operation before submitting it and again
 * once acknowledged; the parent kills it with SIGKILL at a random moment,
 * reopens the store and checks every key: it must hold the outcome of its
 * last acknowledged operation or of a later one (an unacknowledged write may
 * land, wholly), never bytes that were not written, never a resurrected
 * delete, never a partial object. 100 cycles in npm test, 1000 with
 * TESSERA_LONG=1. A second loop runs the same with garbage collection
 * compacting segments in the child all along (40 cycles, 400 long): the
 * same checks, and no index entry may point into a freed segment (open
 * refuses that, and every freed segment must report 0 live bytes). The
 * seed prints; TESSERA_SEED replays it.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binding, packageRoot } from '../lib/binding';
import type { EngineBinding } from '../lib/store/engine_binding';
import { KillReport, type KillOp } from './support/kill_report';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { bodyFor } = require('./support/kill_workload.js') as {
  bodyFor: (id: number) => Buffer;
};

function runChild(
  dir: string,
  seed: number,
  start: number,
  history: Map<string, KillOp[]>,
  killAfterMs: number,
  mode: string,
) {
  return new Promise<{ acked: number }>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        join(__dirname, 'support', 'engine_kill_child.js'),
        packageRoot(),
        dir,
        String(seed),
        String(start),
        mode,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let timer: NodeJS.Timeout | undefined;
    const report = new KillReport(history);
    child.stdout.on('data', (chunk: Buffer) =>
      report.feed(chunk, (kind) => {
        if (kind === 'R') timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      }),
    );
    child.on('error', reject);
    // 'close', not 'exit': 'exit' may come before the last lines the child
    // wrote are read from the pipe.
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`child exited with ${code} ${signal}`));
      else resolve({ acked: report.acked });
    });
  });
}

interface SpaceHandle {
  spaceStats(): { perSegment: { id: number; freed: boolean; liveBytes: number }[] };
}

async function killLoop(mode: 'plain' | 'gc', cycles: number): Promise<void> {
  {
    const seed = Number(process.env.TESSERA_SEED ?? Date.now() % 1_000_000);
    console.log(`      seed ${seed} (replay with TESSERA_SEED=${seed}), ${cycles} cycles`);
    const dir = mkdtempSync(join(tmpdir(), 'tessera-kill-'));
    const history = new Map<string, KillOp[]>();
    let rng = seed || 1;
    const next = () => {
      rng = (rng * 1103515245 + 12345) % 2147483648;
      return rng / 2147483648;
    };
    let start = 0;
    let ackedTotal = 0;
    let checked = 0;
    let freed = 0;
    try {
      for (let cycle = 0; cycle < cycles; cycle++) {
        const { acked } = await runChild(
          dir,
          seed + cycle,
          start,
          history,
          20 + Math.floor(next() * 250),
          mode,
        );
        ackedTotal += acked;
        start += 1_000_000;
        const engine = await (binding as unknown as EngineBinding).engineOpen({ path: dir });
        const observed = new Map<string, KillOp>();
        try {
          for (const [key, ops] of history) {
            let last = -1;
            ops.forEach((op, i) => {
              if (op.acked) last = i;
            });
            let info = null;
            let body: Buffer | undefined;
            try {
              info = await engine.head('kill', key, '');
              if (info && !info.deleteMarker)
                body = await engine.read('kill', key, '', 0, info.size);
            } catch (error) {
              assert.fail(`cycle ${cycle} ${key}: read failed: ${String(error)}`);
            }
            const present = body !== undefined;
            let allowed = last === -1 && !present;
            let matched: KillOp = { id: -1, isDelete: true, acked: true };
            for (let i = Math.max(last, 0); i < ops.length && !allowed; i++) {
              const op = ops[i]!;
              allowed = op.isDelete ? !present : present && body!.equals(bodyFor(op.id));
              if (allowed) matched = { ...op, acked: true };
            }
            observed.set(key, matched);
            assert.ok(
              allowed,
              `cycle ${cycle} seed ${seed}: ${key} holds ${present ? `${body!.length} bytes` : 'nothing'}; ` +
                `last acknowledged op ${last} of ${ops.length}`,
            );
            checked++;
          }
          const space = (engine as unknown as SpaceHandle).spaceStats();
          for (const s of space.perSegment) {
            if (!s.freed) continue;
            freed++;
            assert.equal(s.liveBytes, 0, `cycle ${cycle}: freed segment ${s.id} has live bytes`);
          }
        } finally {
          await engine.close();
        }
        // What the store holds now is the baseline of the next cycle.
        for (const [key, op] of observed) history.set(key, [op]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    console.log(
      `      ${ackedTotal} acknowledged writes, ${checked} key checks` +
        (mode === 'gc' ? `, ${freed} freed segments seen after reopens` : ''),
    );
    assert.ok(ackedTotal > 0);
    if (mode === 'gc') assert.ok(freed > 0, 'GC freed segments during the loop');
  }
}

describe('native engine: kill -9 loop', function () {
  this.timeout(0);
  it('loses no acknowledged write and serves no partial object across SIGKILLs', async () => {
    await killLoop('plain', process.env.TESSERA_LONG ? 1000 : 100);
  });

  it('the same with garbage collection running in the child', async () => {
    await killLoop('gc', process.env.TESSERA_LONG ? 400 : 40);
  });

  // The failure that once reverted the native index (cycle 88, seed 140931:
  // "k34 held 358 bytes matching no allowed op") was this protocol, not the
  // engine: the child reported "I" lines with process.stdout.write, which on
  // a full pipe queues them in the child and returns, so a SIGKILL dropped
  // the lines of operations that had already been submitted and landed.
  it('hears the report of every operation a child submitted before SIGKILL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-killreport-'));
    try {
      const landedFile = join(dir, 'landed');
      const count = 20000; // far more report bytes than a pipe buffers
      const history = new Map<string, KillOp[]>();
      const report = new KillReport(history);
      const code = await new Promise<number | null>((resolve, reject) => {
        const child = spawn(
          process.execPath,
          [join(__dirname, 'support', 'kill_report_child.js'), landedFile, '7', String(count)],
          { stdio: ['ignore', 'pipe', 'inherit'] },
        );
        child.stdout.on('data', (chunk: Buffer) => report.feed(chunk));
        child.on('error', reject);
        child.on('close', (c, signal) => resolve(signal === 'SIGKILL' ? null : c));
      });
      assert.equal(code, null, 'the child kills itself');
      const heard = new Set<number>();
      for (const ops of history.values()) for (const op of ops) heard.add(op.id);
      const landed = readFileSync(landedFile, 'latin1').split('\n').filter(Boolean).map(Number);
      assert.equal(landed.length, count);
      const unheard = landed.filter((id) => !heard.has(id));
      assert.deepEqual(unheard.slice(0, 5), [], `${unheard.length} landed operations unreported`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
