/**
 * An upload service that embeds the Store directly (no S3 in between):
 *   PUT /files/<name>   streams the request body into the store (bounded memory)
 *   GET /files/<name>   streams it back, with Range support
 *   GET /files          lists names as JSON
 * Every response carries the object's ETag; conditional create with
 * `If-None-Match: *` maps to the store's `ifNoneMatch`.
 *
 * Run:
 *   node --import tsx examples/upload-service.ts ./data
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { TesseraError } from '../lib/errors';
import { Store } from '../lib/store/store';

const BUCKET = 'uploads';

async function handle(store: Store, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const bucket = store.bucket(BUCKET);
  if (url.pathname === '/files' && req.method === 'GET') {
    const names: string[] = [];
    for await (const entry of bucket.list({ limit: 1000 }))
      if (entry.type === 'object') names.push(entry.key);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(names));
    return;
  }
  const name = url.pathname.startsWith('/files/') ? decodeURIComponent(url.pathname.slice(7)) : '';
  if (name === '') {
    res.statusCode = 404;
    res.end();
    return;
  }
  if (req.method === 'PUT') {
    const controller = new AbortController();
    req.once('aborted', () => controller.abort());
    const result = await bucket.put(name, req, {
      contentType: req.headers['content-type'] ?? 'application/octet-stream',
      ...(req.headers['if-none-match'] === '*' ? { ifNoneMatch: '*' as const } : {}),
      signal: controller.signal,
    });
    res.statusCode = 201;
    res.setHeader('etag', `"${result.etag}"`);
    res.end();
    return;
  }
  if (req.method === 'GET') {
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const found = await bucket.getStream(name, {
      ...(range
        ? {
            range: range[2]
              ? { start: Number(range[1]), end: Number(range[2]) }
              : { start: Number(range[1]) },
          }
        : {}),
    });
    if (!found) {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.statusCode = found.range ? 206 : 200;
    res.setHeader('etag', `"${found.etag}"`);
    res.setHeader('content-type', found.contentType ?? 'application/octet-stream');
    if (found.range)
      res.setHeader('content-range', `bytes ${found.range.start}-${found.range.end}/${found.size}`);
    await pipeline(found.stream, res);
    return;
  }
  res.statusCode = 405;
  res.end();
}

export async function createUploadService(store: Store): Promise<Server> {
  await store.createBucket(BUCKET).catch((error: unknown) => {
    if (!(error instanceof TesseraError && error.code === 'BucketAlreadyOwnedByYou')) throw error;
  });
  return createServer((req, res) => {
    handle(store, req, res).catch((error: unknown) => {
      const status = error instanceof TesseraError ? error.statusCode : 500;
      if (res.headersSent) {
        res.destroy();
        return;
      }
      res.statusCode = status;
      res.end(
        error instanceof TesseraError ? `${error.code}: ${error.message}\n` : 'internal error\n',
      );
    });
  });
}

if (require.main === module) {
  void Store.open({ path: process.argv[2] ?? './tessera-data' }).then(async (store) => {
    const server = await createUploadService(store);
    server.listen(8081, '127.0.0.1', () => console.log('uploads on http://127.0.0.1:8081/files'));
    process.once('SIGINT', () => server.close(() => void store.close()));
  });
}
