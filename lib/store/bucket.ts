/**
 * Bucket: the object operations of one bucket. Cheap to create (no I/O);
 * every method validates its input, then calls the engine through the
 * store's in-flight tracker so close() can drain it.
 */
import { Readable } from 'node:stream';
import { AbortError, TesseraError } from '../errors';
import { raceAbort, throwIfAborted, validateSignal } from './abort';
import { bodyChunks, knownLength, readBody, rechunk, validateBody, type Body } from './body';
import type { EngineUpload, StoreEngine, WriteObjectRequest } from './engine';
import type { InflightTracker } from './inflight';
import type { BucketConfigs } from './bucket_config';
import {
  type LifecycleRule,
  type NormalizedRule,
  type StoredLifecycle,
  fromStored,
  toStored,
  validateLifecycle,
} from '../lifecycle/rules';
import type { ReplicationApi } from '../replication/store_api';
import type { RedactedRule, ReplicationRule } from '../replication/rules';
import { SINGLE_PUT_BYTES_MAX } from './limits';
import { decodeToken, encodeToken } from './list_token';
import { resolveRange, validateRange } from './range';
import { type MultipartOptions, validateMultipart } from './multipart_layout';
import { headerEntries, splitStoredMetadata, validateChecksums } from './system_headers';
import type {
  ByteRange,
  ChecksumMap,
  DeleteResult,
  GetResult,
  ListEntry,
  ListPage,
  ObjectHeaders,
  ObjectInfo,
  PutResult,
  VersionEntry,
} from './types';
import { validateConditions, validateKey, validateMetadata, validateSystemValue } from './validate';

/** A get of more than two of these is read as parallel pieces. */
const PARALLEL_READ_PIECE_BYTES = 4 * 1024 * 1024;
/**
 * A large get is read in about this many pieces, each a whole number of
 * PARALLEL_READ_PIECE_BYTES (the size of a streamed put's upload pieces, so
 * pieces start where fragments do): two per default reader thread. Fewer,
 * larger pieces pay the per-piece cost (a lookup, the record header and
 * extent list read again, a short last batch) less often: 16 MiB pieces
 * for a 64 MiB get read 6-10% faster than 4 MiB ones (docs/BENCHMARKS.md,
 * session 5).
 */
const PARALLEL_READ_PIECES = 4;

/** The piece size for a parallel read of `length` bytes. */
function readPieceBytes(length: number): number {
  const units = Math.ceil(length / PARALLEL_READ_PIECES / PARALLEL_READ_PIECE_BYTES);
  return Math.max(1, units) * PARALLEL_READ_PIECE_BYTES;
}
/** Upload pieces a streamed put keeps in flight to the engine. */
const UPLOAD_PIECES_IN_FLIGHT = 4;

export interface PutOptions {
  contentType?: string;
  metadata?: Record<string, string>;
  /** Cache-Control and friends, returned by head/get as `headers`. */
  headers?: ObjectHeaders;
  /**
   * Digests to store with the object, returned by head/get as `checksums`.
   * The store records them as given (the caller verified them). A Promise is
   * awaited once the body has ended, for digests that arrive after the body
   * (an aws-chunked trailer); if it rejects, nothing is stored.
   */
  checksums?: ChecksumMap | Promise<ChecksumMap | undefined>;
  /**
   * The body is the concatenation of parts (an S3 multipart upload): the
   * object's ETag becomes `md5(concat(part MD5s))-N` (in head, get and every
   * listing) and `parts` is returned by head/get. The sizes must add up to
   * the body's length (else InvalidArgument and nothing is stored).
   */
  multipart?: MultipartOptions;
  ifMatch?: string;
  ifNoneMatch?: '*';
  signal?: AbortSignal;
}

export interface ReadOptions {
  versionId?: string;
  /**
   * What `head(key)` returned: read that version without looking it up
   * again (a caller that checked conditions on the head saves a lookup).
   */
  info?: ObjectInfo;
  range?: ByteRange;
  signal?: AbortSignal;
}

export interface StreamOptions extends ReadOptions {
  /** Bytes the stream buffers ahead of its consumer (default 1 MiB). */
  highWaterMark?: number;
}

