/**
 * Prometheus metrics of the gateway, on a PRIVATE prom-client Registry
 * (library code never touches the global one). Labels are the operation
 * name and the status class only: never a bucket or a key, so cardinality
 * is bounded by the operation table.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { packageVersion } from './version';

/** Label values built once, not per request. */
const STATUS_CLASSES = ['0xx', '1xx', '2xx', '3xx', '4xx', '5xx'];

export class GatewayMetrics {
  readonly registry: Registry;
  private readonly requests: Counter<'op' | 'status_class'>;
  private readonly duration: Histogram<'op'>;
  private readonly received: Counter<'op'>;
  private readonly sent: Counter<'op'>;
  private readonly inflight: Gauge;

  constructor(registry?: Registry) {
    this.registry = registry ?? new Registry();
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'tessera_s3_requests_total',
      help: 'S3 requests answered, by operation and status class',
      labelNames: ['op', 'status_class'],
      registers,
    });
    this.duration = new Histogram({
      name: 'tessera_s3_request_duration_seconds',
      help: 'Time from request start to the last byte of the answer, by operation',
      labelNames: ['op'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.received = new Counter({
      name: 'tessera_s3_received_bytes_total',
      help: 'Object bytes received in request bodies (decoded), by operation',
      labelNames: ['op'],
      registers,
    });
    this.sent = new Counter({
      name: 'tessera_s3_sent_bytes_total',
      help: 'Bytes sent in response bodies, by operation',
      labelNames: ['op'],
      registers,
    });
    this.inflight = new Gauge({
      name: 'tessera_s3_requests_in_flight',
      help: 'Requests being processed',
      registers,
    });
    const info = new Gauge({
      name: 'tessera_build_info',
      help: 'Version of tessera and Node-API of the running process (value is always 1)',
      labelNames: ['version', 'napi', 'node'],
      registers,
    });
    info.set(
      { version: packageVersion(), napi: process.versions.napi ?? '', node: process.version },
      1,
    );
    collectDefaultMetrics({ register: this.registry, prefix: 'tessera_' });
  }

  started(): void {
    this.inflight.inc();
  }

  finished(op: string, status: number, seconds: number, received: number, sent: number): void {
    this.inflight.dec();
    this.requests.inc({ op, status_class: STATUS_CLASSES[Math.floor(status / 100)] ?? 'other' });
    this.duration.observe({ op }, seconds);
    if (received > 0) this.received.inc({ op }, received);
    if (sent > 0) this.sent.inc({ op }, sent);
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
