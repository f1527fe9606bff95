/**
 * Large objects (issue 5, docs/engine.md "Large reads"): a get of more than
 * two 4 MiB pieces reads every piece straight into its slice of one buffer
 * (the engine's readInto), ranges across piece boundaries, the same bytes
 * through getStream, and the `segmentCreate` open option (segments created
 * on every drive at once, or one drive after another) with a reopen.
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { binding } from '../lib/binding';
import type { NativeStoreEngine } from '../lib/store/engine_binding';
import { Store } from '../lib/store/store';
import { code, tempDirFactory } from './support/temp_dirs';

const freshDir = tempDirFactory('largeio');
const MiB = 1024 * 1024;

function body(seed: number, size: number): Buffer {
  const b = Buffer.alloc(Math.ceil(size / 4) * 4);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b.writeUInt32LE(x, i);
  }
  return b.subarray(0, size);
}

async function streamed(store: Store, bucket: string, key: string): Promise<Buffer> {
  const got = await store.bucket(bucket).getStream(key);
  assert.ok(got);
  const parts: Buffer[] = [];
  for await (const chunk of got.stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

describe('large objects: gets into one buffer, segment creation modes', () => {
  it('reads a 21 MiB object whole, in ranges across 4 MiB pieces and streamed', async () => {
    const store = await Store.open({ path: freshDir(), dataShards: 4, parityShards: 2 });
    try {
      await store.createBucket('large');
      const bucket = store.bucket('large');
      const size = 21 * MiB + 12345 - 1; // not a multiple of anything
      const data = body(5, size);
      const put = await bucket.put('big', data);
      assert.equal(put.etag, createHash('md5').update(data).digest('hex'));

      const got = await bucket.get('big');
      assert.equal(got?.body.length, size);
      assert.ok(got?.body.equals(data), 'the whole body differs');

      const ranges: [number, number][] = [
        [0, 9 * MiB],
        [4 * MiB - 3, 16 * MiB + 2],
        [1, size - 2],
        [size - 9 * MiB - 1, size - 1],
      ];
      for (const [start, end] of ranges) {
        const r = await bucket.get('big', { range: { start, end } });
        assert.equal(r?.body.length, end - start + 1);
        assert.ok(r?.body.equals(data.subarray(start, end + 1)), `range ${start}-${end} differs`);
      }
      assert.ok((await streamed(store, 'large', 'big')).equals(data), 'the stream differs');

      // The engine's readInto reports the bytes it wrote and refuses a
      // target shorter than the clipped range.
      const engine = (store as unknown as { engine: NativeStoreEngine }).engine;
      const info = got!;
      const target = Buffer.alloc(100);
      assert.equal(await engine.readInto(info, size - 40, 100, target), 40);
      assert.ok(target.subarray(0, 40).equals(data.subarray(size - 40)));
      await assert.rejects(engine.readInto(info, 0, 101, target), code('ERR_OUT_OF_RANGE'));
    } finally {
      await store.close();
    }
  });

  it('large bodies come in their own huge-page mapping: exact length, writable, bad sizes refused', async () => {
    const sizes = [1, 4095, 8 * MiB, 8 * MiB + 3, 21 * MiB];
    for (const size of sizes) {
      const b = binding.largeBuffer(size);
      assert.ok(Buffer.isBuffer(b));
      assert.equal(b.length, size);
      b.fill(0xa5);
      assert.equal(b[0], 0xa5);
      b[size - 1] = 7;
      assert.equal(b[size - 1], 7);
    }
    // Many in a row (each mapping is released when its Buffer is collected).
    for (let i = 0; i < 64; i++) binding.largeBuffer(64 * MiB).fill(1, 0, 4096);
    assert.throws(() => binding.largeBuffer(0), code('ERR_OUT_OF_RANGE'));
    assert.throws(() => binding.largeBuffer(-5), code('ERR_OUT_OF_RANGE'));
    // A get of more than 8 MiB answers in one: the bytes are the object's.
    const store = await Store.open({ path: freshDir(), dataShards: 4, parityShards: 2 });
    await store.createBucket('huge');
    const want = body(9, 9 * MiB + 123);
    await store.bucket('huge').put('k', want);
    const got = await store.bucket('huge').get('k');
    assert.ok(got?.body.equals(want));
    got!.body.fill(0); // the caller's own memory
    assert.ok((await store.bucket('huge').get('k'))?.body.equals(want));
    await store.close();
  });

  it('creates segments one drive at a time or all at once, and both reopen', async () => {
    await assert.rejects(
      Store.open({
        path: freshDir(),
        segmentCreate: 'sideways' as unknown as 'serial',
      }),
      code('ERR_INVALID_ARG_VALUE'),
    );
    for (const segmentCreate of ['serial', 'parallel'] as const) {
      const path = freshDir();
      const bodies = [body(11, 17 * MiB), body(12, 40 * MiB + 4)];
      let store = await Store.open({ path, dataShards: 4, parityShards: 2, segmentCreate });
      await store.createBucket('modes');
      for (let i = 0; i < bodies.length; i++) await store.bucket('modes').put(`o${i}`, bodies[i]!);
      await store.close();
      store = await Store.open({ path, segmentCreate });
      try {
        for (let i = 0; i < bodies.length; i++) {
          const got = await store.bucket('modes').get(`o${i}`);
          assert.ok(got?.body.equals(bodies[i]!), `${segmentCreate}: o${i} differs`);
        }
      } finally {
        await store.close();
      }
    }
  });
});
