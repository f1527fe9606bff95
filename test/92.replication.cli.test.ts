import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../lib/store/store';
import { startTestGateway } from './61.gateway.harness';
import { TARGET_SECRET, rule, startEnv } from './support/replication_env';

const bin = join(__dirname, '..', 'bin', 'tessera.js');
const SECRET = 'cli-secret-do-not-print-0123';

describe('92 replication: tessera replication status', function () {
  this.timeout(60_000);

  it('prints rules and cursors of a native store, never the secret', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-repl-cli-'));
    try {
      const store = await Store.open({ path: dir, dataShards: 2, parityShards: 1 });
      await store.createBucket('photos');
      await store.bucket('photos').setReplication({
        rules: [
          {
            id: 'dr',
            destination: {
              endpoint: 'http://127.0.0.1:9',
              region: 'us-east-1',
              bucket: 'photos-copy',
              credentials: { accessKeyId: 'AKID', secretAccessKey: SECRET },
            },
            prefix: 'a/',
            deleteMarkerReplication: true,
            existingObjects: false,
          },
        ],
      });
      await store.close();
      const json = spawnSync(
        process.execPath,
        [bin, 'replication', 'status', '--data-dir', dir, '--json'],
        {
          encoding: 'utf8',
        },
      );
      assert.equal(json.status, 0, json.stderr);
      const parsed = JSON.parse(json.stdout) as { rules: Array<Record<string, unknown>> };
      assert.deepEqual(parsed.rules, [
        {
          bucket: 'photos',
          ruleId: 'dr',
          endpoint: 'http://127.0.0.1:9',
          destinationBucket: 'photos-copy',
          prefix: 'a/',
          deleteMarkerReplication: true,
          existingObjects: false,
          failed: 0,
          backfill: 'none',
        },
      ]);
      const text = spawnSync(process.execPath, [bin, 'replication', 'status', '--data-dir', dir], {
        encoding: 'utf8',
      });
      assert.equal(text.status, 0, text.stderr);
      assert.match(
        text.stdout,
        /photos rule dr -> http:\/\/127\.0\.0\.1:9\/photos-copy prefix "a\/" deletes on cursor not started/,
      );
      for (const out of [json.stdout, json.stderr, text.stdout, text.stderr]) {
        assert.equal(out.includes(SECRET), false);
        assert.equal(out.includes('AKID'), false);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('--server reads live lag, queue and breaker of a running server from its /metrics', async () => {
    const env = await startEnv({}, [{ name: 'dst', versioned: false }]);
    const store = env.source.store;
    const source = await startTestGateway({ store });
    let manager: Awaited<ReturnType<typeof store.startReplication>> | undefined;
    try {
      await store.createBucket('photos');
      // The replicator of the running server, on the gateway's registry (as `tessera serve`).
      await env.manager.close();
      manager = await store.startReplication({
        feed: env.source.feed,
        registry: source.gw.metrics.registry,
        backoff: { baseMs: 5, capMs: 50 },
        breaker: { failureThreshold: 2, openMs: 5000, openMsMax: 5000 },
      });
      await manager.setReplication('photos', { rules: [rule(env.proxy.url, 'dst', { id: 'dr' })] });
      await env.source.put('photos', 'a', Buffer.from('alpha'));
      await manager.drain(undefined, AbortSignal.timeout(10_000));
      env.proxy.mode = 'down';
      env.proxy.resetAll();
      await env.source.put('photos', 'b', Buffer.from('beta'));
      await env.source.put('photos', 'c', Buffer.from('gamma'));
      // Let the breaker open on the dead link.
      for (
        let i = 0;
        i < 100 && (await manager.status()).buckets[0]!.rules[0]!.breaker !== 'open';
        i++
      ) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const run = (args: string[]) =>
        new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
          const child = spawn(process.execPath, [bin, 'replication', 'status', ...args]);
          let stdout = '';
          let stderr = '';
          child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
          child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
          child.on('close', (status) => resolve({ status, stdout, stderr }));
        });
      const json = await run(['--server', source.gw.url, '--json']);
      assert.equal(json.status, 0, json.stderr);
      const rows = (JSON.parse(json.stdout) as { rules: Array<Record<string, unknown>> }).rules;
      assert.equal(rows.length, 1);
      const row = rows[0]!;
      assert.equal(row.bucket, 'photos');
      assert.equal(row.ruleId, 'dr');
      assert.equal(row.queueDepth, 2);
      assert.equal(row.breaker, 'open');
      assert.equal(row.replicated, 1);
      assert.ok((row.lagSeconds as number) > 0, JSON.stringify(row));
      assert.ok((row.failures as { transient: number }).transient >= 2);
      const text = await run(['--server', source.gw.url]);
      assert.equal(text.status, 0, text.stderr);
      assert.match(
        text.stdout,
        /^photos rule dr lag \d+\.\d{3}s queue 2 cursor \d+ breaker open replicated 1 /,
      );
      for (const out of [json.stdout, json.stderr, text.stdout, text.stderr]) {
        assert.equal(out.includes(TARGET_SECRET), false);
      }
      // No server there: a runtime failure (exit 1) with a stable code.
      const down = await run(['--server', 'http://127.0.0.1:9']);
      assert.equal(down.status, 1);
      assert.match(down.stderr, /ERR_REPLICATION_STATUS/);
      env.proxy.mode = 'up';
    } finally {
      // The second replicator's timers would keep mocha's process alive.
      await manager?.close();
      await source.gw.close();
      await env.close();
    }
  });
});
