/**
 * Mounting the S3 gateway inside an existing Node HTTP server: the app
 * keeps its own routes and hands everything else to the gateway's request
 * handler. `checkContinue` must be forwarded too, so that uploads sent
 * with `Expect: 100-continue` are authenticated before their body flows.
 *
 * Run:
 *   node --import tsx examples/mount-gateway.ts ./data
 * then point any S3 client at http://127.0.0.1:8080 with forcePathStyle.
 */
import { type Server, createServer } from 'node:http';
import { createGatewayHandler } from '../lib/gateway/server';
import { Store } from '../lib/store/store';

export function createApp(
  store: Store,
  credentials: { accessKeyId: string; secretAccessKey: string },
): {
  server: Server;
  close(): Promise<void>;
} {
  const s3 = createGatewayHandler(store, { credentials: [credentials] });
  const server = createServer((req, res) => {
    if (req.url === '/status') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ ok: true, s3: { inflight: s3.inflight } }));
      return;
    }
    s3(req, res);
  });
  server.on('checkContinue', (req, res) => {
    if (req.url === '/status') {
      res.writeContinue();
      server.emit('request', req, res);
      return;
    }
    s3.checkContinue(req, res);
  });
  return {
    server,
    close: async () => {
      s3.setDraining();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await s3.idle();
      await s3.close();
    },
  };
}

if (require.main === module) {
  void Store.open({ path: process.argv[2] ?? './tessera-data' }).then((store) => {
    const app = createApp(store, {
      accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'tessera',
      secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'tessera-dev-secret',
    });
    app.server.listen(8080, '127.0.0.1', () => console.log('app + S3 on http://127.0.0.1:8080'));
    process.once('SIGINT', () => void app.close().then(() => store.close()));
  });
}
