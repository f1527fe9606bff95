/**
 * The garbage collector of one open store (docs/gc.md): picks segments by
 * the policy (policy.ts) and has the native engine compact them one at a
 * time (native/engine/compaction.cc: live records copied through the
 * committer, index switched by compare-and-swap, a snapshot made durable,
 * then the segment freed). Runs on an unref'd timer and on demand
 * (`store.gc()`); runs never overlap; `stop()` (from close) cancels the
 * current compaction and waits for it.
 */
import { statfs } from 'node:fs/promises';
import { throwIfAborted } from '../store/abort';
import { chooseSegments, type ResolvedGcOptions } from './policy';
import type { GcReport, GcRunOptions, NativeGcHandle, SpaceStats } from './types';

const PROGRESS_MS = 100;

/** Smallest free fraction over the drives (1 when statfs fails). */
export async function freeFraction(drives: readonly string[]): Promise<number> {
  let min = 1;
  for (const d of drives) {
    try {
      const s = await statfs(d);
      if (s.blocks > 0) min = Math.min(min, s.bavail / s.blocks);
    } catch {
      // A missing drive is the heal's business, not the collector's.
    }
  }
  return min;
}

export class GarbageCollector {
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private cancelled = false;
  /** The last background run's error (background runs never throw). */
  lastError: unknown;
  lastReport: GcReport | undefined;

  constructor(
    private readonly handle: NativeGcHandle,
    private readonly drives: readonly string[],
    readonly options: ResolvedGcOptions,
  ) {}

  start(): void {
    if (!this.options.background || this.timer !== undefined || this.stopped) return;
    this.timer = setInterval(() => {
      void this.background();
    }, this.options.intervalMs);
    this.timer.unref();
  }

  private async background(): Promise<void> {
    try {
      const low = (await freeFraction(this.drives)) < this.options.lowFreeFraction;
      await this.run({}, low ? 'low-space' : 'timer');
    } catch (error) {
      this.lastError = error;
    }
  }

  space(): SpaceStats {
    return this.handle.spaceStats();
  }

  /** One run; queued behind a run in progress. */
  run(options: GcRunOptions, trigger: GcReport['trigger']): Promise<GcReport> {
    const next = this.chain.then(() => this.runNow(options, trigger));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async runNow(options: GcRunOptions, trigger: GcReport['trigger']): Promise<GcReport> {
    throwIfAborted(options.signal);
    const began = Date.now();
    const urgent = trigger === 'low-space';
    const deadRatio =
      options.deadRatio ?? (urgent ? this.options.urgentDeadRatio : this.options.deadRatio);
    const rate =
      options.rateBytesPerSec ??
      (urgent ? this.options.urgentRateBytesPerSec : this.options.rateBytesPerSec);
    const retain = this.options.retainFromSeq();
    const report: GcReport = {
      trigger,
      segmentsConsidered: 0,
      segmentsCompacted: 0,
      bytesReclaimed: 0,
      physicalBytesReclaimed: 0,
      bytesMoved: 0,
      recordsMoved: 0,
      skipped: [],
      cancelled: false,
      durationMs: 0,
    };
    if (this.stopped) return report;
    const first = chooseSegments(
      this.handle.spaceStats(),
      deadRatio,
      retain,
      this.options.maxSegmentsPerRun,
    );
    for (const id of first.retained) report.skipped.push({ segment: id, reason: 'retained' });
    const chosen = first.chosen;
    // Segments made by this run's copies are never compacted by it.
    const startTail = this.handle.spaceStats().tailSegment;
    const attempted = new Set(chosen.map((c) => c.id));
    let totalLive = chosen.reduce((n, c) => n + c.liveBytes, 0);
    const onAbort = (): void => this.handle.cancelCompact();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (let i = 0; i < chosen.length; i++) {
        if (this.stopped || options.signal?.aborted) {
          report.cancelled = true;
          break;
        }
        const c = chosen[i]!;
        const base = report.bytesMoved;
        const tick = (): void => {
          const g = this.handle.spaceStats().gc;
          const moved = base + (g.running && g.segment === c.id ? g.moved : 0);
          options.onProgress?.({
            segment: c.id,
            segmentsDone: i,
            segmentsTotal: chosen.length,
            bytesMoved: moved,
            fraction: totalLive > 0 ? Math.min(1, moved / totalLive) : i / chosen.length,
          });
        };
        const poll = options.onProgress ? setInterval(tick, PROGRESS_MS) : undefined;
        poll?.unref();
        let r;
        try {
          // A retain value at or below 1 holds every segment (seq starts at 1).
          const hold = Number.isFinite(retain) ? Math.max(1, retain) : 0;
          r = await this.handle.compact(c.id, rate, hold, this.options.inflightBytes);
        } finally {
          if (poll) clearInterval(poll);
        }
        report.bytesMoved += r.bytesMoved;
        report.recordsMoved += r.recordsMoved;
        if (r.freed) {
          report.segmentsCompacted++;
          report.bytesReclaimed += r.bytesReclaimed;
          report.physicalBytesReclaimed += r.physicalBytesReclaimed;
        } else {
          report.skipped.push({ segment: c.id, reason: r.skipped });
          if (r.skipped === 'cancelled') {
            report.cancelled = true;
            break;
          }
        }
        if (i === chosen.length - 1 && !report.cancelled) {
          // The run's copies sealed the segment that was the tail when it
          // started: if that one (or another sealed meanwhile) now meets
          // the policy, it belongs to this cycle too. Segments made by the
          // run itself hold only copies and rarely qualify; every segment
          // is tried at most once per run.
          const more = chooseSegments(
            this.handle.spaceStats(),
            deadRatio,
            retain,
            this.options.maxSegmentsPerRun,
          ).chosen.filter((x) => !attempted.has(x.id) && x.id <= startTail);
          if (
            this.options.maxSegmentsPerRun === 0 ||
            chosen.length + more.length <= this.options.maxSegmentsPerRun
          ) {
            for (const x of more) {
              attempted.add(x.id);
              chosen.push(x);
              totalLive += x.liveBytes;
            }
          }
        }
      }
      report.segmentsConsidered = chosen.length;
      options.onProgress?.({
        segment: chosen.at(-1)?.id ?? 0,
        segmentsDone: report.segmentsCompacted,
        segmentsTotal: chosen.length,
        bytesMoved: report.bytesMoved,
        fraction: 1,
      });
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
    report.durationMs = Date.now() - began;
    this.lastReport = report;
    return report;
  }

  /** Stops the timer, cancels a compaction in progress and waits for it. */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.stopped = true;
    if (!this.cancelled) {
      this.cancelled = true;
      this.handle.cancelCompact();
    }
    await this.chain;
  }
}