export interface ListOptions {
  prefix?: string;
  delimiter?: string;
  startAfter?: string;
  /** Stop after this many entries (objects plus common prefixes). */
  limit?: number;
  signal?: AbortSignal;
}

export interface ListPageOptions {
  prefix?: string;
  delimiter?: string;
  startAfter?: string;
  continuationToken?: string;
  /** 1..1000, default 1000 (S3's page size). */
  maxKeys?: number;
  signal?: AbortSignal;
}

const LIST_PAGE_MAX = 1000;
const STREAM_PIECE_BYTES = 1024 * 1024;
/** head()'s `withBodyUpTo` is for small objects: at most 16 MiB. */
const HEAD_BODY_BYTES_MAX = 16 * 1024 * 1024;

function optionalString(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string')
    throw new TesseraError('InvalidArgument', `${name} must be a string`);
  return value;
}

function validateVersionId(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > 1024) {
    throw new TesseraError('InvalidArgument', 'versionId must be a non-empty string');
  }
  return value;
}

function validateLimit(name: string, value: unknown, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new TesseraError(
      'ERR_OUT_OF_RANGE',
      `${name} must be an integer in 1..${max}, got ${String(value)}`,
    );
  }
  return value;
}

export class Bucket {
  /** @internal Created by Store.bucket(). */
  constructor(
    readonly name: string,
    private readonly engine: StoreEngine,
    private readonly inflight: InflightTracker,
    private readonly configs?: BucketConfigs,
    private readonly replicationApi?: ReplicationApi,
  ) {}

  /**
   * Replaces the bucket's lifecycle rules (docs/lifecycle.md); resolves once
   * they are durable. InvalidArgument for a malformed rule, NotImplemented
   * for S3 features tessera lacks (tags, transitions), NoSuchBucket.
   */
  async setLifecycle(rules: LifecycleRule[]): Promise<void> {
    const normalized = validateLifecycle(rules);
    await this.requireConfigs().put(this.name, 'lifecycle', toStored(normalized));
  }

  /** The rules in effect (ids filled in), or undefined when there are none. */
  async getLifecycle(): Promise<NormalizedRule[] | undefined> {
    const configs = this.requireConfigs();
    if (!(await this.inflight.run(() => this.engine.getBucket(this.name)))) {
      throw new TesseraError('NoSuchBucket', `bucket ${JSON.stringify(this.name)} does not exist`);
    }
    const stored = await configs.get<StoredLifecycle>(this.name, 'lifecycle');
    return stored === undefined ? undefined : fromStored(stored);
  }

  /** Removes every lifecycle rule; no error when there were none. */
  async deleteLifecycle(): Promise<void> {
    const configs = this.requireConfigs();
    if (!(await this.inflight.run(() => this.engine.getBucket(this.name)))) {
      throw new TesseraError('NoSuchBucket', `bucket ${JSON.stringify(this.name)} does not exist`);
    }
    await configs.delete(this.name, 'lifecycle');
  }

  private requireConfigs(): BucketConfigs {
    if (this.configs === undefined) {
      throw new TesseraError('ERR_STORE_UNSUPPORTED', 'this bucket handle has no configuration');
    }
    return this.configs;
  }

  private repaired: { info: ObjectInfo; bytes: Buffer } | undefined;

  /**
   * Sets this bucket's replication rules (docs/replication.md): where its
   * writes go, which prefix, whether deletes follow, whether existing objects
   * are copied. Durable when it resolves; credentials are never returned.
   */
  async setReplication(config: { rules: ReplicationRule[] }): Promise<void> {
    await this.replication().set(this.name, config);
  }

  /** The rules without credentials, or undefined. */
  async getReplication(): Promise<{ rules: RedactedRule[] } | undefined> {
    return this.replication().get(this.name);
  }

  async deleteReplication(): Promise<void> {
    await this.replication().delete(this.name);
  }

  private replication(): ReplicationApi {
    if (!this.replicationApi) {
      throw new TesseraError('ERR_STORE_UNSUPPORTED', 'this bucket handle has no replication');
    }
    return this.replicationApi;
  }

