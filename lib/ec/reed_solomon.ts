/**
 * ReedSolomon: k data + m parity shards over GF(2^8), computed by the native
 * core (native/ec) on the caller's memory.
 *
 * Parity equals Intel ISA-L's `ec_encode_data` with `gf_gen_cauchy1_matrix`,
 * so shards written with one backend read back with the other. Every argument
 * is validated here with a precise TesseraError; the native side asserts.
 * Design, kernels and the inline/thread-pool crossover: docs/ec.md.
 */
import { binding, type NativeEcCodec } from '../binding';
import { TesseraError } from '../errors';

/** Which implementation computes parity. */
export type EcBackend = 'auto' | 'builtin' | 'isal';

export interface ReedSolomonOptions {
  /**
   * 'builtin' (tessera's kernels), 'isal' (libisal.so.2 via dlopen) or 'auto'
   * (whichever encodes faster on this CPU; measured once per process).
   * Default: env TESSERA_EC_BACKEND, else 'auto'.
   */
  backend?: EcBackend;
  /**
   * Force a builtin kernel by name, e.g. 'avx2' (see ReedSolomon.kernels()).
   * Default: env TESSERA_EC_KERNEL, else the fastest usable kernel.
   */
  kernel?: string;
}

const info = binding.ecInfo();

/**
 * Work estimated to take at most this long runs inline on the calling
 * thread: a thread-pool hop costs 10-40 us of latency, so below about 4x
 * that the hop would cost more than it frees (docs/ec.md, "Crossover").
 */
const inline_work_us_max = 64;
/** Floor of the inline threshold, for slow kernels: one small stripe. */
const inline_bytes_min = 64 * 1024;

const BACKENDS: readonly string[] = ['auto', 'builtin', 'isal'];

function describe(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return `'${value.length > 40 ? `${value.slice(0, 40)}...` : value}'`;
    case 'number':
    case 'boolean':
    case 'undefined':
      return String(value);
    case 'bigint':
      return `${value}n`;
    case 'function':
      return 'a function';
    case 'symbol':
      return value.toString();
    default:
      if (Array.isArray(value)) return `an array of length ${value.length}`;
      return `an instance of ${(value as object).constructor?.name ?? 'Object'}`;
  }
}

function checkShardCount(name: string, value: unknown): number {
  const range = `${name} must be an integer in 1..${
    name === 'dataShards' ? info.dataShardsMax : info.parityShardsMax
  }, got ${describe(value)}`;
  if (typeof value !== 'number') throw new TesseraError('ERR_INVALID_ARG_TYPE', range);
  const max = name === 'dataShards' ? info.dataShardsMax : info.parityShardsMax;
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new TesseraError('ERR_OUT_OF_RANGE', range);
  }
  return value;
}

function isDetached(shard: Uint8Array): boolean {
  return shard.buffer instanceof ArrayBuffer && binding.ecIsDetached(shard.buffer);
}

export class ReedSolomon {
  /** Limits, read from the addon (native/ec/coding_matrix.h). */
  static readonly dataShardsMax: number = info.dataShardsMax;
  static readonly parityShardsMax: number = info.parityShardsMax;
  static readonly shardCountMax: number = info.shardCountMax;
  static readonly shardBytesMax: number = info.shardBytesMax;

  /** Builtin kernels usable on this CPU, fastest first ('scalar' last). */
  static kernels(): string[] {
    return [...info.kernels];
  }

  /** Whether the 'isal' backend can be used, and if not, why. */
  static isal(): { available: boolean; reason: string; gfni: boolean } {
    return { available: info.isalAvailable, reason: info.isalReason, gfni: info.isalGfni };
  }

  readonly dataShards: number;
  readonly parityShards: number;
  /** The backend in use ('auto' resolved). */
  readonly backend: 'builtin' | 'isal';
  /** The kernel in use, e.g. 'gfni-avx512', or 'isal'. */
  readonly kernel: string;

  readonly #native: NativeEcCodec;
  readonly #shardCount: number;
  #inlineBytesMax = 0;

