/**
 * The one typed seam between TypeScript and the native addon.
 *
 * The addon is found by node-gyp-build: a local build (build/Release) first,
 * then prebuilds/<platform>-<arch>/tessera.<tags>.node shipped in the
 * package. Loading never depends on an install script having run.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { NATIVE_STATUS_CODES, TesseraError } from './errors';

/** Facts the erasure-coding core reports once (native/napi/ec_binding.cc). */
export interface NativeEcInfo {
  readonly dataShardsMax: number;
  readonly parityShardsMax: number;
  readonly shardCountMax: number;
  readonly shardBytesMax: number;
  /** Kernels usable on this CPU, fastest first; 'scalar' last. */
  readonly kernels: readonly string[];
  readonly isalAvailable: boolean;
  /** Why libisal.so.2 could not be loaded ('' when it was). */
  readonly isalReason: string;
  /** True for ISA-L >= 2.31 (has GFNI kernels). */
  readonly isalGfni: boolean;
}

/** A native Reed-Solomon codec over caller memory (lib/ec wraps it). */
export interface NativeEcCodec {
  readonly kernel: string;
  encodeSync(shards: readonly Uint8Array[]): void;
  encode(shards: readonly Uint8Array[]): Promise<void>;
  reconstructSync(shards: readonly Uint8Array[], missing: readonly number[]): void;
  reconstruct(shards: readonly Uint8Array[], missing: readonly number[]): Promise<void>;
  verify(shards: readonly Uint8Array[]): boolean;
  encodeManySync(stripes: readonly (readonly Uint8Array[])[]): void;
  encodeMany(stripes: readonly (readonly Uint8Array[])[]): Promise<void>;
}

/** Everything the addon exports; each native component extends this. */
export interface NativeBinding {
  readonly version: string;
  readonly napiVersion: number;
  /** CPU features detected at load, e.g. 'sse4.2 avx2 gfni'. */
  readonly cpuFeatures: string;
  readonly statusCodes: readonly string[];
  setErrorConstructor(ctor: typeof TesseraError): void;
  /** Test hook: throws the JS error a native status produces. */
  throwStatusForTest(code: number, message: string, errno: number): never;

  // native/napi/checksum_binding.cc; arguments are validated in lib/checksum.
  crc32c(data: Uint8Array, prev: number): number;
  crc32(data: Uint8Array, prev: number): number;
  crc64nvme(data: Uint8Array, prev: bigint): bigint;
  crc32cCombine(crcA: number, crcB: number, lengthB: number): number;
  crc32Combine(crcA: number, crcB: number, lengthB: number): number;
  crc64nvmeCombine(crcA: bigint, crcB: bigint, lengthB: number): bigint;
  readonly checksumKernels: { crc32c: string; crc32: string; crc64nvme: string };
  EcCodec: new (k: number, m: number, backend: 'builtin' | 'isal', kernel: string) => NativeEcCodec;
  ecInfo(): NativeEcInfo;
  ecIsKnownKernel(name: string): boolean;
  /** Encode throughput, data bytes per microsecond (8+4, 1 MiB stripes). */
  ecThroughput(backend: 'builtin' | 'isal', kernel: string): number;
  /** What backend 'auto' resolves to in this process. */
  ecAutoBackend(): 'builtin' | 'isal';
  ecIsDetached(buffer: ArrayBuffer): boolean;
  /** The native index (native/index/index.h); see lib/index-native/. */
  readonly NativeIndex: NativeIndexConstructor;
  /** Bytes of one packed metadata record crossing the boundary (64). */
  readonly indexMetaBytes: number;
  /**
   * An uninitialized Buffer in its own huge-page-advised mapping
   * (native/napi/large_buffer_binding.cc): the body of a large get.
   */
  largeBuffer(bytes: number): Buffer;
}

/** One page of a native listing: keys packed as (u16 length, bytes)*. */
export interface NativeListPage {
  keys: Buffer;
  count: number;
  /** `count` 64-byte metadata records, when asked for. */
  metas?: Buffer;
  prefixes: Buffer;
  prefixCount: number;
  truncated: boolean;
  next?: Buffer;
}

