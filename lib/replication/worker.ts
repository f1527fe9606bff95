/**
 * One replication worker: the events of one source bucket, sent to the
 * destination of one rule.
 *
 * The queue is the change log itself. The worker reads it from its durable
 * cursor (`applied`: every event up to it is done), keeps at most `window`
 * matching events in flight, and runs them in lanes: events of the same key
 * one after the other in commit-sequence order, different keys in
 * parallel. An event is done when the target acknowledged it (or it was
 * found already applied, superseded, or failed for good). Completed events
 * above `applied` are persisted too (`done`), and the next event of a key
 * starts only once its predecessor's completion is durable, so after a
 * crash at most one event per key is in doubt.
 *
 * An event in doubt (dispatched before a restart, or after a request whose
 * outcome is unknown) is checked on the target before it is applied again:
 * a PUT carries `x-amz-meta-tessera-replica-seq`, and an object whose tag is
 * at or above the event's sequence is not written again. Ordering never
 * looks at a clock; only sequences are compared.
 */
import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Store } from '../store/store';
import type { ObjectInfo } from '../store/types';
import { type BackoffOptions, type CircuitBreaker, backoffMs, monotonicMs } from './breaker';
import type { ChangeEvent, ChangeFeed } from './feed';
import type { ReplicationMetrics } from './metrics';
import type { ReplicationRule } from './rules';
import { ReplicationTargetError, type S3TargetClient, encodeMetaValue } from './s3_client';

export const SEQ_TAG = 'tessera-replica-seq';
export const VERSION_TAG = 'tessera-replica-version';

export interface FailedEntry {
  seq: number;
  key: string;
  versionId: string;
  code: string;
}

/** What a worker persists (inside the bucket's cursor document). */
export interface WorkerCursor {
  /** Fingerprint of the destination (endpoint + bucket): a new one restarts the cursor. */
  target: string;
  applied: number;
  done: number[];
  /** Every event up to this may have been dispatched before a restart. */
  dispatched: number;
  backfill?: { after?: string; complete: boolean };
  failed: FailedEntry[];
}

export interface WorkerOptions {
  window: number;
  backoff: BackoffOptions;
  /** Attempts before an event that fails with a permanent (4xx) error is recorded FAILED. */
  permanentAttempts: number;
  /** Dispatch marks are persisted this far ahead (fewer fsyncs). */
  dispatchAhead: number;
  queueAlertDepth: number;
  /** Objects larger than this go to the destination as a multipart upload (default 5 GiB, S3's single-PUT limit). */
  multipartThresholdBytes: number;
  /** Part size of those uploads (at least 5 MiB; raised so an object needs at most 10 000 parts). */
  multipartPartBytes: number;
  /** Attempts per part before the whole upload is aborted and the event retried. */
  partAttempts: number;
  inDoubtWaitMs: number;
}

/** S3's limits for multipart uploads. */
const PART_BYTES_MIN = 5 * 1024 * 1024;
const PARTS_MAX = 10_000;

export interface WorkerStatus {
  ruleId: string;
  endpoint: string;
  destinationBucket: string;
  breaker: string;
  applied: number;
  head: number | undefined;
  queueDepth: number;
  inFlight: number;
  lagSeconds: number;
  replicated: number;
  failed: number;
  backfill: 'none' | 'running' | 'complete';
  queueAlert: boolean;
  lastError?: string;
}

const FAILED_KEEP = 1000;