  constructor(dataShards: number, parityShards: number, options: ReedSolomonOptions = {}) {
    this.dataShards = checkShardCount('dataShards', dataShards);
    this.parityShards = checkShardCount('parityShards', parityShards);
    this.#shardCount = this.dataShards + this.parityShards;
    if (options === null || typeof options !== 'object') {
      throw new TesseraError(
        'ERR_INVALID_ARG_TYPE',
        `options must be an object, got ${describe(options)}`,
      );
    }
    const env = process.env;
    const backend = ReedSolomon.#backendOption(options.backend, env.TESSERA_EC_BACKEND);
    const kernel = ReedSolomon.#kernelOption(options.kernel, env.TESSERA_EC_KERNEL);
    if (kernel !== '' && backend === 'isal') {
      throw new TesseraError(
        'ERR_INVALID_ARG_VALUE',
        `kernel '${kernel}' cannot be combined with backend 'isal'`,
      );
    }
    if (backend === 'isal' && !info.isalAvailable) {
      throw new TesseraError(
        'ERR_STORE_UNSUPPORTED',
        `backend 'isal' is unavailable: ${info.isalReason}`,
      );
    }
    const resolved: 'builtin' | 'isal' =
      backend === 'auto' ? (kernel !== '' ? 'builtin' : binding.ecAutoBackend()) : backend;
    this.#native = new binding.EcCodec(this.dataShards, this.parityShards, resolved, kernel);
    this.backend = resolved;
    this.kernel = this.#native.kernel;
  }

