/**
 * An HTTP proxy on 127.0.0.1 between the replicator and its destination
 * that sees requests (method, URL, body) and can fail them one by one:
 * reset the client before forwarding, hold a complete request and forward
 * it later (after the client gave up: a late commit), or forward at once
 * and delay the answer (the destination committed, the client times out).
 * Every request is recorded.
 */
import {
  type IncomingMessage,
  type Server,
  type ServerResponse,
  createServer,
  request,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type ProxyAction =
  | { kind: 'pass' }
  | { kind: 'reset' }
  | { kind: 'holdRequest'; ms: number }
  | { kind: 'delayResponse'; ms: number };

export interface SeenRequest {
  method: string;
  url: string;
  size: number;
}

export class HttpFaultProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly pending = new Set<Promise<void>>();
  readonly seen: SeenRequest[] = [];
  port = 0;
  /** Decides the fate of each request (default: pass). */
  hook: (seen: SeenRequest) => ProxyAction = () => ({ kind: 'pass' });

  constructor(public upstreamPort: number) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const done = this.handle(req, res).catch(() => undefined);
      this.pending.add(done);
      void done.finally(() => this.pending.delete(done));
    });
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server!.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Resolves when every held or delayed request has been forwarded and answered. */
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
    const body = Buffer.concat(chunks);
    const seen = { method: req.method ?? 'GET', url: req.url ?? '/', size: body.length };
    this.seen.push(seen);
    const action = this.hook(seen);
    if (action.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    if (action.kind === 'holdRequest') await sleep(action.ms);
    const answer = await this.forward(req, body);
    if (action.kind === 'delayResponse') await sleep(action.ms);
    if (res.destroyed || req.socket.destroyed) return;
    const headers = { ...answer.headers };
    delete headers['transfer-encoding'];
    headers['content-length'] = String(answer.body.length);
    res.writeHead(answer.status, headers);
    res.end(answer.body);
  }

  private forward(
    req: IncomingMessage,
    body: Buffer,
  ): Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const out = request(
        {
          host: '127.0.0.1',
          port: this.upstreamPort,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (up) => {
          const parts: Buffer[] = [];
          up.on('data', (c: Buffer) => parts.push(c));
          up.once('end', () =>
            resolve({
              status: up.statusCode ?? 502,
              headers: up.headers,
              body: Buffer.concat(parts),
            }),
          );
          up.once('error', reject);
        },
      );
      out.once('error', reject);
      out.end(body);
    });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
