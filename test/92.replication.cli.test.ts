import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../lib/store/store';

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
});
