/**
 * The native object engine behind the StoreEngine contract: a typed wrapper
 * over the addon's `engineOpen` / `NativeEngine` (native/napi/
 * engine_binding.cc). It maps native status codes to the S3 error codes the
 * contract names (the native side only knows "not found", "precondition
 * failed", ...; which S3 code applies depends on the call, so it is decided
 * here) and converts between the contract's shapes and the addon's.
 *
 * Writes cross the boundary in batches (`submit` takes an array and returns
 * one promise per write); reads run on the engine's own reader threads.
 */
import { join } from 'node:path';
import { binding } from '../binding';
import { HotObjects, type HotObject } from './hot_objects';
import { ByteBudget } from './byte_budget';
import { type NativeScrubHandle, runScrub, type ScrubOptions, type ScrubReport } from './scrub';
import { TesseraError } from '../errors';
import type {
  EngineHead,
  EngineInfo,
  EngineDeleteOptions,
  EngineListOptions,
  EngineListPage,
  EngineUpload,
  EngineVersionPage,
  StoreEngine,
  WriteObjectRequest,
} from './engine';
import type { BucketInfo, ChecksumAlgorithm, DeleteResult, ObjectInfo, PutResult } from './types';
import { type ChangeEvent, type ChangesPage, type ChangeSource, changesExpired } from './changes';
import type { StoreStats } from './stats';

/** Options of `Store.open` that reach the engine. */
export interface EngineOpenOptions {
  /** Root directory; drives default to `path/drive-<i>`. */
  path?: string;
  /** One directory per shard (data first, then parity). */
  drives?: string[];
  /** k: used when creating; read from disk when reopening. Default 4. */
  dataShards?: number;
  /** m: used when creating; read from disk when reopening. Default 2. */
  parityShards?: number;
  /** Bytes per chunk (per drive per stripe), a power of two 4096..65536. */
  chunkBytes?: number;
  /**
   * Stripes per segment, used when creating (default: 32 MiB of data per
   * segment). Segments are the unit of space reclamation (docs/gc.md);
   * small values are for tests.
   */
  segmentStripes?: number;
  directIO?: 'required' | 'optional' | 'disabled';
  ioBackend?: 'auto' | 'io_uring' | 'pwrite';
  /** Extra wait to gather a commit group, microseconds (default 0). */
  groupCommitDelayUs?: number;
  /** Threads that read from disk (default 2). */
  readerThreads?: number;
  /**
   * Bytes of memory for the read cache of small objects (bodies up to
   * 64 KiB), W-TinyLFU admission; 0 disables it. Default 64 MiB. Hot
   * objects are also answered on the JS thread from views of those cached
   * records; records the cache evicted while still viewed keep up to
   * cacheBytes / 2 more alive until the next write (docs/engine.md).
   */
  cacheBytes?: number;
  /**
   * Format an empty directory found in place of a lost drive as that drive
   * (then `store.heal()` rebuilds its chunks). Default false: refused with
   * ERR_STORE_QUORUM. Also rewrites a damaged or missing FORMAT of a drive
   * whose segment headers prove which drive it is (else ERR_INVALID_ARG_VALUE);
   * without the flag such a drive is down for the open (docs/durability.md).
   */
  replaceEmptyDrives?: boolean;
  /**
   * Drives that must hold a commit durably before it is acknowledged
   * (k..k+m; default k+1). With fewer drives up, writes fail with
   * ERR_STORE_QUORUM; reads go on while k are readable.
   */
  writeQuorum?: number;
  /** Heal what a drive missed once it is back (default true). */
  autoHeal?: boolean;
  /** The automatic heal's rate limit (default 64 MiB/s; 0: unlimited). */
  healRateBytesPerSec?: number;
  /** How often a down drive is tried again, ms (default 1000; 0: every commit). */
  driveProbeIntervalMs?: number;
  /** Recover from a full log scan, ignoring snapshots (verify). */
  ignoreSnapshot?: boolean;
  /** Tests only: route I/O through a fault injector (testFailDrive). */
  testFaults?: boolean;
  /**
   * Zero-filling of new segment files (docs/engine.md, "Segment
   * preparation"): 'small-groups' (default) zero-fills a segment that a
   * roll by small commit groups creates and skips it for a roll by a large
   * group (1 MiB or more, a stream of big stripes); 'always' and 'never'
   * are for benchmarks.
   */
  segmentZeroFill?: 'small-groups' | 'always' | 'never';
  /**
   * How a new segment's files are created (docs/engine.md, "Segment
   * preparation"): 'parallel' (default) on every drive at once, 'serial'
   * one drive after another (the behaviour before session 4; benchmarks).
   */
  segmentCreate?: 'parallel' | 'serial';
}

type PairList = [string, string][];

interface NativeObjectInfo {
  versionId: string;
  deleteMarker: boolean;
  isLatest: boolean;
  size: number;
  mtimeMs: number;
  etag: string;
  partCount: number;
  contentType: string;
  metadata: PairList;
  checksums: PairList;
  sequence: number;
}

interface NativeListedVersion {
  key: string;
  versionId: string;
  isLatest: boolean;
  deleteMarker: boolean;
  size: number;
  etag: string;
  partCount: number;
  mtimeMs: number;
  sequence: number;
}

interface NativeBucket {
  name: string;
  versioning: 0 | 1 | 2;
  createdMs: number;
}

