/**
 * Scrub and heal (issue 7): read every chunk of the log, verify it, and
 * with heal rewrite missing or corrupt chunks from parity. The work runs on
 * a native thread of its own (native/engine/scrub.cc); this module adds
 * options, progress events, cancellation with an AbortSignal and a cursor
 * persisted in the first drive directory so an interrupted pass resumes
 * after a restart.
 */
import { readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TesseraError } from '../errors';
import { throwIfAborted, validateSignal } from './abort';

/** What a scrub or heal pass found (and, for heal, repaired). */
export interface ScrubReport {
  /** Log address the pass started at (non-zero when it resumed). */
  startAddress: number;
  /** Log end when the pass started; writes after it are not covered. */
  endAddress: number;
  /** Where the pass stopped (== endAddress when complete). */
  cursor: number;
  cancelled: boolean;
  stripesChecked: number;
  chunksChecked: number;
  /** Missing, torn, corrupt, misplaced or stale chunks. */
  chunksBad: number;
  /** Segment files missing or with a bad header. */
  headersBad: number;
  chunksHealed: number;
  headersHealed: number;
  /** Stripes with fewer than k agreeing chunks: data lost beyond parity. */
  stripesUnrecoverable: number;
  /** Stripes with no valid chunk at all (a torn tail, or total loss). */
  stripesEmpty: number;
  /** The first 100 findings, one line each. */
  damage: string[];
}

export interface ScrubProgress {
  cursor: number;
  end: number;
  /** 0..1 */
  fraction: number;
}

export interface ScrubOptions {
  /**
   * Aborting stops the pass after the current batch: the promise resolves
   * with `cancelled: true` and the cursor is kept for the next pass (an
   * already aborted signal rejects with AbortError).
   */
  signal?: AbortSignal;
  /** Read (and write) at most this many bytes per second; 0 or absent: no limit. */
  rateBytesPerSec?: number;
  /** Called as the pass advances (about every 100 ms) and once at the end. */
  onProgress?: (progress: ScrubProgress) => void;
  /** Continue from a persisted cursor of an interrupted pass (default true). */
  resume?: boolean;
}

/** The native handle's scrub surface (native/napi/engine_binding.cc). */
export interface NativeScrubHandle {
  scrub(heal: boolean, startAddress: number, rateBytesPerSec: number): Promise<ScrubReport>;
  scrubProgress(): { running: boolean; cursor: number; end: number };
  cancelScrub(): void;
  damagedStripes(): number;
  info(): { storeId: string };
}

const CURSOR_FILE = 'scrub-cursor.json';
const POLL_MS = 100;
const PERSIST_MS = 1000;

interface CursorRecord {
  storeId: string;
  mode: 'scrub' | 'heal';
  cursor: number;
}

export function validateScrubOptions(options: unknown): ScrubOptions {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object') {
    throw new TesseraError('ERR_INVALID_ARG_TYPE', 'options must be an object');
  }
  const o = options as Record<string, unknown>;
  validateSignal(o.signal);
  if (
    o.rateBytesPerSec !== undefined &&
    (typeof o.rateBytesPerSec !== 'number' ||
      !Number.isSafeInteger(o.rateBytesPerSec) ||
      o.rateBytesPerSec < 0)
  ) {
    throw new TesseraError(
      'ERR_OUT_OF_RANGE',
      `options.rateBytesPerSec must be a non-negative integer, got ${String(o.rateBytesPerSec)}`,
    );
  }
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') {
    throw new TesseraError('ERR_INVALID_ARG_TYPE', 'options.onProgress must be a function');
  }
  if (o.resume !== undefined && typeof o.resume !== 'boolean') {
    throw new TesseraError('ERR_INVALID_ARG_TYPE', 'options.resume must be a boolean');
  }
  return o as ScrubOptions;
}

async function readCursor(paths: string[], storeId: string, mode: string): Promise<number> {
  for (const path of paths) {
    try {
      const record = JSON.parse(await readFile(path, 'utf8')) as CursorRecord;
      if (
        record.storeId === storeId &&
        record.mode === mode &&
        Number.isSafeInteger(record.cursor)
      ) {
        return record.cursor;
      }
    } catch {
      // No cursor on this drive (or an unreadable one): try the next.
    }
  }
  return 0;
}

/** Written on the first drive that takes it (drive 0 may be gone). */
async function writeCursor(paths: string[], record: CursorRecord): Promise<void> {
  let error: unknown;
  for (const path of paths) {
    const tmp = `${path}.tmp`;
    try {
      await writeFile(tmp, JSON.stringify(record));
      await rename(tmp, path);
      // An older cursor on a later drive must not win over this one.
      for (const other of paths.slice(paths.indexOf(path) + 1)) {
        await unlink(other).catch(() => undefined);
      }
      return;
    } catch (e) {
      error ??= e;
    }
  }
  throw error;
}

/** Runs one scrub (heal = false) or heal pass to completion or cancellation. */
export async function runScrub(
  handle: NativeScrubHandle,
  cursorDirs: string[],
  heal: boolean,
  options: ScrubOptions,
): Promise<ScrubReport> {
  const mode = heal ? 'heal' : 'scrub';
  const storeId = handle.info().storeId;
  const cursorPaths = cursorDirs.map((dir) => join(dir, CURSOR_FILE));
  const start = options.resume === false ? 0 : await readCursor(cursorPaths, storeId, mode);
  throwIfAborted(options.signal);
  const running = handle.scrub(heal, start, options.rateBytesPerSec ?? 0);
  const onAbort = (): void => handle.cancelScrub();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  let lastCursor = -1;
  let lastPersist = Date.now();
  let persisting: Promise<void> = Promise.resolve();
  const emit = (cursor: number, end: number): void => {
    if (cursor === lastCursor) return;
    lastCursor = cursor;
    options.onProgress?.({ cursor, end, fraction: end === 0 ? 1 : Math.min(1, cursor / end) });
  };
  const timer = setInterval(() => {
    const p = handle.scrubProgress();
    if (p.end === 0) return;
    emit(p.cursor, p.end);
    if (Date.now() - lastPersist >= PERSIST_MS) {
      lastPersist = Date.now();
      persisting = persisting.then(() =>
        writeCursor(cursorPaths, { storeId, mode, cursor: p.cursor }).catch(() => undefined),
      );
    }
  }, POLL_MS);
  let report: ScrubReport;
  try {
    report = await running;
  } finally {
    clearInterval(timer);
    options.signal?.removeEventListener('abort', onAbort);
    await persisting;
  }
  emit(report.cursor, report.endAddress);
  if (report.cancelled) {
    await writeCursor(cursorPaths, { storeId, mode, cursor: report.cursor });
  } else {
    for (const path of cursorPaths) await unlink(path).catch(() => undefined);
  }
  return report;
}
