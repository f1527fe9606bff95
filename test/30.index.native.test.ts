import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TesseraError } from '../lib/errors';
import {
  FLAG_DELETE_MARKER,
  type IndexMeta,
  ObjectIndex,
  unpackKeys,
} from '../lib/index-native/object_index';

function meta(version: number, flags = 0): IndexMeta {
  const etag = Buffer.alloc(16);
  etag.writeUInt32LE((version * 2654435761) >>> 0, 0);
  return {
    segment: version % 1000,
    offset: version * 4096,
    length: 4096 + version,
    versionId: BigInt(version),
    size: 1000 + version,
    mtimeMs: 1_700_000_000_000 + version,
    etag,
    partCount: version % 3,
    flags,
  };
}

function isCode(code: string, message?: string) {
  return (error: unknown) => {
    assert.ok(error instanceof TesseraError, String(error));
    assert.equal(error.code, code);
    if (message !== undefined) assert.equal(error.message, message);
    return true;
  };
}

describe('30 index: the native index through the addon', () => {
  it('round-trips every metadata field, including 48-bit sizes and 64-bit version ids', () => {
    const index = new ObjectIndex();
    const m: IndexMeta = {
      segment: 2 ** 24 - 1,
      offset: 2 ** 40 - 1,
      length: 2 ** 32 - 1,
      versionId: 2n ** 64n - 1n,
      size: 2 ** 48 - 1,
      mtimeMs: 2 ** 48 - 1,
      etag: Buffer.from('00112233445566778899aabbccddeeff', 'hex'),
      partCount: 10000,
      flags: 6,
    };
    index.put('photos', 'a/b.jpg', m);
    assert.deepEqual(index.get('photos', 'a/b.jpg'), m);
    assert.equal(index.get('photos', 'a/b.jpg.missing'), undefined);
    assert.equal(index.get('other', 'a/b.jpg'), undefined);
    assert.equal(index.keyCount(), 1);
  });

  it('answers a batch of lookups in one call, the same as one by one', () => {
    const index = new ObjectIndex();
    for (let i = 0; i < 100; i += 2) index.put('bkt', `key-${i}`, meta(i + 1));
    const keys = Array.from({ length: 100 }, (_, i) => `key-${i}`);
    const batch = index.getMany('bkt', keys);
    assert.equal(batch.length, 100);
    keys.forEach((key, i) => assert.deepEqual(batch[i], index.get('bkt', key), key));
    assert.equal(batch.filter((m) => m !== undefined).length, 50);
    assert.deepEqual(index.getMany('bkt', []), []);
  });

  it('keeps versions newest first and finds each by id', () => {
    const index = new ObjectIndex();
    for (let v = 1; v <= 3; v++) index.put('bkt', 'k', meta(v), { newVersion: true });
    index.put('bkt', 'k', meta(4, FLAG_DELETE_MARKER), { newVersion: true });
    assert.equal(index.get('bkt', 'k')?.flags, FLAG_DELETE_MARKER);
    assert.deepEqual(index.getVersion('bkt', 'k', 2n), meta(2));
    index.deleteVersion('bkt', 'k', 4n);
    assert.deepEqual(index.get('bkt', 'k'), meta(3));
    assert.throws(
      () => index.deleteVersion('bkt', 'k', 4n),
      isCode('NoSuchKey', 'no such version'),
    );
  });

  it('applies conditions atomically and fails with PreconditionFailed', () => {
    const index = new ObjectIndex();
    index.put('bkt', 'k', meta(1), { condition: { ifAbsent: true } });
    assert.throws(
      () => index.put('bkt', 'k', meta(2), { condition: { ifAbsent: true } }),
      isCode('PreconditionFailed', 'object already exists'),
    );
    const m1 = meta(1);
    assert.throws(
      () =>
        index.put('bkt', 'k', meta(2), { condition: { ifMatch: { etag: m1.etag, partCount: 2 } } }),
      isCode('PreconditionFailed', 'ETag does not match'),
    );
    index.put('bkt', 'k', meta(2), { condition: { ifMatch: { etag: m1.etag, partCount: 1 } } });
    assert.throws(
      () => index.put('bkt', 'k', meta(3), { condition: { ifVersion: 1n } }),
      isCode('PreconditionFailed', 'current version does not match'),
    );
    index.put('bkt', 'k', meta(3), { condition: { ifVersion: 2n } });
    assert.equal(index.get('bkt', 'k')?.versionId, 3n);
  });

  it('validates input in TypeScript with precise messages', () => {
    const index = new ObjectIndex();
    assert.throws(
      () => index.put('ab', 'k', meta(1)),
      isCode('ERR_INVALID_ARG_VALUE', 'bucket must be a string of 3..63 bytes, got 2'),
    );
    assert.throws(
      () => index.put('bkt', 'x'.repeat(1025), meta(1)),
      isCode('KeyTooLongError', 'key must be at most 1024 bytes, got 1025'),
    );
    index.put('bkt', 'x'.repeat(1024), meta(1));
    assert.throws(
      () => index.put('bkt', 'k', { ...meta(1), size: 2 ** 48 }),
      isCode('ERR_OUT_OF_RANGE', `size must be an integer in 0..${2 ** 48 - 1}, got ${2 ** 48}`),
    );
    assert.throws(
      () => index.listRaw('bkt', { maxKeys: 0 }),
      isCode('ERR_OUT_OF_RANGE', 'maxKeys must be an integer in 1..10000, got 0'),
    );
  });

  it('lists in byte order with prefix, delimiter and continuation pages', () => {
    const index = new ObjectIndex();
    const keys = ['a', 'a/1', 'a/2', 'a/b/1', 'b', 'b/1', 'c/x/y', 'd', 'é'];
    keys.forEach((k, i) => index.put('bkt', k, meta(i + 1)));
    index.put('bkt', 'd', meta(100, FLAG_DELETE_MARKER), { newVersion: true });
    for (let pageSize = 1; pageSize <= 5; pageSize++) {
      const entries: string[] = [];
      const prefixes: string[] = [];
      let continuation: Buffer | undefined;
      do {
        const page = index.list('bkt', { delimiter: '/', maxKeys: pageSize, continuation });
        entries.push(...page.entries.map((e) => e.key));
        prefixes.push(...page.commonPrefixes);
        continuation = page.truncated ? page.continuation : undefined;
      } while (continuation);
      assert.deepEqual(entries, ['a', 'b', 'é'], `page size ${pageSize}`);
      assert.deepEqual(prefixes, ['a/', 'b/', 'c/'], `page size ${pageSize}`);
    }
    const raw = index.listRaw('bkt', { prefix: 'a/' });
    assert.deepEqual(unpackKeys(raw.keys), ['a/1', 'a/2', 'a/b/1']);
    assert.equal(raw.count, 3);
    const page = index.list('bkt', { prefix: 'a/', startAfter: 'a/1' });
    assert.deepEqual(page.entries[0]?.meta, meta(3));
  });

  it('lists versions newest first, with delimiter and key/version-id marker pages', () => {
    const index = new ObjectIndex();
    // Model: key -> version numbers, newest first.
    const model = new Map<string, number[]>();
    let v = 1;
    for (const key of ['a', 'd/1', 'd/2', 'k', 'z']) {
      for (let i = 0; i < (key === 'k' ? 5 : 2); i++) {
        const marker = key === 'z' && i === 1;
        index.put('vbkt', key, meta(v, marker ? FLAG_DELETE_MARKER : 0), { newVersion: true });
        model.set(key, [v, ...(model.get(key) ?? [])]);
        v++;
      }
    }
    index.deleteVersion('vbkt', 'k', BigInt(model.get('k')![2]!));
    model.get('k')!.splice(2, 1);
    const expected = [...model.entries()]
      .sort(([x], [y]) => (x < y ? -1 : 1))
      .flatMap(([key, vs]) => vs.map((n, i) => ({ key, versionId: BigInt(n), isLatest: i === 0 })));
    for (const maxKeys of [1, 2, 3, 7, 1000]) {
      const seen: { key: string; versionId: bigint; isLatest: boolean }[] = [];
      let keyMarker: string | undefined;
      let versionIdMarker: bigint | undefined;
      for (let pages = 0; pages < 100; pages++) {
        const page = index.listVersions('vbkt', { keyMarker, versionIdMarker, maxKeys });
        assert.ok(page.entries.length <= maxKeys);
        for (const e of page.entries) {
          assert.deepEqual(e.meta, meta(Number(e.meta.versionId), e.meta.flags));
          seen.push({ key: e.key, versionId: e.meta.versionId, isLatest: e.isLatest });
        }
        if (!page.truncated) break;
        keyMarker = page.nextKeyMarker;
        versionIdMarker = page.nextVersionIdMarker;
      }
      assert.deepEqual(seen, expected, `maxKeys ${maxKeys}`);
    }
    const folded = index.listVersions('vbkt', { delimiter: '/' });
    assert.deepEqual(folded.commonPrefixes, ['d/']);
    assert.deepEqual(
      folded.entries.map((e) => e.key),
      ['a', 'a', 'k', 'k', 'k', 'k', 'z', 'z'],
    );
    assert.equal(folded.entries[6]!.meta.flags, FLAG_DELETE_MARKER);
    // A key marker alone skips every version of that key.
    assert.deepEqual(
      index.listVersions('vbkt', { keyMarker: 'k' }).entries.map((e) => e.key),
      ['z', 'z'],
    );
    assert.throws(() => index.listVersions('vbkt', { maxKeys: 0 }), isCode('ERR_OUT_OF_RANGE'));
    assert.throws(
      () => index.listVersions('vbkt', { versionIdMarker: -1n }),
      isCode('ERR_OUT_OF_RANGE'),
    );
  });

  it('saves a snapshot, loads it back, and refuses a damaged one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-index-'));
    try {
      const index = new ObjectIndex();
      for (let i = 0; i < 500; i++) index.put('bkt', `k${i}`, meta(i + 1), { newVersion: true });
      index.put('bkt', 'k7', meta(9999), { newVersion: true });
      const path = join(dir, 'index.snap');
      await index.saveSnapshot(path);
      const loaded = await ObjectIndex.loadSnapshot(path);
      assert.equal(loaded.keyCount(), 500);
      assert.deepEqual(loaded.get('bkt', 'k7'), meta(9999));
      assert.deepEqual(loaded.getVersion('bkt', 'k7', 8n), meta(8));
      const bytes = readFileSync(path);
      bytes.writeUInt8(bytes.readUInt8(200) ^ 0x40, 200);
      writeFileSync(path, bytes);
      await assert.rejects(
        ObjectIndex.loadSnapshot(path),
        isCode('ERR_STORE_CORRUPT', `index snapshot ${path}: body checksum mismatch`),
      );
      writeFileSync(path, bytes.subarray(0, bytes.length - 1));
      await assert.rejects(ObjectIndex.loadSnapshot(path), isCode('ERR_STORE_CORRUPT'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
