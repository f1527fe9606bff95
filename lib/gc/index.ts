export { GarbageCollector, freeFraction } from './collector';
export { GC_DEFAULTS, chooseSegments, resolveGcOptions, validateRunOptions } from './policy';
export type {
  GcOptions,
  GcProgress,
  GcReport,
  GcRunOptions,
  NativeGcHandle,
  SegmentSpace,
  SpaceStats,
} from './types';