interface NativeWrite {
  kind: 'put' | 'delete' | 'bucketCreate' | 'bucketDelete' | 'bucketSettings' | 'commitUpload';
  bucket: string;
  key?: string;
  versionId?: string;
  contentType?: string;
  metadata?: PairList;
  checksums?: PairList;
  body?: Buffer;
  /** 0 none, 1 ifNoneMatch '*', 2 ifMatch. */
  condition?: 0 | 1 | 2;
  ifMatchEtag?: Buffer;
  ifMatchMtimeMs?: number;
  ifMatchPartCount?: number;
  /** A multipart object's ETag bytes, with its part count. */
  etag?: Buffer;
  partCount?: number;
  versioning?: 0 | 1 | 2;
  uploadId?: number;
}

interface NativeWriteResult {
  versionId: string;
  deleteMarker: boolean;
  etag: string;
  seq: number;
}

/** What `engineOpen` resolves to (native/napi/engine_binding.cc). */
export interface NativeEngineHandle {
  info(): {
    storeId: string;
    dataShards: number;
    parityShards: number;
    chunkBytes: number;
    segmentStripes: number;
    directIO: boolean;
    ioBackend: string;
    recordBytesMax: number;
    created: boolean;
    recoveredFromSnapshot: boolean;
    recoveryGroupsReplayed: number;
    recoveryVoidBytes: number;
    drivesReplaced: number;
    /** Drives down for this open: FORMAT unreadable, corrupt, truncated or missing (issue 7). */
    drivesFormatBad: number;
    /** Damaged FORMATs rewritten at this open (replaceEmptyDrives). */
    formatsRestored: number;
    /** Drives a commit must be durable on (issue 7). */
    writeQuorum: number;
  };
  /**
   * Counters; among them (issue 7) degradedDrives (drives down now),
   * degradedDriveMask (bit d: drive d), healQueue (stripes waiting for the
   * automatic heal), groupsDegraded, stripesAutoHealed, chunksAutoHealed.
   */
  stats(): Record<string, number>;
  /** Resolves true once the automatic heal has nothing left it can do now. */
  waitHealIdle(timeoutMs: number): Promise<boolean>;
  /** Tests only (testFaults): drive `drive`'s segment files fail `op`. */
  testFailDrive(drive: number, op: 'write' | 'sync' | 'read', persistent: boolean): void;
  testClearFaults(): void;
  submit(writes: NativeWrite[]): Promise<NativeWriteResult>[];
  beginUpload(): number;
  appendUpload(uploadId: number, piece: Buffer): Promise<void>;
  abortUpload(uploadId: number): void;
  head(
    bucket: string,
    key: string,
    versionId: string,
    bodyBytesMax?: number,
  ): Promise<(NativeObjectInfo & { body?: Buffer }) | null>;
  /** Memory only: a cached small object, or null (then head + read). */
  getCached(
    bucket: string,
    key: string,
    versionId: string,
    scratch: Buffer,
    slab: Buffer,
    slabOffset: number,
  ): number;
  getCachedRef(bucket: string, key: string, versionId: string, scratch: Buffer): Buffer | number;
  generationCell(): ArrayBuffer;
  read(
    bucket: string,
    key: string,
    versionId: string,
    offset: number,
    length: number,
  ): Promise<Buffer>;
  readInto(
    bucket: string,
    key: string,
    versionId: string,
    offset: number,
    length: number,
    target: Buffer,
  ): Promise<number>;
  list(
    bucket: string,
    prefix: string,
    delimiter: string,
    startAfter: string,
    maxKeys: number,
  ): {
    objects: NativeListedVersion[];
    commonPrefixes: string[];
    truncated: boolean;
    nextMarker: string;
  };
  listVersions(
    bucket: string,
    prefix: string,
    delimiter: string,
    keyMarker: string,
    versionIdMarker: string,
    maxKeys: number,
  ): {
    versions: NativeListedVersion[];
    commonPrefixes: string[];
    truncated: boolean;
    nextKeyMarker: string;
    nextVersionIdMarker: string;
  };
  getBucket(name: string): NativeBucket | null;
  listBuckets(): NativeBucket[];
  close(): Promise<void>;
  changes(fromSeq: number, maxEvents: number): Promise<NativeChangesPage | NativeChangesExpired>;
  committedSeq(): number;
  census(): Promise<NativeCensus>;
  damagedStripes(): number;
}

/** Engine::Census (native/engine/stats.cc). */
interface NativeCensus {
  buckets: number;
  keys: number;
  versions: number;
  objects: number;
  deleteMarkers: number;
  logicalBytes: number;
  currentBytes: number;
  liveLogBytes: number;
  logBytes: number;
  keyBytes: number;
  indexMemoryBytes: number;
  segments: number;
  segmentFileBytes: number;
  shards: number;
}

/** One page of the change feed (native/engine/changes.cc). */
export interface NativeChangesPage {
  expired?: undefined;
  events: {
    seq: number;
    deleted: boolean;
    deleteMarker: boolean;
    bucket: string;
    key: string;
    versionId: string;
    size: number;
    etag: string;
    partCount: number;
    /** 0 for DELETE records, which carry no time. */
    timeMs: number;
  }[];
  nextSeq: number;
  committedSeq: number;
}

export interface NativeChangesExpired {
  expired: true;
  oldestSeq: number;
  nextSeq: number;
}

export interface EngineBinding {
  engineOpen(options: Record<string, unknown>): Promise<NativeEngineHandle>;
}

function isInteger(v: unknown, lo: number, hi: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
}

