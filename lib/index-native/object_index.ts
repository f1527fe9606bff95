/**
 * A small typed wrapper over the native index (native/index/index.h) for
 * tests and benchmarks. The object engine will own the index in production;
 * this class is not part of the public API (not exported from lib/index.ts).
 *
 * Validation happens here, with precise messages; the C++ side asserts.
 */
import { binding, type NativeIndexHandle, type NativeListPage } from '../binding';
import { TesseraError } from '../errors';

export const BUCKET_BYTES_MIN = 3;
export const BUCKET_BYTES_MAX = 63;
export const OBJECT_KEY_BYTES_MAX = 1024;
export const LIST_KEYS_MAX = 10000;
const META_BYTES = binding.indexMetaBytes;

export const FLAG_DELETE_MARKER = 1;

/** The fixed metadata of one object version. */
export interface IndexMeta {
  segment: number; // < 2^24
  offset: number; // < 2^40
  length: number; // u32
  versionId: bigint; // u64 commit sequence
  size: number; // < 2^48
  mtimeMs: number; // < 2^48
  etag: Buffer; // 16 bytes
  partCount: number; // u16
  flags: number; // FLAG_DELETE_MARKER | 2 | 4
}

export type PutCondition =
  { ifAbsent: true } | { ifMatch: { etag: Buffer; partCount: number } } | { ifVersion: bigint };

export interface ListOptions {
  prefix?: string;
  delimiter?: string;
  startAfter?: string;
  continuation?: Buffer;
  maxKeys?: number;
}

export interface ListResult {
  entries: { key: string; meta: IndexMeta }[];
  commonPrefixes: string[];
  truncated: boolean;
  continuation?: Buffer;
}

export interface ListVersionsOptions {
  prefix?: string;
  delimiter?: string;
  /** Resume after this key (all its versions), or after `versionIdMarker` of it. */
  keyMarker?: string;
  versionIdMarker?: bigint;
  maxKeys?: number;
}

export interface ListVersionsResult {
  /** Keys in byte order, each key's versions newest first, delete markers included. */
  entries: { key: string; meta: IndexMeta; isLatest: boolean }[];
  commonPrefixes: string[];
  truncated: boolean;
  /** Set when truncated: pass back as keyMarker / versionIdMarker. */
  nextKeyMarker?: string;
  nextVersionIdMarker?: bigint;
}

const EMPTY = Buffer.alloc(0);

/** `maxKeys` of a listing: an integer in 1..LIST_KEYS_MAX, default 1000. */
function checkMaxKeys(maxKeys: number = 1000): number {
  if (!Number.isInteger(maxKeys) || maxKeys < 1 || maxKeys > LIST_KEYS_MAX) {
    throw new TesseraError(
      'ERR_OUT_OF_RANGE',
      `maxKeys must be an integer in 1..${LIST_KEYS_MAX}, got ${maxKeys}`,
    );
  }
  return maxKeys;
}

/** An optional key-like listing option as bytes (empty when absent). */
function optionalKey(value: string | undefined, name: string): Buffer {
  return value === undefined ? EMPTY : keyBuffer(value, name, OBJECT_KEY_BYTES_MAX);
}

function keyBuffer(key: string | Buffer, what: string, max: number): Buffer {
  const b = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  if (!Buffer.isBuffer(b)) {
    throw new TesseraError('ERR_INVALID_ARG_TYPE', `${what} must be a string or Buffer`);
  }
  if (b.length > max) {
    throw new TesseraError(
      'KeyTooLongError',
      `${what} must be at most ${max} bytes, got ${b.length}`,
    );
  }
  return b;
}

function checkBucket(bucket: string): void {
  const n = Buffer.byteLength(bucket, 'utf8');
  if (typeof bucket !== 'string' || n < BUCKET_BYTES_MIN || n > BUCKET_BYTES_MAX) {
    throw new TesseraError(
      'ERR_INVALID_ARG_VALUE',
      `bucket must be a string of 3..63 bytes, got ${typeof bucket === 'string' ? n : typeof bucket}`,
    );
  }
}

function checkUint(value: number, name: string, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new TesseraError(
      'ERR_OUT_OF_RANGE',
      `${name} must be an integer in 0..${max}, got ${value}`,
    );
  }
}

