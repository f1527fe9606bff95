/**
 * One server for the gateway benchmark, in its own process so the load
 * generator does not share its event loop: `plain` (node:http serving the
 * same bytes from memory), `tessera` (startGateway over a Store) or
 * `s3rver`. Prints `PORT <n>` once listening; exits on SIGTERM.
 */
import { existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as GatewayModule from '../../lib/gateway/server';
import type * as StoreModule from '../../lib/store/store';
import { ModelEngine } from '../../test/support/model_engine';

/**
 * The gateway and store as `tessera serve` runs them: the compiled build in
 * dist/cjs (tsc output, plain `require`), when `npm run build` made it. Under
 * tsx every function a request creates also pays esbuild's keep-names helper,
 * a cost the shipped server does not have. Without dist, lib/ through tsx.
 */
const DIST = join(__dirname, '..', '..', 'dist', 'cjs');
const LIB = join(__dirname, '..', '..', 'lib');

/** Newest modification time of the .ts files under `dir`, ms. */
function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** dist when it exists and is newer than every lib/ source; lib/ (stale or missing dist) otherwise. */
function servesFrom(): 'dist' | 'lib' {
  const built = join(DIST, 'gateway', 'server.js');
  if (!existsSync(built)) return 'lib';
  if (statSync(built).mtimeMs < newestSource(LIB)) {
    process.stderr.write(
      'bench/gateway: dist/ is older than lib/; serving lib/ through tsx (run `npm run build` to measure the build)\n',
    );
    return 'lib';
  }
  return 'dist';
}
export const SERVES_FROM = servesFrom();
/* eslint-disable @typescript-eslint/no-require-imports -- chosen at run time */
const { startGateway } = (
  SERVES_FROM === 'dist'
    ? require(join(DIST, 'gateway', 'server.js'))
    : require('../../lib/gateway/server')
) as typeof GatewayModule;
const { Store } = (
  SERVES_FROM === 'dist'
    ? require(join(DIST, 'store', 'store.js'))
    : require('../../lib/store/store')
) as typeof StoreModule;
/* eslint-enable @typescript-eslint/no-require-imports */

export const BUCKET = 'bench';
export const ACCESS_KEY = 'bench';
export const SECRET_KEY = 'bench-secret';
/** Seeded in every server but s3rver; `sdk-4k` is what the SDK trials read (and put first). */
export const OBJECTS: Record<string, number> = {
  'obj-4k': 4096,
  'obj-1m': 1024 * 1024,
  'sdk-4k': 4096,
};

function bytes(size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + 7) & 0xff;
  return out;
}

async function main(kind: string): Promise<void> {
  let port: number;
  let stop: () => Promise<void>;
  if (kind === 'plain') {
    const bodies = new Map(Object.entries(OBJECTS).map(([k, n]) => [`/${BUCKET}/${k}`, bytes(n)]));
    const server = createServer((req, res) => {
      if (req.method === 'PUT') {
        req.resume();
        req.on('end', () => {
          res.setHeader('etag', '"0"');
          res.end();
        });
        return;
      }
      // The SDK adds `?x-id=GetObject`: the path names the object.
      const url = req.url ?? '';
      const q = url.indexOf('?');
      const body = bodies.get(q < 0 ? url : url.slice(0, q));
      if (!body) {
        res.statusCode = 404;
        res.end();
        return;
      }
      res.setHeader('content-type', 'application/octet-stream');
      res.setHeader('content-length', body.length);
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    stop = () => new Promise((resolve) => server.close(() => resolve()));
  } else if (kind === 'tessera' || kind === 'tessera-native') {
    const store =
      kind === 'tessera'
        ? new Store(new ModelEngine({ inlineBytesMax: 1024 * 1024, uploadPieceBytes: 1024 * 1024 }))
        : await Store.open({ path: process.argv[3]!, dataShards: 4, parityShards: 2 });
    await store.createBucket(BUCKET);
    for (const [key, size] of Object.entries(OBJECTS))
      await store.bucket(BUCKET).put(key, bytes(size));
    const gw = await startGateway({
      store,
      port: 0,
      credentials: [{ accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY }],
    });
    port = gw.port;
    stop = async () => {
      await gw.close();
      await store.close();
    };
  } else if (kind === 's3rver') {
    // s3rver 3 is CommonJS without types.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const S3rver = require('s3rver') as new (options: object) => {
      run(): Promise<{ port: number }>;
      close(): Promise<void>;
    };
    const server = new S3rver({
      address: '127.0.0.1',
      port: 0,
      silent: true,
      directory: mkdtempSync(join(tmpdir(), 's3rver-bench-')),
      configureBuckets: [{ name: BUCKET }],
    });
    port = (await server.run()).port;
    stop = () => server.close();
  } else {
    throw new Error(`unknown server kind ${kind}`);
  }
  process.stdout.write(`PORT ${port} FROM ${SERVES_FROM}\n`);
  process.once('SIGTERM', () => void stop().then(() => process.exit(0)));
}

if (require.main === module) {
  main(process.argv[2] ?? '').catch((error: unknown) => {
    process.stderr.write(String(error) + '\n');
    process.exit(1);
  });
}
