import { strict as assert } from 'node:assert';
import { type AddressInfo } from 'node:net';
import { createServer } from 'node:http';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetBucketLocationCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListObjectVersionsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutBucketVersioningCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { S3Error, renderErrorXml } from '../lib/gateway/errors';
import { escapeXml } from '../lib/gateway/xml/escape';
import { parseXml, xml_body_bytes_max } from '../lib/gateway/xml/parse';
import {
  renderCompleteMultipartUpload,
  renderCopyResult,
  renderDeleteResult,
  renderInitiateMultipartUpload,
  renderListBuckets,
  renderListMultipartUploads,
  renderListObjectsV1,
  renderListObjectsV2,
  renderListParts,
  renderListVersions,
  renderLocationConstraint,
  renderVersioningConfiguration,
} from '../lib/gateway/xml/render';
import {
  parseCompleteMultipartUpload,
  parseCreateBucketConfiguration,
  parseDelete,
  parseVersioningConfiguration,
} from '../lib/gateway/xml/requests';
import { expectThrow } from './60.gateway.fixtures';

const T = new Date(Date.UTC(2026, 10, 22, 1, 2, 3, 456));
const OWNER = { id: 'owner-id', displayName: 'alice' };
const STRANGE_KEY = 'dir/a b+c&d<e>"f\'g/../é/\u0001\r\n%2F';

describe('60 gateway xml: escaping', () => {
  it('escapes markup and writes control characters as character references', () => {
    assert.equal(escapeXml(`a&b<c>d"e'f`), 'a&amp;b&lt;c&gt;d&quot;e&apos;f');
    assert.equal(escapeXml('x\u0001y\rz\n\tw'), 'x&#x1;y&#xD;z&#xA;\tw');
    assert.equal(escapeXml('日本 é'), '日本 é');
  });

  it('round-trips every escaped key through our own parser', () => {
    const xml = `<Delete><Object><Key>${escapeXml(STRANGE_KEY)}</Key></Object></Delete>`;
    assert.equal(parseDelete(xml).objects[0]!.key, STRANGE_KEY);
  });
});