/** One page of a native version listing; see NativeIndexHandle.listVersions. */
export interface NativeListVersionsPage {
  /** (u16 length, bytes) per version, newest first within a key. */
  keys: Buffer;
  count: number;
  /** `count` 64-byte metadata records. */
  metas: Buffer;
  /** `count` bytes, 1 where the version is its key's current one. */
  latest: Buffer;
  prefixes: Buffer;
  prefixCount: number;
  truncated: boolean;
  nextKeyMarker?: Buffer;
  nextVersionIdMarker?: bigint;
}

export interface NativeIndexHandle {
  put(
    bucket: string,
    key: Buffer,
    meta: Buffer,
    mode: number,
    condKind: number,
    condEtag: Buffer | undefined,
    condParts: number,
    condVersion: bigint,
  ): void;
  putMany(bucket: string, packedKeys: Buffer, metas: Buffer, mode: number): number;
  get(bucket: string, key: Buffer, out: Buffer): boolean;
  getMany(bucket: string, packedKeys: Buffer, out: Buffer, found: Buffer): number;
  getVersion(bucket: string, key: Buffer, versionId: bigint, out: Buffer): boolean;
  remove(bucket: string, key: Buffer): void;
  deleteVersion(bucket: string, key: Buffer, versionId: bigint): void;
  list(
    bucket: string,
    prefix: Buffer,
    delimiter: Buffer,
    startAfter: Buffer,
    continuation: Buffer,
    maxKeys: number,
    withMeta: boolean,
  ): NativeListPage;
  listVersions(
    bucket: string,
    prefix: Buffer,
    delimiter: Buffer,
    keyMarker: Buffer,
    hasVersionMarker: boolean,
    versionIdMarker: bigint,
    maxKeys: number,
  ): NativeListVersionsPage;
  keyCount(): number;
  memory(): Record<string, number>;
  saveSnapshot(path: string): Promise<void>;
  adoptLoaded(loaded: unknown): void;
}

export interface NativeIndexConstructor {
  new (expectedKeys?: number): NativeIndexHandle;
  loadSnapshot(path: string): Promise<unknown>;
}

/** The package root: the nearest folder up from here with our package.json. */
export function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const { name } = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string };
      if (name === 'tessera') return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`tessera: package.json not found above ${__dirname}`);
    dir = parent;
  }
}

function libcName(): string {
  if (process.platform !== 'linux') return 'n/a';
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } };
  const glibc = report?.header?.glibcVersionRuntime;
  return glibc ? `glibc ${glibc}` : 'musl (or non-glibc)';
}

function loadFailure(cause: unknown): TesseraError {
  const reason = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
  return new TesseraError(
    'ERR_STORE_BINDING',
    [
      'tessera: no native binary matches this system and none was built locally.',
      `  platform=${process.platform} arch=${process.arch} libc=${libcName()} ` +
        `node=${process.version} node-api=${process.versions.napi}`,
      `  loader said: ${reason}`,
      '  Build it from source: npm install --build-from-source (needs python3, make and a C++17 compiler),',
      '  or set LIBC=musl on musl systems other than Alpine.',
    ].join('\n'),
    { cause },
  );
}

function load(): NativeBinding {
  const root = packageRoot();
  let addon: NativeBinding;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nodeGypBuild = require('node-gyp-build') as (dir: string) => NativeBinding;
    addon = nodeGypBuild(root);
  } catch (error) {
    throw loadFailure(error);
  }
  const expected = NATIVE_STATUS_CODES.join(',');
  if (addon.statusCodes.join(',') !== expected) {
    throw new TesseraError(
      'ERR_STORE_BINDING',
      `tessera: native status codes [${addon.statusCodes.join(',')}] differ from ` +
        `lib/errors.ts [${expected}]; the addon and the library are from different builds`,
    );
  }
  addon.setErrorConstructor(TesseraError);
  return addon;
}

export const binding: NativeBinding = load();
