/**
 * The reference model of the object engine: plain TypeScript over Maps,
 * written for obviousness, not speed. Tests run the same operations on a
 * Store over this model and on a Store over the native engine and compare
 * every result (model-based testing, as ShardStore does).
 */
import { createHash, randomBytes } from 'node:crypto';
import { TesseraError } from '../../lib/errors';
import type {
  EngineDeleteOptions,
  EngineInfo,
  EngineListOptions,
  EngineListPage,
  EngineUpload,
  EngineVersionPage,
  StoreEngine,
  WriteObjectRequest,
} from '../../lib/store/engine';
import type {
  BucketInfo,
  DeleteResult,
  ObjectInfo,
  PutResult,
  VersionEntry,
} from '../../lib/store/types';

interface ModelVersion {
  info: ObjectInfo;
  body: Buffer;
}

interface ModelBucket {
  info: BucketInfo;
  /** Versions per key, newest first. */
  keys: Map<string, ModelVersion[]>;
}

function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export class ModelEngine implements StoreEngine {
  readonly buckets = new Map<string, ModelBucket>();
  private sequence = 0;
  private closed = false;
  readonly inlineBytesMax: number;
  readonly uploadPieceBytes: number;
  /** Injected clock, so tests can control lastModified. */
  now: () => Date = () => new Date();

  constructor(options: { inlineBytesMax?: number; uploadPieceBytes?: number } = {}) {
    this.inlineBytesMax = options.inlineBytesMax ?? 64 * 1024;
    this.uploadPieceBytes = options.uploadPieceBytes ?? 16 * 1024;
  }

  info(): EngineInfo {
    return {
      storeId: 'model',
      dataShards: 1,
      parityShards: 0,
      drives: [],
      directIO: false,
      ioBackend: 'memory',
    };
  }

  private open(): void {
    if (this.closed) throw new TesseraError('ERR_STORE_CLOSED', 'the store is closed');
  }

  private bucketOf(name: string): ModelBucket {
    this.open();
    const bucket = this.buckets.get(name);
    if (!bucket)
      throw new TesseraError('NoSuchBucket', `bucket ${JSON.stringify(name)} does not exist`);
    return bucket;
  }

  private newVersionId(bucket: ModelBucket): string {
    if (bucket.info.versioning !== 'Enabled') return 'null';
    return `${(++this.sequence).toString(36).padStart(10, '0')}${randomBytes(4).toString('hex')}`;
  }

  async createBucket(name: string, versioning: BucketInfo['versioning']): Promise<void> {
    this.open();
    if (this.buckets.has(name))
      throw new TesseraError(
        'BucketAlreadyOwnedByYou',
        `bucket ${JSON.stringify(name)} already exists`,
      );
    this.buckets.set(name, {
      info: { name, creationDate: this.now(), versioning },
      keys: new Map(),
    });
  }

  async deleteBucket(name: string): Promise<void> {
    const bucket = this.bucketOf(name);
    if (bucket.keys.size > 0)
      throw new TesseraError('BucketNotEmpty', `bucket ${JSON.stringify(name)} is not empty`);
    this.buckets.delete(name);
  }

  async getBucket(name: string): Promise<BucketInfo | undefined> {
    this.open();
    const bucket = this.buckets.get(name);
    return bucket ? { ...bucket.info } : undefined;
  }

  async listBuckets(): Promise<BucketInfo[]> {
    this.open();
    return [...this.buckets.values()]
      .map((b) => ({ ...b.info }))
      .sort((a, b) => byteCompare(a.name, b.name));
  }

  async setBucketVersioning(name: string, versioning: 'Enabled' | 'Suspended'): Promise<void> {
    this.bucketOf(name).info.versioning = versioning;
  }

  private current(bucket: ModelBucket, key: string): ModelVersion | undefined {
    const latest = bucket.keys.get(key)?.[0];
    return latest && !latest.info.deleteMarker ? latest : undefined;
  }

  private addVersion(bucket: ModelBucket, key: string, version: ModelVersion): void {
    const versions = (bucket.keys.get(key) ?? []).map((v) => ({
      ...v,
      info: { ...v.info, isLatest: false },
    }));
    // An unversioned write replaces the 'null' version, wherever it is.
    const kept =
      version.info.versionId === 'null'
        ? versions.filter((v) => v.info.versionId !== 'null')
        : versions;
    bucket.keys.set(key, [version, ...kept]);
  }

  async put(request: WriteObjectRequest, body: Buffer): Promise<PutResult> {
    const bucket = this.bucketOf(request.bucket);
    const current = this.current(bucket, request.key);
    if (request.ifNoneMatch === '*' && current) {
      throw new TesseraError('PreconditionFailed', 'an object with this key already exists');
    }
    if (request.ifMatch !== undefined) {
      if (!current) throw new TesseraError('NoSuchKey', 'the object does not exist');
      if (current.info.etag !== request.ifMatch)
        throw new TesseraError('PreconditionFailed', 'the ETag does not match');
    }
    const info: ObjectInfo = {
      bucket: request.bucket,
      key: request.key,
      versionId: this.newVersionId(bucket),
      etag: request.multipartEtag ?? createHash('md5').update(body).digest('hex'),
      size: body.length,
      lastModified: this.now(),
      metadata: { ...request.metadata },
      deleteMarker: false,
      isLatest: true,
    };
    if (request.contentType !== undefined) info.contentType = request.contentType;
    if (request.checksums !== undefined) info.checksums = { ...request.checksums };
    this.addVersion(bucket, request.key, { info, body: Buffer.from(body) });
    return { etag: info.etag, versionId: info.versionId, size: info.size };
  }

  async beginUpload(bucketName: string): Promise<EngineUpload> {
    this.bucketOf(bucketName);
    const pieces: Buffer[] = [];
    let done = false;
    return {
      append: async (piece) => {
        if (done) throw new TesseraError('ERR_STORE_INTERNAL', 'upload already finished');
        pieces.push(Buffer.from(piece));
      },
      commit: async (request) => {
        done = true;
        return this.put(request, Buffer.concat(pieces));
      },
      abort: async () => {
        done = true;
        pieces.length = 0;
      },
    };
  }

  private findVersion(
    bucket: ModelBucket,
    key: string,
    versionId?: string,
  ): ModelVersion | undefined {
    const versions = bucket.keys.get(key);
    if (!versions) return undefined;
    return versionId === undefined
      ? versions[0]
      : versions.find((v) => v.info.versionId === versionId);
  }

  async head(
    bucketName: string,
    key: string,
    options: { versionId?: string; bodyBytesMax?: number },
  ): Promise<(ObjectInfo & { body?: Buffer }) | undefined> {
    const found = this.findVersion(this.bucketOf(bucketName), key, options.versionId);
    if (!found) return undefined;
    const info: ObjectInfo & { body?: Buffer } = structuredClone(found.info);
    if (!info.deleteMarker && info.size <= (options.bodyBytesMax ?? -1))
      info.body = Buffer.from(found.body);
    return info;
  }

  async read(info: ObjectInfo, offset: number, length: number): Promise<Buffer> {
    const found = this.findVersion(this.bucketOf(info.bucket), info.key, info.versionId);
    if (!found) throw new TesseraError('NoSuchVersion', 'the version no longer exists');
    return Buffer.from(found.body.subarray(offset, offset + length));
  }

  async delete(
    bucketName: string,
    key: string,
    options: EngineDeleteOptions,
  ): Promise<DeleteResult> {
    const bucket = this.bucketOf(bucketName);
    const versions = bucket.keys.get(key) ?? [];
    const ifMatch = options.ifMatch;
    const changed = (info: ObjectInfo) =>
      ifMatch !== undefined &&
      (info.etag !== ifMatch.etag ||
        (ifMatch.lastModifiedMs !== undefined &&
          info.lastModified.getTime() !== ifMatch.lastModifiedMs));
    if (ifMatch !== undefined && options.versionId === undefined) {
      const current = this.current(bucket, key);
      if (!current) throw new TesseraError('NoSuchKey', 'the object does not exist');
      if (changed(current.info))
        throw new TesseraError('PreconditionFailed', 'the version changed since it was read');
    }
    if (options.versionId !== undefined) {
      const target = versions.find((v) => v.info.versionId === options.versionId);
      if (!target) return { deleteMarker: false };
      if (changed(target.info))
        throw new TesseraError('PreconditionFailed', 'the version changed since it was read');
      const rest = versions.filter((v) => v !== target);
      if (rest.length === 0) bucket.keys.delete(key);
      else
        bucket.keys.set(
          key,
          rest.map((v, i) => ({ ...v, info: { ...v.info, isLatest: i === 0 } })),
        );
      return { versionId: options.versionId, deleteMarker: target.info.deleteMarker };
    }
    if (bucket.info.versioning === 'Disabled') {
      bucket.keys.delete(key);
      return { deleteMarker: false };
    }
    const marker: ObjectInfo = {
      bucket: bucketName,
      key,
      versionId: this.newVersionId(bucket),
      etag: '',
      size: 0,
      lastModified: this.now(),
      metadata: {},
      deleteMarker: true,
      isLatest: true,
    };
    this.addVersion(bucket, key, { info: marker, body: Buffer.alloc(0) });
    return { versionId: marker.versionId, deleteMarker: true };
  }

  async list(bucketName: string, options: EngineListOptions): Promise<EngineListPage> {
    const bucket = this.bucketOf(bucketName);
    const { prefix, delimiter, startAfter, maxKeys } = options;
    const skipUnder =
      startAfter !== undefined &&
      delimiter &&
      startAfter.startsWith(prefix) &&
      startAfter.endsWith(delimiter)
        ? startAfter
        : undefined;
    const keys = [...bucket.keys.keys()]
      .filter((key) => key.startsWith(prefix) && this.current(bucket, key))
      .filter((key) => startAfter === undefined || byteCompare(key, startAfter) > 0)
      .filter((key) => skipUnder === undefined || !key.startsWith(skipUnder))
      .sort(byteCompare);
    const page: EngineListPage = { objects: [], commonPrefixes: [] };
    let last: string | undefined;
    for (const key of keys) {
      const cut = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
      const rolled = cut >= 0 ? key.slice(0, cut + delimiter!.length) : undefined;
      if (rolled !== undefined && rolled === last) continue;
      if (page.objects.length + page.commonPrefixes.length === maxKeys) {
        page.nextStartAfter = last!;
        break;
      }
      if (rolled !== undefined) {
        page.commonPrefixes.push(rolled);
        last = rolled;
      } else {
        const { info } = this.current(bucket, key)!;
        page.objects.push({
          key,
          size: info.size,
          etag: info.etag,
          lastModified: info.lastModified,
        });
        last = key;
      }
    }
    return page;
  }

  async listVersions(
    bucketName: string,
    options: { prefix: string; after?: { key: string; versionId: string }; maxKeys: number },
  ): Promise<EngineVersionPage> {
    const bucket = this.bucketOf(bucketName);
    const all: VersionEntry[] = [...bucket.keys.keys()]
      .filter((key) => key.startsWith(options.prefix))
      .sort(byteCompare)
      .flatMap((key) =>
        bucket.keys.get(key)!.map(({ info }) => ({
          key,
          versionId: info.versionId,
          isLatest: info.isLatest,
          deleteMarker: info.deleteMarker,
          size: info.size,
          etag: info.etag,
          lastModified: info.lastModified,
        })),
      );
    let start = 0;
    if (options.after) {
      const { key, versionId } = options.after;
      start = all.findIndex((v) => v.key === key && v.versionId === versionId) + 1;
    }
    const versions = all.slice(start, start + options.maxKeys);
    const page: EngineVersionPage = { versions };
    if (start + options.maxKeys < all.length) {
      const lastVersion = versions.at(-1)!;
      page.next = { key: lastVersion.key, versionId: lastVersion.versionId };
    }
    return page;
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
