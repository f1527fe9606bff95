/**
 * Put/Get/DeleteBucketLifecycleConfiguration through @aws-sdk/client-s3
 * (both checksum modes), raw requests for what no SDK sends, expiry seen
 * through the gateway with a fake clock, and an awscli session.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketLifecycleCommand,
  GetBucketLifecycleConfigurationCommand,
  type LifecycleRule,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutBucketLifecycleConfigurationCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { DAY_MS } from '../lib/lifecycle/rules';
import { Store } from '../lib/store/store';
import {
  type TestGateway,
  errorCode,
  rawRequest,
  s3Client,
  signRequest,
  startTestGateway,
} from './61.gateway.harness';

async function rejectsWith(promise: Promise<unknown>, name: string, status: number) {
  await assert.rejects(
    promise,
    (error: { name?: string; message?: string; $metadata?: { httpStatusCode?: number } }) => {
      assert.equal(error.name, name, error.message);
      assert.equal(error.$metadata?.httpStatusCode, status);
      return true;
    },
  );
}

const RULES: LifecycleRule[] = [
  {
    ID: 'logs',
    Filter: { Prefix: 'logs/' },
    Status: 'Enabled',
    Expiration: { Days: 7 },
    NoncurrentVersionExpiration: { NoncurrentDays: 30 },
  },
  {
    ID: 'markers',
    Filter: {},
    Status: 'Enabled',
    Expiration: { ExpiredObjectDeleteMarker: true },
    AbortIncompleteMultipartUpload: { DaysAfterInitiation: 3 },
  },
  {
    ID: 'dated',
    Filter: { And: { Prefix: 'tmp/' } },
    Status: 'Disabled',
    Expiration: { Date: new Date('2031-05-01T00:00:00Z') },
  },
];

const MODES = [
  { label: 'default checksums', extra: {} },
  { label: 'WHEN_REQUIRED', extra: { requestChecksumCalculation: 'WHEN_REQUIRED' as const } },
];

describe('67 gateway: bucket lifecycle configuration', function () {
  this.timeout(60_000);
  let t: TestGateway;
  before(async () => {
    t = await startTestGateway({}, 'native');
  });
  after(async () => {
    await t.close();
  });

  for (const mode of MODES) {
    it(`puts, gets and deletes rules with the SDK (${mode.label})`, async () => {
      const s3 = s3Client(t.gw, mode.extra);
      const Bucket = mode.label === 'WHEN_REQUIRED' ? 'life-req' : 'life-def';
      await s3.send(new CreateBucketCommand({ Bucket }));
      await rejectsWith(
        s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket })),
        'NoSuchLifecycleConfiguration',
        404,
      );
      await s3.send(
        new PutBucketLifecycleConfigurationCommand({
          Bucket,
          LifecycleConfiguration: { Rules: RULES },
        }),
      );
      const got = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket }));
      assert.deepEqual(got.Rules, [
        RULES[0],
        RULES[1],
        { ...RULES[2], Filter: { Prefix: 'tmp/' } },
      ]);
      await s3.send(new DeleteBucketLifecycleCommand({ Bucket }));
      await rejectsWith(
        s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket })),
        'NoSuchLifecycleConfiguration',
        404,
      );
      // Deleting again is not an error (S3 answers 204).
      await s3.send(new DeleteBucketLifecycleCommand({ Bucket }));
    });
  }

  it('answers NoSuchBucket, InvalidArgument and NotImplemented as S3 does', async () => {
    const s3 = s3Client(t.gw);
    const put = (Bucket: string, Rules: LifecycleRule[]) =>
      s3.send(
        new PutBucketLifecycleConfigurationCommand({ Bucket, LifecycleConfiguration: { Rules } }),
      );
    await rejectsWith(put('life-none', RULES), 'NoSuchBucket', 404);
    await rejectsWith(
      s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: 'life-none' })),
      'NoSuchBucket',
      404,
    );
    await rejectsWith(
      s3.send(new DeleteBucketLifecycleCommand({ Bucket: 'life-none' })),
      'NoSuchBucket',
      404,
    );
    await s3.send(new CreateBucketCommand({ Bucket: 'life-err' }));
    const rule = { ID: 'r', Filter: { Prefix: '' }, Status: 'Enabled' as const };
    await rejectsWith(
      put('life-err', [{ ...rule, Expiration: { Days: 0 } }]),
      'InvalidArgument',
      400,
    );
    await rejectsWith(
      put('life-err', [
        { ...rule, Expiration: { Days: 1 } },
        { ...rule, Expiration: { Days: 2 } },
      ]),
      'InvalidArgument',
      400,
    );
    await rejectsWith(
      put('life-err', [{ ...rule, Expiration: { Date: new Date('2031-05-01T12:00:00Z') } }]),
      'InvalidArgument',
      400,
    );
    await rejectsWith(
      put('life-err', [
        { ...rule, Filter: { Tag: { Key: 'a', Value: 'b' } }, Expiration: { Days: 1 } },
      ]),
      'NotImplemented',
      501,
    );
    await rejectsWith(
      put('life-err', [{ ...rule, Transitions: [{ Days: 30, StorageClass: 'GLACIER' }] }]),
      'NotImplemented',
      501,
    );
    await rejectsWith(put('life-err', [{ ...rule }]), 'InvalidArgument', 400);
    await rejectsWith(
      s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: 'life-err' })),
      'NoSuchLifecycleConfiguration',
      404,
    );
  });

  it('refuses malformed documents and wrong methods (raw requests)', async () => {
    const s3 = s3Client(t.gw);
    await s3.send(new CreateBucketCommand({ Bucket: 'life-raw' }));
    const send = async (method: string, path: string, body?: string) => {
      const signed = await signRequest(t.gw, {
        method,
        path,
        query: { lifecycle: '' },
        ...(body !== undefined ? { body } : {}),
      });
      return rawRequest(t.gw, method, signed.target, signed.headers, body);
    };
    const cases: [string, string][] = [
      ['', 'MalformedXML'],
      ['<LifecycleConfiguration', 'MalformedXML'],
      ['<Lifecycle><Rule/></Lifecycle>', 'MalformedXML'],
      ['<LifecycleConfiguration></LifecycleConfiguration>', 'MalformedXML'],
      [
        '<LifecycleConfiguration><Rule><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>',
        'MalformedXML',
      ],
      [
        '<LifecycleConfiguration><Rule><Status>Enabled</Status><Filter/><Prefix>a</Prefix><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>',
        'MalformedXML',
      ],
      [
        '<LifecycleConfiguration><Rule><Status>Enabled</Status><Expiration><Days>1</Days><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration></Rule></LifecycleConfiguration>',
        'MalformedXML',
      ],
      [
        '<LifecycleConfiguration><Rule><Status>Enabled</Status><Expiration><Days>soon</Days></Expiration></Rule></LifecycleConfiguration>',
        'InvalidArgument',
      ],
      [
        '<LifecycleConfiguration><Rule><Status>Enabled</Status><Colour/></Rule></LifecycleConfiguration>',
        'MalformedXML',
      ],
    ];
    for (const [body, expected] of cases) {
      const res = await send('PUT', '/life-raw', body);
      assert.equal(errorCode(res.body), expected, `${body}: ${res.body.toString()}`);
      assert.equal(res.status, 400);
    }
    // The legacy form: <Prefix> directly in <Rule>.
    const legacy = await send(
      'PUT',
      '/life-raw',
      '<LifecycleConfiguration><Rule><ID>old</ID><Prefix>a/</Prefix><Status>Enabled</Status><Expiration><Days>2</Days></Expiration></Rule></LifecycleConfiguration>',
    );
    assert.equal(legacy.status, 200, legacy.body.toString());
    const got = await send('GET', '/life-raw');
    assert.equal(got.status, 200);
    assert.match(
      got.body.toString(),
      /<Rule><ID>old<\/ID><Filter><Prefix>a\/<\/Prefix><\/Filter><Status>Enabled<\/Status><Expiration><Days>2<\/Days><\/Expiration><\/Rule>/,
    );
    const post = await send('POST', '/life-raw', '');
    assert.equal(post.status, 405);
    assert.equal(errorCode(post.body), 'MethodNotAllowed');
    const object = await send('GET', '/life-raw/key');
    assert.equal(object.status, 501);
  });
});

describe('67 gateway: lifecycle expiry seen through the gateway (fake clock)', function () {
  this.timeout(60_000);

  it('expires objects and aborts stale multipart uploads', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-gw-life-'));
    let offset = 0;
    const store = await Store.open({
      path: dir,
      dataShards: 2,
      parityShards: 1,
      lifecycle: { enabled: false, clock: () => Date.now() + offset },
    });
    const t = await startTestGateway({ store });
    try {
      const s3 = s3Client(t.gw);
      await s3.send(new CreateBucketCommand({ Bucket: 'life-exp' }));
      for (const Key of ['logs/1', 'logs/2', 'keep']) {
        await s3.send(new PutObjectCommand({ Bucket: 'life-exp', Key, Body: Key }));
      }
      await s3.send(new CreateMultipartUploadCommand({ Bucket: 'life-exp', Key: 'logs/big' }));
      await s3.send(
        new PutBucketLifecycleConfigurationCommand({
          Bucket: 'life-exp',
          LifecycleConfiguration: {
            Rules: [
              {
                ID: 'logs',
                Filter: { Prefix: 'logs/' },
                Status: 'Enabled',
                Expiration: { Days: 1 },
                AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
              },
            ],
          },
        }),
      );
      offset = 3 * DAY_MS;
      const report = await store.lifecycle.run();
      assert.equal(report.expired, 2);
      assert.equal(report.uploadsAborted, 1);
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: 'life-exp' }));
      assert.deepEqual(
        listed.Contents?.map((c) => c.Key),
        ['keep'],
      );
      const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: 'life-exp' }));
      assert.equal(uploads.Uploads?.length ?? 0, 0);
    } finally {
      await t.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('67 gateway: lifecycle with awscli', function () {
  this.timeout(120_000);
  const aws = existsSync('/usr/bin/aws') ? '/usr/bin/aws' : undefined;
  let t: TestGateway;
  let home: string;
  before(async () => {
    t = await startTestGateway({}, 'native');
    home = await mkdtemp(join(tmpdir(), 'tessera-aws-life-'));
  });
  after(async () => {
    await t.close();
    await rm(home, { recursive: true, force: true });
  });

  (aws ? it : it.skip)('put-, get- and delete-bucket-lifecycle(-configuration)', async () => {
    const env = {
      PATH: '/usr/bin:/bin',
      HOME: home,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test-secret-key',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_PAGER: '',
      AWS_CONFIG_FILE: join(home, 'aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(home, 'aws-credentials'),
    };
    const cli = (...args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(
          aws!,
          ['--endpoint-url', t.gw.url, ...args],
          { env, timeout: 60_000 },
          (error, stdout, stderr) =>
            resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
        );
      });
    assert.equal((await cli('s3', 'mb', 's3://awslife')).code, 0);
    const config = {
      Rules: [
        {
          ID: 'expire-tmp',
          Filter: { Prefix: 'tmp/' },
          Status: 'Enabled',
          Expiration: { Days: 1 },
          NoncurrentVersionExpiration: { NoncurrentDays: 2 },
          AbortIncompleteMultipartUpload: { DaysAfterInitiation: 3 },
        },
      ],
    };
    const put = await cli(
      's3api',
      'put-bucket-lifecycle-configuration',
      '--bucket',
      'awslife',
      '--lifecycle-configuration',
      JSON.stringify(config),
    );
    assert.equal(put.code, 0, put.stderr);
    const get = await cli('s3api', 'get-bucket-lifecycle-configuration', '--bucket', 'awslife');
    assert.equal(get.code, 0, get.stderr);
    assert.deepEqual(JSON.parse(get.stdout), config);
    const bad = await cli(
      's3api',
      'put-bucket-lifecycle-configuration',
      '--bucket',
      'awslife',
      '--lifecycle-configuration',
      JSON.stringify({ Rules: [{ ...config.Rules[0], Expiration: { Days: -3 } }] }),
    );
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /InvalidArgument/);
    const del = await cli('s3api', 'delete-bucket-lifecycle', '--bucket', 'awslife');
    assert.equal(del.code, 0, del.stderr);
    const gone = await cli('s3api', 'get-bucket-lifecycle-configuration', '--bucket', 'awslife');
    assert.notEqual(gone.code, 0);
    assert.match(gone.stderr, /NoSuchLifecycleConfiguration/);
  });
});