/** Checks Store.open options with precise messages; throws TesseraError. */
export function validateOpenOptions(options: unknown): EngineOpenOptions {
  if (typeof options !== 'object' || options === null) {
    throw new TesseraError('ERR_INVALID_ARG_TYPE', 'Store.open expects an options object');
  }
  const o = options as Record<string, unknown>;
  if (o.path !== undefined && (typeof o.path !== 'string' || o.path === '')) {
    throw new TesseraError('ERR_INVALID_ARG_TYPE', 'path must be a non-empty string');
  }
  if (o.drives !== undefined) {
    if (
      !Array.isArray(o.drives) ||
      o.drives.some((d: unknown) => typeof d !== 'string' || d === '')
    ) {
      throw new TesseraError(
        'ERR_INVALID_ARG_TYPE',
        'drives must be an array of non-empty directory paths',
      );
    }
    if (o.drives.length < 2 || o.drives.length > 32) {
      throw new TesseraError(
        'ERR_OUT_OF_RANGE',
        `drives must list 2..32 directories, got ${o.drives.length}`,
      );
    }
  }
  if (o.path === undefined && o.drives === undefined) {
    throw new TesseraError('ERR_INVALID_ARG_VALUE', 'Store.open needs a path or drives');
  }
  for (const name of ['dataShards', 'parityShards'] as const) {
    if (o[name] !== undefined && !isInteger(o[name], 1, 31)) {
      throw new TesseraError(
        'ERR_OUT_OF_RANGE',
        `${name} must be an integer in 1..31, got ${String(o[name])}`,
      );
    }
  }
  const k = (o.dataShards as number | undefined) ?? 4;
  const m = (o.parityShards as number | undefined) ?? 2;
  if (k + m > 32) {
    throw new TesseraError(
      'ERR_OUT_OF_RANGE',
      `dataShards + parityShards must be at most 32, got ${k + m}`,
    );
  }
  if (Array.isArray(o.drives) && (o.dataShards !== undefined || o.parityShards !== undefined)) {
    if (k + m !== o.drives.length) {
      throw new TesseraError(
        'ERR_INVALID_ARG_VALUE',
        `dataShards + parityShards (${k + m}) must equal the number of drives (${o.drives.length})`,
      );
    }
  }
  if (o.segmentStripes !== undefined && !isInteger(o.segmentStripes, 8, 1 << 20)) {
    throw new TesseraError(
      'ERR_OUT_OF_RANGE',
      `segmentStripes must be an integer in 8..1048576, got ${String(o.segmentStripes)}`,
    );
  }
  if (
    o.chunkBytes !== undefined &&
    (!isInteger(o.chunkBytes, 4096, 65536) || (o.chunkBytes & (o.chunkBytes - 1)) !== 0)
  ) {
    throw new TesseraError(
      'ERR_OUT_OF_RANGE',
      `chunkBytes must be a power of two in 4096..65536, got ${String(o.chunkBytes)}`,
    );
  }
  if (
    o.directIO !== undefined &&
    !['required', 'optional', 'disabled'].includes(o.directIO as string)
  ) {
    throw new TesseraError(
      'ERR_INVALID_ARG_VALUE',
      `directIO must be 'required', 'optional' or 'disabled', got ${String(o.directIO)}`,
    );
  }
  if (
    o.ioBackend !== undefined &&
    !['auto', 'io_uring', 'pwrite'].includes(o.ioBackend as string)
  ) {
    throw new TesseraError(
      'ERR_INVALID_ARG_VALUE',
      `ioBackend must be 'auto', 'io_uring' or 'pwrite', got ${String(o.ioBackend)}`,
    );
  }
  if (
    o.segmentZeroFill !== undefined &&
    !['small-groups', 'always', 'never'].includes(o.segmentZeroFill as string)
  ) {
    throw new TesseraError(
      'ERR_INVALID_ARG_VALUE',
      `segmentZeroFill must be 'small-groups', 'always' or 'never', got ${String(o.segmentZeroFill)}`,
    );
  }
  if (
    o.segmentCreate !== undefined &&
    !['parallel', 'serial'].includes(o.segmentCreate as string)
  ) {
    throw new TesseraError(
      'ERR_INVALID_ARG_VALUE',
      `segmentCreate must be 'parallel' or 'serial', got ${String(o.segmentCreate)}`,
    );
  }
  if (o.replaceEmptyDrives !== undefined && typeof o.replaceEmptyDrives !== 'boolean') {
    throw new TesseraError('ERR_INVALID_ARG_TYPE', 'replaceEmptyDrives must be a boolean');
  }
  for (const name of ['autoHeal', 'ignoreSnapshot', 'testFaults'] as const) {
    if (o[name] !== undefined && typeof o[name] !== 'boolean') {
      throw new TesseraError('ERR_INVALID_ARG_TYPE', `${name} must be a boolean`);
    }
  }
  if (o.writeQuorum !== undefined && !isInteger(o.writeQuorum, 1, 255)) {
    throw new TesseraError(
      'ERR_OUT_OF_RANGE',
      `writeQuorum must be an integer in 1..255, got ${String(o.writeQuorum)}`,
    );
  }
  for (const name of ['healRateBytesPerSec', 'driveProbeIntervalMs'] as const) {
    if (o[name] !== undefined && !isInteger(o[name], 0, Number.MAX_SAFE_INTEGER)) {
      throw new TesseraError(
        'ERR_OUT_OF_RANGE',
        `${name} must be a non-negative integer, got ${String(o[name])}`,
      );
    }
  }
  for (const name of ['groupCommitDelayUs', 'readerThreads'] as const) {
    const lo = name === 'readerThreads' ? 1 : 0;
    const hi = name === 'readerThreads' ? 64 : 100000;
    if (o[name] !== undefined && !isInteger(o[name], lo, hi)) {
      throw new TesseraError(
        'ERR_OUT_OF_RANGE',
        `${name} must be an integer in ${lo}..${hi}, got ${String(o[name])}`,
      );
    }
  }
  if (
    o.cacheBytes !== undefined &&
    (typeof o.cacheBytes !== 'number' || !Number.isSafeInteger(o.cacheBytes) || o.cacheBytes < 0)
  ) {
    throw new TesseraError(
      'ERR_OUT_OF_RANGE',
      `cacheBytes must be a non-negative integer, got ${String(o.cacheBytes)}`,
    );
  }
  return o as EngineOpenOptions;
}

