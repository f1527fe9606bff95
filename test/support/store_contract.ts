/**
 * The Store API contract as a reusable suite: run it against any engine.
 * `test/51.store.contract.model.test.ts` runs it on the reference model;
 * the native engine's suite runs the very same cases.
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { TesseraError } from '../../lib/errors';
import type { Store } from '../../lib/store/store';

export type StoreFactory = () => Promise<Store>;

function code(expected: string) {
  return (error: unknown) => {
    assert.ok(
      error instanceof TesseraError,
      `expected TesseraError ${expected}, got ${String(error)}`,
    );
    assert.equal(error.code, expected);
    return true;
  };
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

function pattern(size: number, seed = 1): Buffer {
  const bytes = Buffer.alloc(size);
  let x = seed * 2654435761;
  for (let i = 0; i < size; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

export function storeContract(label: string, open: StoreFactory): void {
  describe(`store contract: ${label}`, () => {
    let store: Store;
    beforeEach(async () => {
      store = await open();
      await store.createBucket('photos');
    });
    afterEach(async () => {
      await store.close();
    });

    describe('buckets', () => {
      it('creates, lists, describes and deletes buckets', async () => {
        await store.createBucket('archive', { versioning: true });
        assert.deepEqual(
          (await store.listBuckets()).map((b) => [b.name, b.versioning]),
          [
            ['archive', 'Enabled'],
            ['photos', 'Disabled'],
          ],
        );
        assert.equal((await store.getBucket('archive'))?.versioning, 'Enabled');
        assert.equal(await store.getBucket('missing'), undefined);
        await store.deleteBucket('archive');
        assert.deepEqual(
          (await store.listBuckets()).map((b) => b.name),
          ['photos'],
        );
      });

      it('refuses duplicates, non-empty deletes, missing buckets and bad names with exact codes', async () => {
        await assert.rejects(store.createBucket('photos'), code('BucketAlreadyOwnedByYou'));
        await store.bucket('photos').put('k', 'v');
        await assert.rejects(store.deleteBucket('photos'), code('BucketNotEmpty'));
        await assert.rejects(store.deleteBucket('nothere'), code('NoSuchBucket'));
        await assert.rejects(store.bucket('nothere').put('k', 'v'), code('NoSuchBucket'));
        await assert.rejects(store.createBucket('Bad_Name'), code('InvalidBucketName'));
      });
    });

    describe('objects', () => {
      it('round-trips bytes, content type and metadata for every body shape', async () => {
        const photos = store.bucket('photos');
        const bytes = pattern(70_000);
        const bodies = {
          buffer: bytes,
          uint8: new Uint8Array(bytes),
          readable: Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]),
          web: Readable.toWeb(Readable.from([bytes])) as ReadableStream<Uint8Array>,
          iterable: (async function* () {
            yield bytes.subarray(0, 5);
            yield bytes.subarray(5);
          })(),
        };
        for (const [name, body] of Object.entries(bodies)) {
          const put = await photos.put(`shape/${name}`, body, {
            contentType: 'image/jpeg',
            metadata: { Camera: 'x100' },
          });
          assert.equal(put.size, bytes.length);
          const got = await photos.get(`shape/${name}`);
          assert.ok(got, name);
          assert.ok(got.body.equals(bytes), `${name}: bytes differ`);
          assert.equal(got.etag, put.etag);
          assert.equal(got.contentType, 'image/jpeg');
          assert.deepEqual(got.metadata, { camera: 'x100' });
        }
        await photos.put('text', 'héllo');
        assert.equal((await photos.get('text'))?.body.toString('utf8'), 'héllo');
      });

      it('computes the ETag as the MD5 of the body', async () => {
        const { etag } = await store.bucket('photos').put('e', 'hello');
        assert.equal(etag, '5d41402abc4b2a76b9719d911017c592');
      });

      it('head withBodyUpTo returns the body of small objects only, in the same call', async () => {
        const photos = store.bucket('photos');
        const small = pattern(4096, 7);
        await photos.put('small', small);
        await photos.put('large', pattern(300_000, 8));
        await photos.put('empty', Buffer.alloc(0));
        const head = await photos.head('small', { withBodyUpTo: 4096 });
        assert.ok(head?.body?.equals(small));
        assert.equal(head?.etag, createHash('md5').update(small).digest('hex'));
        assert.equal((await photos.head('small', { withBodyUpTo: 4095 }))?.body, undefined);
        assert.equal((await photos.head('small'))?.body, undefined);
        assert.equal((await photos.head('large', { withBodyUpTo: 262_144 }))?.body, undefined);
        assert.equal((await photos.head('empty', { withBodyUpTo: 1 }))?.body?.length, 0);
        assert.equal(await photos.head('missing', { withBodyUpTo: 1 }), undefined);
        await assert.rejects(photos.head('small', { withBodyUpTo: 0 }), code('ERR_OUT_OF_RANGE'));
      });

      it('stores empty objects', async () => {
        const photos = store.bucket('photos');
        const put = await photos.put('empty', Buffer.alloc(0));
        assert.equal(put.size, 0);
        assert.equal(put.etag, 'd41d8cd98f00b204e9800998ecf8427e');
        const got = await photos.get('empty');
        assert.equal(got?.body.length, 0);
        await assert.rejects(photos.get('empty', { range: { start: 0 } }), code('InvalidRange'));
      });

      it('answers undefined for missing objects on head, get and getStream', async () => {
        const photos = store.bucket('photos');
        assert.equal(await photos.head('nope'), undefined);
        assert.equal(await photos.get('nope'), undefined);
        assert.equal(await photos.getStream('nope'), undefined);
      });

      it('serves ranges: a-b, a-, and suffix, clamped to the size', async () => {
        const photos = store.bucket('photos');
        const bytes = pattern(10_000, 7);
        await photos.put('r', bytes);
        const cases: [Parameters<typeof photos.get>[1], number, number][] = [
          [{ range: { start: 0, end: 1023 } }, 0, 1023],
          [{ range: { start: 9000 } }, 9000, 9999],
          [{ range: { suffix: 100 } }, 9900, 9999],
          [{ range: { start: 9990, end: 20_000 } }, 9990, 9999],
          [{ range: { suffix: 20_000 } }, 0, 9999],
        ];
        for (const [options, start, end] of cases) {
          const got = await photos.get('r', options);
          assert.deepEqual(got?.range, { start, end });
          assert.ok(got?.body.equals(bytes.subarray(start, end + 1)));
        }
        await assert.rejects(photos.get('r', { range: { start: 10_000 } }), code('InvalidRange'));
        await assert.rejects(
          photos.get('r', { range: { start: 5, end: 4 } }),
          code('InvalidArgument'),
        );
      });

      it('streams large objects with backpressure and exact bytes', async () => {
        const photos = store.bucket('photos');
        const bytes = pattern(3 * 1024 * 1024 + 17, 3);
        await photos.put('big', Readable.from([bytes]));
        const result = await photos.getStream('big', { highWaterMark: 64 * 1024 });
        assert.ok(result);
        assert.equal(result.size, bytes.length);
        const parts: Buffer[] = [];
        for await (const part of result.stream) parts.push(part as Buffer);
        assert.ok(Buffer.concat(parts).equals(bytes));
        const ranged = await photos.getStream('big', {
          range: { start: 1_000_000, end: 2_500_000 },
        });
        const rangedParts: Buffer[] = [];
        for await (const part of ranged!.stream) rangedParts.push(part as Buffer);
        assert.ok(Buffer.concat(rangedParts).equals(bytes.subarray(1_000_000, 2_500_001)));
      });

      it('overwrites in an unversioned bucket and deletes', async () => {
        const photos = store.bucket('photos');
        await photos.put('k', 'one');
        await photos.put('k', 'two');
        assert.equal((await photos.get('k'))?.body.toString(), 'two');
        assert.equal((await photos.head('k'))?.versionId, 'null');
        assert.deepEqual(await photos.delete('k'), { deleteMarker: false });
        assert.equal(await photos.head('k'), undefined);
        assert.deepEqual(await photos.delete('never-existed'), { deleteMarker: false });
      });
    });

    describe('reading a headed version', () => {
      it('get and getStream with options.info read that version without a lookup', async () => {
        await store.setBucketVersioning('photos', 'Enabled');
        const photos = store.bucket('photos');
        await photos.put('v', 'first');
        const info = (await photos.head('v'))!;
        await photos.put('v', 'second');
        assert.equal((await photos.get('v', { info }))?.body.toString(), 'first');
        assert.equal(
          (await photos.get('v', { info, range: { start: 1, end: 2 } }))?.body.toString(),
          'ir',
        );
        const streamed = await photos.getStream('v', { info });
        assert.equal((await collect(streamed!.stream as AsyncIterable<Buffer>)).join(''), 'first');
        await assert.rejects(photos.get('other', { info }), (e) => {
          code('ERR_INVALID_ARG_VALUE')(e);
          assert.equal(
            (e as Error).message,
            'options.info must be what head("other") of bucket "photos" returned',
          );
          return true;
        });
      });
    });

    describe('checksums and system headers', () => {
      const crc32 = 'NSRBwg==';
      const sha256 = 'n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=';
      const headers = {
        cacheControl: 'max-age=60',
        contentDisposition: 'attachment; filename="a.txt"',
        contentEncoding: 'gzip',
        contentLanguage: 'en',
        expires: 'Wed, 21 Oct 2026 07:28:00 GMT',
      };

      it('stores checksums and headers, returns them by head and get, never in metadata', async () => {
        const photos = store.bucket('photos');
        await photos.put('inline', 'x', {
          checksums: { crc32, sha256 },
          headers,
          metadata: { owner: 'ada' },
        });
        // Streamed (above the inline size), with the checksum known only after the body.
        const big = pattern(3 * 1024 * 1024 + 5, 4);
        let bodyDone = false;
        async function* body() {
          for (let i = 0; i < big.length; i += 256 * 1024) yield big.subarray(i, i + 256 * 1024);
          bodyDone = true;
        }
        const late = new Promise<{ crc32: string }>((resolve) =>
          setImmediate(() => resolve({ crc32 })),
        );
        await photos.put('streamed', Readable.from(body()), {
          checksums: late.then((c) => {
            assert.equal(bodyDone, true, 'the Promise is awaited after the body ended');
            return c;
          }),
        });
        const inline = await photos.head('inline');
        assert.deepEqual(inline?.checksums, { crc32, sha256 });
        assert.deepEqual(inline?.headers, headers);
        assert.deepEqual(inline?.metadata, { owner: 'ada' });
        const got = await photos.get('inline');
        assert.deepEqual(got?.headers, headers);
        assert.deepEqual(got?.metadata, { owner: 'ada' });
        const streamed = await photos.getStream('streamed');
        streamed?.stream.destroy();
        assert.deepEqual(streamed?.checksums, { crc32 });
        assert.equal(streamed?.headers, undefined);
        assert.deepEqual(streamed?.metadata, {});
      });

      it('refuses bad checksums, bad headers and reserved metadata names; a rejected Promise stores nothing', async () => {
        const photos = store.bucket('photos');
        await assert.rejects(photos.put('k', 'x', { checksums: { md5: crc32 } as never }), (e) => {
          code('InvalidArgument')(e);
          assert.equal(
            (e as Error).message,
            'checksum algorithm must be one of crc32, crc32c, crc64nvme, sha1, sha256, got "md5"',
          );
          return true;
        });
        await assert.rejects(photos.put('k', 'x', { checksums: { crc32: sha256 } }), (e) => {
          code('InvalidArgument')(e);
          assert.match((e as Error).message, /^checksums\.crc32 must be 8 characters of base64/);
          return true;
        });
        await assert.rejects(
          photos.put('k', 'x', { checksums: { crc64nvme: 'not base64 !' } }),
          code('InvalidArgument'),
        );
        await assert.rejects(
          photos.put('k', 'x', { headers: { contentType: 'x' } as never }),
          code('InvalidArgument'),
        );
        await assert.rejects(
          photos.put('k', 'x', { metadata: { 'x-tessera-h-cache-control': 'no' } }),
          (e) => {
            code('InvalidArgument')(e);
            assert.equal(
              (e as Error).message,
              'metadata names starting with x-tessera- are reserved, got "x-tessera-h-cache-control"',
            );
            return true;
          },
        );
        await assert.rejects(
          photos.put('k', 'x', { checksums: Promise.resolve({ sha1: 'short' }) }),
          code('InvalidArgument'),
        );
        await assert.rejects(
          photos.put('k', 'x', { checksums: Promise.reject(new Error('trailer mismatch')) }),
          /trailer mismatch/,
        );
        assert.equal(await photos.head('k'), undefined);
      });
    });

    describe('multipart objects and the metadata budget', () => {
      const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
      it('a put with `multipart` has the md5-of-md5s-N ETag in head, get, put, list and versions; sizes in `parts`', async () => {
        const photos = store.bucket('photos');
        const parts = [pattern(5000, 1), pattern(5000, 2), pattern(123, 3)];
        const expected =
          createHash('md5')
            .update(Buffer.concat(parts.map((p) => Buffer.from(md5(p), 'hex'))))
            .digest('hex') + '-3';
        const put = await photos.put('mp', Buffer.concat(parts), {
          metadata: { owner: 'ada' },
          multipart: { partEtags: parts.map(md5), partSizes: parts.map((p) => p.length) },
        });
        assert.equal(put.etag, expected);
        const head = await photos.head('mp');
        assert.equal(head?.etag, expected);
        assert.deepEqual(head?.parts, { count: 3, sizes: [5000, 5000, 123] });
        assert.deepEqual(head?.metadata, { owner: 'ada' });
        const got = await photos.get('mp');
        assert.ok(got?.body.equals(Buffer.concat(parts)));
        assert.equal(got?.etag, expected);
        const listed = await collect(photos.list());
        assert.deepEqual(
          listed.map((e) => (e.type === 'object' ? [e.key, e.etag] : [])),
          [['mp', expected]],
        );
        const versions = await collect(photos.listVersions());
        assert.equal(versions[0]?.etag, expected);
        // If-Match takes the multipart ETag; the plain MD5 of the body does not match it.
        await assert.rejects(
          photos.put('mp', 'x', { ifMatch: md5(Buffer.concat(parts)) }),
          code('PreconditionFailed'),
        );
        await photos.put('mp', 'y', { ifMatch: `"${expected}"` });
        const replaced = await photos.head('mp');
        assert.equal(replaced?.etag, md5(Buffer.from('y')));
        assert.equal(replaced?.parts, undefined);
      });

      it('a streamed multipart put keeps its ETag; sizes that do not add up store nothing', async () => {
        const photos = store.bucket('photos');
        const big = pattern(5 * 1024 * 1024 + 7, 9);
        const halves = [big.subarray(0, 5 * 1024 * 1024), big.subarray(5 * 1024 * 1024)];
        const multipart = { partEtags: halves.map(md5), partSizes: halves.map((h) => h.length) };
        const put = await photos.put('big', Readable.from([big]), { multipart });
        assert.match(put.etag, /^[0-9a-f]{32}-2$/);
        assert.equal((await photos.head('big'))?.etag, put.etag);
        await assert.rejects(
          photos.put('bad', Readable.from([big.subarray(1)]), { multipart }),
          code('InvalidArgument'),
        );
        await assert.rejects(photos.put('bad', 'x', { multipart }), code('InvalidArgument'));
        assert.equal(await photos.head('bad'), undefined);
        await assert.rejects(
          photos.put('bad', 'x', { multipart: { partEtags: ['zz'], partSizes: [1] } }),
          code('InvalidArgument'),
        );
      });

      it('callers get the full 2 KiB of user metadata besides system headers and the part layout', async () => {
        const photos = store.bucket('photos');
        const metadata = { k: 'v'.repeat(2047) };
        const headers = {
          cacheControl: 'c'.repeat(1024),
          contentDisposition: 'd'.repeat(1024),
          contentEncoding: 'e'.repeat(1024),
          contentLanguage: 'l'.repeat(1024),
          expires: 'x'.repeat(1024),
        };
        const sizes = Array.from({ length: 60 }, (_, i) => 100_000 + i);
        const body = Buffer.alloc(
          sizes.reduce((a, b) => a + b, 0),
          7,
        );
        await photos.put('full', body, {
          metadata,
          headers,
          contentType: 't'.repeat(1024),
          multipart: { partEtags: sizes.map(() => md5(Buffer.from('p'))), partSizes: sizes },
        });
        const head = await photos.head('full');
        assert.deepEqual(head?.metadata, metadata);
        assert.deepEqual(head?.headers, headers);
        assert.deepEqual(head?.parts?.sizes, sizes);
        await assert.rejects(
          photos.put('over', 'x', { metadata: { k: 'v'.repeat(2048) } }),
          code('MetadataTooLarge'),
        );
      });
    });

    describe('conditional writes', () => {
      it("ifNoneMatch: '*' creates only when absent", async () => {
        const photos = store.bucket('photos');
        await photos.put('lock', 'a', { ifNoneMatch: '*' });
        await assert.rejects(
          photos.put('lock', 'b', { ifNoneMatch: '*' }),
          code('PreconditionFailed'),
        );
        assert.equal((await photos.get('lock'))?.body.toString(), 'a');
      });

      it('ifMatch replaces only when the ETag matches', async () => {
        const photos = store.bucket('photos');
        const first = await photos.put('m', 'a');
        await assert.rejects(photos.put('m', 'b', { ifMatch: 'ffff' }), code('PreconditionFailed'));
        const second = await photos.put('m', 'b', { ifMatch: `"${first.etag}"` });
        assert.notEqual(second.etag, first.etag);
        await assert.rejects(photos.put('absent', 'x', { ifMatch: first.etag }), code('NoSuchKey'));
      });

      it('of many concurrent create-only puts on one key, exactly one wins', async () => {
        const photos = store.bucket('photos');
        const results = await Promise.allSettled(
          Array.from({ length: 16 }, (_, i) =>
            photos.put('race', `writer ${i}`, { ifNoneMatch: '*' }),
          ),
        );
        const won = results.filter((r) => r.status === 'fulfilled');
        assert.equal(won.length, 1);
        for (const r of results) if (r.status === 'rejected') code('PreconditionFailed')(r.reason);
      });
    });

    describe('versioning', () => {
      it('keeps every version, newest first, with delete markers', async () => {
        await store.createBucket('docs', { versioning: true });
        const docs = store.bucket('docs');
        const v1 = await docs.put('a', 'one');
        const v2 = await docs.put('a', 'two');
        assert.notEqual(v1.versionId, v2.versionId);
        assert.notEqual(v1.versionId, 'null');
        assert.equal((await docs.get('a', { versionId: v1.versionId }))?.body.toString(), 'one');
        const marker = await docs.delete('a');
        assert.equal(marker.deleteMarker, true);
        assert.equal(await docs.head('a'), undefined);
        const versions = await collect(docs.listVersions());
        assert.deepEqual(
          versions.map((v) => [v.versionId, v.isLatest, v.deleteMarker]),
          [
            [marker.versionId, true, true],
            [v2.versionId, false, false],
            [v1.versionId, false, false],
          ],
        );
        // Removing the marker brings the previous version back.
        await docs.delete('a', { versionId: marker.versionId! });
        assert.equal((await docs.get('a'))?.body.toString(), 'two');
        await docs.delete('a', { versionId: v2.versionId });
        assert.equal((await docs.get('a'))?.body.toString(), 'one');
      });
    });

    describe('listing', () => {
      beforeEach(async () => {
        const photos = store.bucket('photos');
        for (const key of ['a/1', 'a/2', 'a/b/3', 'b/1', 'c', 'é', 'Z']) await photos.put(key, key);
      });

      it('lists every key in UTF-8 byte order', async () => {
        const keys = (await collect(store.bucket('photos').list())).map((e) =>
          e.type === 'object' ? e.key : e.prefix,
        );
        assert.deepEqual(keys, ['Z', 'a/1', 'a/2', 'a/b/3', 'b/1', 'c', 'é']);
      });

      it('rolls keys up into common prefixes with a delimiter', async () => {
        const entries = await collect(store.bucket('photos').list({ delimiter: '/' }));
        assert.deepEqual(
          entries.map((e) => (e.type === 'object' ? `key:${e.key}` : `prefix:${e.prefix}`)),
          ['key:Z', 'prefix:a/', 'prefix:b/', 'key:c', 'key:é'],
        );
        const inA = await collect(store.bucket('photos').list({ prefix: 'a/', delimiter: '/' }));
        assert.deepEqual(
          inA.map((e) => (e.type === 'object' ? e.key : e.prefix)),
          ['a/1', 'a/2', 'a/b/'],
        );
      });

      it('pages with maxKeys and opaque continuation tokens, counting prefixes', async () => {
        const photos = store.bucket('photos');
        const seen: string[] = [];
        let token: string | undefined;
        let pages = 0;
        do {
          const page = await photos.listPage({
            delimiter: '/',
            maxKeys: 2,
            ...(token ? { continuationToken: token } : {}),
          });
          assert.ok(page.objects.length + page.commonPrefixes.length <= 2);
          seen.push(...page.objects.map((o) => o.key), ...page.commonPrefixes);
          token = page.nextContinuationToken;
          assert.equal(page.isTruncated, token !== undefined);
          pages++;
        } while (token);
        assert.deepEqual(seen.sort(), ['Z', 'a/', 'b/', 'c', 'é'].sort());
        assert.equal(pages, 3);
        await assert.rejects(
          photos.listPage({ continuationToken: 'garbage' }),
          code('InvalidArgument'),
        );
      });

      it('honours startAfter and limit', async () => {
        const photos = store.bucket('photos');
        const after = await collect(photos.list({ startAfter: 'a/2' }));
        assert.deepEqual(
          after.map((e) => (e.type === 'object' ? e.key : '')),
          ['a/b/3', 'b/1', 'c', 'é'],
        );
        assert.equal((await collect(photos.list({ limit: 3 }))).length, 3);
        await assert.rejects(photos.listPage({ maxKeys: 1001 }), code('ERR_OUT_OF_RANGE'));
      });
    });

    describe('abort and close', () => {
      it('an aborted streamed put leaves nothing visible', async () => {
        const photos = store.bucket('photos');
        const controller = new AbortController();
        const body = new Readable({ read() {} });
        body.push(pattern(200_000));
        const putting = photos.put('aborted', body, { signal: controller.signal });
        setTimeout(() => controller.abort(), 5);
        await assert.rejects(putting, code('ABORT_ERR'));
        assert.equal(await photos.head('aborted'), undefined);
      });

      it('rejects operations after close with ERR_STORE_CLOSED, and close is idempotent', async () => {
        const photos = store.bucket('photos');
        await store.close();
        await store.close();
        await assert.rejects(photos.put('k', 'v'), code('ERR_STORE_CLOSED'));
        await assert.rejects(photos.get('k'), code('ERR_STORE_CLOSED'));
        assert.throws(() => store.bucket('photos'), code('ERR_STORE_CLOSED'));
      });

      it('close waits for puts in flight', async () => {
        const photos = store.bucket('photos');
        const puts = Array.from({ length: 20 }, (_, i) =>
          photos.put(`inflight/${i}`, pattern(1000, i)),
        );
        const closing = store.close();
        const results = await Promise.allSettled(puts);
        await closing;
        assert.ok(results.every((r) => r.status === 'fulfilled'));
      });

      it('supports Symbol.asyncDispose', async () => {
        assert.equal(typeof store[Symbol.asyncDispose], 'function');
        await store[Symbol.asyncDispose]();
        await assert.rejects(store.listBuckets(), code('ERR_STORE_CLOSED'));
      });
    });
  });
}