export function encodeMeta(m: IndexMeta, out: Buffer = Buffer.alloc(META_BYTES), at = 0): Buffer {
  checkUint(m.segment, 'segment', 2 ** 24 - 1);
  checkUint(m.offset, 'offset', 2 ** 40 - 1);
  checkUint(m.length, 'length', 2 ** 32 - 1);
  checkUint(m.size, 'size', 2 ** 48 - 1);
  checkUint(m.mtimeMs, 'mtimeMs', 2 ** 48 - 1);
  checkUint(m.partCount, 'partCount', 0xffff);
  checkUint(m.flags, 'flags', 7);
  if (typeof m.versionId !== 'bigint' || m.versionId < 0n || m.versionId >= 2n ** 64n) {
    throw new TesseraError(
      'ERR_OUT_OF_RANGE',
      `versionId must be a bigint in 0..2^64-1, got ${m.versionId}`,
    );
  }
  if (!Buffer.isBuffer(m.etag) || m.etag.length !== 16) {
    throw new TesseraError('ERR_INVALID_ARG_VALUE', 'etag must be a 16-byte Buffer');
  }
  out.fill(0, at, at + META_BYTES);
  out.writeUInt32LE(m.segment, at);
  out.writeUInt32LE(m.length, at + 4);
  out.writeBigUInt64LE(BigInt(m.offset), at + 8);
  out.writeBigUInt64LE(m.versionId, at + 16);
  out.writeBigUInt64LE(BigInt(m.size), at + 24);
  out.writeBigUInt64LE(BigInt(m.mtimeMs), at + 32);
  m.etag.copy(out, at + 40);
  out.writeUInt16LE(m.partCount, at + 56);
  out.writeUInt8(m.flags, at + 58);
  return out;
}

export function decodeMeta(b: Buffer, at = 0): IndexMeta {
  return {
    segment: b.readUInt32LE(at),
    length: b.readUInt32LE(at + 4),
    offset: Number(b.readBigUInt64LE(at + 8)),
    versionId: b.readBigUInt64LE(at + 16),
    size: Number(b.readBigUInt64LE(at + 24)),
    mtimeMs: Number(b.readBigUInt64LE(at + 32)),
    etag: Buffer.from(b.subarray(at + 40, at + 56)),
    partCount: b.readUInt16LE(at + 56),
    flags: b.readUInt8(at + 58),
  };
}

/** Splits a packed key buffer (u16 length, bytes)* into strings. */
export function unpackKeys(packed: Buffer): string[] {
  const out: string[] = [];
  for (let pos = 0; pos < packed.length;) {
    const n = packed.readUInt16LE(pos);
    out.push(packed.toString('utf8', pos + 2, pos + 2 + n));
    pos += 2 + n;
  }
  return out;
}

export class ObjectIndex {
  private readonly native: NativeIndexHandle;
  private readonly scratch = Buffer.alloc(META_BYTES);

  constructor(options: { expectedKeys?: number } = {}) {
    const expected = options.expectedKeys ?? 0;
    checkUint(expected, 'expectedKeys', 2 ** 32);
    this.native = new binding.NativeIndex(expected);
  }

  /** Loads a snapshot written by saveSnapshot (ERR_STORE_CORRUPT if damaged). */
  static async loadSnapshot(path: string): Promise<ObjectIndex> {
    const loaded = await binding.NativeIndex.loadSnapshot(path);
    const index = new ObjectIndex();
    index.native.adoptLoaded(loaded);
    return index;
  }

  put(
    bucket: string,
    key: string | Buffer,
    meta: IndexMeta,
    options: { newVersion?: boolean; condition?: PutCondition } = {},
  ): void {
    checkBucket(bucket);
    const k = keyBuffer(key, 'key', OBJECT_KEY_BYTES_MAX);
    const m = encodeMeta(meta);
    const c = options.condition;
    let kind = 0;
    let etag: Buffer | undefined;
    let parts = 0;
    let version = 0n;
    if (c && 'ifAbsent' in c) {
      kind = 1;
    } else if (c && 'ifMatch' in c) {
      kind = 2;
      etag = c.ifMatch.etag;
      parts = c.ifMatch.partCount;
      if (!Buffer.isBuffer(etag) || etag.length !== 16) {
        throw new TesseraError('ERR_INVALID_ARG_VALUE', 'ifMatch.etag must be a 16-byte Buffer');
      }
      checkUint(parts, 'ifMatch.partCount', 0xffff);
    } else if (c && 'ifVersion' in c) {
      kind = 3;
      version = c.ifVersion;
    }
    this.native.put(bucket, k, m, options.newVersion ? 1 : 0, kind, etag, parts, version);
  }