describe('60 gateway xml: strict request parsing', () => {
  it('parses the CompleteMultipartUpload the SDK sends (&quot;-escaped ETags)', () => {
    const parts = parseCompleteMultipartUpload(
      '<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
        '<Part><ETag>&quot;a54357aff0632cce46d942af68356b38&quot;</ETag><PartNumber>1</PartNumber></Part>' +
        '<Part><ETag>"0c78aef83f66abc1fa1e8477f296d394"</ETag><PartNumber>2</PartNumber><ChecksumCRC32>AAAAAA==</ChecksumCRC32></Part>' +
        '<Part><PartNumber>10000</PartNumber><ETag>plain</ETag></Part>' +
        '</CompleteMultipartUpload>',
    );
    assert.deepEqual(parts, [
      { partNumber: 1, etag: 'a54357aff0632cce46d942af68356b38', checksums: {} },
      { partNumber: 2, etag: '0c78aef83f66abc1fa1e8477f296d394', checksums: { CRC32: 'AAAAAA==' } },
      { partNumber: 10000, etag: 'plain', checksums: {} },
    ]);
  });

  it('refuses parts out of order, repeated, or numbered outside 1..10000', () => {
    const doc = (...numbers: string[]) =>
      `<CompleteMultipartUpload>${numbers.map((n) => `<Part><PartNumber>${n}</PartNumber><ETag>e</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
    expectThrow(
      () => parseCompleteMultipartUpload(doc('2', '1')),
      'InvalidPartOrder',
      400,
      'The list of parts was not in ascending order. The parts list must be specified in order by part number.',
    );
    expectThrow(() => parseCompleteMultipartUpload(doc('1', '1')), 'InvalidPartOrder', 400);
    expectThrow(
      () => parseCompleteMultipartUpload(doc('10001')),
      'InvalidArgument',
      400,
      'Part number must be an integer between 1 and 10000, inclusive',
    );
    expectThrow(() => parseCompleteMultipartUpload(doc('0')), 'InvalidArgument', 400);
    expectThrow(
      () => parseCompleteMultipartUpload(doc()),
      'MalformedXML',
      400,
      /needs at least one <Part>/,
    );
    expectThrow(
      () =>
        parseCompleteMultipartUpload(
          '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>',
        ),
      'MalformedXML',
      400,
      /<Part> needs a <ETag>/,
    );
  });

  it('parses Delete with Quiet and versions, keeping traversal keys literal', () => {
    const req = parseDelete(
      '<Delete><Quiet>true</Quiet><Object><Key>../other-bucket/secret</Key></Object>' +
        '<Object><Key> spaced </Key><VersionId>v1</VersionId></Object><Object><Key><![CDATA[a<b]]></Key></Object></Delete>',
    );
    assert.equal(req.quiet, true);
    assert.deepEqual(req.objects, [
      { key: '../other-bucket/secret', versionId: undefined },
      { key: ' spaced ', versionId: 'v1' },
      { key: 'a<b', versionId: undefined },
    ]);
  });

  it('caps Delete at 1000 keys and validates keys like URLs (CVE-2026-58372 pattern)', () => {
    const doc = (n: number) => `<Delete>${'<Object><Key>k</Key></Object>'.repeat(n)}</Delete>`;
    assert.equal(parseDelete(doc(1000)).objects.length, 1000);
    expectThrow(
      () => parseDelete(doc(1001)),
      'MalformedXML',
      400,
      /lists 1001 objects; at most 1000 are allowed/,
    );
    expectThrow(() => parseDelete(doc(0)), 'MalformedXML', 400);
    expectThrow(
      () => parseDelete(`<Delete><Object><Key>${'k'.repeat(1025)}</Key></Object></Delete>`),
      'KeyTooLongError',
      400,
    );
    expectThrow(
      () => parseDelete('<Delete><Object><Key></Key></Object></Delete>'),
      'InvalidArgument',
      400,
    );
    expectThrow(
      () => parseDelete('<Delete><Quiet>yes</Quiet><Object><Key>k</Key></Object></Delete>'),
      'MalformedXML',
      400,
    );
  });

  it('refuses DTDs, entity declarations and undefined entities outright', () => {
    const bombs = [
      '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><Delete><Object><Key>&lol2;</Key></Object></Delete>',
      '<!DOCTYPE foo SYSTEM "file:///etc/passwd"><Delete/>',
      '<Delete><!ENTITY x "y"></Delete>',
      '<!doctype x><Delete/>',
    ];
    for (const bomb of bombs) {
      expectThrow(
        () => parseDelete(bomb),
        'MalformedXML',
        400,
        /DTDs and entity declarations are not allowed/,
      );
    }
    expectThrow(
      () => parseDelete('<Delete><Object><Key>&xxe;</Key></Object></Delete>'),
      'MalformedXML',
      400,
      /undefined entity '&xxe;'/,
    );
    expectThrow(
      () => parseDelete('<Delete><Object><Key>a & b</Key></Object></Delete>'),
      'MalformedXML',
      400,
    );
    expectThrow(
      () => parseDelete('<Delete><Object><Key>&#0;</Key></Object></Delete>'),
      'MalformedXML',
      400,
    );
    assert.equal(
      parseDelete('<Delete><Object><Key>&#x41;&#66;&#x1F600;</Key></Object></Delete>').objects[0]!
        .key,
      'AB😀',
    );
  });

  it('caps the body size and the nesting depth', () => {
    const big = `<Delete><Object><Key>k</Key></Object>${' '.repeat(xml_body_bytes_max)}</Delete>`;
    expectThrow(() => parseDelete(big), 'MaxMessageLengthExceeded', 400);
    const deep = '<a>'.repeat(17) + '</a>'.repeat(17);
    expectThrow(() => parseXml(deep), 'MalformedXML', 400, /nested deeper than 16/);
    parseXml('<a>'.repeat(16) + '</a>'.repeat(16));
  });

  it('refuses malformed documents with MalformedXML', () => {
    const bad = [
      '',
      '<Delete>',
      '<Delete></Remove>',
      '<Delete><Object></Delete></Object>',
      '<Delete/><Delete/>',
      'text<Delete/>',
      '<Delete attr=unquoted/>',
      '<Delete a="1" a="2"/>',
      '<?pi x?><Delete/>',
      '<Delete><!-- unterminated </Delete>',
      '<Delete><![CDATA[x</Delete>',
      Buffer.from([0x3c, 0x61, 0x3e, 0xff, 0x3c, 0x2f, 0x61, 0x3e]),
    ];
    for (const doc of bad) expectThrow(() => parseXml(doc), 'MalformedXML', 400);
    expectThrow(
      () => parseDelete('<Remove/>'),
      'MalformedXML',
      400,
      /root element must be <Delete>, got <Remove>/,
    );
  });

  it('parses VersioningConfiguration and CreateBucketConfiguration', () => {
    const ns = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"';
    assert.deepEqual(
      parseVersioningConfiguration(
        `<VersioningConfiguration ${ns}><Status>Enabled</Status></VersioningConfiguration>`,
      ),
      {
        status: 'Enabled',
      },
    );
    assert.deepEqual(
      parseVersioningConfiguration(
        '<VersioningConfiguration><Status>Suspended</Status><MfaDelete>Disabled</MfaDelete></VersioningConfiguration>',
      ),
      {
        status: 'Suspended',
      },
    );
    expectThrow(
      () =>
        parseVersioningConfiguration(
          '<VersioningConfiguration><Status>On</Status></VersioningConfiguration>',
        ),
      'IllegalVersioningConfigurationException',
      400,
    );
    expectThrow(
      () =>
        parseVersioningConfiguration(
          '<VersioningConfiguration><MfaDelete>Enabled</MfaDelete></VersioningConfiguration>',
        ),
      'NotImplemented',
      501,
    );
    assert.deepEqual(parseCreateBucketConfiguration(''), { locationConstraint: undefined });
    assert.deepEqual(
      parseCreateBucketConfiguration(
        `<CreateBucketConfiguration ${ns}><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>`,
      ),
      { locationConstraint: 'eu-west-1' },
    );
  });
});

