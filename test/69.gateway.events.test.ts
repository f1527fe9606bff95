/**
 * The gateway's side of events and metrics: webhook delivery with retries
 * to a receiver that fails first, resumption from the durable cursor after
 * a restart, configuration checks, and the tessera_store_* names on
 * /metrics.
 */
import { strict as assert } from 'node:assert';
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  GetBucketNotificationConfigurationCommand,
  PutBucketNotificationConfigurationCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { startGateway } from '../lib/gateway/server';
import {
  notificationBody,
  setBucketNotification,
  validateNotificationConfig,
} from '../lib/gateway/notifications/webhooks';
import { Store } from '../lib/store/store';
import { tempDirFactory } from './support/temp_dirs';

const freshDir = tempDirFactory('gwevents');

const credentials = [{ accessKeyId: 'AKIDEVENTS', secretAccessKey: 'secret-events-0123456789' }];

interface Received {
  seq: number;
  body: {
    Records: {
      eventName: string;
      s3: { bucket: { name: string }; object: { key: string; size?: number; versionId: string } };
    }[];
  };
  signature: string | undefined;
  raw: string;
}

/** A receiver that answers 500 to its first `failFirst` requests. */
async function receiver(failFirst: number): Promise<{
  server: Server;
  url: string;
  got: Received[];
  attempts: () => number;
  waitFor: (n: number) => Promise<void>;
}> {
  const got: Received[] = [];
  let attempts = 0;
  let waiters: (() => void)[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      attempts++;
      if (attempts <= failFirst) {
        res.writeHead(500).end('not now');
        return;
      }
      const raw = Buffer.concat(chunks).toString('utf8');
      got.push({
        seq: Number(req.headers['x-tessera-event-seq']),
        body: JSON.parse(raw) as Received['body'],
        signature: req.headers['x-tessera-signature'] as string | undefined,
        raw,
      });
      res.writeHead(204).end();
      for (const w of waiters) w();
      waiters = [];
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  const waitFor = async (n: number) => {
    const deadline = Date.now() + 20_000;
    while (got.length < n) {
      assert.ok(Date.now() < deadline, `only ${got.length} of ${n} events arrived`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  };
  return { server, url, got, attempts: () => attempts, waitFor };
}

const fast = { retryBaseMs: 5, retryMaxMs: 40, cursorFlushMs: 20, configPollMs: 30 };

describe('68 gateway: webhook notifications', () => {
  it('delivers every event in order, retrying a failing receiver, and resumes from its cursor', async () => {
    const path = freshDir();
    const store = await Store.open({ path, dataShards: 2, parityShards: 1 });
    const rx = await receiver(3);
    try {
      await store.createBucket('hooked');
      await store.createBucket('quiet');
      await setBucketNotification(store, 'hooked', {
        webhooks: [{ id: 'all', url: rx.url, secret: 'shh', suffix: '.txt' }],
      });
      let gw = await startGateway({ store, credentials, notifications: fast });
      // Let the notifier pick up the configuration, then write.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const bucket = store.bucket('hooked');
      await bucket.put('a.txt', Buffer.from('1'));
      await bucket.put('skip.bin', Buffer.from('2')); // suffix filter
      await store.bucket('quiet').put('b.txt', Buffer.from('3')); // other bucket
      await bucket.put('c.txt', Buffer.from('4444'));
      await bucket.delete('a.txt');
      await rx.waitFor(3);
      assert.equal(rx.attempts(), 3 + 3); // three 500s, then one each
      assert.deepEqual(
        rx.got.map((g) => [g.body.Records[0]!.eventName, g.body.Records[0]!.s3.object.key]),
        [
          ['s3:ObjectCreated:Put', 'a.txt'],
          ['s3:ObjectCreated:Put', 'c.txt'],
          ['s3:ObjectRemoved:Delete', 'a.txt'],
        ],
      );
      assert.equal(rx.got[1]!.body.Records[0]!.s3.object.size, 4);
      for (const g of rx.got) {
        assert.equal(
          g.signature,
          'sha256=' + createHmac('sha256', 'shh').update(g.raw).digest('hex'),
        );
      }
      const seqs = rx.got.map((g) => g.seq);
      assert.deepEqual(
        [...seqs].sort((x, y) => x - y),
        seqs,
      );
      // A restart resumes after the last delivered event: no loss, no repeat.
      await gw.close();
      await bucket.put('while-down.txt', Buffer.from('5'));
      gw = await startGateway({ store, credentials, notifications: fast });
      await bucket.put('after.txt', Buffer.from('6'));
      await rx.waitFor(5);
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.deepEqual(
        rx.got.map((g) => g.body.Records[0]!.s3.object.key),
        ['a.txt', 'c.txt', 'a.txt', 'while-down.txt', 'after.txt'],
      );
      // /metrics counts them.
      const text = await (await fetch(`${gw.url}/metrics`)).text();
      assert.match(text, /tessera_notification_deliveries_total\{result="delivered"\} 2/);
      await gw.close();
    } finally {
      rx.server.close();
      await store.close();
    }
  });

  it('takes the configuration through Put/GetBucketNotificationConfiguration (URL destinations)', async () => {
    const store = await Store.open({ path: freshDir(), dataShards: 2, parityShards: 1 });
    const rx = await receiver(0);
    const gw = await startGateway({ store, credentials, notifications: fast });
    const s3 = new S3Client({
      endpoint: gw.url,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: credentials[0]!,
    });
    try {
      await store.createBucket('sdk-hooked');
      await s3.send(
        new PutBucketNotificationConfigurationCommand({
          Bucket: 'sdk-hooked',
          NotificationConfiguration: {
            QueueConfigurations: [
              {
                Id: 'sdk',
                QueueArn: rx.url,
                Events: ['s3:ObjectCreated:*'],
                Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'in/' }] } },
              },
            ],
          },
        }),
      );
      const got = await s3.send(
        new GetBucketNotificationConfigurationCommand({ Bucket: 'sdk-hooked' }),
      );
      assert.deepEqual(got.QueueConfigurations, [
        {
          Id: 'sdk',
          QueueArn: rx.url,
          Events: ['s3:ObjectCreated:*'],
          Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'in/' }] } },
        },
      ]);
      await assert.rejects(
        s3.send(
          new PutBucketNotificationConfigurationCommand({
            Bucket: 'sdk-hooked',
            NotificationConfiguration: {
              QueueConfigurations: [
                { QueueArn: 'arn:aws:sqs:us-east-1:1:q', Events: ['s3:ObjectCreated:*'] },
              ],
            },
          }),
        ),
        { name: 'InvalidArgument' },
      );
      await new Promise((resolve) => setTimeout(resolve, 100)); // the poll sees it
      await store.bucket('sdk-hooked').put('out/no', Buffer.from('1'));
      await store.bucket('sdk-hooked').delete('in/gone');
      await store.bucket('sdk-hooked').put('in/yes', Buffer.from('2'));
      await rx.waitFor(1);
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.deepEqual(
        rx.got.map((g) => g.body.Records[0]!.s3.object.key),
        ['in/yes'],
      );
      // An empty configuration removes it.
      await s3.send(
        new PutBucketNotificationConfigurationCommand({
          Bucket: 'sdk-hooked',
          NotificationConfiguration: {},
        }),
      );
      const none = await s3.send(
        new GetBucketNotificationConfigurationCommand({ Bucket: 'sdk-hooked' }),
      );
      assert.equal(none.QueueConfigurations, undefined);
    } finally {
      s3.destroy();
      await gw.close();
      rx.server.close();
      await store.close();
    }
  });

  it('checks configurations and shapes bodies like S3 event records', () => {
    assert.throws(() => validateNotificationConfig({}), { code: 'InvalidArgument' });
    assert.throws(() => validateNotificationConfig({ webhooks: [{ id: 'x', url: 'ftp://h/' }] }), {
      code: 'InvalidArgument',
    });
    assert.throws(
      () =>
        validateNotificationConfig({
          webhooks: [
            { id: 'x', url: 'http://h/' },
            { id: 'x', url: 'http://h/' },
          ],
        }),
      { code: 'InvalidArgument' },
    );
    assert.throws(
      () =>
        validateNotificationConfig({
          webhooks: [{ id: 'x', url: 'http://h/', events: ['removed'] }],
        }),
      { code: 'InvalidArgument' },
    );
    const body = JSON.parse(
      notificationBody({
        seq: 42,
        type: 'deleted',
        bucket: 'bkt',
        key: 'k',
        versionId: '000000000000002a',
        size: 0,
        etag: '',
        deleteMarker: true,
        time: new Date(0),
      }),
    ) as { Records: { eventName: string; eventTime: string; s3: { object: object } }[] };
    assert.equal(body.Records[0]!.eventName, 's3:ObjectRemoved:DeleteMarkerCreated');
    assert.equal(body.Records[0]!.eventTime, '1970-01-01T00:00:00.000Z');
    assert.deepEqual(body.Records[0]!.s3.object, {
      key: 'k',
      versionId: '000000000000002a',
      sequencer: '000000000000002A',
    });
  });
});