  get(bucket: string, key: string | Buffer): IndexMeta | undefined {
    checkBucket(bucket);
    const k = keyBuffer(key, 'key', OBJECT_KEY_BYTES_MAX);
    return this.native.get(bucket, k, this.scratch) ? decodeMeta(this.scratch) : undefined;
  }

  /** Batched lookups in one addon call (the index prefetches across the batch). */
  getMany(bucket: string, keys: readonly (string | Buffer)[]): (IndexMeta | undefined)[] {
    checkBucket(bucket);
    const parts: Buffer[] = [];
    for (const key of keys) {
      const k = keyBuffer(key, 'key', OBJECT_KEY_BYTES_MAX);
      const len = Buffer.alloc(2);
      len.writeUInt16LE(k.length);
      parts.push(len, k);
    }
    const out = Buffer.alloc(keys.length * META_BYTES);
    const found = Buffer.alloc(keys.length);
    this.native.getMany(bucket, Buffer.concat(parts), out, found);
    return keys.map((_, i) => (found[i] === 1 ? decodeMeta(out, i * META_BYTES) : undefined));
  }

  getVersion(bucket: string, key: string | Buffer, versionId: bigint): IndexMeta | undefined {
    checkBucket(bucket);
    const k = keyBuffer(key, 'key', OBJECT_KEY_BYTES_MAX);
    return this.native.getVersion(bucket, k, versionId, this.scratch)
      ? decodeMeta(this.scratch)
      : undefined;
  }

  remove(bucket: string, key: string | Buffer): void {
    checkBucket(bucket);
    this.native.remove(bucket, keyBuffer(key, 'key', OBJECT_KEY_BYTES_MAX));
  }

  deleteVersion(bucket: string, key: string | Buffer, versionId: bigint): void {
    checkBucket(bucket);
    this.native.deleteVersion(bucket, keyBuffer(key, 'key', OBJECT_KEY_BYTES_MAX), versionId);
  }

  /** One raw page: packed keys (and metadata), as the addon returns it. */
  listRaw(bucket: string, options: ListOptions = {}, withMeta = false): NativeListPage {
    checkBucket(bucket);
    const maxKeys = checkMaxKeys(options.maxKeys);
    return this.native.list(
      bucket,
      optionalKey(options.prefix, 'prefix'),
      optionalKey(options.delimiter, 'delimiter'),
      optionalKey(options.startAfter, 'startAfter'),
      options.continuation ?? EMPTY,
      maxKeys,
      withMeta,
    );
  }

  list(bucket: string, options: ListOptions = {}): ListResult {
    const page = this.listRaw(bucket, options, true);
    const keys = unpackKeys(page.keys);
    const metas = page.metas ?? EMPTY;
    return {
      entries: keys.map((key, i) => ({ key, meta: decodeMeta(metas, i * META_BYTES) })),
      commonPrefixes: unpackKeys(page.prefixes),
      truncated: page.truncated,
      continuation: page.next,
    };
  }

  /** One page of versions (S3 ListObjectVersions order). */
  listVersions(bucket: string, options: ListVersionsOptions = {}): ListVersionsResult {
    checkBucket(bucket);
    const maxKeys = checkMaxKeys(options.maxKeys);
    const marker = options.versionIdMarker;
    if (
      marker !== undefined &&
      (typeof marker !== 'bigint' || marker < 0n || marker >= 1n << 64n)
    ) {
      throw new TesseraError('ERR_OUT_OF_RANGE', 'versionIdMarker must be a u64 bigint');
    }
    const page = this.native.listVersions(
      bucket,
      optionalKey(options.prefix, 'prefix'),
      optionalKey(options.delimiter, 'delimiter'),
      optionalKey(options.keyMarker, 'keyMarker'),
      marker !== undefined,
      marker ?? 0n,
      maxKeys,
    );
    const keys = unpackKeys(page.keys);
    return {
      entries: keys.map((key, i) => ({
        key,
        meta: decodeMeta(page.metas, i * META_BYTES),
        isLatest: page.latest[i] === 1,
      })),
      commonPrefixes: unpackKeys(page.prefixes),
      truncated: page.truncated,
      nextKeyMarker: page.nextKeyMarker?.toString('utf8'),
      nextVersionIdMarker: page.nextVersionIdMarker,
    };
  }

  keyCount(): number {
    return this.native.keyCount();
  }

  memory(): Record<string, number> {
    return this.native.memory();
  }

  /** Temp file + fdatasync + rename + directory fsync, on the threadpool. */
  saveSnapshot(path: string): Promise<void> {
    return this.native.saveSnapshot(path);
  }
}
