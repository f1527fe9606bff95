/**
 * The change feed in TypeScript: change events, the engine-level page
 * reader contract, and `watch()`, an async iterator over the feed
 * (docs/events.md).
 *
 * Memory is bounded per watcher: a watcher holds at most one page of
 * events (`pageEvents`) read from the log; commits only wake it (they carry
 * a seq, never events), so a slow consumer falls behind in the log, not in
 * memory, and reads its way forward when it asks for more.
 */
import { TesseraError } from '../errors';
import { isInternalBucket } from './bucket_config';

/** One committed change, in commit order. */
export interface ChangeEvent {
  /** The change sequence: strictly increasing in commit order, never reused. */
  seq: number;
  /** 'created': a new version (put, copy, completed upload). 'deleted': a delete marker or a removal. */
  type: 'created' | 'deleted';
  bucket: string;
  key: string;
  /** The version created or removed; 'null' for the null version. */
  versionId: string;
  /** Body bytes of a created version; 0 for deletions. */
  size: number;
  /** ETag of a created version as ObjectInfo.etag gives it (hex MD5, or md5-of-md5s + '-N'); '' for deletions. */
  etag: string;
  /** True when the change is a delete marker (type 'deleted'). */
  deleteMarker: boolean;
  /**
   * Commit time of a created version or delete marker. null for a removed
   * version or an unversioned delete: the log's DELETE record (format 1)
   * carries no time.
   */
  time: Date | null;
}

export interface ChangesPage {
  events: ChangeEvent[];
  /** Pass as fromSeq to continue after this page. */
  nextSeq: number;
  /** The newest committed seq when the page was read. */
  committedSeq: number;
}

/** What the feed needs from an engine (NativeStoreEngine implements it). */
export interface ChangeSource {
  changes(fromSeq: number, maxEvents: number): Promise<ChangesPage>;
  committedSeq(): number;
  onCommit(listener: (seq: number) => void): () => void;
}

/** ERR_STORE_CHANGES_EXPIRED: the log no longer holds what was asked. */
export function changesExpired(fromSeq: number, oldestSeq: number): TesseraError {
  const error = new TesseraError(
    'ERR_STORE_CHANGES_EXPIRED',
    `changes from seq ${fromSeq} are no longer in the log; the oldest available is ${oldestSeq}`,
  );
  return Object.assign(error, { oldestSeq });
}

export interface WatchOptions {
  /**
   * Only events of this bucket. Without it, every bucket's events except
   * the store's internal ones (names starting with '.', e.g. the bucket
   * configuration bucket).
   */
  bucket?: string;
  /** Only keys starting with this (with or without `bucket`). */
  prefix?: string;
  /**
   * The first seq to deliver: the last seq the caller processed + 1. Omitted:
   * only changes committed after watch() was called.
   */
  since?: number;
  /** Ends the iteration (the pending next() resolves done). */
  signal?: AbortSignal;
  /** Events read per page from the log (1..10000; default 256): the memory bound. */
  pageEvents?: number;
}

const PAGE_EVENTS_DEFAULT = 256;

export function validateWatchOptions(options: unknown): WatchOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) {
    throw new TesseraError('ERR_INVALID_ARG_TYPE', 'watch options must be an object');
  }
  const o = options as Record<string, unknown>;
  for (const name of ['bucket', 'prefix'] as const) {
    if (o[name] !== undefined && typeof o[name] !== 'string') {
      throw new TesseraError('ERR_INVALID_ARG_TYPE', `${name} must be a string`);
    }
  }
  if (o.since !== undefined && !(Number.isSafeInteger(o.since) && (o.since as number) >= 1)) {
    throw new TesseraError(
      'ERR_OUT_OF_RANGE',
      `since must be an integer >= 1, got ${String(o.since)}`,
    );
  }
  if (
    o.pageEvents !== undefined &&
    !(
      Number.isInteger(o.pageEvents) &&
      (o.pageEvents as number) >= 1 &&
      (o.pageEvents as number) <= 10000
    )
  ) {
    throw new TesseraError(
      'ERR_OUT_OF_RANGE',
      `pageEvents must be an integer in 1..10000, got ${String(o.pageEvents)}`,
    );
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw new TesseraError('ERR_INVALID_ARG_TYPE', 'signal must be an AbortSignal');
  }
  return o as WatchOptions;
}

/**
 * Events from the feed, filtered, in commit order; waits for commits when
 * caught up. `closed` is polled between pages so a closing store ends it.
 */
export async function* watchChanges(
  source: ChangeSource,
  options: WatchOptions,
  isClosing: () => boolean,
  onClose: (wake: () => void) => () => void,
): AsyncGenerator<ChangeEvent, void, undefined> {
  const pageEvents = options.pageEvents ?? PAGE_EVENTS_DEFAULT;
  const { bucket, prefix, signal } = options;
  let cursor = options.since ?? source.committedSeq() + 1;
  // Wakes a watcher waiting for a commit; set only while it waits.
  let wake: (() => void) | undefined;
  let latest = 0;
  const stopCommit = source.onCommit((seq) => {
    if (seq > latest) latest = seq;
    wake?.();
  });
  const onAbort = (): void => wake?.();
  signal?.addEventListener('abort', onAbort);
  const stopClose = onClose(() => wake?.());
  try {
    while (!signal?.aborted && !isClosing()) {
      let page: ChangesPage;
      try {
        page = await source.changes(cursor, pageEvents);
      } catch (error) {
        if (isClosing()) return; // the store closed under the read
        throw error;
      }
      for (const event of page.events) {
        if (bucket !== undefined ? event.bucket !== bucket : isInternalBucket(event.bucket))
          continue;
        if (prefix !== undefined && !event.key.startsWith(prefix)) continue;
        yield event;
        if (signal?.aborted) return;
      }
      cursor = page.nextSeq;
      if (page.events.length > 0) continue;
      // Caught up: sleep until a commit beyond what the page saw.
      if (signal?.aborted || isClosing()) return;
      if (latest > page.committedSeq || source.committedSeq() > page.committedSeq) continue;
      await new Promise<void>((resolve) => {
        wake = resolve;
        if (signal?.aborted || isClosing()) resolve();
      });
      wake = undefined;
    }
  } finally {
    stopCommit();
    stopClose();
    signal?.removeEventListener('abort', onAbort);
  }
}
