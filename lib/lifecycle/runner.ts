/**
 * The background lifecycle pass (docs/lifecycle.md): walks every bucket
 * that has rules, expires what is due, aborts stale multipart uploads, at a
 * bounded rate of actions per second, resumably.
 *
 * Safety: every deletion is conditional on the version the scan looked at
 * (ETag and lastModified, or the exact version id): an object overwritten
 * after the scan decided, even with identical bytes, fails the condition
 * and is left alone (counted in `skipped`).
 *
 * Resumption: the pass records a cursor (bucket, phase, last key fully
 * handled) in the store's internal state every few hundred keys and when it
 * stops; after a restart the next pass continues from there. Re-examining
 * a few keys after a crash is harmless: expiry is idempotent.
 */
import { TesseraError } from '../errors';
import type { BucketConfigs } from '../store/bucket_config';
import type { StoreEngine } from '../store/engine';
import type { InflightTracker } from '../store/inflight';
import type { VersionEntry } from '../store/types';
import {
  type NormalizedRule,
  type StoredLifecycle,
  dueAfterDays,
  fromStored,
  matchesPrefix,
} from './rules';

export interface LifecycleOptions {
  /** Run passes in the background (default true; `store.lifecycle.run()` works either way). */
  enabled?: boolean;
  /** Deletions and aborts per second, at most (default 200). */
  objectsPerSecond?: number;
  /** Time between the end of a pass and the start of the next, ms (default 1 hour). */
  intervalMs?: number;
  /**
   * Current time in ms since the epoch, for deciding what is due (default
   * Date.now). Tests inject a fake clock; the rate bound uses real time.
   */
  clock?: () => number;
}

/** A multipart upload as the lifecycle sees it. */
export interface IncompleteUpload {
  bucket: string;
  key: string;
  uploadId: string;
  /** ISO 8601. */
  initiated: string;
}

/** Where incomplete multipart uploads live (the gateway's store by default). */
export interface IncompleteUploads {
  list(bucket: string): Promise<IncompleteUpload[]>;
  abort(upload: IncompleteUpload): Promise<void>;
}

export interface LifecycleReport {
  /** False when the pass stopped early (close(), an error); it resumes next time. */
  completed: boolean;
  /** Set when this pass continued an interrupted one. */
  resumedFrom?: { bucket: string; key?: string };
  buckets: number;
  /** Versions and delete markers looked at. */
  examined: number;
  /** Current objects expired (deleted, or hidden by a delete marker when versioned). */
  expired: number;
  noncurrentExpired: number;
  deleteMarkersRemoved: number;
  uploadsAborted: number;
  /** Deletions refused because the object changed after the scan looked at it. */
  skipped: number;
  error?: TesseraError;
}

interface Cursor {
  bucket: string;
  phase: 'versions' | 'uploads';
  /** Last entry of the last key fully handled. */
  after?: { key: string; versionId: string };
}

interface LifecycleState {
  format: 1;
  cursor?: Cursor;
  lastFinishedMs?: number;
}

const STATE_NAME = 'lifecycle';
const DEFAULT_RATE = 200;
const DEFAULT_INTERVAL_MS = 3_600_000;
/** Delay before the first pass after open, capped by intervalMs. */
const START_DELAY_MS = 30_000;
/** Save the cursor after this many examined entries. */
const CURSOR_EVERY = 500;
const PAGE = 1000;
/** Keys handled concurrently in a pass (deletions are still paced). */
const KEYS_IN_FLIGHT = 8;
/** How far behind its schedule the pacer may catch up (ms). */
const CATCH_UP_MS = 25;

export function validateLifecycleOptions(
  options: LifecycleOptions | undefined,
): Required<LifecycleOptions> {
  const o = options ?? {};
  if (typeof o !== 'object' || o === null) {
    throw new TesseraError('ERR_INVALID_ARG_TYPE', 'options.lifecycle must be an object');
  }
  if (o.enabled !== undefined && typeof o.enabled !== 'boolean') {
    throw new TesseraError('ERR_INVALID_ARG_TYPE', 'lifecycle.enabled must be a boolean');
  }
  const rate = o.objectsPerSecond ?? DEFAULT_RATE;
  if (typeof rate !== 'number' || !(rate > 0) || rate > 1_000_000) {
    throw new TesseraError(
      'ERR_OUT_OF_RANGE',
      `lifecycle.objectsPerSecond must be a number in (0, 1000000], got ${String(rate)}`,
    );
  }
  const interval = o.intervalMs ?? DEFAULT_INTERVAL_MS;
  if (!Number.isSafeInteger(interval) || interval < 1 || interval > 2 ** 31 - 1) {
    throw new TesseraError(
      'ERR_OUT_OF_RANGE',
      `lifecycle.intervalMs must be an integer in 1..${2 ** 31 - 1}, got ${String(interval)}`,
    );
  }
  if (o.clock !== undefined && typeof o.clock !== 'function') {
    throw new TesseraError('ERR_INVALID_ARG_TYPE', 'lifecycle.clock must be a function');
  }
  return {
    enabled: o.enabled ?? true,
    objectsPerSecond: rate,
    intervalMs: interval,
    clock: o.clock ?? Date.now,
  };
}