const VERSIONING: readonly BucketInfo['versioning'][] = ['Disabled', 'Enabled', 'Suspended'];

/** Pieces of a streamed body; under the engine's record limit. */
const UPLOAD_PIECE_BYTES = 4 * 1024 * 1024;
/** Body bytes in flight to the engine (its queue refuses beyond 256 MiB). */
const WRITE_BYTES_IN_FLIGHT_MAX = 128 * 1024 * 1024;
/** The engine caches bodies up to 64 KiB (EngineOptions::cache_object_bytes_max). */
const CACHED_BODY_MAX = 64 * 1024;
/** Bodies from this size on get a huge-page mapping (allocBody). */
const LARGE_BODY_BYTES = 8 * 1024 * 1024;
/** The engine's read cache size when cacheBytes is not given (EngineOptions). */
const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;
const SLAB_BYTES = 512 * 1024;
/** 'null' as a little-endian u32. */
const NULL_VERSION_LE = Buffer.from('null').readUInt32LE(0);
/** Bodies up to this size go down in one call. */
const INLINE_BYTES_MAX = 4 * 1024 * 1024;

function toPairs(record: Record<string, string> | undefined): PairList {
  return record === undefined ? [] : Object.entries(record);
}

function fromPairs(pairs: PairList): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of pairs) out[k] = v;
  return out;
}

/** `<hex>` or `<hex>-<N>` (multipart) as the engine's bytes and part count. */
function etagBytes(etag: string): { bytes: Buffer; partCount: number } {
  const m = /^"?([0-9a-f]{32})(?:-([1-9]\d{0,4}))?"?$/i.exec(etag);
  // A malformed ETag matches nothing: all-zero bytes are never an MD5 the
  // engine stores for a non-empty condition to hit by chance in practice.
  if (!m) return { bytes: Buffer.alloc(16), partCount: 0 };
  return { bytes: Buffer.from(m[1]!, 'hex'), partCount: m[2] === undefined ? 0 : Number(m[2]) };
}

/** What getCached decodes once per cached record (see decodeCachedInfo). */
interface DecodedInfo {
  bucket: string;
  key: string;
  mtimeMs: number;
  versionId: string;
  etag: string;
  size: number;
  contentType: string | undefined;
  /** Undefined when there is none (the common case). */
  metadata: Record<string, string> | undefined;
  checksums: Record<string, string> | undefined;
}

/** Decoded infos getCached keeps (a few MiB at most). */
const DECODED_INFO_MAX = 16384;

/**
 * Decodes the info getCached's native call wrote into `s`; the layout is
 * written by GetCached in native/napi/engine_binding.cc.
 */
function decodeCachedInfo(s: Buffer, bucket: string, key: string, mtimeMs: number): DecodedInfo {
  let at = 56;
  const str = (): string => {
    const n = s.readUInt32LE(at);
    at += 4 + n;
    return n === 0 ? '' : s.toString('utf8', at - n, at);
  };
  // Unversioned objects (the common case) have version 'null': no decode.
  const versionId =
    s.readUInt32LE(56) === 4 && s.readUInt32LE(60) === NULL_VERSION_LE
      ? ((at += 8), 'null')
      : str();
  const contentType = str();
  let metadata: Record<string, string> | undefined;
  for (let i = s.readUInt32LE(40); i > 0; i--) (metadata ??= {})[str()] = str();
  let checksums: Record<string, string> | undefined;
  for (let i = s.readUInt32LE(44); i > 0; i--) (checksums ??= {})[str()] = str();
  return {
    bucket,
    key,
    mtimeMs,
    versionId,
    etag: etagText(s.toString('hex', 24, 40), s.readUInt16LE(20)),
    size: s.readDoubleLE(0),
    contentType: contentType === '' ? undefined : contentType,
    metadata,
    checksums,
  };
}

/** The ETag callers see: the MD5, or `<md5 of part md5s>-N` for a multipart object. */
function etagText(hex: string, partCount: number): string {
  return partCount > 0 && hex !== '' ? `${hex}-${partCount}` : hex;
}

function noSuchBucket(name: string): TesseraError {
  return new TesseraError('NoSuchBucket', `bucket ${JSON.stringify(name)} does not exist`);
}

function isCode(error: unknown, code: string): boolean {
  return error instanceof TesseraError && error.code === code;
}

export class NativeStoreEngine implements StoreEngine, ChangeSource {
  readonly inlineBytesMax = INLINE_BYTES_MAX;
  readonly uploadPieceBytes = UPLOAD_PIECE_BYTES;
  /**
   * Body bytes submitted and not yet settled, kept under half the engine's
   * queue limit (256 MiB): more concurrent writes wait here, in order,
   * instead of failing with "the write queue is full".
   */
  private readonly budget = new ByteBudget(WRITE_BYTES_IN_FLIGHT_MAX);
  /** Where getCached encodes an object's info (metadata is under 2 KiB). */
  private readonly scratch = Buffer.allocUnsafeSlow(64 * 1024);
  /**
   * Cached bodies are copied into this slab and returned as views of it
   * (like Node's Buffer pool for small allocations, so a hot get allocates
   * no ArrayBuffer); a new slab starts when less than the largest cached
   * body is left.
   */
  private slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
  /** getCached's decoded record infos by seq (bounded: cleared when full). */
  private readonly decodedBySeq = new Map<number, DecodedInfo>();
  private slabUsed = 0;

  /** Hot objects answered on this thread (hot_objects.ts). */
  private readonly hot: HotObjects<DecodedInfo>;
  /** False once largeBuffer failed (a runtime without external buffers). */
  private largeBuffers = true;

