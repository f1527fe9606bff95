/**
 * Read repair on real damage: a native store (k=4, m=2) replicating from
 * its durable feed to a second gateway; with the store closed, every data
 * chunk of one object is overwritten on the drives (4 of 6 chunks of each
 * stripe: more than m), so the engine itself reports ERR_STORE_CORRUPT.
 * With the replicator running, the read is served from the replica (whole
 * and ranged, through the store and the source gateway), the local copy is
 * rewritten, and after a reopen without any replicator the bytes read back
 * locally.
 */
import assert from 'node:assert/strict';
import { closeSync, openSync, readSync, readdirSync, statSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { Store } from '../lib/store/store';
import { s3Client, startTestGateway } from './61.gateway.harness';
import { rule, startEnv } from './support/replication_env';

const hasFeed = typeof (Store.prototype as unknown as { watch?: unknown }).watch === 'function';

/** Every 8-byte word of the object: a 3-byte magic and its word index. */
const MAGIC = Buffer.from([0xd7, 0x5e, 0xa1]);
function recognizable(size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let w = 0; w * 8 < size; w++) {
    const word = Buffer.alloc(8);
    MAGIC.copy(word, 0);
    word.writeUIntBE(w, 3, 5);
    word.copy(b, w * 8, 0, Math.min(8, size - w * 8));
  }
  return b;
}

/**
 * Overwrites, in every segment file of every drive, each 4 KiB block that
 * holds the object's bytes (over 100 of its magic words; chunks are
 * 4096-aligned, docs/format.md), so each of its chunks fails its CRC.
 * Returns the blocks destroyed.
 */
function destroyDataChunks(root: string): number {
  let destroyed = 0;
  for (const drive of readdirSync(root).filter((d) => d.startsWith('drive-'))) {
    const dir = join(root, drive, 'segments');
    let files: string[] = [];
    try {
      files = readdirSync(dir).filter((f) => f.endsWith('.dat'));
    } catch {
      continue;
    }
    for (const f of files) {
      const path = join(dir, f);
      const size = statSync(path).size;
      const fd = openSync(path, 'r+');
      const block = Buffer.alloc(4096);
      for (let off = 0; off + 4096 <= size; off += 4096) {
        readSync(fd, block, 0, 4096, off);
        let words = 0;
        for (let i = block.indexOf(MAGIC); i >= 0; i = block.indexOf(MAGIC, i + 1)) words++;
        if (words >= 500) {
          writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, off);
          destroyed++;
        }
      }
      closeSync(fd);
    }
  }
  return destroyed;
}

(hasFeed ? describe : describe.skip)(
  `92 replication: read repair on real damage (native store)${hasFeed ? '' : ' [needs store.watch]'}`,
  function () {
    this.timeout(90_000);

    it('serves an object beyond parity from the replica and heals the local copy', async () => {
      const env = await startEnv({}, [{ name: 'dst', versioned: false }]);
      const dir = await mkdtemp(join(tmpdir(), 'tessera-repl-repair-'));
      let store = await Store.open({ path: dir, dataShards: 4, parityShards: 2 });
      const body = recognizable(2 * 1024 * 1024 + 24);
      try {
        await store.createBucket('src');
        await store.startReplication({ backoff: { baseMs: 5, capMs: 50 } });
        await store.bucket('src').setReplication({ rules: [rule(env.proxy.url, 'dst')] });
        // Padding on both sides keeps other records (rules, cursor) out of
        // the photo's stripes; a pad's stripe shared with the photo is lost
        // with it (and repaired the same way).
        await store.bucket('src').put('pad-a', Buffer.alloc(512 * 1024, 0x11));
        await store.bucket('src').put('photo', body, {
          metadata: { who: 'me' },
          contentType: 'image/x',
        });
        await store.bucket('src').put('pad-b', Buffer.alloc(512 * 1024, 0x22));
        await store.bucket('src').put('other', Buffer.from('untouched'));
        await store.replication!.drain(undefined, AbortSignal.timeout(20_000));
        const before = (await store.bucket('src').head('photo'))!;
        await store.close();

        const destroyed = destroyDataChunks(dir);
        assert.ok(destroyed >= 4 * 4, `data chunks destroyed: ${destroyed}`);

        // Real damage: without a replica the engine cannot reconstruct it.
        store = await Store.open({ path: dir });
        await assert.rejects(store.bucket('src').get('photo'), { code: 'ERR_STORE_CORRUPT' });
        assert.equal(
          (await store.bucket('src').get('other'))!.body.toString(),
          'untouched',
          'other objects are unaffected',
        );

        // With the replicator: served from the replica, whole, ranged, and via the gateway.
        await store.startReplication({ backoff: { baseMs: 5, capMs: 50 } });
        const got = await store.bucket('src').get('photo');
        assert.ok(got!.body.equals(body), 'bytes served from the replica');
        const ranged = await store.bucket('src').get('photo', {
          range: { start: 1_000_000, end: 1_000_099 },
        });
        assert.ok(ranged!.body.equals(body.subarray(1_000_000, 1_000_100)));
        const gw = await startTestGateway({ store });
        const client = s3Client(gw.gw);
        try {
          const viaGw = await client.send(new GetObjectCommand({ Bucket: 'src', Key: 'photo' }));
          assert.ok(Buffer.from(await viaGw.Body!.transformToByteArray()).equals(body));
        } finally {
          client.destroy();
          await gw.gw.close();
        }
        await store.replication!.healed();
        await store.close();

        // Healed: after a reopen with no replicator, the local copy reads back.
        store = await Store.open({ path: dir });
        const local = await store.bucket('src').get('photo');
        assert.ok(local!.body.equals(body), 'the local copy was healed');
        assert.equal(local!.etag, before.etag);
        assert.deepEqual(local!.metadata, { who: 'me' });
        assert.equal(local!.contentType, 'image/x');
      } finally {
        await store.close().catch(() => undefined);
        await env.close();
        await rm(dir, { recursive: true, force: true });
      }
    });
  },
);