function isCode(error: unknown, ...codes: string[]): boolean {
  return error instanceof TesseraError && codes.includes(error.code);
}

/** Spaces actions 1/rate seconds apart on average (real time); cancellable. */
class Pacer {
  private next = 0;
  private readonly sleepers = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();

  /** A pass someone awaits keeps the process alive; a background one does not. */
  keepAlive = false;

  constructor(private readonly perSecond: number) {}

  /**
   * Reserves the next slot and resolves when it comes: action i of a busy
   * stretch starts no sooner than 1 ms before start + i/rate (concurrent
   * callers get distinct slots), so any window of T seconds holds at most
   * rate * (T + 0.026) + 1 actions. Timers are only set for waits of a
   * millisecond or more (Node's timer granularity).
   */
  async wait(): Promise<void> {
    const now = performance.now();
    // A late timer (a loaded machine) is made up for, up to 25 ms; longer
    // idle time earns no burst.
    const slot = now - this.next > CATCH_UP_MS ? now : this.next;
    this.next = slot + 1000 / this.perSecond;
    if (slot - now < 1) return;
    await new Promise<void>((resolve) => {
      const sleeper = {
        timer: setTimeout(() => sleeper.wake(), slot - now),
        wake: () => {
          clearTimeout(sleeper.timer);
          this.sleepers.delete(sleeper);
          resolve();
        },
      };
      if (!this.keepAlive) sleeper.timer.unref();
      this.sleepers.add(sleeper);
    });
  }

  cancel(): void {
    for (const sleeper of [...this.sleepers]) sleeper.wake();
  }
}

/** Groups a version listing by key (newest first within a key). */
async function* keyGroups(
  engine: StoreEngine,
  bucket: string,
  after: { key: string; versionId: string } | undefined,
): AsyncGenerator<VersionEntry[]> {
  let group: VersionEntry[] = [];
  let next = after;
  do {
    const page = await engine.listVersions(bucket, {
      prefix: '',
      maxKeys: PAGE,
      ...(next ? { after: next } : {}),
    });
    for (const version of page.versions) {
      if (group.length > 0 && group[0]!.key !== version.key) {
        yield group;
        group = [];
      }
      group.push(version);
    }
    next = page.next;
  } while (next !== undefined);
  if (group.length > 0) yield group;
}

export class LifecycleRunner {
  private readonly options: Required<LifecycleOptions>;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<LifecycleReport> | undefined;
  private stopping = false;
  private pacer: Pacer;
  private lastReport: LifecycleReport | undefined;

  /** @internal Created by Store. */
  constructor(
    private readonly engine: StoreEngine,
    private readonly inflight: InflightTracker,
    private readonly configs: BucketConfigs,
    private readonly uploads: IncompleteUploads | undefined,
    options: LifecycleOptions | undefined,
  ) {
    this.options = validateLifecycleOptions(options);
    this.pacer = new Pacer(this.options.objectsPerSecond);
  }

  /** The options in effect. */
  get settings(): Readonly<Required<LifecycleOptions>> {
    return this.options;
  }

  /** The report of the last pass that ran, if any. */
  get last(): LifecycleReport | undefined {
    return this.lastReport;
  }

  /** @internal Starts background passes (Store.open does, unless disabled). */
  start(): void {
    if (!this.options.enabled || this.stopping) return;
    void this.scheduleNext(true);
  }

  /**
   * Runs one pass now (or joins the pass under way) and resolves with its
   * report. Resumes an interrupted pass where it stopped.
   */
  run(): Promise<LifecycleReport> {
    return this.startPass(true);
  }