  private constructor(
    private readonly handle: NativeEngineHandle,
    private readonly drives: string[],
    cacheBytes: number,
  ) {
    // Runtimes that refuse external buffers (Electron's V8 sandbox) get
    // no hot map: gets then always ask the native cache.
    let generation: Float64Array | undefined;
    try {
      generation = new Float64Array(handle.generationCell());
    } catch {
      generation = undefined;
    }
    // At most half of cacheBytes of records the native cache may have
    // evicted stay alive through the map (until the next write).
    this.hot = new HotObjects<DecodedInfo>(
      generation ?? new Float64Array(1),
      generation === undefined ? 0 : Math.floor(cacheBytes / 2),
    );
  }

  /** Opens (or creates) the store; options are validated by Store.open. */
  static async open(options: EngineOpenOptions): Promise<NativeStoreEngine> {
    const engineBinding = binding as unknown as EngineBinding;
    const native: Record<string, unknown> = {
      directIO: options.directIO ?? 'optional',
      ioBackend: options.ioBackend ?? 'auto',
    };
    if (options.path !== undefined) native.path = options.path;
    if (options.drives !== undefined) native.drives = options.drives;
    if (options.dataShards !== undefined) native.dataShards = options.dataShards;
    if (options.parityShards !== undefined) native.parityShards = options.parityShards;
    if (options.chunkBytes !== undefined) native.chunkBytes = options.chunkBytes;
    if (options.segmentStripes !== undefined) native.segmentStripes = options.segmentStripes;
    if (options.groupCommitDelayUs !== undefined)
      native.groupCommitDelayUs = options.groupCommitDelayUs;
    if (options.readerThreads !== undefined) native.readerThreads = options.readerThreads;
    if (options.cacheBytes !== undefined) native.cacheBytes = options.cacheBytes;
    if (options.replaceEmptyDrives !== undefined)
      native.replaceEmptyDrives = options.replaceEmptyDrives;
    if (options.segmentZeroFill !== undefined) native.segmentZeroFill = options.segmentZeroFill;
    if (options.segmentCreate !== undefined) native.segmentCreate = options.segmentCreate;
    for (const name of [
      'writeQuorum',
      'autoHeal',
      'healRateBytesPerSec',
      'driveProbeIntervalMs',
      'ignoreSnapshot',
      'testFaults',
    ] as const) {
      if (options[name] !== undefined) native[name] = options[name];
    }
    const handle = await engineBinding.engineOpen(native);
    const info = handle.info();
    const drives =
      options.drives ??
      Array.from({ length: info.dataShards + info.parityShards }, (_, i) =>
        join(options.path!, `drive-${i}`),
      );
    return new NativeStoreEngine(handle, drives, options.cacheBytes ?? DEFAULT_CACHE_BYTES);
  }

  /** Engine internals for tests and benchmarks (recovery, counters). */
  get native(): NativeEngineHandle {
    return this.handle;
  }

  /**
   * Scrub or heal pass (lib/store/scrub.ts); the cursor lives on the first
   * drive that takes it (drive 0 unless that one is gone).
   */
  scrub(heal: boolean, options: ScrubOptions): Promise<ScrubReport> {
    return runScrub(this.handle as unknown as NativeScrubHandle, this.drives, heal, options);
  }

  /** Stops a running scrub or heal after its current batch (close does this). */
  cancelScrub(): void {
    (this.handle as unknown as NativeScrubHandle).cancelScrub();
  }

  info(): EngineInfo {
    const i = this.handle.info();
    return {
      storeId: i.storeId,
      dataShards: i.dataShards,
      parityShards: i.parityShards,
      drives: [...this.drives],
      directIO: i.directIO,
      ioBackend: i.ioBackend,
    };
  }

  private readonly commitListeners = new Set<(seq: number) => void>();

  private one(write: NativeWrite): Promise<NativeWriteResult> {
    return this.handle.submit([write])[0]!.then((r) => {
      for (const listener of this.commitListeners) listener(r.seq);
      return r;
    });
  }

  /**
   * Committed change events with seq >= fromSeq, in commit order, read from
   * the log on a reader thread (docs/events.md). Throws
   * ERR_STORE_CHANGES_EXPIRED (with `oldestSeq`) when the log no longer
   * holds them.
   */
  async changes(fromSeq: number, maxEvents: number): Promise<ChangesPage> {
    const page = await this.handle.changes(fromSeq, maxEvents);
    if (page.expired) throw changesExpired(fromSeq, page.oldestSeq);
    return {
      events: page.events.map((e) => {
        const event: ChangeEvent = {
          seq: e.seq,
          type: e.deleted ? 'deleted' : 'created',
          bucket: e.bucket,
          key: e.key,
          versionId: e.versionId,
          size: e.size,
          etag: etagText(e.etag, e.partCount),
          deleteMarker: e.deleteMarker,
          time: e.timeMs === 0 ? null : new Date(e.timeMs),
        };
        return event;
      }),
      nextSeq: page.nextSeq,
      committedSeq: page.committedSeq,
    };
  }

