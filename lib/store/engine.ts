/**
 * The contract between the public Store/Bucket classes and the storage
 * engine under them. The native engine (lib/store/engine_binding.ts, over
 * the addon) implements it; so does the reference model the tests compare
 * it with. Store and Bucket validate every input before calling here, so an
 * engine may assume well-formed arguments.
 *
 * Semantics every implementation must keep:
 * - A write resolves only when durable; readers see the old or the new
 *   object, never a part of one. Concurrent conditional writes to one key
 *   are decided atomically (only one `ifNoneMatch: '*'` put can win).
 * - Versioning follows S3: in an 'Enabled' bucket every put creates a new
 *   version and a delete without versionId creates a delete marker; in a
 *   'Disabled' or 'Suspended' bucket puts replace the 'null' version.
 * - The engine computes the ETag (MD5) itself, off the JS thread.
 * - Errors are TesseraError with codes: NoSuchBucket, NoSuchVersion,
 *   PreconditionFailed, BucketAlreadyOwnedByYou, BucketNotEmpty,
 *   InvalidRange, and ERR_STORE_* for local failures.
 */
import type {
  BucketInfo,
  ChecksumAlgorithm,
  DeleteResult,
  ObjectInfo,
  PutResult,
  VersionEntry,
} from './types';

export interface EngineInfo {
  storeId: string;
  dataShards: number;
  parityShards: number;
  drives: string[];
  /** What the engine really uses, after probing. */
  directIO: boolean;
  ioBackend: string;
}

export interface WriteObjectRequest {
  bucket: string;
  key: string;
  contentType?: string;
  metadata: Record<string, string>;
  checksums?: Partial<Record<ChecksumAlgorithm, string>>;
  /** `<hex>-<N>`: store this ETag and part count instead of the body's MD5. */
  multipartEtag?: string;
  ifMatch?: string;
  ifNoneMatch?: '*';
}

/** A body too large to pass at once: appended in pieces, then committed. */
export interface EngineUpload {
  /** Resolves when the piece is durable (or buffered within bounds). */
  append(piece: Buffer): Promise<void>;
  /** Publishes the object; the conditions are checked at this point. */
  commit(request: WriteObjectRequest): Promise<PutResult>;
  /** Discards every piece; nothing becomes visible. */
  abort(): Promise<void>;
}

export interface EngineReadOptions {
  versionId?: string;
  /** head(): also return the body of an object of at most this many bytes. */
  bodyBytesMax?: number;
}

export interface EngineDeleteOptions extends EngineReadOptions {
  /**
   * Delete only if the version (the given versionId, else the current one)
   * still has this ETag and, when given, this lastModified in ms: an
   * overwrite after a decision, even with the same bytes, fails it with
   * PreconditionFailed (NoSuchKey when the key has no current object).
   */
  ifMatch?: { etag: string; lastModifiedMs?: number };
}
/** head()'s answer: the record, and the body when `bodyBytesMax` allowed it. */
export type EngineHead = ObjectInfo & { body?: Buffer };

export interface EngineListOptions {
  prefix: string;
  delimiter?: string;
  /** Return keys (and prefixes) strictly after this one. */
  startAfter?: string;
  maxKeys: number;
}

export interface EngineListPage {
  objects: { key: string; size: number; etag: string; lastModified: Date }[];
  commonPrefixes: string[];
  /** The last key or prefix returned when the page is truncated. */
  nextStartAfter?: string;
}

export interface EngineVersionPage {
  versions: VersionEntry[];
  /** Resume point (key + versionId) when truncated. */
  next?: { key: string; versionId: string };
}

export interface StoreEngine {
  info(): EngineInfo;
  /** Bodies up to `inlineBytesMax` are written in one call. */
  readonly inlineBytesMax: number;
  /** Size of the pieces an upload expects (the last may be shorter). */
  readonly uploadPieceBytes: number;

  createBucket(name: string, versioning: BucketInfo['versioning']): Promise<void>;
  deleteBucket(name: string): Promise<void>;
  getBucket(name: string): Promise<BucketInfo | undefined>;
  listBuckets(): Promise<BucketInfo[]>;
  setBucketVersioning(name: string, versioning: 'Enabled' | 'Suspended'): Promise<void>;

  put(request: WriteObjectRequest, body: Buffer): Promise<PutResult>;
  beginUpload(bucket: string): Promise<EngineUpload>;
  head(bucket: string, key: string, options: EngineReadOptions): Promise<EngineHead | undefined>;
  /** Reads `length` bytes at `offset` of the version `info` names. */
  read(info: ObjectInfo, offset: number, length: number): Promise<Buffer>;
  /**
   * Optional: like read, into `target` (no intermediate buffer); resolves
   * with the bytes written.
   */
  readInto?(info: ObjectInfo, offset: number, length: number, target: Buffer): Promise<number>;
  /** An uninitialized Buffer for a large body readInto fills (else Buffer.allocUnsafe). */
  allocBody?(length: number): Buffer;
  /**
   * Optional: a whole get answered from memory (a read cache), synchronously,
   * or undefined (then head + read). Must never touch disk.
   */
  getCached?(
    bucket: string,
    key: string,
    versionId: string | undefined,
  ): { info: ObjectInfo; body: Buffer } | undefined;
  delete(bucket: string, key: string, options: EngineDeleteOptions): Promise<DeleteResult>;
  list(bucket: string, options: EngineListOptions): Promise<EngineListPage>;
  listVersions(
    bucket: string,
    options: { prefix: string; after?: { key: string; versionId: string }; maxKeys: number },
  ): Promise<EngineVersionPage>;

  /** Drains in-flight work and makes everything durable. */
  close(): Promise<void>;
}
