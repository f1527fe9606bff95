/**
 * The gateway through @aws-sdk/client-s3, the client that matters most:
 * once with its default checksum settings (CRC32 on every put, aws-chunked
 * trailers for streams) and once with `requestChecksumCalculation:
 * 'WHEN_REQUIRED'`. Every byte read back is compared.
 */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketLocationCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
  paginateListObjectsV2,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import {
  type StoreKind,
  type TestGateway,
  pattern,
  s3Client,
  startTestGateway,
} from './61.gateway.harness';

const MiB = 1024 * 1024;

async function rejectsWith(
  promise: Promise<unknown>,
  name: string | undefined,
  status?: number,
): Promise<void> {
  await assert.rejects(
    promise,
    (error: { name?: string; $metadata?: { httpStatusCode?: number } }) => {
      if (name !== undefined) assert.equal(error.name, name);
      if (status !== undefined) assert.equal(error.$metadata?.httpStatusCode, status);
      return true;
    },
  );
}

async function bytesOf(
  s3: S3Client,
  bucket: string,
  key: string,
  extra: object = {},
): Promise<Buffer> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...extra }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

const MODES = [
  { label: 'default checksums (WHEN_SUPPORTED)', extra: {} },
  {
    label: "requestChecksumCalculation: 'WHEN_REQUIRED'",
    extra: { requestChecksumCalculation: 'WHEN_REQUIRED' as const },
  },
];

const STORES: ReadonlyArray<{ kind: StoreKind; label: string }> = [
  { kind: 'model', label: 'reference model store' },
  { kind: 'native', label: 'native store (Store.open, 4+2)' },
];