describe('68 gateway: store metrics on /metrics', () => {
  it('exports tessera_store_* with Prometheus naming and values from store.stats()', async () => {
    const store = await Store.open({ path: freshDir(), dataShards: 2, parityShards: 1 });
    const gw = await startGateway({ store, credentials, notifications: false });
    try {
      await store.createBucket('metered');
      await store.bucket('metered').put('one', Buffer.alloc(1234));
      await store.bucket('metered').get('one');
      const text = await (await fetch(`${gw.url}/metrics`)).text();
      for (const name of [
        'tessera_store_objects 1',
        'tessera_store_logical_bytes 1234',
        'tessera_store_segments 1',
        'tessera_store_operations_total{op="put"} 1',
        'tessera_store_operation_duration_seconds_bucket{op="put",le="+Inf"} 1',
        'tessera_store_operation_duration_seconds_count{op="get"} 1',
        'tessera_store_degraded_drives 0',
        'tessera_store_heal_queue_stripes 0',
      ]) {
        assert.ok(text.includes(name), `missing ${name}`);
      }
      // The read cache's counters are those of store.stats().
      const hits = /^tessera_store_cache_hits_total (\d+)$/m.exec(text);
      assert.ok(hits, 'missing tessera_store_cache_hits_total');
      assert.equal(Number(hits[1]), (await store.stats()).cache.hits);
      for (const type of [
        '# TYPE tessera_store_operation_duration_seconds histogram',
        '# TYPE tessera_store_cache_hits_total counter',
        '# TYPE tessera_store_physical_bytes gauge',
        '# TYPE tessera_store_dead_bytes gauge',
        '# TYPE tessera_store_index_memory_bytes gauge',
        '# TYPE tessera_store_gc_reclaimed_bytes_total counter',
      ]) {
        assert.ok(text.includes(type), `missing ${type}`);
      }
      // Every store metric follows the conventions: counters end in _total,
      // sizes in _bytes, durations in _seconds.
      for (const m of text.matchAll(/^# TYPE (tessera_store_\w+) (\w+)$/gm)) {
        const [, name, type] = m;
        if (type === 'counter') assert.match(name!, /_total$/);
        if (type === 'histogram') assert.match(name!, /_seconds$/);
        if (/bytes/.test(name!)) assert.match(name!, /_bytes(_total)?$/);
      }
    } finally {
      await gw.close();
      await store.close();
    }
  });
});
