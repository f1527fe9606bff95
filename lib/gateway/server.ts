/**
 * The S3 gateway: a node:http server (or a request handler to mount in
 * one) over the public Store API.
 *
 * Every request goes through one fixed pipeline:
 *   parse endpoint (bucket, key, query: parsed once, used by auth and handler)
 *   -> authenticate (SigV4 header or presigned; `100 Continue` only after this)
 *   -> authorize (reserved names refused; every credential owns every bucket)
 *   -> handler (on the Store API) -> response or S3 XML error,
 * with `x-amz-request-id` and `x-amz-id-2` on every response, one log line
 * and one metrics observation per request.
 */
import { randomBytes } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { TesseraError } from '../errors';
import { Store } from '../store/store';
import { type Credential, type CredentialsProvider, StaticCredentials } from './auth/credentials';
import { type AuthResult, SigV4Verifier } from './auth/sigv4';
import { S3Error, renderErrorResponse } from './errors';
import type { GatewayConfig, GatewayLimits, RequestContext } from './handlers/context';
import { MULTIPART_BUCKET, MultipartStore } from './handlers/multipart_store';
import { CORS_RESPONSE_HEADERS, answerPreflight, applyCors } from './handlers/cors';
import { HANDLERS } from './handlers/dispatch';
import { redactUrl, silentLogger } from './observability/logging';
import { GatewayMetrics } from './observability/metrics';
import { type AddressOptions, resolveAddress } from './request/address';
import { registerStoreMetrics } from './observability/store_metrics';
import { startNotifications, type WebhookNotifierOptions } from './notifications/webhooks';
import { type ParsedRequest, parseRequest } from './request/parse';
import { type QueryParam, parseQuery, splitTarget } from './request/uri';

/** Limits of the HTTP server itself (Node's defaults are too generous for an open port). */
export interface ServerLimits {
  /** Time to receive the request headers, ms (slowloris). */
  headersTimeoutMs: number;
  /** Time to receive the whole request, ms. */
  requestTimeoutMs: number;
  /** Idle keep-alive sockets are closed after this, ms. */
  keepAliveTimeoutMs: number;
  /** Request headers larger than this answer 431. */
  headerBytesMax: number;
  /** Connections beyond this are refused. */
  connectionsMax: number;
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  headersTimeoutMs: 20_000,
  requestTimeoutMs: 15 * 60_000,
  keepAliveTimeoutMs: 5_000,
  headerBytesMax: 16 * 1024,
  connectionsMax: 1024,
};

export const DEFAULT_GATEWAY_LIMITS: GatewayLimits = {
  partBytesMin: 5 * 1024 * 1024,
  staleUploadAgeMs: 7 * 24 * 3600_000,
  staleUploadSweepMs: 3600_000,
  xmlBytesMax: 1024 * 1024,
  bodyBytesPerSecondMin: 4 * 1024,
  bodyRateWindowMs: 10_000,
};

export interface GatewayHandlerOptions {
  /** Who may sign requests: a provider, or a list of access key / secret pairs. */
  credentials: CredentialsProvider | readonly Credential[];
  /** Region reported and accepted in credential scopes (default us-east-1; any scope region accepted). */
  region?: string;
  /** Base domain for virtual-host addressing (`bucket.<domain>`); path style always works. */
  domain?: string;
  /** pino-compatible logger; silent by default. */
  logger?: Logger;
  /** prom-client Registry to register metrics in; a private one by default. */
  registry?: Registry;
  /** Serve /healthz, /readyz and /metrics (unauthenticated). Default true. */
  observability?: boolean;
  limits?: Partial<GatewayLimits>;
  /** Clock for signature checks, ms since the epoch (tests pin it). */
  now?: () => number;
  /** Named replication destinations PutBucketReplication may use (docs/replication.md). */
  replicationTargets?: GatewayConfig['replicationTargets'];
  /**
   * Webhook notifications from buckets' 'notification' configurations
   * (docs/events.md); false: none. Default: on, with default options.
   */
  notifications?: WebhookNotifierOptions | false;
}

export interface GatewayHandler {
  /** `(req, res)` for http.createServer or an existing server's 'request' event. */
  (req: IncomingMessage, res: ServerResponse): void;
  /** Attach to the server's 'checkContinue' event: `100 Continue` is sent only after authentication. */
  checkContinue(req: IncomingMessage, res: ServerResponse): void;
  readonly metrics: GatewayMetrics;
  /** Requests being processed. */
  readonly inflight: number;
  /** Not-ready: /readyz answers 503 and responses close their connection. */
  setDraining(): void;
  /** Resolves when no request is in flight. */
  idle(): Promise<void>;
  /** Stops the stale-upload sweep. Does not close the store. */
  close(): Promise<void>;
}

