/**
 * Multipart uploads kept as ordinary objects in one internal bucket.
 *
 * Layout in bucket `tessera-multipart-uploads` (never listed, refused to
 * clients):
 *   uploads/<bucket>/<uploadId>   JSON record: key, initiated, content type, metadata
 *   parts/<uploadId>/<00001>      one object per part; its store ETag is the part MD5
 *
 * Parts land concurrently and in any order (each is an independent put);
 * a re-uploaded part number overwrites the previous object (the internal
 * bucket is unversioned). Complete streams the parts in order into a new
 * put of the destination object, so memory stays bounded by the store's
 * piece size, at the cost of writing every byte twice. A native
 * `concat(parts) -> object` in the engine could later publish the parts'
 * stripes under the new key without copying (zero-copy complete); the
 * gateway would only swap `assemble` for that call.
 */
import type { ObjectHeaders } from '../../store/types';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { S3Error } from '../errors';
import { TesseraError } from '../../errors';
import type { Store } from '../../store/store';
import type { PutResult } from '../../store/types';

export const MULTIPART_BUCKET = 'tessera-multipart-uploads';
/** Part numbers are 1..10000 (S3). */
export const PART_NUMBER_MAX = 10_000;
/** Parts listed per store page while assembling or listing. */
const LIST_PAGE = 1000;

export interface UploadRecord {
  bucket: string;
  key: string;
  uploadId: string;
  /** ISO 8601. */
  initiated: string;
  contentType?: string;
  metadata: Record<string, string>;
  headers?: ObjectHeaders;
  checksumAlgorithm?: string;
}

export interface StoredPart {
  partNumber: number;
  size: number;
  /** MD5 hex of the part body (the part object's ETag). */
  etag: string;
  lastModified: Date;
}

function uploadKey(bucket: string, uploadId: string): string {
  return `uploads/${bucket}/${uploadId}`;
}

function partPrefix(uploadId: string): string {
  return `parts/${uploadId}/`;
}

export function partKey(uploadId: string, partNumber: number): string {
  return partPrefix(uploadId) + String(partNumber).padStart(5, '0');
}

const UPLOAD_ID_RE = /^[0-9a-f]{32}$/;

export class MultipartStore {
  private ready: Promise<void> | undefined;

  constructor(private readonly store: Store) {}

  /** Creates the internal bucket once; safe to call from every request. */
  init(): Promise<void> {
    this.ready ??= this.store.createBucket(MULTIPART_BUCKET).catch((error: unknown) => {
      if (error instanceof TesseraError && error.code === 'BucketAlreadyOwnedByYou') return;
      this.ready = undefined;
      throw error;
    });
    return this.ready;
  }

  private get internal() {
    return this.store.bucket(MULTIPART_BUCKET);
  }

  async create(record: Omit<UploadRecord, 'uploadId' | 'initiated'>): Promise<UploadRecord> {
    await this.init();
    const full: UploadRecord = {
      ...record,
      uploadId: randomBytes(16).toString('hex'),
      initiated: new Date().toISOString(),
    };
    await this.internal.put(uploadKey(record.bucket, full.uploadId), JSON.stringify(full), {
      contentType: 'application/json',
    });
    return full;
  }

  /** The upload, checked against bucket and key; NoSuchUpload otherwise. */
  async get(bucket: string, uploadId: string, key: string | undefined): Promise<UploadRecord> {
    if (!UPLOAD_ID_RE.test(uploadId)) throw new S3Error('NoSuchUpload');
    await this.init();
    const found = await this.internal.get(uploadKey(bucket, uploadId));
    if (!found) throw new S3Error('NoSuchUpload');
    const record = JSON.parse(found.body.toString('utf8')) as UploadRecord;
    if (key !== undefined && record.key !== key) throw new S3Error('NoSuchUpload');
    return record;
  }

  async putPart(
    uploadId: string,
    partNumber: number,
    body: AsyncIterable<Buffer>,
    metadata: Record<string, string>,
  ): Promise<PutResult> {
    return this.internal.put(partKey(uploadId, partNumber), Readable.from(body), { metadata });
  }

  /** Every stored part, ascending. */
  async listParts(uploadId: string): Promise<StoredPart[]> {
    const parts: StoredPart[] = [];
    for await (const entry of this.internal.list({ prefix: partPrefix(uploadId) })) {
      if (entry.type !== 'object') continue;
      parts.push({
        partNumber: Number(entry.key.slice(-5)),
        size: entry.size,
        etag: entry.etag,
        lastModified: entry.lastModified,
      });
    }
    return parts;
  }

  /** Every upload in `bucket`, in no particular order. */
  async listUploads(bucket: string): Promise<UploadRecord[]> {
    await this.init();
    const records: UploadRecord[] = [];
    for await (const entry of this.internal.list({ prefix: `uploads/${bucket}/` })) {
      if (entry.type !== 'object') continue;
      const found = await this.internal.get(entry.key);
      if (found) records.push(JSON.parse(found.body.toString('utf8')) as UploadRecord);
    }
    return records;
  }

  /** Every upload of every bucket (for the stale sweep). */
  async listAllUploads(): Promise<UploadRecord[]> {
    await this.init();
    const buckets = new Set<string>();
    for await (const entry of this.internal.list({ prefix: 'uploads/', delimiter: '/' })) {
      if (entry.type === 'prefix') buckets.add(entry.prefix.slice('uploads/'.length, -1));
    }
    const all: UploadRecord[] = [];
    for (const bucket of buckets) all.push(...(await this.listUploads(bucket)));
    return all;
  }

  /** Deletes the parts, then the record (Abort, and after Complete). */
  async remove(record: UploadRecord): Promise<void> {
    const keys: string[] = [];
    for await (const entry of this.internal.list({ prefix: partPrefix(record.uploadId) })) {
      if (entry.type === 'object') keys.push(entry.key);
    }
    for (const key of keys) await this.internal.delete(key);
    await this.internal.delete(uploadKey(record.bucket, record.uploadId));
  }

  /** Streams the given parts in order, one store piece at a time (bounded memory). */
  async *assemble(uploadId: string, partNumbers: readonly number[]): AsyncGenerator<Buffer> {
    for (const partNumber of partNumbers) {
      const part = await this.internal.getStream(partKey(uploadId, partNumber));
      if (!part) throw new S3Error('InvalidPart');
      for await (const piece of part.stream as AsyncIterable<Buffer>) yield piece;
    }
  }

  /** Removes uploads initiated before `now - ageMs`; returns how many. */
  async sweep(ageMs: number, now = Date.now()): Promise<number> {
    let removed = 0;
    for (const record of await this.listAllUploads()) {
      if (now - Date.parse(record.initiated) > ageMs) {
        await this.remove(record);
        removed++;
      }
    }
    return removed;
  }
}

export { LIST_PAGE };