for (const { kind, label } of STORES)
  for (const mode of MODES) {
    describe(`gateway with @aws-sdk/client-s3, ${mode.label}, ${label}`, function () {
      this.timeout(60_000);
      let t: TestGateway;
      let s3: S3Client;
      const bucket = 'photos';

      beforeEach(async () => {
        t = await startTestGateway({}, kind);
        s3 = s3Client(t.gw, mode.extra);
        await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      });
      afterEach(async () => {
        s3.destroy();
        await t.close();
      });

      it('creates, describes, lists and deletes buckets', async () => {
        // An owned existing bucket answers 200, as us-east-1 does.
        await s3.send(new CreateBucketCommand({ Bucket: bucket }));
        await s3.send(new CreateBucketCommand({ Bucket: 'archive' }));
        const head = await s3.send(new HeadBucketCommand({ Bucket: 'archive' }));
        assert.equal(head.BucketRegion, 'us-east-1');
        await rejectsWith(s3.send(new HeadBucketCommand({ Bucket: 'missing' })), 'NotFound', 404);
        const listed = await s3.send(new ListBucketsCommand({}));
        assert.deepEqual(
          listed.Buckets?.map((b) => b.Name),
          ['archive', 'photos'],
        );
        const location = await s3.send(new GetBucketLocationCommand({ Bucket: 'archive' }));
        assert.equal(location.LocationConstraint, undefined);
        await s3.send(new PutObjectCommand({ Bucket: 'archive', Key: 'k', Body: 'x' }));
        await rejectsWith(
          s3.send(new DeleteBucketCommand({ Bucket: 'archive' })),
          'BucketNotEmpty',
          409,
        );
        await s3.send(new DeleteObjectCommand({ Bucket: 'archive', Key: 'k' }));
        await s3.send(new DeleteBucketCommand({ Bucket: 'archive' }));
        await rejectsWith(s3.send(new HeadBucketCommand({ Bucket: 'archive' })), 'NotFound', 404);
        await rejectsWith(
          s3.send(new CreateBucketCommand({ Bucket: 'Bad_Name' })),
          'InvalidBucketName',
          400,
        );
      });

      it('puts and gets Buffer, string and Readable bodies (aws-chunked trailer path)', async () => {
        const small = pattern(1000, 1);
        const put = await s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: 'dir/small.bin',
            Body: small,
            ContentType: 'application/x-test',
            Metadata: { owner: 'ada', 'mixed-case': 'Value' },
            CacheControl: 'max-age=60',
            ContentDisposition: 'attachment; filename="s.bin"',
          }),
        );
        assert.equal(put.ETag, `"${createHash('md5').update(small).digest('hex')}"`);
        assert.deepEqual(await bytesOf(s3, bucket, 'dir/small.bin'), small);
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'dir/small.bin' }));
        assert.equal(head.ContentType, 'application/x-test');
        assert.equal(head.ContentLength, 1000);
        assert.equal(head.CacheControl, 'max-age=60');
        assert.equal(head.ContentDisposition, 'attachment; filename="s.bin"');
        assert.deepEqual(head.Metadata, { owner: 'ada', 'mixed-case': 'Value' });

        await s3.send(
          new PutObjectCommand({ Bucket: bucket, Key: 'text.txt', Body: 'héllo wörld' }),
        );
        assert.equal((await bytesOf(s3, bucket, 'text.txt')).toString('utf8'), 'héllo wörld');

        const big = pattern(3 * MiB + 17, 2);
        const chunks = [];
        for (let i = 0; i < big.length; i += 100_000) chunks.push(big.subarray(i, i + 100_000));
        await s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: 'stream.bin',
            Body: Readable.from(chunks),
            ContentLength: big.length,
          }),
        );
        assert.deepEqual(await bytesOf(s3, bucket, 'stream.bin'), big);

        await s3.send(
          new PutObjectCommand({ Bucket: bucket, Key: 'empty', Body: Buffer.alloc(0) }),
        );
        assert.equal((await bytesOf(s3, bucket, 'empty')).length, 0);
      });

      /** Puts with an SDK checksum algorithm, then heads in checksum mode. */
      async function putAndHeadChecksum(
        key: string,
        body: Buffer | Readable,
        algorithm: 'SHA256' | 'CRC32C',
        length: number,
      ) {
        await s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: body,
            ContentLength: length,
            ChecksumAlgorithm: algorithm,
          }),
        );
        return s3.send(
          new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: 'ENABLED' }),
        );
      }

      it('stores a checksum sent in the aws-chunked trailer and returns it with x-amz-checksum-mode', async () => {
        const body = pattern(300_000, 5);
        const head = await putAndHeadChecksum(
          'trailer',
          Readable.from([body.subarray(0, 100_000), body.subarray(100_000)]),
          'SHA256',
          body.length,
        );
        assert.equal(head.ChecksumSHA256, createHash('sha256').update(body).digest('base64'));
        assert.deepEqual(head.Metadata, {});
      });

      it('stores checksums sent as headers and returns them with x-amz-checksum-mode', async () => {
        const body = pattern(5000, 3);
        const head = await putAndHeadChecksum('c', body, 'CRC32C', body.length);
        assert.match(head.ChecksumCRC32C ?? '', /^[A-Za-z0-9+/]{6}==$/);
        const got = await s3.send(
          new GetObjectCommand({ Bucket: bucket, Key: 'c', ChecksumMode: 'ENABLED' }),
        );
        assert.equal(got.ChecksumCRC32C, head.ChecksumCRC32C);
        assert.deepEqual(Buffer.from(await got.Body!.transformToByteArray()), body);
        await rejectsWith(
          s3.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: 'bad',
              Body: body,
              ChecksumSHA256: Buffer.alloc(32).toString('base64'),
            }),
          ),
          'BadDigest',
          400,
        );
        await rejectsWith(
          s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'bad' })),
          'NotFound',
          404,
        );
      });

      it('serves ranges a-b, a- and -n with 206 and Content-Range', async () => {
        const body = pattern(10_000, 4);
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'r', Body: body }));
        for (const [range, start, end] of [
          ['bytes=0-0', 0, 0],
          ['bytes=100-199', 100, 199],
          ['bytes=9000-', 9000, 9999],
          ['bytes=-10', 9990, 9999],
          ['bytes=9990-20000', 9990, 9999],
        ] as const) {
          const out = await s3.send(
            new GetObjectCommand({ Bucket: bucket, Key: 'r', Range: range }),
          );
          assert.equal(out.$metadata.httpStatusCode, 206, range);
          assert.equal(out.ContentRange, `bytes ${start}-${end}/10000`);
          assert.equal(out.AcceptRanges, 'bytes');
          assert.deepEqual(
            Buffer.from(await out.Body!.transformToByteArray()),
            body.subarray(start, end + 1),
          );
        }
        await rejectsWith(
          s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'r', Range: 'bytes=10000-' })),
          'InvalidRange',
          416,
        );
      });

      it('answers conditional reads with 304 and 412', async () => {
        const put = await s3.send(
          new PutObjectCommand({ Bucket: bucket, Key: 'cond', Body: 'abc' }),
        );
        await rejectsWith(
          s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'cond', IfNoneMatch: put.ETag })),
          undefined,
          304,
        );
        await rejectsWith(
          s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'cond', IfMatch: '"nope"' })),
          'PreconditionFailed',
          412,
        );
        const future = new Date(Date.now() + 3600_000);
        const past = new Date(Date.now() - 3600_000);
        await rejectsWith(
          s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'cond', IfModifiedSince: future })),
          undefined,
          304,
        );
        await rejectsWith(
          s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'cond', IfUnmodifiedSince: past })),
          'PreconditionFailed',
          412,
        );
        assert.equal(
          (
            await bytesOf(s3, bucket, 'cond', { IfMatch: put.ETag, IfModifiedSince: past })
          ).toString(),
          'abc',
        );
        await rejectsWith(
          s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'cond', IfMatch: '"x"' })),
          undefined,
          412,
        );
      });

      it('keeps the full 2 KiB of user metadata besides system headers, and returns exactly it', async () => {
        const metadata = { a: 'x'.repeat(1000), b: 'y'.repeat(1046) }; // 2048 bytes with names
        await s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: 'meta-full',
            Body: 'm',
            Metadata: metadata,
            CacheControl: 'c'.repeat(900),
            ContentDisposition: 'attachment; filename="' + 'd'.repeat(800) + '"',
            ContentLanguage: 'en',
            Expires: new Date('2030-01-01T00:00:00Z'),
          }),
        );
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'meta-full' }));
        assert.deepEqual(head.Metadata, metadata);
        assert.equal(head.CacheControl, 'c'.repeat(900));
        assert.equal(head.ContentLanguage, 'en');
        // The copy keeps metadata and headers, still only the client's own names.
        await s3.send(
          new CopyObjectCommand({
            Bucket: bucket,
            Key: 'meta-copy',
            CopySource: `${bucket}/meta-full`,
          }),
        );
        const copied = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'meta-copy' }));
        assert.deepEqual(copied.Metadata, metadata);
        assert.equal(copied.CacheControl, 'c'.repeat(900));
      });

      it('applies response-* overrides on GET', async () => {
        await s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: 'o',
            Body: 'abc',
            ContentType: 'text/plain',
          }),
        );
        const out = await s3.send(
          new GetObjectCommand({
            Bucket: bucket,
            Key: 'o',
            ResponseContentType: 'application/json',
            ResponseContentDisposition: 'inline',
            ResponseCacheControl: 'no-cache',
          }),
        );
        assert.equal(out.ContentType, 'application/json');
        assert.equal(out.ContentDisposition, 'inline');
        assert.equal(out.CacheControl, 'no-cache');
        assert.equal(await out.Body!.transformToString(), 'abc');
      });

      it('makes conditional writes: If-None-Match * and If-Match', async () => {
        const first = await s3.send(
          new PutObjectCommand({ Bucket: bucket, Key: 'lock', Body: 'one', IfNoneMatch: '*' }),
        );
        await rejectsWith(
          s3.send(
            new PutObjectCommand({ Bucket: bucket, Key: 'lock', Body: 'two', IfNoneMatch: '*' }),
          ),
          'PreconditionFailed',
          412,
        );
        await rejectsWith(
          s3.send(
            new PutObjectCommand({ Bucket: bucket, Key: 'lock', Body: 'two', IfMatch: '"0123"' }),
          ),
          'PreconditionFailed',
          412,
        );
        await s3.send(
          new PutObjectCommand({ Bucket: bucket, Key: 'lock', Body: 'three', IfMatch: first.ETag }),
        );
        assert.equal((await bytesOf(s3, bucket, 'lock')).toString(), 'three');
      });

      it('deletes objects one by one and in batches (quiet and verbose)', async () => {
        for (const key of ['a', 'b', 'c', 'd'])
          await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
        await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'a' }));
        await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'never-existed' }));
        const verbose = await s3.send(
          new DeleteObjectsCommand({
            Bucket: bucket,
            Delete: { Objects: [{ Key: 'b' }, { Key: 'zzz' }] },
          }),
        );
        assert.deepEqual(
          verbose.Deleted?.map((d) => d.Key),
          ['b', 'zzz'],
        );
        const quiet = await s3.send(
          new DeleteObjectsCommand({
            Bucket: bucket,
            Delete: { Objects: [{ Key: 'c' }, { Key: 'd' }], Quiet: true },
          }),
        );
        assert.equal(quiet.Deleted, undefined);
        const listed = await s3.send(new ListObjectsCommand({ Bucket: bucket }));
        assert.equal(listed.Contents, undefined);
      });

      it('copies objects with COPY and REPLACE directives and copy-source conditions', async () => {
        const body = pattern(200_000, 5);
        const put = await s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: 'src key+ü',
            Body: body,
            ContentType: 'image/png',
            Metadata: { a: '1' },
          }),
        );
        await s3.send(new CreateBucketCommand({ Bucket: 'other' }));
        const copied = await s3.send(
          new CopyObjectCommand({
            Bucket: 'other',
            Key: 'copy',
            CopySource: `${bucket}/${encodeURIComponent('src key+ü')}`,
          }),
        );
        assert.equal(copied.CopyObjectResult?.ETag, put.ETag);
        const head = await s3.send(new HeadObjectCommand({ Bucket: 'other', Key: 'copy' }));
        assert.equal(head.ContentType, 'image/png');
        assert.deepEqual(head.Metadata, { a: '1' });
        assert.deepEqual(await bytesOf(s3, 'other', 'copy'), body);

        await s3.send(
          new CopyObjectCommand({
            Bucket: bucket,
            Key: 'src key+ü',
            CopySource: `${bucket}/${encodeURIComponent('src key+ü')}`,
            MetadataDirective: 'REPLACE',
            ContentType: 'text/plain',
            Metadata: { b: '2' },
          }),
        );
        const replaced = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'src key+ü' }));
        assert.equal(replaced.ContentType, 'text/plain');
        assert.deepEqual(replaced.Metadata, { b: '2' });
        assert.deepEqual(await bytesOf(s3, bucket, 'src key+ü'), body);

        await rejectsWith(
          s3.send(
            new CopyObjectCommand({
              Bucket: bucket,
              Key: 'same',
              CopySource: `${bucket}/${encodeURIComponent('src key+ü')}`,
              CopySourceIfMatch: '"nope"',
            }),
          ),
          'PreconditionFailed',
          412,
        );
        await rejectsWith(
          s3.send(
            new CopyObjectCommand({ Bucket: bucket, Key: 'x', CopySource: `${bucket}/missing` }),
          ),
          'NoSuchKey',
          404,
        );
        await rejectsWith(
          s3.send(
            new CopyObjectCommand({
              Bucket: bucket,
              Key: 'src key+ü',
              CopySource: `${bucket}/${encodeURIComponent('src key+ü')}`,
            }),
          ),
          'InvalidRequest',
          400,
        );
      });

      it('paginates ListObjectsV2 with small MaxKeys, prefixes and delimiters', async () => {
        const keys = ['a/1', 'a/2', 'a/b/3', 'b', 'c/4', 'c/5', 'd', 'z z', 'é'];
        await Promise.all(
          keys.map((Key) => s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: Key }))),
        );
        const seen: string[] = [];
        let pages = 0;
        for await (const page of paginateListObjectsV2(
          { client: s3, pageSize: 2 },
          { Bucket: bucket },
        )) {
          pages++;
          assert.ok((page.KeyCount ?? 0) <= 2);
          for (const o of page.Contents ?? []) seen.push(o.Key!);
        }
        assert.deepEqual(seen, keys);
        assert.equal(pages, 5);
        const entries: string[] = [];
        for await (const page of paginateListObjectsV2(
          { client: s3, pageSize: 2 },
          { Bucket: bucket, Delimiter: '/' },
        )) {
          for (const p of page.CommonPrefixes ?? []) entries.push(p.Prefix!);
          for (const o of page.Contents ?? []) entries.push(o.Key!);
        }
        assert.deepEqual(entries.sort(), ['a/', 'b', 'c/', 'd', 'z z', 'é'].sort());
        const under = await s3.send(
          new ListObjectsCommand({ Bucket: bucket, Prefix: 'a/', Delimiter: '/' }),
        );
        assert.deepEqual(
          under.Contents?.map((o) => o.Key),
          ['a/1', 'a/2'],
        );
        assert.deepEqual(
          under.CommonPrefixes?.map((p) => p.Prefix),
          ['a/b/'],
        );
        const v1 = await s3.send(
          new ListObjectsCommand({ Bucket: bucket, MaxKeys: 3, Delimiter: '/' }),
        );
        assert.equal(v1.IsTruncated, true);
        assert.equal(v1.NextMarker, 'c/');
        const v1next = await s3.send(
          new ListObjectsCommand({ Bucket: bucket, Marker: v1.NextMarker, Delimiter: '/' }),
        );
        assert.deepEqual(
          v1next.Contents?.map((o) => o.Key),
          ['d', 'z z', 'é'],
        );
      });

      it('keeps versions: versionId reads, delete markers, ListObjectVersions', async () => {
        await s3.send(
          new PutBucketVersioningCommand({
            Bucket: bucket,
            VersioningConfiguration: { Status: 'Enabled' },
          }),
        );
        assert.equal(
          (await s3.send(new GetBucketVersioningCommand({ Bucket: bucket }))).Status,
          'Enabled',
        );
        const v1 = await s3.send(
          new PutObjectCommand({ Bucket: bucket, Key: 'doc', Body: 'first' }),
        );
        const v2 = await s3.send(
          new PutObjectCommand({ Bucket: bucket, Key: 'doc', Body: 'second' }),
        );
        assert.ok(v1.VersionId && v2.VersionId && v1.VersionId !== v2.VersionId);
        assert.equal((await bytesOf(s3, bucket, 'doc')).toString(), 'second');
        assert.equal(
          (await bytesOf(s3, bucket, 'doc', { VersionId: v1.VersionId })).toString(),
          'first',
        );
        const del = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'doc' }));
        assert.equal(del.DeleteMarker, true);
        await rejectsWith(
          s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'doc' })),
          'NoSuchKey',
          404,
        );
        const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
        assert.deepEqual(
          versions.Versions?.map((v) => v.VersionId),
          [v2.VersionId, v1.VersionId],
        );
        assert.equal(versions.DeleteMarkers?.length, 1);
        assert.equal(versions.DeleteMarkers?.[0]?.IsLatest, true);
        const paged = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, MaxKeys: 1 }));
        assert.equal(paged.IsTruncated, true);
        const rest = await s3.send(
          new ListObjectVersionsCommand({
            Bucket: bucket,
            KeyMarker: paged.NextKeyMarker,
            VersionIdMarker: paged.NextVersionIdMarker,
          }),
        );
        assert.deepEqual(
          rest.Versions?.map((v) => v.VersionId),
          [v2.VersionId, v1.VersionId],
        );
        await s3.send(
          new DeleteObjectCommand({ Bucket: bucket, Key: 'doc', VersionId: v1.VersionId }),
        );
        await rejectsWith(
          s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'doc', VersionId: v1.VersionId })),
          'NoSuchVersion',
          404,
        );
      });

      it('uploads above 5 MiB with lib-storage (parts concurrent, out of order) and serves parts', async () => {
        const body = pattern(12 * MiB + 12345, 6);
        const upload = new Upload({
          client: s3,
          params: {
            Bucket: bucket,
            Key: 'big.bin',
            Body: Readable.from([body]),
            ContentType: 'application/zip',
          },
          partSize: 5 * MiB,
          queueSize: 4,
        });
        const done = await upload.done();
        const md5s = [0, 1, 2].map((i) =>
          createHash('md5')
            .update(body.subarray(i * 5 * MiB, (i + 1) * 5 * MiB))
            .digest(),
        );
        const expected = `"${createHash('md5').update(Buffer.concat(md5s)).digest('hex')}-3"`;
        assert.equal(done.ETag, expected);
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'big.bin' }));
        assert.equal(head.ETag, expected);
        assert.equal(head.ContentLength, body.length);
        assert.equal(head.ContentType, 'application/zip');
        // Listings show the same multipart ETag as HEAD, and no internal metadata leaks.
        const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'big' }));
        assert.deepEqual(
          listed.Contents?.map((o) => [o.Key, o.ETag]),
          [['big.bin', expected]],
        );
        assert.deepEqual(head.Metadata, {});
        assert.deepEqual(await bytesOf(s3, bucket, 'big.bin'), body);
        const part2 = await s3.send(
          new GetObjectCommand({ Bucket: bucket, Key: 'big.bin', PartNumber: 2 }),
        );
        assert.equal(part2.PartsCount, 3);
        assert.equal(part2.ContentRange, `bytes ${5 * MiB}-${10 * MiB - 1}/${body.length}`);
        assert.deepEqual(
          Buffer.from(await part2.Body!.transformToByteArray()),
          body.subarray(5 * MiB, 10 * MiB),
        );
        const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
        assert.equal(uploads.Uploads, undefined);
        assert.deepEqual(
          (await s3.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name),
          ['photos'],
        );
      });

      it('checks multipart order, ETags and minimum sizes; re-upload replaces; abort discards', async () => {
        const complete = (
          key: string,
          uploadId: string | undefined,
          parts: [number, string | undefined][],
          extra: { IfNoneMatch?: string } = {},
        ) =>
          s3.send(
            new CompleteMultipartUploadCommand({
              Bucket: bucket,
              Key: key,
              UploadId: uploadId,
              MultipartUpload: { Parts: parts.map(([PartNumber, ETag]) => ({ PartNumber, ETag })) },
              ...extra,
            }),
          );
        const { UploadId } = await s3.send(
          new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'mp', Metadata: { k: 'v' } }),
        );
        const p1 = pattern(5 * MiB, 7);
        const p2 = pattern(1000, 8);
        const p2b = pattern(2000, 9);
        const e2 = await s3.send(
          new UploadPartCommand({ Bucket: bucket, Key: 'mp', UploadId, PartNumber: 2, Body: p2 }),
        );
        const e1 = await s3.send(
          new UploadPartCommand({ Bucket: bucket, Key: 'mp', UploadId, PartNumber: 1, Body: p1 }),
        );
        const e2b = await s3.send(
          new UploadPartCommand({ Bucket: bucket, Key: 'mp', UploadId, PartNumber: 2, Body: p2b }),
        );
        const parts = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'mp', UploadId }));
        assert.deepEqual(
          parts.Parts?.map((p) => [p.PartNumber, p.Size, p.ETag]),
          [
            [1, p1.length, e1.ETag],
            [2, p2b.length, e2b.ETag],
          ],
        );
        const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
        assert.deepEqual(
          listed.Uploads?.map((u) => [u.Key, u.UploadId]),
          [['mp', UploadId]],
        );
        await rejectsWith(
          complete('mp', UploadId, [
            [2, e2b.ETag],
            [1, e1.ETag],
          ]),
          'InvalidPartOrder',
          400,
        );
        await rejectsWith(
          complete('mp', UploadId, [
            [1, e1.ETag],
            [2, e2.ETag],
          ]),
          'InvalidPart',
          400,
        );
        await rejectsWith(
          complete('mp', UploadId, [
            [2, e2b.ETag],
            [3, e1.ETag],
          ]),
          'InvalidPart',
          400,
        );
        const small = await s3.send(
          new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'small' }),
        );
        const s1 = await s3.send(
          new UploadPartCommand({
            Bucket: bucket,
            Key: 'small',
            UploadId: small.UploadId,
            PartNumber: 1,
            Body: p2,
          }),
        );
        const s2 = await s3.send(
          new UploadPartCommand({
            Bucket: bucket,
            Key: 'small',
            UploadId: small.UploadId,
            PartNumber: 2,
            Body: p2,
          }),
        );
        await rejectsWith(
          complete('small', small.UploadId, [
            [1, s1.ETag],
            [2, s2.ETag],
          ]),
          'EntityTooSmall',
          400,
        );
        await s3.send(
          new AbortMultipartUploadCommand({
            Bucket: bucket,
            Key: 'small',
            UploadId: small.UploadId,
          }),
        );
        await rejectsWith(
          s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'small', UploadId: small.UploadId })),
          'NoSuchUpload',
          404,
        );

        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'mp', Body: 'exists' }));
        await rejectsWith(
          complete(
            'mp',
            UploadId,
            [
              [1, e1.ETag],
              [2, e2b.ETag],
            ],
            { IfNoneMatch: '*' },
          ),
          'PreconditionFailed',
          412,
        );
        const done = await complete('mp', UploadId, [
          [1, e1.ETag],
          [2, e2b.ETag],
        ]);
        assert.match(done.ETag ?? '', /^"[0-9a-f]{32}-2"$/);
        assert.deepEqual(await bytesOf(s3, bucket, 'mp'), Buffer.concat([p1, p2b]));
        assert.deepEqual(
          (await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'mp' }))).Metadata,
          { k: 'v' },
        );
        await rejectsWith(
          s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'mp', UploadId })),
          'NoSuchUpload',
          404,
        );
      });

      it('copies ranges of an object into parts (UploadPartCopy)', async () => {
        const source = pattern(6 * MiB, 10);
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'source', Body: source }));
        const { UploadId } = await s3.send(
          new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'assembled' }),
        );
        const c1 = await s3.send(
          new UploadPartCopyCommand({
            Bucket: bucket,
            Key: 'assembled',
            UploadId,
            PartNumber: 1,
            CopySource: `${bucket}/source`,
            CopySourceRange: `bytes=0-${5 * MiB - 1}`,
          }),
        );
        const c2 = await s3.send(
          new UploadPartCopyCommand({
            Bucket: bucket,
            Key: 'assembled',
            UploadId,
            PartNumber: 2,
            CopySource: `/${bucket}/source`,
          }),
        );
        await s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: bucket,
            Key: 'assembled',
            UploadId,
            MultipartUpload: {
              Parts: [
                { PartNumber: 1, ETag: c1.CopyPartResult?.ETag },
                { PartNumber: 2, ETag: c2.CopyPartResult?.ETag },
              ],
            },
          }),
        );
        assert.deepEqual(
          await bytesOf(s3, bucket, 'assembled'),
          Buffer.concat([source.subarray(0, 5 * MiB), source]),
        );
      });

      it('serves presigned GET and PUT through fetch', async () => {
        const body = pattern(70_000, 11);
        const putUrl = await getSignedUrl(
          s3,
          new PutObjectCommand({ Bucket: bucket, Key: 'pre/signed.bin' }),
          { expiresIn: 60 },
        );
        const put = await fetch(putUrl, { method: 'PUT', body });
        assert.equal(put.status, 200, await put.text());
        const getUrl = await getSignedUrl(
          s3,
          new GetObjectCommand({
            Bucket: bucket,
            Key: 'pre/signed.bin',
            ResponseContentType: 'text/csv',
          }),
          { expiresIn: 60 },
        );
        const got = await fetch(getUrl);
        assert.equal(got.status, 200);
        assert.equal(got.headers.get('content-type'), 'text/csv');
        assert.deepEqual(Buffer.from(await got.arrayBuffer()), body);
        const tampered = getUrl.replace('pre/signed.bin', 'pre/other.bin');
        assert.equal((await fetch(tampered)).status, 403);
      });

      it('answers unsupported operations with 501 NotImplemented and an XML body', async () => {
        const { GetBucketTaggingCommand } = await import('@aws-sdk/client-s3');
        await rejectsWith(
          s3.send(new GetBucketTaggingCommand({ Bucket: bucket })),
          'NotImplemented',
          501,
        );
      });
    });
  }