const KEPT_ON_ERROR = new Set<string>([
  'x-amz-request-id',
  'x-amz-id-2',
  'server',
  'connection',
  ...CORS_RESPONSE_HEADERS,
]);
/** A read that hit a delete marker says so (handlers/delete_marker.ts). */
const KEPT_ON_DELETE_MARKER = ['x-amz-delete-marker', 'x-amz-version-id', 'last-modified'];
const KEPT_ON_304 = new Set([...KEPT_ON_ERROR, 'etag', 'last-modified']);
const KEPT_ON_416 = new Set([...KEPT_ON_ERROR, 'content-range']);
/** Operations that write every header in one writeHead (they copy ctx.baseHeaders). */
const WRITES_OWN_HEADERS = new Set<string>(['GetObject', 'HeadObject']);
const SERVER = ['server', 'tessera'] as const;

function setHeaders(res: ServerResponse, list: readonly string[]): void {
  for (let i = 0; i < list.length; i += 2) res.setHeader(list[i]!, list[i + 1]!);
}

/**
 * The RequestContext of one request, as a class (one hidden class, methods
 * on the prototype) rather than an object literal with closures.
 */
class Context implements RequestContext {
  receivedBytes = 0;
  sentBytes = 0;
  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly requestId: string,
    readonly baseHeaders: readonly string[],
    private readonly logger: () => Logger,
    readonly method: string,
    readonly rawPath: string,
    readonly query: readonly QueryParam[],
    readonly params: ReadonlyMap<string, string>,
    readonly bucket: string | undefined,
    readonly key: string | undefined,
    readonly store: Store,
    readonly multipart: MultipartStore,
    readonly config: GatewayConfig,
    public auth: AuthResult,
    private expectContinue: boolean,
  ) {}

  get log(): Logger {
    return this.logger();
  }

  continueBody(): void {
    if (this.expectContinue) {
      this.expectContinue = false;
      this.res.writeContinue();
    }
  }
}

const HEALTH_LIVE = new Set(['/healthz', '/minio/health/live']);
const HEALTH_READY = new Set(['/readyz', '/minio/health/ready']);

function credentialsProvider(value: GatewayHandlerOptions['credentials']): CredentialsProvider {
  if (Array.isArray(value)) return new StaticCredentials(value as readonly Credential[]);
  if (value && typeof (value as CredentialsProvider).secretFor === 'function') {
    return value as CredentialsProvider;
  }
  throw new TesseraError(
    'ERR_INVALID_ARG_TYPE',
    'options.credentials must be a CredentialsProvider or an array of { accessKeyId, secretAccessKey }',
  );
}

function hasSignature(req: IncomingMessage, rawQuery: string): boolean {
  return req.headers.authorization !== undefined || /(^|&)X-Amz-Signature=/i.test(rawQuery);
}

