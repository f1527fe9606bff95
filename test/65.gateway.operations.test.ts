/**
 * Running the gateway: health and readiness probes, Prometheus metrics on a
 * private registry, request ids in logs with secrets redacted, virtual-host
 * addressing, the stale multipart sweep, and the handler mounted in an
 * existing node:http server.
 */
import { strict as assert } from 'node:assert';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import {
  CreateMultipartUploadCommand,
  ListPartsCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { Registry } from 'prom-client';
import { createLogger } from '../lib/gateway/observability/logging';
import { createGatewayHandler } from '../lib/gateway/server';
import { Store } from '../lib/store/store';
import { ModelEngine } from './support/model_engine';
import {
  ACCESS_KEY,
  SECRET_KEY,
  type TestGateway,
  rawRequest,
  s3Client,
  signRequest,
  startTestGateway,
} from './61.gateway.harness';

describe('65 gateway: operations (health, metrics, logs, addressing, sweeps)', function () {
  this.timeout(30_000);
  let t: TestGateway | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('answers /healthz, /readyz and MinIO aliases unauthenticated, and /readyz 503 once draining', async () => {
    t = await startTestGateway();
    for (const path of ['/healthz', '/readyz', '/minio/health/live', '/minio/health/ready']) {
      const res = await rawRequest(t.gw, 'GET', path, {});
      assert.deepEqual([res.status, res.body.toString()], [200, 'ok\n'], path);
      assert.equal(res.headers['x-amz-request-id']?.length, 16);
    }
    // A signed request to a bucket named like a probe is S3, not a probe.
    await t.store.createBucket('healthz');
    const { target, headers } = await signRequest(t.gw, { method: 'GET', path: '/healthz' });
    const listing = await rawRequest(t.gw, 'GET', target, headers);
    assert.match(listing.body.toString(), /<ListBucketResult/);
    // Drain: readiness fails while liveness holds.
    const handler = createGatewayHandler(t.store, {
      credentials: [{ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY }],
    });
    const server = createServer(handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      handler.setDraining();
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
      assert.deepEqual([ready.status, await ready.text()], [503, 'not ready\n']);
      assert.equal(ready.headers.get('connection'), 'close');
      assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await handler.close();
    }
  });

  it('exports Prometheus metrics on a private registry, labelled by operation and status class only', async () => {
    const registry = new Registry();
    t = await startTestGateway({ registry });
    const s3 = s3Client(t.gw);
    await t.store.createBucket('metrics');
    await s3.send(
      new PutObjectCommand({ Bucket: 'metrics', Key: 'secret-key-name', Body: 'abcdef' }),
    );
    await assert.rejects(s3.send(new GetObjectCommand({ Bucket: 'metrics', Key: 'missing' })));
    s3.destroy();
    const res = await rawRequest(t.gw, 'GET', '/metrics', {});
    const text = res.body.toString();
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain/);
    assert.match(text, /tessera_s3_requests_total\{op="PutObject",status_class="2xx"\} 1/);
    assert.match(text, /tessera_s3_requests_total\{op="GetObject",status_class="4xx"\} 1/);
    assert.match(text, /tessera_s3_request_duration_seconds_bucket\{le="[^"]+",op="PutObject"\}/);
    assert.match(text, /tessera_s3_received_bytes_total\{op="PutObject"\} 6/);
    assert.match(text, /tessera_build_info\{version="[^"]+",napi="\d+",node="v[^"]+"\} 1/);
    assert.match(text, /tessera_process_cpu_seconds_total/);
    assert.doesNotMatch(text, /secret-key-name|bucket=|key=/);
    assert.equal((await registry.getSingleMetric('tessera_s3_requests_total')) !== undefined, true);
  });

  it('logs one line per request with the request id, and redacts presigned secrets and Authorization', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _e, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    t = await startTestGateway({ logger: createLogger('debug', sink) });
    await t.store.createBucket('logs');
    const s3 = s3Client(t.gw);
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'logs', Key: 'nothing' }), {
      expiresIn: 60,
    });
    s3.destroy();
    const res = await fetch(url);
    assert.equal(res.status, 404);
    const requestId = res.headers.get('x-amz-request-id');
    const { target, headers } = await signRequest(t.gw, { method: 'GET', path: '/logs' });
    await rawRequest(t.gw, 'GET', target, headers);
    await new Promise((r) => setTimeout(r, 50));
    const all = lines.join('\n');
    const signature = new URL(url).searchParams.get('X-Amz-Signature')!;
    assert.ok(!all.includes(signature), 'the presigned signature never reaches the log');
    assert.ok(
      !all.includes(headers.authorization!.slice(-64)),
      'the Authorization signature never reaches the log',
    );
    assert.match(all, /X-Amz-Signature=\[REDACTED\]/);
    assert.match(all, /"authorization":"\[REDACTED\]"/);
    const line = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((l) => l.msg === 'request' && l.reqId === requestId);
    assert.ok(line, 'a request line carries the x-amz-request-id as reqId');
    assert.deepEqual([line.op, line.status, line.method], ['GetObject', 404, 'GET']);
  });

  it('addresses buckets by virtual host when a domain is configured (path style still works)', async () => {
    t = await startTestGateway({ domain: 's3.test' });
    await t.store.createBucket('vhost');
    await t.store.bucket('vhost').put('dir/file.txt', 'via vhost');
    const { target, headers } = await signRequest(t.gw, {
      method: 'GET',
      path: '/dir/file.txt',
      headers: { host: 'vhost.s3.test' },
    });
    const res = await rawRequest(t.gw, 'GET', target, headers);
    assert.deepEqual([res.status, res.body.toString()], [200, 'via vhost']);
    const path = await signRequest(t.gw, { method: 'GET', path: '/vhost/dir/file.txt' });
    const pathRes = await rawRequest(t.gw, 'GET', path.target, path.headers);
    assert.equal(pathRes.body.toString(), 'via vhost');
  });

  it('removes multipart uploads older than the configured age', async () => {
    t = await startTestGateway({ limits: { staleUploadAgeMs: 1, staleUploadSweepMs: 100 } });
    await t.store.createBucket('stale');
    const s3 = s3Client(t.gw);
    const { UploadId } = await s3.send(
      new CreateMultipartUploadCommand({ Bucket: 'stale', Key: 'k' }),
    );
    await new Promise((r) => setTimeout(r, 400));
    await assert.rejects(s3.send(new ListPartsCommand({ Bucket: 'stale', Key: 'k', UploadId })), {
      name: 'NoSuchUpload',
    });
    s3.destroy();
  });

  it('mounts as a request handler inside an existing node:http server', async () => {
    const store = new Store(new ModelEngine());
    await store.createBucket('mounted');
    const handler = createGatewayHandler(store, {
      credentials: [{ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY }],
    });
    const server = createServer((req, res) => {
      if (req.url === '/app') {
        res.end('app');
        return;
      }
      handler(req, res);
    });
    server.on('checkContinue', handler.checkContinue);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const gw = { url: `http://127.0.0.1:${port}`, port } as Parameters<typeof s3Client>[0];
      const s3 = s3Client(gw);
      await s3.send(new PutObjectCommand({ Bucket: 'mounted', Key: 'k', Body: 'mounted bytes' }));
      s3.destroy();
      assert.equal((await store.bucket('mounted').get('k'))?.body.toString(), 'mounted bytes');
      assert.equal(await (await fetch(`http://127.0.0.1:${port}/app`)).text(), 'app');
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await handler.close();
      await store.close();
    }
  });
});