  /** Stores `body` under `key`; resolves once it is durable. */
  async put(key: string, body: Body, options: PutOptions = {}): Promise<PutResult> {
    const multipart = validateMultipart(options.multipart);
    const request: WriteObjectRequest = {
      bucket: this.name,
      key: validateKey(key),
      metadata: {
        ...validateMetadata(options.metadata),
        ...headerEntries(options.headers),
        ...multipart?.entry,
      },
      ...validateConditions(options),
    };
    if (multipart !== undefined) request.multipartEtag = multipart.etag;
    const checkLength = (length: number) => {
      if (multipart !== undefined && length !== multipart.totalBytes) {
        throw new TesseraError(
          'InvalidArgument',
          `multipart.partSizes add up to ${multipart.totalBytes} bytes but the body has ${length}`,
        );
      }
    };
    const given = options.checksums;
    let lateChecksums: Promise<ChecksumMap | undefined> | undefined;
    if (given instanceof Promise) {
      lateChecksums = given;
      // Awaited after the body; a rejection before then must not go unhandled.
      given.catch(() => undefined);
    } else {
      const checksums = validateChecksums(given);
      if (checksums !== undefined) request.checksums = checksums;
    }
    const bodyEnded = async () => {
      if (lateChecksums === undefined) return;
      const checksums = validateChecksums(await lateChecksums);
      if (checksums !== undefined) request.checksums = checksums;
    };
    const contentType = validateSystemValue('contentType', options.contentType);
    if (contentType !== undefined) request.contentType = contentType;
    const checked = validateBody(body);
    const signal = validateSignal(options.signal);
    return this.inflight.run(async () => {
      throwIfAborted(signal);
      const length = knownLength(checked);
      if (length !== undefined && length > SINGLE_PUT_BYTES_MAX) {
        throw new TesseraError(
          'EntityTooLarge',
          `body is ${length} bytes; a single put takes at most ${SINGLE_PUT_BYTES_MAX}`,
        );
      }
      if (length !== undefined && length <= this.engine.inlineBytesMax) {
        const bytes = await readBody(checked, { signal });
        await bodyEnded();
        checkLength(bytes.length);
        return raceAbort(this.engine.put(request, bytes), signal);
      }
      return this.putStreamed(request, checked, signal, async (length) => {
        await bodyEnded();
        checkLength(length);
      });
    }, 'put');
  }

  private async putStreamed(
    request: WriteObjectRequest,
    body: Body,
    signal: AbortSignal | undefined,
    bodyEnded: (length: number) => Promise<void>,
  ): Promise<PutResult> {
    const upload: EngineUpload = await this.engine.beginUpload(this.name);
    // Pieces in flight (the engine hashes and writes them in order): the
    // next piece is hashed while the previous one commits. Memory stays
    // bounded by UPLOAD_PIECES_IN_FLIGHT pieces.
    const pending: Promise<void>[] = [];
    try {
      const pieces = rechunk(
        bodyChunks(body, { signal, maxBytes: SINGLE_PUT_BYTES_MAX }),
        this.engine.uploadPieceBytes,
      );
      let length = 0;
      for await (const piece of pieces) {
        length += piece.length;
        const appended = upload.append(piece);
        appended.catch(() => undefined); // awaited below, in order
        pending.push(appended);
        if (pending.length >= UPLOAD_PIECES_IN_FLIGHT) await pending.shift();
      }
      while (pending.length > 0) await pending.shift();
      await bodyEnded(length);
      throwIfAborted(signal);
      return await upload.commit(request);
    } catch (error) {
      // Nothing of an aborted or failed put may become visible.
      await Promise.allSettled(pending);
      await upload.abort().catch(() => undefined);
      throw error;
    }
  }