/** Builds the request handler over an open store. */
export function createGatewayHandler(store: Store, options: GatewayHandlerOptions): GatewayHandler {
  if (!(store instanceof Store)) {
    throw new TesseraError('ERR_INVALID_ARG_TYPE', 'store must be a Store');
  }
  const config: GatewayConfig = {
    ...DEFAULT_GATEWAY_LIMITS,
    ...options.limits,
    region: options.region ?? 'us-east-1',
    ...(options.replicationTargets ? { replicationTargets: options.replicationTargets } : {}),
  };
  const verifier = new SigV4Verifier({
    credentials: credentialsProvider(options.credentials),
    ...(options.region !== undefined ? { region: options.region } : {}),
    ...(options.now !== undefined ? { now: options.now } : {}),
  });
  const addressOptions: AddressOptions =
    options.domain === undefined ? {} : { domains: [options.domain.toLowerCase()] };
  const logger = options.logger ?? silentLogger();
  const metrics = new GatewayMetrics(options.registry);
  const observability = options.observability ?? true;
  registerStoreMetrics(metrics.registry, store);
  const notifier =
    options.notifications === false
      ? undefined
      : startNotifications(store, metrics.registry, logger, options.notifications);
  const multipart = new MultipartStore(store);
  let inflight = 0;
  let draining = false;
  // Request ids: a random per-handler prefix and a counter (unique, cheap: no CSPRNG call per request).
  const idPrefix = randomBytes(4).toString('hex').toUpperCase();
  const hostId = randomBytes(18).toString('base64');
  let idCounter = 0;
  const nextRequestId = () =>
    idPrefix + (idCounter++ >>> 0).toString(16).toUpperCase().padStart(8, '0');
  let idleWaiters: Array<() => void> = [];

  const sweep = setInterval(() => {
    multipart.sweep(config.staleUploadAgeMs).then(
      (removed) => {
        if (removed > 0) logger.info({ removed }, 'removed stale multipart uploads');
      },
      (error: unknown) => logger.warn({ err: error }, 'stale multipart sweep failed'),
    );
  }, config.staleUploadSweepMs);
  sweep.unref();

  async function observe(
    req: IncomingMessage,
    res: ServerResponse,
    rawPath: string,
  ): Promise<boolean> {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    let status = 200;
    let body = 'ok\n';
    let contentType = 'text/plain; charset=utf-8';
    if (HEALTH_LIVE.has(rawPath)) {
      // Answering at all proves the event loop turns.
    } else if (HEALTH_READY.has(rawPath)) {
      let ready = !draining;
      try {
        store.info();
      } catch {
        ready = false;
      }
      if (!ready) {
        status = 503;
        body = 'not ready\n';
      }
    } else if (rawPath === '/metrics') {
      const rendered = await metrics.render();
      body = rendered.body;
      contentType = rendered.contentType;
    } else {
      return false;
    }
    res.statusCode = status;
    res.setHeader('content-type', contentType);
    res.setHeader('content-length', Buffer.byteLength(body));
    res.setHeader('cache-control', 'no-store');
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  }

  async function run(
    req: IncomingMessage,
    res: ServerResponse,
    expectContinue: boolean,
  ): Promise<void> {
    const started = process.hrtime.bigint();
    const requestId = nextRequestId();
    // Set on the response before any answer but a GET/HEAD of an object,
    // which writes them with its own headers in one writeHead.
    const baseHeaders = [
      'x-amz-request-id',
      requestId,
      'x-amz-id-2',
      hostId + requestId,
      ...SERVER,
    ];
    if (draining) res.setHeader('connection', 'close');
    const method = req.method ?? 'GET';
    const target = req.url ?? '/';
    const { path: rawPath, query: rawQuery } = splitTarget(target);
    // A child logger costs an object and a serialisation per request: made only when used.
    let child: Logger | undefined;
    const log = (): Logger => (child ??= logger.child({ reqId: requestId }));
    let op = 'Unknown';
    let ctx: RequestContext | undefined;
    inflight++;
    metrics.started();
    res.once('close', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.finished(op, res.statusCode, seconds, ctx?.receivedBytes ?? 0, ctx?.sentBytes ?? 0);
      if (logger.isLevelEnabled('info')) {
        log().info(
          {
            method,
            url: redactUrl(target),
            op,
            status: res.statusCode,
            ms: Math.round(seconds * 1e4) / 10,
            aborted: !res.writableFinished,
          },
          'request',
        );
      }
      if (logger.isLevelEnabled('debug')) log().debug({ headers: req.headers }, 'request headers');
      if (--inflight === 0) {
        const waiters = idleWaiters;
        idleWaiters = [];
        for (const wake of waiters) wake();
      }
    });
    try {
      if (observability && !hasSignature(req, rawQuery)) {
        op = 'Observability';
        setHeaders(res, baseHeaders);
        if (await observe(req, res, rawPath)) return;
        op = 'Unknown';
      }
      if (method === 'OPTIONS') {
        // CORS preflight: browsers send it without credentials (as S3 answers it).
        op = 'Preflight';
        setHeaders(res, baseHeaders);
        const address = resolveAddress(rawPath, req.headers.host, addressOptions);
        await answerPreflight(store, address.bucket, req, res);
        return;
      }
      // Addressing and routing are answered only after authentication, so an
      // unauthenticated probe learns nothing about names or operations.
      let parsed: ParsedRequest | undefined;
      let refusal: unknown;
      try {
        parsed = parseRequest(
          { method, url: target, headers: req.headersDistinct },
          addressOptions,
        );
        op = parsed.operation;
      } catch (error) {
        refusal = error;
      }
      const query = parsed?.query ?? parseQuery(rawQuery);
      const params = new Map<string, string>();
      for (const p of query) if (!params.has(p.name)) params.set(p.name, p.value);

      const auth = verifier.verify({ method, rawPath, query, headers: req.headersDistinct });

      if (parsed === undefined) throw refusal;
      const { bucket, key } = parsed.address;
      // Authorization: every credential owns every bucket but the gateway's own.
      if (bucket === MULTIPART_BUCKET) throw new S3Error('AccessDenied');

      ctx = new Context(
        req,
        res,
        requestId,
        baseHeaders,
        log,
        method,
        rawPath,
        query,
        params,
        bucket,
        key,
        store,
        multipart,
        config,
        auth,
        expectContinue,
      );
      if (!WRITES_OWN_HEADERS.has(parsed.operation)) setHeaders(res, baseHeaders);
      if (req.headers.origin !== undefined) await applyCors(ctx);
      await HANDLERS[parsed.operation](ctx);
    } catch (error) {
      if (res.headersSent) {
        log().warn({ err: error }, 'failed after the response started; closing the connection');
        res.destroy();
        return;
      }
      setHeaders(res, baseHeaders);
      const answer = renderErrorResponse(method, error, { resource: rawPath, requestId });
      if (answer.status >= 500) log().error({ err: error, op }, 'request failed');
      else if (logger.isLevelEnabled('debug'))
        log().debug({ code: (error as { code?: string }).code, op }, 'request refused');
      res.statusCode = answer.status;
      for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
      // Headers a handler set before failing describe the object, not the error.
      const kept =
        answer.status === 304 ? KEPT_ON_304 : answer.status === 416 ? KEPT_ON_416 : KEPT_ON_ERROR;
      const marker = res.getHeader('x-amz-delete-marker') === 'true';
      for (const name of res.getHeaderNames()) {
        if (!kept.has(name) && !(marker && KEPT_ON_DELETE_MARKER.includes(name))) {
          res.removeHeader(name);
        }
      }
      // An unread body would have to be drained to keep the connection; close it instead.
      if (!req.complete) res.setHeader('connection', 'close');
      res.end(answer.body ?? undefined);
    }
  }

  const handler = ((req: IncomingMessage, res: ServerResponse) => {
    void run(req, res, false);
  }) as GatewayHandler;
  handler.checkContinue = (req, res) => {
    void run(req, res, true);
  };
  Object.defineProperty(handler, 'metrics', { value: metrics });
  Object.defineProperty(handler, 'inflight', { get: () => inflight });
  handler.setDraining = () => {
    draining = true;
  };
  handler.idle = () =>
    inflight === 0 ? Promise.resolve() : new Promise<void>((resolve) => idleWaiters.push(resolve));
  handler.close = async () => {
    clearInterval(sweep);
    await notifier?.stop();
  };
  return handler;
}