  /** store.stats() (lib/store/stats.ts): the census plus the engine's counters. */
  async storeStats(operations: StoreStats['operations']): Promise<StoreStats> {
    const c = await this.handle.census();
    const e = this.handle.stats();
    // Counters other engine work adds (read cache, GC, degraded writes)
    // are read when this build's engine reports them; absent, the engine
    // has no such mechanism and the truthful value is 0.
    // Gets the hot map answered never reached the native cache: hits too.
    const hits = (e.cacheHits ?? 0) + this.hot.hits;
    const misses = e.cacheMisses ?? 0;
    return {
      objects: c.objects,
      versions: c.versions,
      deleteMarkers: c.deleteMarkers,
      buckets: c.buckets,
      logicalBytes: c.logicalBytes,
      currentBytes: c.currentBytes,
      physicalBytes: c.segments * c.segmentFileBytes * c.shards,
      logBytes: c.logBytes,
      liveBytes: c.liveLogBytes,
      deadBytes: Math.max(0, c.logBytes - c.liveLogBytes),
      segments: c.segments,
      indexMemoryBytes: c.indexMemoryBytes,
      cache: {
        hits,
        misses,
        hitRatio: hits + misses === 0 ? null : hits / (hits + misses),
        bytes: e.cacheBytes ?? 0,
      },
      operations,
      degradedDrives: e.degradedDrives ?? 0,
      healQueue: this.handle.damagedStripes(),
      gc: {
        available: e.gcSegmentsReclaimed !== undefined,
        running: (e.gcRunning ?? 0) !== 0,
        segmentsReclaimed: e.gcSegmentsReclaimed ?? 0,
        bytesReclaimed: e.gcBytesReclaimed ?? 0,
      },
      changes: { committedSeq: this.handle.committedSeq() },
      engine: {
        commitGroups: e.groups ?? 0,
        writes: e.writes ?? 0,
        commitGroupsFailed: e.groupsFailed ?? 0,
        chunksRead: e.chunksRead ?? 0,
        chunksBad: e.chunksBad ?? 0,
        stripesReconstructed: e.stripesReconstructed ?? 0,
      },
    };
  }

  /** The newest committed change sequence (0 on an empty store). */
  committedSeq(): number {
    return this.handle.committedSeq();
  }

  /** Calls `listener(seq)` after each write this engine committed; returns the remover. */
  onCommit(listener: (seq: number) => void): () => void {
    this.commitListeners.add(listener);
    return () => this.commitListeners.delete(listener);
  }

  private requireBucket(name: string): NativeBucket {
    const bucket = this.handle.getBucket(name);
    if (!bucket) throw noSuchBucket(name);
    return bucket;
  }

  async createBucket(name: string, versioning: BucketInfo['versioning']): Promise<void> {
    try {
      await this.one({
        kind: 'bucketCreate',
        bucket: name,
        versioning: VERSIONING.indexOf(versioning) as 0 | 1 | 2,
      });
    } catch (error) {
      if (isCode(error, 'PreconditionFailed'))
        throw new TesseraError(
          'BucketAlreadyOwnedByYou',
          `bucket ${JSON.stringify(name)} already exists`,
        );
      throw error;
    }
  }

  async deleteBucket(name: string): Promise<void> {
    try {
      await this.one({ kind: 'bucketDelete', bucket: name });
    } catch (error) {
      if (isCode(error, 'NoSuchKey')) throw noSuchBucket(name);
      if (isCode(error, 'PreconditionFailed'))
        throw new TesseraError('BucketNotEmpty', `bucket ${JSON.stringify(name)} is not empty`);
      throw error;
    }
  }

  private static bucketInfo(b: NativeBucket): BucketInfo {
    return {
      name: b.name,
      creationDate: new Date(b.createdMs),
      versioning: VERSIONING[b.versioning]!,
    };
  }

  async getBucket(name: string): Promise<BucketInfo | undefined> {
    const b = this.handle.getBucket(name);
    return b ? NativeStoreEngine.bucketInfo(b) : undefined;
  }

  async listBuckets(): Promise<BucketInfo[]> {
    return this.handle.listBuckets().map((b) => NativeStoreEngine.bucketInfo(b));
  }

  async setBucketVersioning(name: string, versioning: 'Enabled' | 'Suspended'): Promise<void> {
    try {
      await this.one({
        kind: 'bucketSettings',
        bucket: name,
        versioning: VERSIONING.indexOf(versioning) as 1 | 2,
      });
    } catch (error) {
      if (isCode(error, 'NoSuchKey')) throw noSuchBucket(name);
      throw error;
    }
  }

  private objectWrite(request: WriteObjectRequest, kind: 'put' | 'commitUpload'): NativeWrite {
    const write: NativeWrite = {
      kind,
      bucket: request.bucket,
      key: request.key,
      metadata: toPairs(request.metadata),
      checksums: toPairs(request.checksums as Record<string, string> | undefined),
      condition: request.ifNoneMatch === '*' ? 1 : request.ifMatch !== undefined ? 2 : 0,
    };
    if (request.contentType !== undefined) write.contentType = request.contentType;
    if (request.ifMatch !== undefined) {
      const { bytes, partCount } = etagBytes(request.ifMatch);
      write.ifMatchEtag = bytes;
      write.ifMatchPartCount = partCount;
    }
    if (request.multipartEtag !== undefined) {
      const { bytes, partCount } = etagBytes(request.multipartEtag);
      write.etag = bytes;
      write.partCount = partCount;
    }
    return write;
  }

  private async writeObject(write: NativeWrite, size: number): Promise<PutResult> {
    try {
      const r = await this.one(write);
      return { etag: etagText(r.etag, write.partCount ?? 0), versionId: r.versionId, size };
    } catch (error) {
      if (isCode(error, 'NoSuchKey')) {
        if (!this.handle.getBucket(write.bucket)) throw noSuchBucket(write.bucket);
        throw new TesseraError('NoSuchKey', 'the object does not exist');
      }
      if (isCode(error, 'PreconditionFailed'))
        throw new TesseraError(
          'PreconditionFailed',
          write.condition === 1
            ? 'an object with this key already exists'
            : 'the ETag does not match',
        );
      throw error;
    }
  }

  async put(request: WriteObjectRequest, body: Buffer): Promise<PutResult> {
    const write = this.objectWrite(request, 'put');
    write.body = body;
    const wait = this.budget.acquire(body.length);
    if (wait) await wait;
    try {
      return await this.writeObject(write, body.length);
    } finally {
      this.budget.release(body.length);
    }
  }

