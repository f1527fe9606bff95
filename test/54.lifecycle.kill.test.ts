/**
 * A lifecycle pass killed with SIGKILL in the middle: every object is
 * either whole or gone (never partial), no version other than the expired
 * ones is lost, and the next pass finishes the work.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../lib/store/store';

const KEYS = 80;

/** Runs the child to its end (no kill); resolves with its exit code and stdout. */
function runChild(dir: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(__dirname, 'support/lifecycle_kill_child.ts'), dir],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('exit', (code) => resolve({ code, out }));
  });
}

describe('lifecycle: an awaited run() in a script', function () {
  this.timeout(60_000);
  const dir = mkdtempSync(join(tmpdir(), 'tessera-life-script-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps the process alive until the paced pass ends', async () => {
    const store = await Store.open({
      path: dir,
      dataShards: 2,
      parityShards: 1,
      lifecycle: { enabled: false },
    });
    await store.createBucket('script');
    for (let i = 0; i < 12; i++) await store.bucket('script').put(`k${i}`, 'x');
    await store.bucket('script').setLifecycle([{ status: 'Enabled', expiration: { days: 1 } }]);
    await store.close();
    const { code, out } = await runChild(dir);
    assert.equal(code, 0);
    const done = /^D (.*)$/m.exec(out);
    assert.ok(done, `the child exited before its pass ended: ${out}`);
    assert.equal((JSON.parse(done[1]!) as { expired: number }).expired, 12);
  });
});

describe('lifecycle: kill -9 in the middle of a pass', function () {
  this.timeout(120_000);
  const dir = mkdtempSync(join(tmpdir(), 'tessera-life-kill-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('loses nothing it should keep and completes after restart', async () => {
    let store = await Store.open({
      path: dir,
      dataShards: 2,
      parityShards: 1,
      lifecycle: { enabled: false },
    });
    const body = (key: string) => Buffer.from(`${key} `.repeat(300));
    for (const name of ['kill-a', 'kill-b']) {
      await store.createBucket(name, { versioning: name === 'kill-b' });
      const b = store.bucket(name);
      for (let i = 0; i < KEYS; i++) {
        const key = `${i % 2 === 0 ? 'tmp/' : 'keep/'}${String(i).padStart(3, '0')}`;
        await b.put(key, body(key));
      }
      await b.setLifecycle([{ status: 'Enabled', prefix: 'tmp/', expiration: { days: 1 } }]);
    }
    await store.close();

    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(__dirname, 'support/lifecycle_kill_child.ts'), dir],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    const deadline = Date.now() + 60_000;
    while (!out.includes('R\n')) {
      assert.ok(Date.now() < deadline, 'the child did not start');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // 80 deletions at 60/s take over a second: kill well inside the pass.
    await new Promise((resolve) => setTimeout(resolve, 700));
    child.kill('SIGKILL');
    await exited;
    assert.ok(!out.includes('D '), 'the pass finished before the kill; nothing was tested');

    store = await Store.open({
      path: dir,
      dataShards: 2,
      parityShards: 1,
      lifecycle: { enabled: false, clock: () => Date.now() + 3 * 86_400_000 },
    });
    try {
      let expiredBefore = 0;
      for (const name of ['kill-a', 'kill-b']) {
        const b = store.bucket(name);
        for (let i = 0; i < KEYS; i++) {
          const key = `${i % 2 === 0 ? 'tmp/' : 'keep/'}${String(i).padStart(3, '0')}`;
          const got = await b.get(key);
          if (got === undefined) {
            assert.ok(key.startsWith('tmp/'), `${name}/${key} was lost`);
            expiredBefore++;
          } else assert.deepEqual(got.body, body(key), `${name}/${key} is damaged`);
        }
      }
      assert.ok(
        expiredBefore > 0 && expiredBefore < KEYS,
        `expired ${expiredBefore} before the kill`,
      );
      const report = await store.lifecycle.run();
      assert.equal(report.completed, true);
      assert.equal(expiredBefore + report.expired, KEYS);
      for (const name of ['kill-a', 'kill-b']) {
        const left: string[] = [];
        for await (const e of store.bucket(name).list()) if (e.type === 'object') left.push(e.key);
        assert.equal(left.length, KEYS / 2);
        assert.ok(left.every((k) => k.startsWith('keep/')));
      }
      // The versioned bucket keeps the expired data as noncurrent versions.
      let noncurrent = 0;
      for await (const v of store.bucket('kill-b').listVersions({ prefix: 'tmp/' })) {
        if (!v.deleteMarker) noncurrent++;
      }
      assert.equal(noncurrent, KEYS / 2);
    } finally {
      await store.close();
    }
  });
});