  static #backendOption(option: unknown, env: string | undefined): EcBackend {
    const [value, name] = option !== undefined ? [option, 'backend'] : [env, 'TESSERA_EC_BACKEND'];
    if (value === undefined || value === '') return 'auto';
    if (typeof value !== 'string' || !BACKENDS.includes(value)) {
      throw new TesseraError(
        typeof value === 'string' ? 'ERR_INVALID_ARG_VALUE' : 'ERR_INVALID_ARG_TYPE',
        `${name} must be 'auto', 'builtin' or 'isal', got ${describe(value)}`,
      );
    }
    return value as EcBackend;
  }

  static #kernelOption(option: unknown, env: string | undefined): string {
    const [value, name] = option !== undefined ? [option, 'kernel'] : [env, 'TESSERA_EC_KERNEL'];
    if (value === undefined || value === '') return '';
    if (typeof value !== 'string') {
      throw new TesseraError(
        'ERR_INVALID_ARG_TYPE',
        `${name} must be a string, got ${describe(value)}`,
      );
    }
    if (!binding.ecIsKnownKernel(value)) {
      throw new TesseraError(
        'ERR_INVALID_ARG_VALUE',
        `${name} must be one of ${info.kernels.join(', ')}, got ${describe(value)}`,
      );
    }
    if (!info.kernels.includes(value)) {
      throw new TesseraError(
        'ERR_STORE_UNSUPPORTED',
        `kernel '${value}' is not usable on this CPU; usable: ${info.kernels.join(', ')}`,
      );
    }
    return value;
  }

  /**
   * Stripes with at most this many data bytes run inline on the calling
   * thread; larger ones (and encodeMany batches larger in total) run on the
   * thread pool. Derived from this kernel's measured throughput.
   */
  get inlineBytesMax(): number {
    if (this.#inlineBytesMax === 0) {
      const perUs = binding.ecThroughput(this.backend, this.backend === 'isal' ? '' : this.kernel);
      this.#inlineBytesMax = Math.max(inline_bytes_min, Math.floor(perUs * inline_work_us_max));
    }
    return this.#inlineBytesMax;
  }

  /** Fills the m parity shards from the k data shards. */
  async encode(shards: readonly Uint8Array[]): Promise<void> {
    const length = this.#checkStripe('shards', shards);
    if (length * this.dataShards <= this.inlineBytesMax) {
      this.#native.encodeSync(shards);
      return;
    }
    return this.#native.encode(shards);
  }

  encodeSync(shards: readonly Uint8Array[]): void {
    this.#checkStripe('shards', shards);
    this.#native.encodeSync(shards);
  }

  /** Rebuilds the shards listed in `missing` (data or parity) in place. */
  async reconstruct(shards: readonly Uint8Array[], missing: readonly number[]): Promise<void> {
    const length = this.#checkStripe('shards', shards);
    this.#checkMissing(missing);
    if (length * this.dataShards <= this.inlineBytesMax) {
      this.#native.reconstructSync(shards, missing);
      return;
    }
    return this.#native.reconstruct(shards, missing);
  }

  reconstructSync(shards: readonly Uint8Array[], missing: readonly number[]): void {
    this.#checkStripe('shards', shards);
    this.#checkMissing(missing);
    this.#native.reconstructSync(shards, missing);
  }

  /** True when every parity shard matches the data shards. */
  verify(shards: readonly Uint8Array[]): boolean {
    this.#checkStripe('shards', shards);
    return this.#native.verify(shards);
  }

  /** Encodes many stripes (each k+m equal-length shards) in one native call. */
  async encodeMany(stripes: readonly (readonly Uint8Array[])[]): Promise<void> {
    if (!Array.isArray(stripes)) {
      throw new TesseraError(
        'ERR_INVALID_ARG_TYPE',
        `stripes must be an array of stripes, got ${describe(stripes)}`,
      );
    }
    let dataBytes = 0;
    for (let i = 0; i < stripes.length; i++) {
      dataBytes += this.#checkStripe(`stripes[${i}]`, stripes[i]) * this.dataShards;
    }
    if (stripes.length === 0) return;
    if (dataBytes <= this.inlineBytesMax) {
      this.#native.encodeManySync(stripes);
      return;
    }
    return this.#native.encodeMany(stripes);
  }

  /** Validates one stripe; returns its shard length. */
  #checkStripe(name: string, shards: unknown): number {
    const count = this.#shardCount;
    if (!Array.isArray(shards)) {
      throw new TesseraError(
        'ERR_INVALID_ARG_TYPE',
        `${name} must be an array of ${count} Buffers or Uint8Arrays, got ${describe(shards)}`,
      );
    }
    if (shards.length !== count) {
      throw new TesseraError(
        'ERR_INVALID_ARG_VALUE',
        `${name} must have ${count} entries (${this.dataShards} data + ${this.parityShards} parity), got ${shards.length}`,
      );
    }
    let length = -1;
    for (let i = 0; i < count; i++) {
      const shard: unknown = shards[i];
      if (!(shard instanceof Uint8Array)) {
        throw new TesseraError(
          'ERR_INVALID_ARG_TYPE',
          `${name}[${i}] must be a Buffer or Uint8Array, got ${describe(shard)}`,
        );
      }
      const n = shard.byteLength;
      if (n === 0 || n > info.shardBytesMax) {
        if (n === 0 && isDetached(shard)) {
          throw new TesseraError(
            'ERR_INVALID_ARG_VALUE',
            `${name}[${i}] is backed by a detached ArrayBuffer`,
          );
        }
        throw new TesseraError(
          'ERR_OUT_OF_RANGE',
          `${name}[${i}] length must be in 1..${info.shardBytesMax}, got ${n}`,
        );
      }
      if (length === -1) {
        length = n;
      } else if (n !== length) {
        throw new TesseraError(
          'ERR_INVALID_ARG_VALUE',
          `${name} must all have the same length: ${name}[0] has ${length} bytes, ${name}[${i}] has ${n}`,
        );
      }
    }
    return length;
  }

  #checkMissing(missing: unknown): void {
    if (!Array.isArray(missing)) {
      throw new TesseraError(
        'ERR_INVALID_ARG_TYPE',
        `missing must be an array of shard indexes, got ${describe(missing)}`,
      );
    }
    if (missing.length === 0) {
      throw new TesseraError('ERR_INVALID_ARG_VALUE', 'missing must list at least one shard index');
    }
    if (missing.length > this.parityShards) {
      throw new TesseraError(
        'ERR_INVALID_ARG_VALUE',
        `cannot reconstruct ${missing.length} missing shards with ${this.parityShards} parity shards`,
      );
    }
    const last = this.#shardCount - 1;
    for (let i = 0; i < missing.length; i++) {
      const index: unknown = missing[i];
      if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index > last) {
        throw new TesseraError(
          typeof index === 'number' ? 'ERR_OUT_OF_RANGE' : 'ERR_INVALID_ARG_TYPE',
          `missing[${i}] must be an integer in 0..${last}, got ${describe(index)}`,
        );
      }
      for (let j = 0; j < i; j++) {
        if (missing[j] === index) {
          throw new TesseraError('ERR_INVALID_ARG_VALUE', `missing lists shard ${index} twice`);
        }
      }
    }
  }
}