  /**
   * Metadata of the current (or given) version; undefined when missing.
   * With `withBodyUpTo: n`, an object of at most n bytes comes with its
   * `body`, read in the same engine call (a small GET in one round trip).
   */
  async head(
    key: string,
    options: Pick<ReadOptions, 'versionId' | 'signal'> & { withBodyUpTo?: number } = {},
  ): Promise<(ObjectInfo & { body?: Buffer }) | undefined> {
    validateKey(key);
    const versionId = validateVersionId(options.versionId);
    const signal = validateSignal(options.signal);
    const bodyBytesMax = validateLimit(
      'withBodyUpTo',
      options.withBodyUpTo,
      HEAD_BODY_BYTES_MAX,
      0,
    );
    if (bodyBytesMax > 0 && this.engine.getCached && !this.inflight.isClosing) {
      // A hot small object from the read cache, on this thread: memory only,
      // no reader-thread round trip (as get() does). A miss goes to the engine.
      throwIfAborted(signal);
      const started = process.hrtime.bigint();
      const hit = this.engine.getCached(this.name, key, versionId);
      if (hit && hit.body.length <= bodyBytesMax) {
        this.inflight.ops.record('head', Number(process.hrtime.bigint() - started) / 1e9, false);
        // hit.info is a fresh object: grow it into the result (no copy).
        const result = withHeaders(hit.info) as ObjectInfo & { body?: Buffer };
        result.body = hit.body;
        return result;
      }
    }
    return this.inflight.run(async () => {
      throwIfAborted(signal);
      const info = await this.engine.head(this.name, key, {
        ...(versionId === undefined ? {} : { versionId }),
        ...(bodyBytesMax > 0 ? { bodyBytesMax } : {}),
      });
      return info === undefined || info.deleteMarker ? undefined : withHeaders(info);
    }, 'head');
  }

  /** The whole object (or a range of it) in one Buffer; undefined when missing. */
  async get(key: string, options: ReadOptions = {}): Promise<GetResult | undefined> {
    const range = validateRange(options.range);
    const known = this.validateInfo(key, options.info);
    if (known === undefined && this.engine.getCached && !this.inflight.isClosing) {
      // A hot small object straight from the read cache: memory only, no
      // round trip to a reader thread. A miss falls through to head + read.
      validateKey(key);
      const versionId = validateVersionId(options.versionId);
      throwIfAborted(validateSignal(options.signal));
      const started = process.hrtime.bigint();
      const hit = this.engine.getCached(this.name, key, versionId);
      if (hit) {
        // Counted like any get in store.stats() (served from memory).
        this.inflight.ops.record('get', Number(process.hrtime.bigint() - started) / 1e9, false);
        // hit.info is a fresh object: grow it into the result (no copy).
        const result = withHeaders(hit.info) as GetResult;
        if (!range) {
          result.body = hit.body;
          return result;
        }
        const span = resolveRange(range, result.size);
        result.body = hit.body.subarray(span.start, span.end + 1);
        result.range = span;
        return result;
      }
    }
    return this.inflight.run(async () => {
      const info = known ?? (await this.head(key, options));
      if (!info) return undefined;
      const span = range ? resolveRange(range, info.size) : { start: 0, end: info.size - 1 };
      const length = info.size === 0 ? 0 : span.end - span.start + 1;
      const body =
        length === 0
          ? Buffer.alloc(0)
          : await raceAbort(this.readRepairing(info, span.start, length), options.signal);
      const result: GetResult = { ...info, body };
      if (range) result.range = span;
      return result;
    }, 'get');
  }

  /**
   * `length` bytes at `start`: one engine read, or for large bodies pieces
   * read in parallel by the engine's reader threads, then joined.
   */
  private async readAll(info: ObjectInfo, start: number, length: number): Promise<Buffer> {
    if (length <= PARALLEL_READ_PIECE_BYTES * 2) return this.engine.read(info, start, length);
    if (this.engine.readInto) {
      // Every piece lands in its slice of one buffer: no per-piece buffers
      // and no join copy. Uninitialized memory, so each piece must report
      // every one of its bytes written.
      const out = this.engine.allocBody?.(length) ?? Buffer.allocUnsafe(length);
      const writes: Promise<void>[] = [];
      const piece = readPieceBytes(length);
      for (let off = 0; off < length; off += piece) {
        const n = Math.min(piece, length - off);
        const target = out.subarray(off, off + n);
        writes.push(
          this.engine.readInto(info, start + off, n, target).then((got) => {
            if (got !== n) {
              throw new TesseraError(
                'ERR_STORE_INTERNAL',
                `a read of ${n} bytes at ${start + off} returned ${got}`,
              );
            }
          }),
        );
      }
      await Promise.all(writes);
      return out;
    }
    const pieces: Promise<Buffer>[] = [];
    for (let off = 0; off < length; off += PARALLEL_READ_PIECE_BYTES) {
      const n = Math.min(PARALLEL_READ_PIECE_BYTES, length - off);
      pieces.push(this.engine.read(info, start + off, n));
    }
    return Buffer.concat(await Promise.all(pieces), length);
  }

