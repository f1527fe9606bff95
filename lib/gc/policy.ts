/**
 * GC policy (docs/gc.md): defaults, option checks, and which segments a run
 * compacts. Pure functions: the collector (collector.ts) does the I/O.
 */
import { TesseraError } from '../errors';
import type { GcOptions, GcRunOptions, SpaceStats } from './types';

export type ResolvedGcOptions = Required<GcOptions>;

export const GC_DEFAULTS: ResolvedGcOptions = {
  background: true,
  intervalMs: 30_000,
  deadRatio: 0.2,
  rateBytesPerSec: 4 << 20,
  inflightBytes: 8 << 20,
  maxSegmentsPerRun: 0,
  lowFreeFraction: 0.1,
  urgentDeadRatio: 0.05,
  urgentRateBytesPerSec: 0,
  retainFromSeq: () => Number.POSITIVE_INFINITY,
};

function fraction(o: Record<string, unknown>, name: string): void {
  const v = o[name];
  if (v !== undefined && (typeof v !== 'number' || !(v >= 0 && v <= 1))) {
    throw new TesseraError('ERR_OUT_OF_RANGE', `gc.${name} must be a number in 0..1`);
  }
}

function count(o: Record<string, unknown>, name: string, min: number): void {
  const v = o[name];
  if (v !== undefined && (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min)) {
    throw new TesseraError('ERR_OUT_OF_RANGE', `gc.${name} must be an integer >= ${min}`);
  }
}

/** Checks `options` (from Store.open's `gc`) and fills in the defaults. */
export function resolveGcOptions(options: unknown): ResolvedGcOptions {
  if (options === undefined) return { ...GC_DEFAULTS };
  if (typeof options !== 'object' || options === null) {
    throw new TesseraError('ERR_INVALID_ARG_TYPE', 'gc must be an options object or false');
  }
  const o = options as Record<string, unknown>;
  if (o.background !== undefined && typeof o.background !== 'boolean') {
    throw new TesseraError('ERR_INVALID_ARG_TYPE', 'gc.background must be a boolean');
  }
  count(o, 'intervalMs', 10);
  fraction(o, 'deadRatio');
  fraction(o, 'lowFreeFraction');
  fraction(o, 'urgentDeadRatio');
  count(o, 'rateBytesPerSec', 0);
  count(o, 'urgentRateBytesPerSec', 0);
  count(o, 'inflightBytes', 1 << 16);
  count(o, 'maxSegmentsPerRun', 0);
  if (o.retainFromSeq !== undefined && typeof o.retainFromSeq !== 'function') {
    throw new TesseraError('ERR_INVALID_ARG_TYPE', 'gc.retainFromSeq must be a function');
  }
  const resolved = { ...GC_DEFAULTS };
  for (const [k, v] of Object.entries(o)) {
    if (v !== undefined && k in GC_DEFAULTS) (resolved as Record<string, unknown>)[k] = v;
  }
  return resolved;
}

export function validateRunOptions(options: unknown): GcRunOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) {
    throw new TesseraError('ERR_INVALID_ARG_TYPE', 'gc() expects an options object');
  }
  const o = options as Record<string, unknown>;
  fraction(o, 'deadRatio');
  count(o, 'rateBytesPerSec', 0);
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') {
    throw new TesseraError('ERR_INVALID_ARG_TYPE', 'onProgress must be a function');
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw new TesseraError('ERR_INVALID_ARG_TYPE', 'signal must be an AbortSignal');
  }
  return o as GcRunOptions;
}

export interface Candidate {
  id: number;
  liveBytes: number;
  deadBytes: number;
}

/**
 * Sealed segments whose dead ratio reaches `deadRatio`, that no durable
 * consumer holds (max seq below `retainFromSeq`), most dead first (a
 * segment with nothing live costs no copying at all).
 */
export function chooseSegments(
  space: SpaceStats,
  deadRatio: number,
  retainFromSeq: number,
  maxSegments: number,
): { chosen: Candidate[]; retained: number[] } {
  const chosen: Candidate[] = [];
  const retained: number[] = [];
  for (const s of space.perSegment) {
    if (s.freed || s.tail || s.id >= space.tailSegment || s.usedBytes === 0) continue;
    if (s.deadBytes === 0 || s.deadBytes / s.usedBytes < deadRatio) continue;
    if (s.maxSeq >= retainFromSeq) {
      retained.push(s.id);
      continue;
    }
    chosen.push({ id: s.id, liveBytes: s.liveBytes, deadBytes: s.deadBytes });
  }
  chosen.sort((a, b) => b.deadBytes - a.deadBytes || a.id - b.id);
  return { chosen: maxSegments > 0 ? chosen.slice(0, maxSegments) : chosen, retained };
}
