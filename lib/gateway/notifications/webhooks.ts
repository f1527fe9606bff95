/**
 * Webhook notifications: the change feed delivered as JSON POSTs to URLs
 * named in a bucket's 'notification' configuration (docs/events.md,
 * "Webhooks").
 *
 * Each target (bucket + webhook id) has its own cursor and its own loop over
 * store.watch(), so a receiver that is down holds up only itself. An event
 * is POSTed until the receiver answers 2xx, with exponential backoff and
 * full jitter between attempts (at-least-once: nothing is skipped unless
 * `attemptsMax` is set). Cursors (the next seq per target) are written to a
 * JSON file (tmp, fsync, rename, directory fsync) at most every
 * `cursorFlushMs` and when the notifier stops; after a restart delivery
 * resumes there, so events after the last flush may be delivered twice.
 * While it runs the notifier holds the feed (store.retention) at its lowest
 * cursor so GC keeps what it still has to deliver.
 */
import { createHmac } from 'node:crypto';
import { open, rename } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { TesseraError } from '../../errors';
import type { ChangeEvent } from '../../store/changes';
import type { Store } from '../../store/store';
import { Counter, type Registry } from 'prom-client';
import type { Logger } from 'pino';

export const NOTIFICATION_EVENTS = ['created', 'deleted'] as const;
export type NotificationEvent = (typeof NOTIFICATION_EVENTS)[number];

/** One webhook of a bucket. */
export interface WebhookTarget {
  /** Unique within the bucket; names the target's cursor. */
  id: string;
  /** http(s) URL the events are POSTed to. */
  url: string;
  /** Which events (default both). */
  events?: NotificationEvent[];
  /** Only keys starting with this. */
  prefix?: string;
  /** Only keys ending with this. */
  suffix?: string;
  /** When set, each POST carries `x-tessera-signature: sha256=<hex HMAC of the body>`. */
  secret?: string;
}

/** The value of a bucket's 'notification' configuration. */
export interface NotificationConfig {
  webhooks: WebhookTarget[];
}

const TARGETS_MAX = 16;