  /**
   * The object as a Node Readable that reads from disk as it is consumed
   * (backpressure; memory bounded by highWaterMark). Undefined when missing.
   */
  async getStream(
    key: string,
    options: StreamOptions = {},
  ): Promise<
    (ObjectInfo & { stream: Readable; range?: { start: number; end: number } }) | undefined
  > {
    const range = validateRange(options.range);
    const highWaterMark = validateLimit(
      'highWaterMark',
      options.highWaterMark,
      64 * 1024 * 1024,
      STREAM_PIECE_BYTES,
    );
    const known = this.validateInfo(key, options.info);
    return this.inflight.run(async () => {
      const info = known ?? (await this.head(key, options));
      if (!info) return undefined;
      const span = range ? resolveRange(range, info.size) : { start: 0, end: info.size - 1 };
      const stream = this.readStream(
        info,
        span.start,
        info.size === 0 ? 0 : span.end - span.start + 1,
        highWaterMark,
        options.signal,
      );
      return range ? { ...info, stream, range: span } : { ...info, stream };
    }, 'get');
  }

  /**
   * Reads from the engine; when the object cannot be reconstructed
   * (ERR_STORE_CORRUPT: more than m shards lost) and a replication rule's
   * destination holds exactly this version, serves it from there (read
   * repair, docs/replication.md).
   */
  private async readRepairing(info: ObjectInfo, start: number, length: number): Promise<Buffer> {
    try {
      return await this.readAll(info, start, length);
    } catch (error) {
      if (!(error instanceof TesseraError) || error.code !== 'ERR_STORE_CORRUPT') throw error;
      // A stream reads piece by piece: fetch the replica once per version.
      let bytes = this.repaired?.info === info ? this.repaired.bytes : undefined;
      bytes ??= await this.replicationApi?.repairRead(info).catch(() => undefined);
      if (!bytes) throw error;
      this.repaired = { info, bytes };
      return bytes.subarray(start, start + length);
    }
  }

  private validateInfo(key: string, info: unknown): ObjectInfo | undefined {
    if (info === undefined) return undefined;
    const given = info as Partial<ObjectInfo> | null;
    if (
      typeof given !== 'object' ||
      given === null ||
      given.bucket !== this.name ||
      given.key !== key ||
      typeof given.versionId !== 'string' ||
      typeof given.size !== 'number'
    ) {
      throw new TesseraError(
        'ERR_INVALID_ARG_VALUE',
        `options.info must be what head(${JSON.stringify(key)}) of bucket ${JSON.stringify(this.name)} returned`,
      );
    }
    return given as ObjectInfo;
  }

  private readStream(
    info: ObjectInfo,
    start: number,
    length: number,
    highWaterMark: number,
    signal?: AbortSignal,
  ): Readable {
    let offset = start;
    const end = start + length;
    const inflight = this.inflight;
    const readRepairing = this.readRepairing.bind(this);
    const stream = new Readable({
      highWaterMark,
      read() {
        if (offset >= end) {
          this.push(null);
          return;
        }
        const piece = Math.min(STREAM_PIECE_BYTES, end - offset);
        const at = offset;
        offset += piece;
        inflight
          .run(() => readRepairing(info, at, piece))
          .then(
            (bytes) => this.push(bytes),
            (error: unknown) => this.destroy(error as Error),
          );
      },
    });
    if (signal) {
      const onAbort = () => stream.destroy(new AbortError(signal));
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
      stream.once('close', () => signal.removeEventListener('abort', onAbort));
    }
    return stream;
  }

  /** Deletes the current version (a delete marker when versioned) or the given version. */
  async delete(
    key: string,
    options: Pick<ReadOptions, 'versionId' | 'signal'> = {},
  ): Promise<DeleteResult> {
    validateKey(key);
    const versionId = validateVersionId(options.versionId);
    const signal = validateSignal(options.signal);
    return this.inflight.run(async () => {
      throwIfAborted(signal);
      return this.engine.delete(this.name, key, versionId === undefined ? {} : { versionId });
    }, 'delete');
  }

