/**
 * The examples run as documented, on the reference model store: the gateway
 * mounted in an app server, and the upload service embedding the Store.
 */
import { strict as assert } from 'node:assert';
import type { AddressInfo } from 'node:net';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { createApp } from '../examples/mount-gateway';
import { createUploadService } from '../examples/upload-service';
import { Store } from '../lib/store/store';
import { ModelEngine } from './support/model_engine';
import { ACCESS_KEY, SECRET_KEY, pattern, s3Client } from './61.gateway.harness';

describe('66 gateway: examples', function () {
  this.timeout(30_000);

  it('mount-gateway: app routes and S3 share one server', async () => {
    const store = new Store(new ModelEngine());
    await store.createBucket('shared');
    const app = createApp(store, { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY });
    await new Promise<void>((resolve) => app.server.listen(0, '127.0.0.1', resolve));
    const port = (app.server.address() as AddressInfo).port;
    try {
      const s3 = s3Client({ url: `http://127.0.0.1:${port}`, port } as Parameters<
        typeof s3Client
      >[0]);
      const body = pattern(200_000, 3);
      await s3.send(new PutObjectCommand({ Bucket: 'shared', Key: 'k', Body: body }));
      s3.destroy();
      assert.deepEqual((await store.bucket('shared').get('k'))?.body, body);
      const status = (await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as {
        ok: boolean;
      };
      assert.equal(status.ok, true);
    } finally {
      await app.close();
      await store.close();
    }
  });

  it('upload-service: streams uploads into the Store and back, with ranges and create-only puts', async () => {
    const store = new Store(new ModelEngine());
    const server = await createUploadService(store);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const body = pattern(1_000_000, 4);
      const put = await fetch(`${base}/files/report.bin`, {
        method: 'PUT',
        body,
        headers: { 'if-none-match': '*' },
      });
      assert.equal(put.status, 201);
      const again = await fetch(`${base}/files/report.bin`, {
        method: 'PUT',
        body,
        headers: { 'if-none-match': '*' },
      });
      assert.equal(again.status, 412);
      const got = await fetch(`${base}/files/report.bin`);
      assert.deepEqual(Buffer.from(await got.arrayBuffer()), body);
      const part = await fetch(`${base}/files/report.bin`, { headers: { range: 'bytes=10-19' } });
      assert.equal(part.status, 206);
      assert.deepEqual(Buffer.from(await part.arrayBuffer()), body.subarray(10, 20));
      assert.deepEqual(await (await fetch(`${base}/files`)).json(), ['report.bin']);
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await store.close();
    }
  });
});