/** Checks a notification configuration; throws InvalidArgument. */
export function validateNotificationConfig(value: unknown): NotificationConfig {
  const bad = (message: string) => new TesseraError('InvalidArgument', message);
  if (
    typeof value !== 'object' ||
    value === null ||
    !Array.isArray((value as NotificationConfig).webhooks)
  ) {
    throw bad('a notification configuration is { webhooks: [...] }');
  }
  const webhooks = (value as NotificationConfig).webhooks;
  if (webhooks.length > TARGETS_MAX) throw bad(`at most ${TARGETS_MAX} webhooks per bucket`);
  const ids = new Set<string>();
  for (const w of webhooks) {
    if (typeof w !== 'object' || w === null) throw bad('each webhook is an object');
    if (typeof w.id !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(w.id)) {
      throw bad('webhook id must be 1..64 characters of A-Z a-z 0-9 . _ -');
    }
    if (ids.has(w.id)) throw bad(`webhook id ${w.id} appears twice`);
    ids.add(w.id);
    let url: URL;
    try {
      url = new URL(w.url);
    } catch {
      throw bad(`webhook ${w.id}: url is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw bad(`webhook ${w.id}: url must be http or https`);
    }
    if (
      w.events !== undefined &&
      (!Array.isArray(w.events) ||
        w.events.length === 0 ||
        w.events.some((e) => !(NOTIFICATION_EVENTS as readonly string[]).includes(e)))
    ) {
      throw bad(`webhook ${w.id}: events must be a non-empty list of created, deleted`);
    }
    for (const f of ['prefix', 'suffix', 'secret'] as const) {
      if (w[f] !== undefined && (typeof w[f] !== 'string' || w[f].length > 1024)) {
        throw bad(`webhook ${w.id}: ${f} must be a string of at most 1024 characters`);
      }
    }
  }
  return value as NotificationConfig;
}

/** Sets (or with an empty list, removes) a bucket's webhooks. */
export async function setBucketNotification(
  store: Store,
  bucket: string,
  config: NotificationConfig,
): Promise<void> {
  const valid = validateNotificationConfig(config);
  if (valid.webhooks.length === 0) await store.bucketConfigs.delete(bucket, 'notification');
  else await store.bucketConfigs.put(bucket, 'notification', valid);
}

export interface WebhookNotifierOptions {
  /** Cursor file (default: `notifications.cursor` beside the drives). */
  cursorFile?: string;
  /** First retry delay, ms (default 200). */
  retryBaseMs?: number;
  /** Largest retry delay, ms (default 60 000). */
  retryMaxMs?: number;
  /** Attempts per event before it is dropped (default 0: never drop). */
  attemptsMax?: number;
  /** Per-request timeout, ms (default 10 000). */
  timeoutMs?: number;
  /** How often configurations are reread, ms (default 2000). */
  configPollMs?: number;
  /** How often cursors are flushed to the file, ms (default 1000). */
  cursorFlushMs?: number;
  /** Called for each finished delivery (metrics, logs). */
  onDelivery?: (d: {
    bucket: string;
    id: string;
    seq: number;
    ok: boolean;
    attempts: number;
    status?: number;
  }) => void;
  /** Called after a failed attempt. */
  onError?: (bucket: string, id: string, error: unknown) => void;
}

interface Running {
  key: string;
  bucket: string;
  target: WebhookTarget;
  abort: AbortController;
  done: Promise<void>;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}

/** The JSON body of one event, shaped like an S3 event notification record. */
export function notificationBody(event: ChangeEvent): string {
  const eventName =
    event.type === 'created'
      ? 's3:ObjectCreated:Put'
      : event.deleteMarker
        ? 's3:ObjectRemoved:DeleteMarkerCreated'
        : 's3:ObjectRemoved:Delete';
  return JSON.stringify({
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'tessera:s3',
        eventTime: (event.time ?? new Date()).toISOString(),
        eventName,
        s3: {
          bucket: { name: event.bucket },
          object: {
            key: event.key,
            ...(event.type === 'created' ? { size: event.size, eTag: event.etag } : {}),
            versionId: event.versionId,
            sequencer: event.seq.toString(16).toUpperCase().padStart(16, '0'),
          },
        },
        tessera: { seq: event.seq, timeKnown: event.time !== null },
      },
    ],
  });
}

export class WebhookNotifier {
  private readonly running = new Map<string, Running>();
  private cursors: Record<string, number> = {};
  private dirty = false;
  private stopped = false;
  private readonly cursorFile: string;
  private pollTimer: NodeJS.Timeout | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> = Promise.resolve();
  private flushing: Promise<void> = Promise.resolve();
  private readonly holdName = `webhooks:${Math.random().toString(36).slice(2)}`;

  constructor(
    private readonly store: Store,
    private readonly options: WebhookNotifierOptions = {},
  ) {
    this.cursorFile =
      options.cursorFile ?? join(dirname(store.info().drives[0]!), 'notifications.cursor');
    try {
      const parsed = JSON.parse(readFileSync(this.cursorFile, 'utf8')) as {
        cursors?: Record<string, number>;
      };
      if (parsed && typeof parsed.cursors === 'object') this.cursors = { ...parsed.cursors };
    } catch {
      // No file yet (or unreadable): targets start from now.
    }
    store.retention.hold(this.holdName, () => {
      let low = Infinity;
      for (const r of this.running.values()) low = Math.min(low, this.cursors[r.key] ?? low);
      return Number.isFinite(low) ? low : store.committedSeq() + 1;
    });
  }

  /** Starts delivering; rereads configurations every configPollMs. */
  start(): void {
    this.sync();
    this.pollTimer = setInterval(() => this.sync(), this.options.configPollMs ?? 2000);
    this.pollTimer.unref();
    this.flushTimer = setInterval(() => void this.flush(), this.options.cursorFlushMs ?? 1000);
    this.flushTimer.unref();
  }

  /** Rereads the configurations now; resolves when targets are (re)started. */
  sync(): Promise<void> {
    this.syncing = this.syncing.then(() => this.syncNow()).catch(() => undefined);
    return this.syncing;
  }

  /** The next seq each target will deliver (key: `bucket/id`). */
  positions(): Record<string, number> {
    return { ...this.cursors };
  }

  private async syncNow(): Promise<void> {
    if (this.stopped) return;
    const wanted = new Map<string, { bucket: string; target: WebhookTarget }>();
    for (const { bucket, value } of await this.store.bucketConfigs.list<NotificationConfig>(
      'notification',
    )) {
      let config: NotificationConfig;
      try {
        config = validateNotificationConfig(value);
      } catch {
        continue;
      }
      for (const target of config.webhooks)
        wanted.set(`${bucket}/${target.id}`, { bucket, target });
    }
    for (const [key, r] of this.running) {
      const w = wanted.get(key);
      if (w === undefined || JSON.stringify(w.target) !== JSON.stringify(r.target)) {
        r.abort.abort();
        await r.done;
        this.running.delete(key);
        if (w === undefined) {
          delete this.cursors[key];
          this.dirty = true;
        }
      }
    }
    for (const [key, { bucket, target }] of wanted) {
      if (this.stopped || this.running.has(key)) continue;
      if (this.cursors[key] === undefined) {
        this.cursors[key] = this.store.committedSeq() + 1; // from now
        this.dirty = true;
      }
      const abort = new AbortController();
      const r: Running = { key, bucket, target, abort, done: Promise.resolve() };
      r.done = this.deliverLoop(r).catch((error: unknown) => {
        this.options.onError?.(bucket, target.id, error);
      });
      this.running.set(key, r);
    }
  }

  private async deliverLoop(r: Running): Promise<void> {
    const { target, bucket, abort } = r;
    const events = target.events ?? NOTIFICATION_EVENTS;
    // Unfiltered, so that the cursor (and the retention hold) moves with
    // the whole feed, not only with this bucket's events.
    const watcher = this.store.watch({ since: this.cursors[r.key]!, signal: abort.signal });
    for await (const event of watcher) {
      const wanted =
        event.bucket === bucket &&
        (events as readonly string[]).includes(event.type) &&
        (target.prefix === undefined || event.key.startsWith(target.prefix)) &&
        (target.suffix === undefined || event.key.endsWith(target.suffix));
      if (wanted) {
        const delivered = await this.deliver(r, event);
        if (!delivered) return; // stopped
      }
      this.cursors[r.key] = event.seq + 1;
      this.dirty = true;
    }
  }

  /** POSTs until 2xx (or attemptsMax); false when stopped first. */
  private async deliver(r: Running, event: ChangeEvent): Promise<boolean> {
    const body = notificationBody(event);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-tessera-event-seq': String(event.seq),
    };
    if (r.target.secret !== undefined) {
      headers['x-tessera-signature'] =
        'sha256=' + createHmac('sha256', r.target.secret).update(body).digest('hex');
    }
    const base = this.options.retryBaseMs ?? 200;
    const max = this.options.retryMaxMs ?? 60_000;
    const attemptsMax = this.options.attemptsMax ?? 0;
    for (let attempt = 1; ; attempt++) {
      if (r.abort.signal.aborted) return false;
      let status: number | undefined;
      try {
        const res = await fetch(r.target.url, {
          method: 'POST',
          headers,
          body,
          // Not cut by stop(): a POST in flight finishes (or times out) so
          // that an event the receiver took is not delivered again.
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
        });
        status = res.status;
        await res.arrayBuffer().catch(() => undefined);
        if (res.ok) {
          this.options.onDelivery?.({
            bucket: r.bucket,
            id: r.target.id,
            seq: event.seq,
            ok: true,
            attempts: attempt,
            status,
          });
          return true;
        }
        this.options.onError?.(r.bucket, r.target.id, new Error(`HTTP ${status}`));
      } catch (error) {
        if (r.abort.signal.aborted) return false;
        this.options.onError?.(r.bucket, r.target.id, error);
      }
      if (attemptsMax > 0 && attempt >= attemptsMax) {
        this.options.onDelivery?.({
          bucket: r.bucket,
          id: r.target.id,
          seq: event.seq,
          ok: false,
          attempts: attempt,
          ...(status !== undefined ? { status } : {}),
        });
        return true; // dropped: move on
      }
      // Full jitter: uniform in [0, min(max, base * 2^(attempt-1))].
      const ceiling = Math.min(max, base * 2 ** Math.min(attempt - 1, 30));
      await sleep(Math.random() * ceiling, r.abort.signal);
    }
  }

  /** Writes the cursors durably when they changed. */
  flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      if (!this.dirty) return;
      this.dirty = false;
      const text = JSON.stringify({ format: 1, cursors: this.cursors });
      const tmp = `${this.cursorFile}.tmp`;
      try {
        const fh = await open(tmp, 'w');
        try {
          await fh.writeFile(text);
          await fh.sync();
        } finally {
          await fh.close();
        }
        await rename(tmp, this.cursorFile);
        const dir = await open(dirname(this.cursorFile), 'r');
        try {
          await dir.sync();
        } finally {
          await dir.close();
        }
      } catch (error) {
        this.dirty = true;
        this.options.onError?.('', '', error);
      }
    });
    return this.flushing;
  }

  /** Stops every target, flushes the cursors and releases the retention hold. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.pollTimer);
    clearInterval(this.flushTimer);
    await this.syncing;
    for (const r of this.running.values()) r.abort.abort();
    await Promise.all([...this.running.values()].map((r) => r.done));
    this.running.clear();
    await this.flush();
    this.store.retention.release(this.holdName);
  }
}

/**
 * The gateway's notifier: a WebhookNotifier with its deliveries counted in
 * `registry` (tessera_notification_*) and failures logged; undefined when
 * the store's engine has no change feed.
 */
export function startNotifications(
  store: Store,
  registry: Registry,
  logger: Logger,
  options: WebhookNotifierOptions = {},
): WebhookNotifier | undefined {
  try {
    store.committedSeq();
  } catch {
    return undefined; // an engine without a change feed (test models)
  }
  const registers = [registry];
  const deliveries = new Counter({
    name: 'tessera_notification_deliveries_total',
    help: 'Webhook events finished: delivered (2xx) or dropped after attemptsMax',
    labelNames: ['result'],
    registers,
  });
  const failures = new Counter({
    name: 'tessera_notification_failed_attempts_total',
    help: 'Webhook POSTs that failed (error, timeout or non-2xx) and will be retried',
    registers,
  });
  const notifier = new WebhookNotifier(store, {
    ...options,
    onDelivery: (d) => {
      deliveries.inc({ result: d.ok ? 'delivered' : 'dropped' });
      if (!d.ok)
        logger.warn({ bucket: d.bucket, webhook: d.id, seq: d.seq }, 'webhook event dropped');
      options.onDelivery?.(d);
    },
    onError: (bucket, id, error) => {
      failures.inc();
      logger.debug({ bucket, webhook: id, err: error }, 'webhook attempt failed');
      options.onError?.(bucket, id, error);
    },
  });
  notifier.start();
  return notifier;
}