  /** One page of a listing, S3 ListObjectsV2 style. */
  async listPage(options: ListPageOptions = {}): Promise<ListPage> {
    const prefix = optionalString('prefix', options.prefix) ?? '';
    const delimiter = optionalString('delimiter', options.delimiter);
    let startAfter = optionalString('startAfter', options.startAfter);
    if (options.continuationToken !== undefined)
      startAfter = decodeToken(options.continuationToken);
    const maxKeys = validateLimit('maxKeys', options.maxKeys, LIST_PAGE_MAX, LIST_PAGE_MAX);
    const signal = validateSignal(options.signal);
    return this.inflight.run(async () => {
      throwIfAborted(signal);
      const page = await this.engine.list(this.name, {
        prefix,
        maxKeys,
        ...(delimiter ? { delimiter } : {}),
        ...(startAfter !== undefined ? { startAfter } : {}),
      });
      const result: ListPage = {
        objects: page.objects.map((o) => ({ type: 'object', ...o })),
        commonPrefixes: page.commonPrefixes,
        isTruncated: page.nextStartAfter !== undefined,
      };
      if (page.nextStartAfter !== undefined)
        result.nextContinuationToken = encodeToken(page.nextStartAfter);
      return result;
    }, 'list');
  }

  /** Every key (and, with a delimiter, common prefix) in byte order. */
  async *list(options: ListOptions = {}): AsyncGenerator<ListEntry> {
    const limit = validateLimit(
      'limit',
      options.limit,
      Number.MAX_SAFE_INTEGER,
      Number.MAX_SAFE_INTEGER,
    );
    let emitted = 0;
    let token: string | undefined;
    const base: ListPageOptions = {};
    if (options.prefix !== undefined) base.prefix = options.prefix;
    if (options.delimiter !== undefined) base.delimiter = options.delimiter;
    if (options.startAfter !== undefined) base.startAfter = options.startAfter;
    if (options.signal !== undefined) base.signal = options.signal;
    do {
      const page = await this.listPage({
        ...base,
        maxKeys: Math.min(LIST_PAGE_MAX, limit - emitted),
        ...(token ? { continuationToken: token } : {}),
      });
      // Objects and prefixes interleaved in key order, as S3 counts them.
      const entries: ListEntry[] = [
        ...page.objects,
        ...page.commonPrefixes.map((prefix): ListEntry => ({ type: 'prefix', prefix })),
      ].sort((a, b) =>
        Buffer.compare(
          Buffer.from(a.type === 'object' ? a.key : a.prefix),
          Buffer.from(b.type === 'object' ? b.key : b.prefix),
        ),
      );
      for (const entry of entries) {
        yield entry;
        if (++emitted >= limit) return;
      }
      token = page.nextContinuationToken;
    } while (token !== undefined);
  }

  /** Every version and delete marker, newest first within a key. */
  async *listVersions(
    options: { prefix?: string; signal?: AbortSignal } = {},
  ): AsyncGenerator<VersionEntry> {
    const prefix = optionalString('prefix', options.prefix) ?? '';
    const signal = validateSignal(options.signal);
    let after: { key: string; versionId: string } | undefined;
    do {
      throwIfAborted(signal);
      const page = await this.inflight.run(
        () =>
          this.engine.listVersions(this.name, {
            prefix,
            maxKeys: LIST_PAGE_MAX,
            ...(after ? { after } : {}),
          }),
        'list',
      );
      for (const version of page.versions) yield version;
      after = page.next;
    } while (after !== undefined);
  }
}

/** The stored record as callers see it: system headers out of `metadata`. */
function withHeaders(info: ObjectInfo): ObjectInfo {
  // Nothing stored: no system headers to split out (the common case).
  if (Object.keys(info.metadata).length === 0) return info;
  const { metadata, headers, parts } = splitStoredMetadata(info.metadata);
  if (metadata === info.metadata) return info;
  const result: ObjectInfo = { ...info, metadata };
  if (headers !== undefined) result.headers = headers;
  if (parts !== undefined) result.parts = parts;
  return result;
}
