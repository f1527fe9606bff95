/**
 * A TCP proxy on 127.0.0.1 between the replicator and its destination, for
 * fault injection: refuse connections (target down), reset every open
 * connection, or slow every chunk down. The upstream port can change (a
 * restarted target gateway) while the proxy's own port stays.
 */
import { type AddressInfo, type Server, type Socket, connect, createServer } from 'node:net';

export type ProxyMode = 'up' | 'down' | 'slow';

export class FaultProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  mode: ProxyMode = 'up';
  slowMs = 50;
  port = 0;

  constructor(public upstreamPort: number) {}

  async start(): Promise<void> {
    this.server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server!.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private accept(client: Socket): void {
    if (this.mode === 'down') {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(this.upstreamPort, '127.0.0.1');
    this.sockets.add(client);
    this.sockets.add(upstream);
    const pipe = (from: Socket, to: Socket) => {
      from.on('data', (chunk: Buffer) => {
        if (this.mode !== 'slow') {
          if (!to.write(chunk)) from.pause();
          return;
        }
        from.pause();
        setTimeout(() => {
          if (!to.destroyed) to.write(chunk);
          from.resume();
        }, this.slowMs);
      });
      to.on('drain', () => from.resume());
    };
    pipe(client, upstream);
    pipe(upstream, client);
    const close = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    for (const s of [client, upstream]) {
      s.on('error', close);
      s.on('close', close);
      s.on('end', () => close());
    }
  }

  /** Resets every open connection (a cut link). */
  resetAll(): void {
    for (const s of this.sockets) s.resetAndDestroy();
    this.sockets.clear();
  }

  async close(): Promise<void> {
    this.resetAll();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}
