/** Public types of the object API (see PRODUCT.md for the contract). */

/** A byte range, inclusive on both ends, as in HTTP `bytes=start-end`. */
export type ByteRange = { start: number; end?: number } | { suffix: number };

export interface ObjectInfo {
  bucket: string;
  key: string;
  /** Version id; 'null' for objects written while versioning was off. */
  versionId: string;
  /** Quoted-free hex MD5 of the body, or md5-of-md5s + '-N' for multipart. */
  etag: string;
  size: number;
  lastModified: Date;
  contentType?: string;
  metadata: Record<string, string>;
  /** Client-supplied checksums that were verified and stored, base64. */
  checksums?: ChecksumMap;
  /** HTTP system headers stored with the object (never part of `metadata`). */
  headers?: ObjectHeaders;
  /**
   * For an object written with `PutOptions.multipart`: its part count and,
   * unless there were too many unequal parts to keep, each part's size.
   */
  parts?: { count: number; sizes?: number[] };
  /** True for a delete marker (only seen in version listings). */
  deleteMarker: boolean;
  /** True when this is the current version of its key. */
  isLatest: boolean;
  /**
   * The change sequence of the record that wrote this version (the `seq` of
   * its change event; docs/events.md). Set by the native engine.
   */
  sequence?: number;
}

export type ChecksumAlgorithm = 'crc32' | 'crc32c' | 'crc64nvme' | 'sha1' | 'sha256';

/** Digests by algorithm, base64 (`{ crc32: 'NSRBwg==' }`). */
export type ChecksumMap = Partial<Record<ChecksumAlgorithm, string>>;

/** HTTP headers kept with an object and returned as they were stored. */
export interface ObjectHeaders {
  cacheControl?: string;
  contentDisposition?: string;
  contentEncoding?: string;
  contentLanguage?: string;
  expires?: string;
}

export interface PutResult {
  etag: string;
  versionId: string;
  size: number;
}

export interface DeleteResult {
  /** The version removed, or the id of the delete marker created. */
  versionId?: string;
  /** True when the delete created (or removed) a delete marker. */
  deleteMarker: boolean;
}

export interface GetResult extends ObjectInfo {
  body: Buffer;
  /** The range served, inclusive, when a range was asked for. */
  range?: { start: number; end: number };
}

export interface ListedObject {
  type: 'object';
  key: string;
  size: number;
  etag: string;
  lastModified: Date;
}

export interface ListedPrefix {
  type: 'prefix';
  prefix: string;
}

export type ListEntry = ListedObject | ListedPrefix;

export interface ListPage {
  objects: ListedObject[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** Opaque; pass back as `continuationToken` to get the next page. */
  nextContinuationToken?: string;
}

export interface VersionEntry {
  key: string;
  versionId: string;
  isLatest: boolean;
  deleteMarker: boolean;
  size: number;
  etag: string;
  lastModified: Date;
  /** Change sequence of the version's record (see ObjectInfo.sequence). */
  sequence?: number;
}

export interface BucketInfo {
  name: string;
  creationDate: Date;
  versioning: 'Enabled' | 'Suspended' | 'Disabled';
}
