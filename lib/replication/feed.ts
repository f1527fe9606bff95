/**
 * The change feed replication consumes: every committed version has a
 * durable, strictly increasing commit sequence. This is the interface of
 * `store.watch()` (the change-event work); MemoryChangeFeed implements it
 * in memory for unit tests and for stores that do not have the durable
 * feed yet (not durable: docs/replication.md).
 */
import { TesseraError } from '../errors';

export interface ChangeEvent {
  seq: number;
  type: 'created' | 'deleted';
  bucket: string;
  key: string;
  versionId: string;
  size: number;
  etag: string;
  deleteMarker: boolean;
  /** Commit time (informational only: replication never orders by it). */
  time: Date | null;
}

export interface WatchOptions {
  bucket?: string;
  prefix?: string;
  /** First sequence to deliver (the last one processed + 1), as store.watch. */
  since?: number;
  signal?: AbortSignal;
}

/** One page of the log, unfiltered (store.changes). */
export interface ChangesPage {
  events: ChangeEvent[];
  /** Pass as fromSeq to continue after this page. */
  nextSeq: number;
  /** The newest committed seq when the page was read. */
  committedSeq: number;
}

export interface ChangeFeed {
  watch(options: WatchOptions): AsyncIterable<ChangeEvent>;
  /**
   * The log from `fromSeq`, every bucket (store.changes). Lets an idle
   * worker move its cursor over sequences that are not its bucket's (other
   * buckets, the store's internal writes), which watch() never shows it.
   */
  changes?(fromSeq: number, maxEvents: number): Promise<ChangesPage>;
  /** Highest committed sequence, when the feed knows it (queue depth). */
  head?(): number | Promise<number>;
  retention?: {
    hold(name: string, lowestSeqStillNeeded: () => number): void;
    release(name: string): unknown;
  };
}

/** An in-memory feed with the same contract (not durable). */
export class MemoryChangeFeed implements ChangeFeed {
  private readonly events: ChangeEvent[] = [];
  private nextSeq = 1;
  private trimmedBelow = 1;
  private waiters = new Set<() => void>();
  private readonly holds = new Map<string, () => number>();

  readonly retention = {
    hold: (name: string, fn: () => number) => void this.holds.set(name, fn),
    release: (name: string) => void this.holds.delete(name),
  };

  append(event: Omit<ChangeEvent, 'seq' | 'time'> & { time?: Date }): ChangeEvent {
    const full: ChangeEvent = { ...event, seq: this.nextSeq++, time: event.time ?? new Date() };
    this.events.push(full);
    for (const wake of this.waiters) wake();
    this.waiters.clear();
    return full;
  }

  head(): number {
    return this.nextSeq - 1;
  }

  changes(fromSeq: number, maxEvents: number): Promise<ChangesPage> {
    if (fromSeq < this.trimmedBelow) {
      return Promise.reject(
        new TesseraError(
          'ERR_STORE_CHANGES_EXPIRED',
          `the change log no longer holds sequence ${fromSeq}`,
        ),
      );
    }
    const events = this.events.filter((e) => e.seq >= fromSeq).slice(0, maxEvents);
    const nextSeq =
      events.length > 0 ? events[events.length - 1]!.seq + 1 : Math.max(fromSeq, this.nextSeq);
    return Promise.resolve({ events, nextSeq, committedSeq: this.nextSeq - 1 });
  }

  /** Drops events below `seq` that no hold needs; returns the new low mark. */
  trim(seq: number): number {
    let low = seq;
    for (const fn of this.holds.values()) low = Math.min(low, fn());
    while (this.events.length > 0 && this.events[0]!.seq < low) this.events.shift();
    this.trimmedBelow = Math.max(this.trimmedBelow, low);
    return this.trimmedBelow;
  }

  get length(): number {
    return this.events.length;
  }

  async *watch(options: WatchOptions = {}): AsyncGenerator<ChangeEvent> {
    // Like store.watch: `since` is the first sequence wanted; default: from now.
    let after = (options.since ?? this.nextSeq) - 1;
    if (after + 1 < this.trimmedBelow) {
      throw new TesseraError(
        'ERR_STORE_CHANGES_EXPIRED',
        `the change log no longer holds sequence ${after + 1}`,
      );
    }
    const signal = options.signal;
    for (;;) {
      signal?.throwIfAborted();
      const start = this.events.findIndex((e) => e.seq > after);
      if (start >= 0) {
        for (let i = start; i < this.events.length; i++) {
          const e = this.events[i]!;
          after = e.seq;
          if (options.bucket !== undefined && e.bucket !== options.bucket) continue;
          if (options.prefix !== undefined && !e.key.startsWith(options.prefix)) continue;
          yield e;
          signal?.throwIfAborted();
        }
        continue;
      }
      await new Promise<void>((resolve, reject) => {
        const wake = () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        const onAbort = () => {
          this.waiters.delete(wake);
          reject(signal!.reason);
        };
        this.waiters.add(wake);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    }
  }
}