  async beginUpload(bucket: string): Promise<EngineUpload> {
    this.requireBucket(bucket);
    const id = this.handle.beginUpload();
    let size = 0;
    let finished = false;
    return {
      append: async (piece: Buffer) => {
        if (finished) throw new TesseraError('ERR_STORE_INTERNAL', 'upload already finished');
        size += piece.length;
        const wait = this.budget.acquire(piece.length);
        if (wait) await wait;
        try {
          await this.handle.appendUpload(id, piece);
        } finally {
          this.budget.release(piece.length);
        }
      },
      commit: async (request: WriteObjectRequest) => {
        finished = true;
        const write = this.objectWrite(request, 'commitUpload');
        write.uploadId = id;
        return this.writeObject(write, size);
      },
      abort: async () => {
        finished = true;
        this.handle.abortUpload(id);
      },
    };
  }

  private toInfo(bucket: string, key: string, n: NativeObjectInfo): ObjectInfo {
    const info: ObjectInfo = {
      bucket,
      key,
      versionId: n.versionId,
      etag: etagText(n.etag, n.partCount),
      size: n.size,
      lastModified: new Date(n.mtimeMs),
      metadata: fromPairs(n.metadata),
      deleteMarker: n.deleteMarker,
      isLatest: n.isLatest,
      sequence: n.sequence,
    };
    if (!n.deleteMarker && n.contentType !== '') info.contentType = n.contentType;
    if (n.checksums.length > 0)
      info.checksums = fromPairs(n.checksums) as Partial<Record<ChecksumAlgorithm, string>>;
    return info;
  }

  async head(
    bucket: string,
    key: string,
    options: { versionId?: string; bodyBytesMax?: number },
  ): Promise<EngineHead | undefined> {
    const n = await this.handle.head(bucket, key, options.versionId ?? '', options.bodyBytesMax);
    if (!n) {
      // The bucket is checked only when nothing was found (one call less per hit).
      this.requireBucket(bucket);
      return undefined;
    }
    const info: EngineHead = this.toInfo(bucket, key, n);
    if (n.body !== undefined) info.body = n.body;
    return info;
  }

  /**
   * A get answered from memory (the read cache), synchronously, or
   * undefined: never touches disk, so it may run on the JS thread.
   */
  getCached(
    bucket: string,
    key: string,
    versionId: string | undefined,
  ): { info: ObjectInfo; body: Buffer } | undefined {
    const held = this.hot.lookup(bucket, key, versionId);
    if (held !== undefined) {
      return {
        info: this.cachedInfo(held.d, held.isLatest, held.sequence),
        body: this.slabCopy(held.body),
      };
    }
    if (this.hot.admitting) return this.admitHot(bucket, key, versionId);
    const s = this.scratch;
    this.slabRoom(CACHED_BODY_MAX);
    const bodyBytes = this.handle.getCached(
      bucket,
      key,
      versionId ?? '',
      s,
      this.slab,
      this.slabUsed,
    );
    if (bodyBytes < 0) return undefined;
    this.hot.noteNativeHit();
    const body = Buffer.from(this.slab.buffer, this.slab.byteOffset + this.slabUsed, bodyBytes);
    this.slabUsed += (bodyBytes + 7) & ~7;
    const sequence = s.readDoubleLE(48);
    return { info: this.cachedInfo(this.decoded(s, bucket, key), s[22] === 1, sequence), body };
  }

  /** A native-cache hit, kept in the hot map. */
  private admitHot(
    bucket: string,
    key: string,
    versionId: string | undefined,
  ): { info: ObjectInfo; body: Buffer } | undefined {
    const s = this.scratch;
    let ref: Buffer | number;
    try {
      ref = this.handle.getCachedRef(bucket, key, versionId ?? '', s);
    } catch {
      this.hot.disable(); // no external buffers in this runtime
      return undefined;
    }
    if (typeof ref === 'number') return undefined;
    const held: HotObject<DecodedInfo> = {
      d: this.decoded(s, bucket, key),
      body: ref,
      isLatest: s[22] === 1,
      sequence: s.readDoubleLE(48),
    };
    this.hot.admit(bucket, key, versionId, held);
    return {
      info: this.cachedInfo(held.d, held.isLatest, held.sequence),
      body: this.slabCopy(ref),
    };
  }

  /** Starts a new slab when less than `bytes` are left. */
  private slabRoom(bytes: number): void {
    if (this.slab.length - this.slabUsed < bytes) {
      this.slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
      this.slabUsed = 0;
    }
  }

  /** A caller's own copy of `body`, as a view of the slab. */
  private slabCopy(body: Buffer): Buffer {
    this.slabRoom(body.length);
    const at = this.slabUsed;
    body.copy(this.slab, at);
    this.slabUsed += (body.length + 7) & ~7;
    return Buffer.from(this.slab.buffer, this.slab.byteOffset + at, body.length);
  }

  /**
   * The decoded info of the record getCached's native call described in
   * `s`. A record's info never changes (only isLatest does): decoded once
   * per record, kept by its seq.
   */
  private decoded(s: Buffer, bucket: string, key: string): DecodedInfo {
    const sequence = s.readDoubleLE(48);
    const mtimeMs = s.readDoubleLE(8);
    let d = this.decodedBySeq.get(sequence);
    if (d === undefined || d.key !== key || d.bucket !== bucket || d.mtimeMs !== mtimeMs) {
      d = decodeCachedInfo(s, bucket, key, mtimeMs);
      if (this.decodedBySeq.size >= DECODED_INFO_MAX) this.decodedBySeq.clear();
      this.decodedBySeq.set(sequence, d);
    }
    return d;
  }