export class ReplicationWorker {
  applied: number;
  private readonly finished = new Set<number>();
  private readonly order: number[] = [];
  private readonly observedAt = new Map<number, number>();
  private readonly lanes = new Map<string, Promise<void>>();
  private readonly pendingKeys = new Map<string, number>();
  private readonly failedKeys = new Set<string>();
  private failed: FailedEntry[];
  private readonly startupDispatched: number;
  private dispatchedDurable: number;
  private inFlight = 0;
  private slotWaiters: Array<() => void> = [];
  private observedHigh: number;
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;
  private backfillState: WorkerCursor['backfill'];
  private replicatedCount = 0;
  private lastError: string | undefined;
  private alerted = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    readonly bucket: string,
    readonly rule: ReplicationRule,
    private readonly store: Store,
    private readonly feed: ChangeFeed,
    private readonly client: S3TargetClient,
    private readonly breaker: CircuitBreaker,
    cursor: WorkerCursor,
    /** Persists the bucket's cursor document; resolves once durable. */
    private readonly persist: () => Promise<void>,
    private readonly options: WorkerOptions,
    private readonly metrics: ReplicationMetrics,
    private readonly logger: Logger,
    /** Called with each event once the target has it (benchmarks, tests). */
    private readonly onApplied?: (event: ChangeEvent) => void,
  ) {
    this.applied = cursor.applied;
    for (const seq of cursor.done) if (seq > this.applied) this.finished.add(seq);
    this.failed = cursor.failed.slice(-FAILED_KEEP);
    for (const f of this.failed) this.failedKeys.add(`${f.key}\u0000${f.versionId}`);
    this.startupDispatched = cursor.dispatched;
    this.dispatchedDurable = cursor.dispatched;
    this.observedHigh = cursor.applied;
    this.backfillState = cursor.backfill;
  }

  static fingerprint(rule: ReplicationRule): string {
    return `${rule.destination.endpoint}/${rule.destination.bucket}`;
  }

  /** The cursor as persisted now. */
  cursor(): WorkerCursor {
    const out: WorkerCursor = {
      target: ReplicationWorker.fingerprint(this.rule),
      applied: this.applied,
      done: [...this.finished].filter((s) => s > this.applied).sort((a, b) => a - b),
      dispatched: Math.max(this.dispatchedDurable, this.applied),
      failed: this.failed,
    };
    if (this.backfillState) out.backfill = this.backfillState;
    return out;
  }

  get holdName(): string {
    return `replication:${this.bucket}:${this.rule.id}`;
  }

  start(): void {
    // Every lane waits on this signal (window of them at once).
    setMaxListeners(this.options.window * 4 + 16, this.abort.signal);
    // The lowest sequence still needed: the first one not known done.
    this.feed.retention?.hold(this.holdName, () => this.applied + 1);
    this.running = this.loop();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running?.catch(() => undefined);
    await Promise.allSettled([...this.lanes.values()]);
  }

  release(): void {
    this.feed.retention?.release(this.holdName);
  }

  private matches(key: string): boolean {
    return this.rule.prefix === undefined || key.startsWith(this.rule.prefix);
  }

  private async loop(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      try {
        if (this.backfillState && !this.backfillState.complete) await this.backfill();
        for await (const event of this.feed.watch({
          bucket: this.bucket,
          since: this.applied + 1,
          signal,
        })) {
          if (event.seq <= this.applied || event.bucket !== this.bucket) continue;
          if (this.order.includes(event.seq)) continue;
          this.observedHigh = Math.max(this.observedHigh, event.seq);
          // Done before a restart (persisted), or outside the rule's prefix.
          if (this.finished.has(event.seq) || !this.matches(event.key)) {
            this.order.push(event.seq);
            this.finished.add(event.seq);
            this.advance();
            continue;
          }
          await this.slot(signal);
          if (event.seq > this.dispatchedDurable) {
            this.dispatchedDurable = event.seq + this.options.dispatchAhead;
            await this.persist();
          }
          this.dispatch(event);
        }
      } catch (error) {
        if (signal.aborted) return;
        this.lastError = describe(error);
        if ((error as { code?: unknown }).code === 'NoSuchBucket') {
          // The bucket was deleted (its rules and cursor went with it).
          this.logger.warn(
            { bucket: this.bucket, rule: this.rule.id },
            'bucket gone: worker stops',
          );
          return;
        }
        this.logger.error(
          { bucket: this.bucket, rule: this.rule.id, err: this.lastError },
          'replication feed read failed; retrying',
        );
        await sleep(1000, undefined, { signal }).catch(() => undefined);
      }
    }
  }

  private slot(signal: AbortSignal): Promise<void> {
    if (this.inFlight < this.options.window) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(signal.reason as Error);
      signal.addEventListener('abort', onAbort, { once: true });
      this.slotWaiters.push(() => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
    }).then(() => this.slot(signal));
  }

  private dispatch(event: ChangeEvent): void {
    this.inFlight++;
    this.order.push(event.seq);
    this.observedAt.set(event.seq, monotonicMs());
    this.pendingKeys.set(event.key, (this.pendingKeys.get(event.key) ?? 0) + 1);
    const previous = this.lanes.get(event.key) ?? Promise.resolve();
    const lane = previous
      .then(() => this.applyWithRetry(event))
      .then(async (outcome) => {
        this.finished.add(event.seq);
        const started = this.observedAt.get(event.seq);
        this.observedAt.delete(event.seq);
        if (outcome === 'applied') {
          this.replicatedCount++;
          this.metrics.replicated.inc({ bucket: this.bucket, rule: this.rule.id });
          if (started !== undefined) {
            this.metrics.eventLag.observe((monotonicMs() - started) / 1000);
          }
        }
        this.advance();
        // The next event of this key waits until this completion is durable.
        await this.persist();
        const left = (this.pendingKeys.get(event.key) ?? 1) - 1;
        if (left === 0) this.pendingKeys.delete(event.key);
        else this.pendingKeys.set(event.key, left);
        if (outcome === 'applied') this.onApplied?.(event);
      })
      .catch(() => undefined)
      .finally(() => {
        this.inFlight--;
        const wake = this.slotWaiters.shift();
        wake?.();
        if (this.lanes.get(event.key) === lane) this.lanes.delete(event.key);
        this.checkIdle();
      });
    this.lanes.set(event.key, lane);
  }

  private advance(): void {
    while (this.order.length > 0 && this.finished.has(this.order[0]!)) {
      const seq = this.order.shift()!;
      this.finished.delete(seq);
      this.applied = Math.max(this.applied, seq);
    }
    this.updateGauges();
  }

  private async applyWithRetry(event: ChangeEvent): Promise<'applied' | 'skipped' | 'failed'> {
    const signal = this.abort.signal;
    let uncertain = event.seq <= this.startupDispatched;
    let permanentFailures = 0;
    for (let attempt = 0; ; attempt++) {
      signal.throwIfAborted();
      const probe = await this.breaker.acquire(signal);
      try {
        const outcome = await this.applyOnce(event, uncertain);
        this.breaker.success();
        return outcome;
      } catch (error) {
        if (signal.aborted) throw error;
        const target = error instanceof ReplicationTargetError ? error : undefined;
        if (target?.uncertain !== false) uncertain = true;
        if (target?.mayLand && (await this.awaitInDoubt(event))) {
          this.breaker.success();
          return 'applied';
        }
        this.lastError = describe(error);
        const kind = target ? (target.permanent ? 'permanent' : 'transient') : 'source';
        this.metrics.failures.inc({ bucket: this.bucket, rule: this.rule.id, kind });
        if (target?.permanent || !target) {
          // The target answered (it is alive) but refuses, or the source cannot be read.
          if (target) this.breaker.success();
          else if (probe) this.breaker.success();
          if (++permanentFailures >= this.options.permanentAttempts) {
            this.recordFailed(event, target?.s3Code ?? codeOf(error));
            return 'failed';
          }
        } else {
          this.breaker.failure();
        }
        this.logger.warn(
          {
            bucket: this.bucket,
            rule: this.rule.id,
            key: event.key,
            seq: event.seq,
            attempt,
            err: this.lastError,
          },
          'replication attempt failed',
        );
        await sleep(backoffMs(attempt, this.options.backoff), undefined, { signal });
      }
    }
  }

  /**
   * After a write of `event` timed out with its whole request sent, the
   * destination may still commit it. Sending it again at once could
   * duplicate it (a versioned destination) or, worse, let it land after the
   * key's next event (reordering). So the worker watches the destination
   * (HEAD, with the replica tags) for up to inDoubtWaitMs, and resolves
   * true as soon as the write is seen applied. False when the wait ends
   * first: the caller sends it again (the remaining risk is documented).
   */
  private async awaitInDoubt(event: ChangeEvent): Promise<boolean> {
    const signal = this.abort.signal;
    const deadline = monotonicMs() + this.options.inDoubtWaitMs;
    for (let poll = 0; ; poll++) {
      try {
        if (await this.landed(event)) return true;
      } catch (error) {
        if (signal.aborted) throw error;
      }
      const left = deadline - monotonicMs();
      if (left <= 0) break;
      await sleep(Math.min(left, 50 * 2 ** Math.min(poll, 4)), undefined, { signal });
    }
    this.logger.warn(
      { bucket: this.bucket, rule: this.rule.id, key: event.key, seq: event.seq },
      'timed-out write not seen on the destination within the in-doubt wait; sending it again',
    );
    return false;
  }

  /** Whether the destination shows `event` applied (or superseded). */
  private async landed(event: ChangeEvent): Promise<boolean> {
    if (!event.deleteMarker && event.type === 'created') {
      const current = await this.client.headObject(this.rule.destination.bucket, event.key);
      return current !== undefined && Number(current.metadata[SEQ_TAG] ?? -1) >= event.seq;
    }
    return !(await this.deleteNeeded(event));
  }

  private recordFailed(event: Pick<ChangeEvent, 'seq' | 'key' | 'versionId'>, code: string): void {
    this.failed.push({ seq: event.seq, key: event.key, versionId: event.versionId, code });
    this.failedKeys.add(`${event.key}\u0000${event.versionId}`);
    if (this.failed.length > FAILED_KEEP) {
      const dropped = this.failed.shift()!;
      this.failedKeys.delete(`${dropped.key}\u0000${dropped.versionId}`);
    }
    this.logger.error(
      { bucket: this.bucket, rule: this.rule.id, key: event.key, seq: event.seq, code },
      'replication of a version failed for good (FAILED)',
    );
  }

  private async versioning(): Promise<string> {
    return (await this.store.getBucket(this.bucket))?.versioning ?? 'Disabled';
  }

  /** Applies one event; the outcome says whether anything was sent. */
  private async applyOnce(event: ChangeEvent, uncertain: boolean): Promise<'applied' | 'skipped'> {
    const dest = this.rule.destination;
    if (!event.deleteMarker && event.type === 'created') {
      if (uncertain) {
        const current = await this.client.headObject(dest.bucket, event.key);
        if (current && Number(current.metadata[SEQ_TAG] ?? -1) >= event.seq) return 'skipped';
      }
      const source = this.store.bucket(this.bucket);
      const info = await source.head(event.key, { versionId: event.versionId });
      // Gone (a later event covers it) or overwritten in place (unversioned).
      if (!info || info.etag !== event.etag) return 'skipped';
      await this.putVersion(info, event.seq);
      return 'applied';
    }
    // A delete: a delete marker, or a delete in an unversioned bucket.
    if (!event.deleteMarker) {
      const permanentVersionDelete =
        event.versionId !== 'null' || (await this.versioning()) !== 'Disabled';
      // Deleting one version for good is not replicated (as S3 does).
      if (permanentVersionDelete) return 'skipped';
    }
    if (!this.rule.deleteMarkerReplication) return 'skipped';
    if (uncertain && !(await this.deleteNeeded(event))) return 'skipped';
    await this.client.deleteObject(dest.bucket, event.key);
    return 'applied';
  }

  /**
   * Whether a delete whose outcome is unknown still has to be sent. The
   * events of a key before this one are all applied (lanes), later ones not
   * yet. A delete marker is applied when the destination has at least as
   * many delete markers on top of its newest version as the source has up
   * to this one; any other delete when the key is gone or newer.
   */
  private async deleteNeeded(event: ChangeEvent): Promise<boolean> {
    const dest = this.rule.destination;
    if (event.deleteMarker) {
      let sourceMarkers = -1;
      let counting = false;
      for await (const v of this.store.bucket(this.bucket).listVersions({ prefix: event.key })) {
        if (v.key !== event.key) continue;
        if (!counting && v.versionId === event.versionId) {
          counting = true;
          sourceMarkers = 0;
        }
        if (!counting) continue;
        if (!v.deleteMarker) break;
        sourceMarkers++;
      }
      if (sourceMarkers > 0) {
        let targetMarkers = 0;
        for (const v of await this.client.listKeyVersions(dest.bucket, event.key)) {
          if (!v.deleteMarker) break;
          targetMarkers++;
        }
        return targetMarkers < sourceMarkers;
      }
    }
    const current = await this.client.headObject(dest.bucket, event.key);
    if (!current) return false;
    return Number(current.metadata[SEQ_TAG] ?? -1) <= event.seq;
  }

  /** Streams one source version to the destination with its metadata and tags. */
  async putVersion(info: ObjectInfo, seq: number): Promise<void> {
    const headers: Record<string, string> = {};
    if (info.contentType !== undefined) headers['content-type'] = info.contentType;
    for (const [name, value] of Object.entries(info.metadata)) {
      headers[`x-amz-meta-${name}`] = encodeMetaValue(value);
    }
    const h = info.headers;
    if (h?.cacheControl !== undefined) headers['cache-control'] = h.cacheControl;
    if (h?.contentDisposition !== undefined) headers['content-disposition'] = h.contentDisposition;
    if (h?.contentEncoding !== undefined) headers['content-encoding'] = h.contentEncoding;
    if (h?.contentLanguage !== undefined) headers['content-language'] = h.contentLanguage;
    if (h?.expires !== undefined) headers.expires = h.expires;
    headers[`x-amz-meta-${SEQ_TAG}`] = String(seq);
    headers[`x-amz-meta-${VERSION_TAG}`] = encodeMetaValue(info.versionId);
    const source = this.store.bucket(this.bucket);
    if (info.size > this.options.multipartThresholdBytes) {
      await this.putMultipart(info, headers);
      return;
    }
    if (info.size <= 256 * 1024) {
      const got = await source.get(info.key, { versionId: info.versionId, info });
      if (!got) throw new Error(`source version vanished: ${info.key}`);
      await this.client.putObject(
        this.rule.destination.bucket,
        info.key,
        got.body,
        got.size,
        headers,
      );
      return;
    }
    const streamed = await source.getStream(info.key, {
      versionId: info.versionId,
      info,
      highWaterMark: 256 * 1024,
    });
    if (!streamed) throw new Error(`source version vanished: ${info.key}`);
    await this.client.putObject(
      this.rule.destination.bucket,
      info.key,
      streamed.stream,
      info.size,
      headers,
    );
  }

  /**
   * A version larger than the single-PUT threshold, as a multipart upload:
   * each part streamed from a range of the source (memory bounded by the
   * stream's highWaterMark), retried on its own. Nothing is visible on the
   * destination before Complete, so an interrupted upload never shows a
   * partial object; on failure the upload is aborted (best effort), and
   * before a new upload of a key every incomplete upload of that key is
   * aborted (events of a key run one at a time and nobody else writes the
   * destination bucket, so such an upload is ours, left by a crash).
   */
  private async putMultipart(info: ObjectInfo, headers: Record<string, string>): Promise<void> {
    const dest = this.rule.destination.bucket;
    const key = info.key;
    await this.abortStaleUploads(key);
    const partBytes = Math.max(
      this.options.multipartPartBytes,
      PART_BYTES_MIN,
      Math.ceil(info.size / PARTS_MAX),
    );
    const uploadId = await this.client.createMultipartUpload(dest, key, headers);
    const signal = this.abort.signal;
    try {
      const parts: Array<{ partNumber: number; etag: string }> = [];
      for (let start = 0, partNumber = 1; start < info.size; start += partBytes, partNumber++) {
        const end = Math.min(start + partBytes, info.size) - 1;
        parts.push({
          partNumber,
          etag: await this.uploadPart(info, uploadId, partNumber, start, end),
        });
        signal.throwIfAborted();
      }
      await this.client.completeMultipartUpload(dest, key, uploadId, parts);
    } catch (error) {
      // Aborting after an uncertain Complete is safe: either the object
      // committed (the abort finds nothing) or it never will.
      await this.client
        .abortMultipartUpload(dest, key, uploadId)
        .catch((e: unknown) =>
          this.logger.warn(
            { bucket: this.bucket, rule: this.rule.id, key, err: describe(e) },
            'abort of a failed multipart upload failed (aborted before the next one)',
          ),
        );
      throw error;
    }
  }

  private async uploadPart(
    info: ObjectInfo,
    uploadId: string,
    partNumber: number,
    start: number,
    end: number,
  ): Promise<string> {
    const signal = this.abort.signal;
    const source = this.store.bucket(this.bucket);
    for (let attempt = 0; ; attempt++) {
      const streamed = await source.getStream(info.key, {
        versionId: info.versionId,
        info,
        range: { start, end },
        highWaterMark: 256 * 1024,
      });
      if (!streamed) throw new Error(`source version vanished: ${info.key}`);
      try {
        return await this.client.uploadPart(
          this.rule.destination.bucket,
          info.key,
          uploadId,
          partNumber,
          streamed.stream,
          end - start + 1,
        );
      } catch (error) {
        streamed.stream.destroy();
        const target = error instanceof ReplicationTargetError ? error : undefined;
        if (!target || target.permanent || attempt + 1 >= this.options.partAttempts) throw error;
        this.metrics.failures.inc({ bucket: this.bucket, rule: this.rule.id, kind: 'transient' });
        this.logger.warn(
          {
            bucket: this.bucket,
            rule: this.rule.id,
            key: info.key,
            partNumber,
            attempt,
            err: describe(error),
          },
          'replication part upload failed; retrying the part',
        );
        await sleep(backoffMs(attempt, this.options.backoff), undefined, { signal });
      }
    }
  }

  /** Aborts every incomplete upload of `key` on the destination (left by a crash or a failed abort). */
  private async abortStaleUploads(key: string): Promise<void> {
    const dest = this.rule.destination.bucket;
    let ids: string[];
    try {
      ids = await this.client.listKeyUploads(dest, key);
    } catch (error) {
      // Some S3 implementations do not list uploads (501); nothing to clean then.
      if (error instanceof ReplicationTargetError && error.permanent) return;
      if (error instanceof ReplicationTargetError && error.status === 501) return;
      throw error;
    }
    for (const id of ids) {
      await this.client.abortMultipartUpload(dest, key, id);
      this.logger.info(
        { bucket: this.bucket, rule: this.rule.id, key },
        'aborted a stale multipart upload',
      );
    }
  }

  /**
   * Copies what the bucket holds now (every version, oldest first, when it
   * is versioned), resumable by key. Runs before the worker reads the log
   * from the sequence the rule was created at.
   */
  private async backfill(): Promise<void> {
    const signal = this.abort.signal;
    const source = this.store.bucket(this.bucket);
    const state = this.backfillState!;
    this.logger.info({ bucket: this.bucket, rule: this.rule.id }, 'replication backfill started');
    let batch: string[] = [];
    const flush = async () => {
      await Promise.all(batch.map((key) => this.backfillKey(key)));
      if (batch.length > 0) state.after = batch[batch.length - 1]!;
      batch = [];
      await this.persist();
    };
    for await (const entry of source.list({
      ...(this.rule.prefix !== undefined ? { prefix: this.rule.prefix } : {}),
      ...(state.after !== undefined ? { startAfter: state.after } : {}),
      signal,
    })) {
      if (entry.type !== 'object') continue;
      batch.push(entry.key);
      if (batch.length >= this.options.window) await flush();
    }
    await flush();
    state.complete = true;
    delete state.after;
    await this.persist();
    this.logger.info({ bucket: this.bucket, rule: this.rule.id }, 'replication backfill complete');
  }

  private async backfillKey(key: string): Promise<void> {
    const signal = this.abort.signal;
    const source = this.store.bucket(this.bucket);
    for (let attempt = 0; ; attempt++) {
      signal.throwIfAborted();
      await this.breaker.acquire(signal);
      try {
        const info = await source.head(key);
        if (!info) return;
        const current = await this.client.headObject(this.rule.destination.bucket, key);
        const seq = (info as ObjectInfo & { sequence?: number }).sequence ?? 0;
        if (
          current &&
          current.metadata[VERSION_TAG] === info.versionId &&
          (current.etag === info.etag ||
            // A multipart replica has its own ETag: its tags and size decide.
            (info.size > this.options.multipartThresholdBytes &&
              current.size === info.size &&
              Number(current.metadata[SEQ_TAG] ?? -1) === seq))
        ) {
          this.breaker.success();
          return;
        }
        await this.putVersion(info, seq);
        this.breaker.success();
        this.replicatedCount++;
        return;
      } catch (error) {
        const target = error instanceof ReplicationTargetError ? error : undefined;
        this.lastError = describe(error);
        if (!target || target.permanent) {
          if (attempt + 1 >= this.options.permanentAttempts) {
            this.recordFailed({ seq: 0, key, versionId: 'null' }, target?.s3Code ?? codeOf(error));
            return;
          }
        } else this.breaker.failure();
        await sleep(backoffMs(attempt, this.options.backoff), undefined, { signal });
      }
    }
  }

  /** Whether this rule replicates `key`. */
  covers(key: string): boolean {
    return this.matches(key);
  }

  /**
   * The bytes of `info` as the destination holds them, or undefined when the
   * destination's current object is not that version (its replica tag, size
   * and ETag must match, and the MD5 of the bytes received must equal the
   * source ETag: a multipart ETag cannot be checked, so it is never used).
   */
  async fetchReplica(info: ObjectInfo, maxBytes: number): Promise<Buffer | undefined> {
    if (!/^[0-9a-f]{32}$/.test(info.etag) || info.size > maxBytes) return undefined;
    const got = await this.client.getObject(this.rule.destination.bucket, info.key);
    if (!got) return undefined;
    if (got.metadata[VERSION_TAG] !== info.versionId || got.size !== info.size) {
      got.stream.resume();
      return undefined;
    }
    const md5 = createHash('md5');
    const parts: Buffer[] = [];
    let n = 0;
    for await (const chunk of got.stream as AsyncIterable<Buffer>) {
      n += chunk.length;
      if (n > info.size) {
        got.stream.destroy();
        return undefined;
      }
      md5.update(chunk);
      parts.push(chunk);
    }
    if (n !== info.size || md5.digest('hex') !== info.etag) return undefined;
    return Buffer.concat(parts, n);
  }

  /** PENDING / COMPLETED / FAILED of one version for this rule, or undefined when the rule does not cover the key. */
  objectStatus(
    key: string,
    versionId: string,
    sequence: number | undefined,
    head: number | undefined,
  ): 'PENDING' | 'COMPLETED' | 'FAILED' | undefined {
    if (!this.matches(key)) return undefined;
    if (this.failedKeys.has(`${key}\u0000${versionId}`)) return 'FAILED';
    if (this.backfillState && !this.backfillState.complete) return 'PENDING';
    if (sequence !== undefined) {
      return sequence > this.applied && !this.finished.has(sequence) ? 'PENDING' : 'COMPLETED';
    }
    if (this.pendingKeys.has(key)) return 'PENDING';
    // Not seen yet: pending until the worker has read the log up to its head.
    if (head !== undefined && Math.max(this.observedHigh, this.applied) < head) return 'PENDING';
    return 'COMPLETED';
  }

  private queueDepth(head: number | undefined): number {
    const known = this.order.length;
    return head === undefined ? known : Math.max(known, head - this.applied);
  }

  private updateGauges(): void {
    const labels = { bucket: this.bucket, rule: this.rule.id };
    this.metrics.applied.set(labels, this.applied);
    this.metrics.lag.set(labels, this.lagSeconds());
  }

  private lagSeconds(): number {
    let oldest = Infinity;
    for (const at of this.observedAt.values()) oldest = Math.min(oldest, at);
    return oldest === Infinity ? 0 : (monotonicMs() - oldest) / 1000;
  }

  async status(): Promise<WorkerStatus> {
    // Idle at the end of the log: nothing queued, whatever the store wrote
    // since (its own internal records count in the head, not in the queue).
    const idle = await this.probeIdle().catch(() => false);
    const head = this.feed.head ? await this.feed.head() : undefined;
    const depth = idle ? this.order.length : this.queueDepth(head);
    const labels = { bucket: this.bucket, rule: this.rule.id };
    this.metrics.queueDepth.set(labels, depth);
    this.metrics.lag.set(labels, this.lagSeconds());
    const alert = depth > this.options.queueAlertDepth;
    this.metrics.queueAlert.set(labels, alert ? 1 : 0);
    const breaker = this.breaker.state;
    this.metrics.breakerOpen.set(
      labels,
      breaker === 'closed' ? 0 : breaker === 'half-open' ? 1 : 2,
    );
    if (alert && !this.alerted) {
      this.logger.warn(
        { bucket: this.bucket, rule: this.rule.id, depth, threshold: this.options.queueAlertDepth },
        'replication queue above its alert threshold',
      );
    }
    this.alerted = alert;
    const out: WorkerStatus = {
      ruleId: this.rule.id,
      endpoint: this.rule.destination.endpoint,
      destinationBucket: this.rule.destination.bucket,
      breaker: this.breaker.state,
      applied: this.applied,
      head,
      queueDepth: depth,
      inFlight: this.inFlight,
      lagSeconds: this.lagSeconds(),
      replicated: this.replicatedCount,
      failed: this.failed.length,
      backfill: !this.backfillState ? 'none' : this.backfillState.complete ? 'complete' : 'running',
      queueAlert: alert,
    };
    if (this.lastError !== undefined) out.lastError = this.lastError;
    return out;
  }

  /**
   * When nothing is in flight, moves the cursor over log sequences that hold
   * no event of this bucket (other buckets, internal writes): watch() never
   * shows them, yet they count in the log head. Stops at the first event of
   * this bucket (watch() delivers it).
   */
  async probeIdle(): Promise<boolean> {
    if (!this.feed.changes) return false;
    let from = this.applied + 1;
    // Events in `order` are not done yet. A lane still in flight with an
    // empty `order` only waits for its completion to be persisted (its
    // event is already counted in `applied`): idle for the queue.
    for (let pages = 0; pages < 100; pages++) {
      if (this.order.length > 0) return false;
      const page = await this.feed.changes(from, 1000);
      if (this.order.length > 0) return false;
      const mine = page.events.find((e) => e.bucket === this.bucket && e.seq > this.applied);
      const upTo = (mine ? mine.seq : page.nextSeq) - 1;
      if (upTo > this.applied && from === this.applied + 1) {
        this.applied = upTo;
        this.observedHigh = Math.max(this.observedHigh, upTo);
        this.updateGauges();
      }
      if (mine) return false;
      if (page.nextSeq > page.committedSeq || page.events.length === 0) return true;
      from = page.nextSeq;
    }
    return false;
  }

  /** True when every event up to `seq` is done. */
  caughtUp(seq: number): boolean {
    return this.applied >= seq && (!this.backfillState || this.backfillState.complete);
  }

  /** Resolves when caughtUp(seq). */
  async waitFor(seq: number, signal?: AbortSignal): Promise<void> {
    while (!this.caughtUp(seq)) {
      signal?.throwIfAborted();
      await this.probeIdle();
      if (this.caughtUp(seq)) return;
      await new Promise<void>((resolve) => {
        this.idleWaiters.push(resolve);
        setTimeout(resolve, 50).unref();
      });
    }
  }

  private checkIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }
}

function codeOf(error: unknown): string {
  return String((error as { code?: unknown })?.code ?? 'Error');
}

/** An error as one line: code and message (our messages never carry credentials). */
export function describe(error: unknown): string {
  if (error instanceof Error) return `${codeOf(error)}: ${error.message}`;
  return String(error);
}