  private startPass(awaited: boolean): Promise<LifecycleReport> {
    if (this.stopping)
      return Promise.reject(new TesseraError('ERR_STORE_CLOSED', 'the store is closed'));
    if (awaited) this.pacer.keepAlive = true;
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
      this.pacer.keepAlive = false;
    });
    return this.running;
  }

  /** @internal Store.close(): cancels the timer, stops a pass after its current action. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.pacer.cancel();
    await this.running?.catch(() => undefined);
  }

  private async scheduleNext(first: boolean, failed = false): Promise<void> {
    if (this.stopping) return;
    // After a failed pass (I/O, quorum), wait a full interval: no busy retry.
    const delay = failed ? this.options.intervalMs : await this.nextDelay(first);
    if (this.stopping) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.startPass(false).then(
        (report) => void this.scheduleNext(false, report.error !== undefined),
        () => void this.scheduleNext(false, true),
      );
    }, delay);
    this.timer.unref();
  }

  /** Milliseconds until the next pass is due, from the durable state. */
  private async nextDelay(first: boolean): Promise<number> {
    const interval = this.options.intervalMs;
    const startDelay = Math.min(START_DELAY_MS, interval);
    let state: LifecycleState | undefined;
    try {
      state = await this.configs.getState<LifecycleState>(STATE_NAME);
    } catch {
      return interval; // the state could not be read (closing, I/O): retry later
    }
    if (state?.cursor !== undefined) return first ? startDelay : 0;
    if (state?.lastFinishedMs === undefined) return first ? startDelay : interval;
    const due = state.lastFinishedMs + interval - this.options.clock();
    return Math.max(first ? startDelay : 0, Math.min(due, interval));
  }

  private async pass(): Promise<LifecycleReport> {
    const report: LifecycleReport = {
      completed: false,
      buckets: 0,
      examined: 0,
      expired: 0,
      noncurrentExpired: 0,
      deleteMarkersRemoved: 0,
      uploadsAborted: 0,
      skipped: 0,
    };
    let cursor: Cursor | undefined;
    try {
      const state = await this.configs.getState<LifecycleState>(STATE_NAME);
      cursor = state?.cursor;
      if (cursor !== undefined) {
        report.resumedFrom = { bucket: cursor.bucket };
        if (cursor.after !== undefined) report.resumedFrom.key = cursor.after.key;
      }
      const all = await this.configs.list<StoredLifecycle>('lifecycle');
      for (const { bucket, value } of all) {
        if (cursor !== undefined && bucket < cursor.bucket) continue;
        const rules = fromStored(value).filter((r) => r.status === 'Enabled');
        const resume = cursor !== undefined && cursor.bucket === bucket ? cursor : undefined;
        cursor = { bucket, phase: 'versions' };
        report.buckets++;
        if (rules.length === 0) continue;
        if (resume?.phase !== 'uploads') {
          cursor = await this.versionsPhase(bucket, rules, resume?.after, report);
          if (this.stopping) break;
        }
        cursor = { bucket, phase: 'uploads' };
        await this.uploadsPhase(bucket, rules, report);
        if (this.stopping) break;
      }
      if (this.stopping) {
        if (cursor !== undefined) await this.saveState({ format: 1, cursor });
      } else {
        report.completed = true;
        await this.saveState({ format: 1, lastFinishedMs: this.options.clock() });
      }
    } catch (error) {
      report.error =
        error instanceof TesseraError
          ? error
          : new TesseraError('ERR_STORE_INTERNAL', 'lifecycle pass failed', { cause: error });
      // Keep the place for the next pass, if the store still takes writes.
      if (cursor !== undefined) await this.saveState({ format: 1, cursor }).catch(() => undefined);
    }
    this.lastReport = report;
    return report;
  }

  private saveState(state: LifecycleState): Promise<void> {
    return this.configs.putState(STATE_NAME, state);
  }

  /** Returns the cursor to resume from if the pass stops inside the bucket. */
  private async versionsPhase(
    bucket: string,
    rules: NormalizedRule[],
    after: { key: string; versionId: string } | undefined,
    report: LifecycleReport,
  ): Promise<Cursor> {
    const cursor: Cursor = { bucket, phase: 'versions', ...(after ? { after } : {}) };
    const versionRules = rules.filter(
      (r) => r.expiration !== undefined || r.noncurrentVersionExpiration !== undefined,
    );
    if (versionRules.length === 0) return cursor;
    // Up to KEYS_IN_FLIGHT keys are handled at once (the pacer still spaces
    // every deletion); the cursor only moves past keys whose every
    // predecessor is done, so a restart never skips a key.
    const pending: { done: Promise<boolean>; last: VersionEntry; size: number }[] = [];
    let sinceSave = 0;
    let frozen = false;
    let failure: unknown;
    const settleOldest = async (): Promise<void> => {
      const head = pending.shift()!;
      let complete = false;
      try {
        complete = await head.done;
      } catch (error) {
        failure ??= error;
      }
      if (!complete) frozen = true;
      if (frozen) return;
      cursor.after = { key: head.last.key, versionId: head.last.versionId };
      sinceSave += head.size;
      if (sinceSave < CURSOR_EVERY) return;
      sinceSave = 0;
      try {
        await this.saveState({ format: 1, cursor: { ...cursor } });
      } catch (error) {
        failure ??= error;
        frozen = true;
      }
    };
    try {
      for await (const group of keyGroups(this.engine, bucket, after)) {
        if (this.stopping || failure !== undefined) break;
        const done = this.inflight.run(() => this.handleKey(bucket, group, versionRules, report));
        done.catch(() => undefined); // observed by settleOldest
        pending.push({ done, last: group[group.length - 1]!, size: group.length });
        if (pending.length >= KEYS_IN_FLIGHT) await settleOldest();
      }
    } catch (error) {
      failure ??= error;
    }
    while (pending.length > 0) await settleOldest();
    // A bucket deleted during the pass has nothing left to expire.
    if (failure !== undefined && !isCode(failure, 'NoSuchBucket')) throw failure;
    return cursor;
  }

  /** Applies the rules to the versions of one key (newest first). */
  private async handleKey(
    bucket: string,
    versions: VersionEntry[],
    allRules: NormalizedRule[],
    report: LifecycleReport,
  ): Promise<boolean> {
    const key = versions[0]!.key;
    const rules = allRules.filter((r) => matchesPrefix(r, key));
    report.examined += versions.length;
    if (rules.length === 0) return true;
    const now = this.options.clock();
    let remaining = versions.length;

    // Noncurrent versions: due N days after their successor was written.
    const noncurrentDays = rules
      .map((r) => r.noncurrentVersionExpiration?.noncurrentDays)
      .filter((d): d is number => d !== undefined);
    if (noncurrentDays.length > 0) {
      const days = Math.min(...noncurrentDays);
      for (let i = 1; i < versions.length; i++) {
        const v = versions[i]!;
        if (v.isLatest) continue;
        const becameNoncurrent = versions[i - 1]!.lastModified.getTime();
        if (now < dueAfterDays(becameNoncurrent, days)) continue;
        if (await this.remove(bucket, v, true, report)) {
          report.noncurrentExpired++;
          remaining--;
        }
        if (this.stopping) return false;
      }
    }

    const latest = versions[0]!;
    if (!latest.isLatest) return true;
    if (!latest.deleteMarker) {
      let due = Infinity;
      for (const r of rules) {
        const e = r.expiration;
        if (e?.days !== undefined)
          due = Math.min(due, dueAfterDays(latest.lastModified.getTime(), e.days));
        if (e?.date !== undefined) due = Math.min(due, e.date.getTime());
      }
      if (now >= due && (await this.remove(bucket, latest, false, report))) report.expired++;
    } else if (
      remaining === 1 &&
      rules.some((r) => r.expiration?.expiredObjectDeleteMarker === true)
    ) {
      if (await this.remove(bucket, latest, true, report)) report.deleteMarkersRemoved++;
    }
    // A key cut short by stop() is handled again by the next pass.
    return !this.stopping;
  }

  /**
   * One paced, conditional deletion: of exactly `v` (targeted), or of the
   * current object if it is still `v` (a delete marker when versioned).
   * False when the object changed meanwhile.
   */
  private async remove(
    bucket: string,
    v: VersionEntry,
    targeted: boolean,
    report: LifecycleReport,
  ): Promise<boolean> {
    await this.pacer.wait();
    if (this.stopping) return false;
    try {
      await this.engine.delete(bucket, v.key, {
        ...(targeted ? { versionId: v.versionId } : {}),
        ifMatch: { etag: v.etag, lastModifiedMs: v.lastModified.getTime() },
      });
      return true;
    } catch (error) {
      if (isCode(error, 'PreconditionFailed', 'NoSuchKey')) {
        report.skipped++;
        return false;
      }
      throw error;
    }
  }

  private async uploadsPhase(
    bucket: string,
    rules: NormalizedRule[],
    report: LifecycleReport,
  ): Promise<void> {
    const abortRules = rules.filter((r) => r.abortIncompleteMultipartUpload !== undefined);
    if (abortRules.length === 0 || this.uploads === undefined) return;
    const uploads = await this.inflight.run(() => this.uploads!.list(bucket));
    const now = this.options.clock();
    for (const upload of uploads) {
      if (this.stopping) return;
      let due = Infinity;
      for (const r of abortRules) {
        if (!matchesPrefix(r, upload.key)) continue;
        due = Math.min(
          due,
          dueAfterDays(
            Date.parse(upload.initiated),
            r.abortIncompleteMultipartUpload!.daysAfterInitiation,
          ),
        );
      }
      if (!(now >= due)) continue;
      await this.pacer.wait();
      if (this.stopping) return;
      await this.inflight.run(() => this.uploads!.abort(upload));
      report.uploadsAborted++;
    }
  }
}