// ---------------------------------------------------------------------------

/**
 * Renders are checked by the real consumer: @aws-sdk/client-s3 parses each
 * body from a local server, and we compare what it understood.
 */
describe('60 gateway xml: responses as @aws-sdk/client-s3 parses them', function () {
  let next: { status: number; body: string; headers?: Record<string, string> } = {
    status: 200,
    body: '',
  };
  const requests: Array<{ method: string; url: string; body: string }> = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({
        method: req.method!,
        url: req.url!,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      res
        .writeHead(next.status, { 'content-type': 'application/xml', ...next.headers })
        .end(next.body);
    });
  });
  let client: S3Client;
  const reply = (body: string, status = 200, headers?: Record<string, string>) => {
    next = { status, body, headers };
    requests.length = 0;
  };

  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    client = new S3Client({
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      maxAttempts: 1,
    });
  });
  after(async () => {
    client.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const entry = (key: string, size = 5) => ({
    key,
    lastModified: T,
    etag: 'd41d8cd98f00b204e9800998ecf8427e',
    size,
    owner: OWNER,
  });

  it('ListObjectsV2 with continuation, common prefixes and KeyCount', async () => {
    reply(
      renderListObjectsV2({
        bucket: 'b',
        prefix: 'p/',
        delimiter: '/',
        maxKeys: 2,
        isTruncated: true,
        continuationToken: 'tok1',
        nextContinuationToken: 'tok2',
        contents: [entry('p/a&b')],
        commonPrefixes: ['p/sub/'],
      }),
    );
    const out = await client.send(
      new ListObjectsV2Command({
        Bucket: 'b',
        Prefix: 'p/',
        Delimiter: '/',
        MaxKeys: 2,
        ContinuationToken: 'tok1',
      }),
    );
    assert.equal(out.Name, 'b');
    assert.equal(out.KeyCount, 2);
    assert.equal(out.IsTruncated, true);
    assert.equal(out.NextContinuationToken, 'tok2');
    assert.equal(out.Contents![0]!.Key, 'p/a&b');
    assert.equal(out.Contents![0]!.ETag, '"d41d8cd98f00b204e9800998ecf8427e"');
    assert.equal(out.Contents![0]!.Size, 5);
    assert.equal(out.Contents![0]!.StorageClass, 'STANDARD');
    assert.deepEqual(
      out.Contents![0]!.LastModified,
      new Date(Date.UTC(2026, 10, 22, 1, 2, 3, 456)),
    );
    assert.deepEqual(out.CommonPrefixes, [{ Prefix: 'p/sub/' }]);
  });

  it('encoding-type=url encodes keys, prefixes and delimiter, and says so', async () => {
    const xml = renderListObjectsV2({
      bucket: 'b',
      prefix: 'a b/',
      delimiter: '/',
      maxKeys: 1000,
      isTruncated: false,
      contents: [entry(STRANGE_KEY)],
      commonPrefixes: ['a b/c+d/'],
      encodingType: 'url',
    });
    assert.match(xml, /<EncodingType>url<\/EncodingType>/);
    assert.match(xml, /<Prefix>a%20b\/<\/Prefix>/);
    reply(xml);
    const out = await client.send(new ListObjectsV2Command({ Bucket: 'b', EncodingType: 'url' }));
    assert.equal(out.EncodingType, 'url');
    assert.equal(decodeURIComponent(out.Contents![0]!.Key!), STRANGE_KEY);
    assert.equal(decodeURIComponent(out.CommonPrefixes![0]!.Prefix!), 'a b/c+d/');
  });

  it('ListObjects V1 sends NextMarker only with a delimiter', async () => {
    const base = {
      bucket: 'b',
      prefix: '',
      marker: 'm',
      maxKeys: 1,
      isTruncated: true,
      contents: [entry('k1')],
      commonPrefixes: [],
    };
    reply(renderListObjectsV1({ ...base, delimiter: '/', nextMarker: 'k1' }));
    let out = await client.send(new ListObjectsCommand({ Bucket: 'b', Delimiter: '/' }));
    assert.equal(out.NextMarker, 'k1');
    assert.equal(out.Marker, 'm');
    assert.equal(out.IsTruncated, true);
    assert.equal(out.Contents![0]!.Owner!.DisplayName, 'alice');
    reply(renderListObjectsV1({ ...base, nextMarker: 'k1' }));
    out = await client.send(new ListObjectsCommand({ Bucket: 'b' }));
    assert.equal(out.NextMarker, undefined);
  });

  it('ListObjectVersions with versions and delete markers', async () => {
    reply(
      renderListVersions({
        bucket: 'b',
        prefix: '',
        keyMarker: '',
        versionIdMarker: '',
        maxKeys: 1000,
        isTruncated: false,
        entries: [
          { key: 'k', versionId: 'v2', isLatest: true, lastModified: T, owner: OWNER },
          {
            key: 'k',
            versionId: 'v1',
            isLatest: false,
            lastModified: T,
            owner: OWNER,
            object: { etag: 'e1', size: 3 },
          },
        ],
        commonPrefixes: [],
      }),
    );
    const out = await client.send(new ListObjectVersionsCommand({ Bucket: 'b' }));
    assert.deepEqual(
      out.DeleteMarkers!.map((d) => [d.Key, d.VersionId, d.IsLatest]),
      [['k', 'v2', true]],
    );
    assert.deepEqual(
      out.Versions!.map((v) => [v.Key, v.VersionId, v.IsLatest, v.ETag, v.Size]),
      [['k', 'v1', false, '"e1"', 3]],
    );
  });

  it('ListBuckets', async () => {
    reply(
      renderListBuckets(OWNER, [
        { name: 'b1', creationDate: T },
        { name: 'b2', creationDate: T },
      ]),
    );
    const out = await client.send(new ListBucketsCommand({}));
    assert.deepEqual(
      out.Buckets!.map((b) => b.Name),
      ['b1', 'b2'],
    );
    assert.equal(out.Owner!.ID, 'owner-id');
  });

  it('multipart: Initiate, Complete, ListParts, ListMultipartUploads', async () => {
    reply(renderInitiateMultipartUpload('b', 'k&1', 'up-1'));
    const init = await client.send(new CreateMultipartUploadCommand({ Bucket: 'b', Key: 'k&1' }));
    assert.equal(init.UploadId, 'up-1');
    assert.equal(init.Key, 'k&1');

    reply(
      renderCompleteMultipartUpload({
        location: 'http://h/b/k',
        bucket: 'b',
        key: 'k',
        etag: 'abc-2',
        checksum: { algorithm: 'CRC32', value: 'AAAAAA==' },
      }),
    );
    const done = await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'b',
        Key: 'k',
        UploadId: 'up-1',
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: '"e1"' },
            { PartNumber: 2, ETag: '"e2"' },
          ],
        },
      }),
    );
    assert.equal(done.ETag, '"abc-2"');
    assert.equal(done.ChecksumCRC32, 'AAAAAA==');
    // What the SDK sent is what our parser reads.
    assert.deepEqual(parseCompleteMultipartUpload(requests[0]!.body), [
      { partNumber: 1, etag: 'e1', checksums: {} },
      { partNumber: 2, etag: 'e2', checksums: {} },
    ]);

    reply(
      renderListParts({
        bucket: 'b',
        key: 'k',
        uploadId: 'up-1',
        partNumberMarker: 0,
        maxParts: 1000,
        isTruncated: false,
        owner: OWNER,
        parts: [{ partNumber: 1, lastModified: T, etag: 'e1', size: 5242880 }],
      }),
    );
    const parts = await client.send(
      new ListPartsCommand({ Bucket: 'b', Key: 'k', UploadId: 'up-1' }),
    );
    assert.deepEqual(
      parts.Parts!.map((p) => [p.PartNumber, p.ETag, p.Size]),
      [[1, '"e1"', 5242880]],
    );
    assert.equal(parts.NextPartNumberMarker, '1');

    reply(
      renderListMultipartUploads({
        bucket: 'b',
        keyMarker: '',
        uploadIdMarker: '',
        prefix: '',
        maxUploads: 1000,
        isTruncated: false,
        uploads: [{ key: 'k', uploadId: 'up-1', initiated: T, owner: OWNER }],
        commonPrefixes: [],
      }),
    );
    const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: 'b' }));
    assert.deepEqual(
      uploads.Uploads!.map((u) => [u.Key, u.UploadId]),
      [['k', 'up-1']],
    );
  });

  it('CopyObject and DeleteObjects (and what the SDK sends for DeleteObjects)', async () => {
    reply(renderCopyResult('CopyObjectResult', { etag: 'e9', lastModified: T }));
    const copy = await client.send(
      new CopyObjectCommand({ Bucket: 'b', Key: 'dst', CopySource: 'b/src' }),
    );
    assert.equal(copy.CopyObjectResult!.ETag, '"e9"');

    reply(
      renderDeleteResult(
        [{ key: 'a&b' }, { key: 'c', deleteMarker: true, deleteMarkerVersionId: 'dm1' }],
        [{ key: 'd', code: 'AccessDenied', message: 'Access Denied' }],
        false,
      ),
    );
    const del = await client.send(
      new DeleteObjectsCommand({
        Bucket: 'b',
        Delete: { Objects: [{ Key: 'a&b' }, { Key: '../x', VersionId: 'v' }] },
      }),
    );
    assert.deepEqual(
      del.Deleted!.map((d) => [d.Key, d.DeleteMarker, d.DeleteMarkerVersionId]),
      [
        ['a&b', undefined, undefined],
        ['c', true, 'dm1'],
      ],
    );
    assert.deepEqual(
      del.Errors!.map((e) => [e.Key, e.Code]),
      [['d', 'AccessDenied']],
    );
    assert.deepEqual(parseDelete(requests[0]!.body), {
      quiet: false,
      objects: [
        { key: 'a&b', versionId: undefined },
        { key: '../x', versionId: 'v' },
      ],
    });
    assert.doesNotMatch(renderDeleteResult([{ key: 'a' }], [], true), /<Deleted>/);
  });

  it('versioning and location', async () => {
    reply(renderVersioningConfiguration('Enabled'));
    assert.equal(
      (await client.send(new GetBucketVersioningCommand({ Bucket: 'b' }))).Status,
      'Enabled',
    );
    reply(renderVersioningConfiguration(undefined));
    assert.equal(
      (await client.send(new GetBucketVersioningCommand({ Bucket: 'b' }))).Status,
      undefined,
    );
    reply('');
    await client.send(
      new PutBucketVersioningCommand({
        Bucket: 'b',
        VersioningConfiguration: { Status: 'Suspended' },
      }),
    );
    assert.deepEqual(parseVersioningConfiguration(requests[0]!.body), { status: 'Suspended' });
    reply(renderLocationConstraint('us-east-1'));
    assert.equal(
      (await client.send(new GetBucketLocationCommand({ Bucket: 'b' }))).LocationConstraint,
      undefined,
    );
    reply(renderLocationConstraint('eu-west-1'));
    assert.equal(
      (await client.send(new GetBucketLocationCommand({ Bucket: 'b' }))).LocationConstraint,
      'eu-west-1',
    );
  });

  it('error bodies: the SDK reads Code, Message and RequestId', async () => {
    const error = new S3Error('NoSuchKey', undefined, { Key: 'a&b' });
    reply(renderErrorXml(error, { resource: '/b/a&b', requestId: 'req-123' }), 404);
    await assert.rejects(
      client.send(new GetObjectCommand({ Bucket: 'b', Key: 'a&b' })),
      (e: unknown) => {
        assert.ok(e instanceof S3ServiceException);
        assert.equal(e.name, 'NoSuchKey');
        assert.equal(e.message, 'The specified key does not exist.');
        assert.equal(e.$metadata.httpStatusCode, 404);
        assert.equal((e as unknown as { RequestId: string }).RequestId, 'req-123');
        return true;
      },
    );
  });
});