export interface GatewayOptions extends GatewayHandlerOptions {
  /** An open store; the gateway does not close it. Give `store` or `path`. */
  store?: Store;
  /** A store directory to open (Store.open, k+m drives inside); closed by close(). */
  path?: string;
  /** Address to bind (default 127.0.0.1). */
  host?: string;
  /** Port (default 0: any free port). */
  port?: number;
  server?: Partial<ServerLimits>;
  /** How long close() waits for in-flight requests before cutting them, ms (default 25 s). */
  shutdownTimeoutMs?: number;
}

export interface Gateway {
  /** `http://host:port` */
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  readonly metrics: GatewayMetrics;
  /** Not-ready, stop accepting, close idle sockets, drain in-flight up to the timeout, then cut. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts an S3 server over `options.store`; resolves once it listens. */
export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  if (options === null || typeof options !== 'object') {
    throw new TesseraError('ERR_INVALID_ARG_TYPE', 'options must be an object');
  }
  if ((options.store === undefined) === (options.path === undefined)) {
    throw new TesseraError(
      'ERR_INVALID_ARG_VALUE',
      'give exactly one of options.store (an open Store) and options.path (a store directory)',
    );
  }
  if (options.store !== undefined && !(options.store instanceof Store)) {
    throw new TesseraError('ERR_INVALID_ARG_TYPE', 'options.store must be an open Store');
  }
  if (options.path !== undefined && typeof options.path !== 'string') {
    throw new TesseraError('ERR_INVALID_ARG_TYPE', 'options.path must be a string');
  }
  const ownStore = options.store === undefined;
  const store = options.store ?? (await Store.open({ path: options.path! }));
  try {
    return await listen(store, ownStore, options);
  } catch (error) {
    if (ownStore) await store.close();
    throw error;
  }
}

async function listen(store: Store, ownStore: boolean, options: GatewayOptions): Promise<Gateway> {
  const limits = { ...DEFAULT_SERVER_LIMITS, ...options.server };
  const handler = createGatewayHandler(store, options);
  const server = createServer(
    {
      maxHeaderSize: limits.headerBytesMax,
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: Math.min(1000, limits.headersTimeoutMs),
    },
    handler,
  );
  server.maxConnections = limits.connectionsMax;
  server.on('checkContinue', handler.checkContinue);
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      handler.setDraining();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timeoutMs = options.shutdownTimeoutMs ?? 25_000;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        handler.idle(),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
      server.closeAllConnections();
      await closed;
      await handler.close();
      if (ownStore) await store.close();
    })();
    return closing;
  };
  return {
    url: `http://${shownHost}:${port}`,
    port,
    server,
    metrics: handler.metrics,
    close,
    [Symbol.asyncDispose]: close,
  };
}