  /**
   * A fresh info object per get (callers may change it); metadata and
   * checksums copied, an empty metadata object made new.
   */
  private cachedInfo(d: DecodedInfo, isLatest: boolean, sequence: number): ObjectInfo {
    const info: ObjectInfo = {
      bucket: d.bucket,
      key: d.key,
      versionId: d.versionId,
      etag: d.etag,
      size: d.size,
      lastModified: new Date(d.mtimeMs),
      metadata: d.metadata === undefined ? {} : { ...d.metadata },
      deleteMarker: false,
      isLatest,
      sequence,
    };
    if (d.contentType !== undefined) info.contentType = d.contentType;
    if (d.checksums !== undefined)
      info.checksums = { ...d.checksums } as Partial<Record<ChecksumAlgorithm, string>>;
    return info;
  }

  /**
   * A large get's body: from 8 MiB on, its own mapping advised to use huge
   * pages, so the reader threads that fill it take a fault per 2 MiB
   * instead of per 4 KiB (large_buffer_binding.cc says why).
   */
  allocBody(length: number): Buffer {
    if (length >= LARGE_BODY_BYTES && this.largeBuffers) {
      try {
        return binding.largeBuffer(length);
      } catch (error) {
        // No external buffers in this runtime: plain Buffers from now on.
        // Out of memory is the caller's error, as from allocUnsafe.
        if (isCode(error, 'ERR_MEMORY_ALLOCATION_FAILED')) throw error;
        this.largeBuffers = false;
      }
    }
    return Buffer.allocUnsafe(length);
  }

  /** Body bytes [offset, offset + length) into `target`; resolves with the count. */
  async readInto(
    info: ObjectInfo,
    offset: number,
    length: number,
    target: Buffer,
  ): Promise<number> {
    try {
      return await this.handle.readInto(
        info.bucket,
        info.key,
        info.versionId,
        offset,
        length,
        target,
      );
    } catch (error) {
      if (isCode(error, 'NoSuchKey'))
        throw new TesseraError('NoSuchVersion', 'the version no longer exists');
      throw error;
    }
  }

  async read(info: ObjectInfo, offset: number, length: number): Promise<Buffer> {
    try {
      return await this.handle.read(info.bucket, info.key, info.versionId, offset, length);
    } catch (error) {
      if (isCode(error, 'NoSuchKey'))
        throw new TesseraError('NoSuchVersion', 'the version no longer exists');
      throw error;
    }
  }

  async delete(bucket: string, key: string, options: EngineDeleteOptions): Promise<DeleteResult> {
    this.requireBucket(bucket);
    const write: NativeWrite = { kind: 'delete', bucket, key };
    if (options.versionId !== undefined) write.versionId = options.versionId;
    if (options.ifMatch !== undefined) {
      write.condition = 2;
      const { bytes, partCount } = etagBytes(options.ifMatch.etag);
      write.ifMatchEtag = bytes;
      write.ifMatchPartCount = partCount;
      if (options.ifMatch.lastModifiedMs !== undefined)
        write.ifMatchMtimeMs = options.ifMatch.lastModifiedMs;
    }
    try {
      const r = await this.one(write);
      const result: DeleteResult = { deleteMarker: r.deleteMarker };
      if (r.versionId !== '') result.versionId = r.versionId;
      return result;
    } catch (error) {
      if (isCode(error, 'PreconditionFailed'))
        throw new TesseraError('PreconditionFailed', 'the version changed since it was read');
      if (isCode(error, 'NoSuchKey') && options.ifMatch !== undefined) {
        if (!this.handle.getBucket(bucket)) throw noSuchBucket(bucket);
        if (options.versionId === undefined)
          throw new TesseraError('NoSuchKey', 'the object does not exist');
      }
      // Deleting a version that is not there changes nothing (S3: 204).
      if (isCode(error, 'NoSuchKey') && options.versionId !== undefined) {
        if (!this.handle.getBucket(bucket)) throw noSuchBucket(bucket);
        return { deleteMarker: false };
      }
      if (isCode(error, 'NoSuchKey')) throw noSuchBucket(bucket);
      throw error;
    }
  }

  async list(bucket: string, options: EngineListOptions): Promise<EngineListPage> {
    this.requireBucket(bucket);
    const page = this.handle.list(
      bucket,
      options.prefix,
      options.delimiter ?? '',
      options.startAfter ?? '',
      options.maxKeys,
    );
    const result: EngineListPage = {
      objects: page.objects.map((o) => ({
        key: o.key,
        size: o.size,
        etag: etagText(o.etag, o.partCount),
        lastModified: new Date(o.mtimeMs),
      })),
      commonPrefixes: page.commonPrefixes,
    };
    if (page.truncated) result.nextStartAfter = page.nextMarker;
    return result;
  }

  async listVersions(
    bucket: string,
    options: { prefix: string; after?: { key: string; versionId: string }; maxKeys: number },
  ): Promise<EngineVersionPage> {
    this.requireBucket(bucket);
    const page = this.handle.listVersions(
      bucket,
      options.prefix,
      '',
      options.after?.key ?? '',
      options.after?.versionId ?? '',
      options.maxKeys,
    );
    const result: EngineVersionPage = {
      versions: page.versions.map((v) => ({
        key: v.key,
        versionId: v.versionId,
        isLatest: v.isLatest,
        deleteMarker: v.deleteMarker,
        size: v.size,
        etag: etagText(v.etag, v.partCount),
        lastModified: new Date(v.mtimeMs),
        sequence: v.sequence,
      })),
    };
    if (page.truncated)
      result.next = { key: page.nextKeyMarker, versionId: page.nextVersionIdMarker };
    return result;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}
