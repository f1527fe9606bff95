/**
 * What every handler receives: the parsed request (bucket, key, decoded
 * query), the verified signature, the store, and helpers to answer. Built
 * once per request by the pipeline in server.ts; handlers never re-parse the
 * URL, so authorization and the store see the same (bucket, key) tuple.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { AuthResult } from '../auth/sigv4';
import type { QueryParam } from '../request/uri';
import { XML_DECLARATION } from '../xml/escape';
import type { Store } from '../../store/store';
import type { MultipartStore } from './multipart_store';

/** Tunables of the gateway; every one has a default in server.ts. */
export interface GatewayLimits {
  /** Smallest non-last multipart part, bytes (S3: 5 MiB). */
  partBytesMin: number;
  /** Incomplete multipart uploads older than this are removed, ms. */
  staleUploadAgeMs: number;
  /** How often the stale-upload sweep runs, ms. */
  staleUploadSweepMs: number;
  /** Request bodies parsed as XML (DeleteObjects, Complete...) are capped at this, bytes. */
  xmlBytesMax: number;
  /** A body slower than this over `bodyRateWindowMs` is cut off, bytes per second. */
  bodyBytesPerSecondMin: number;
  bodyRateWindowMs: number;
}

export interface GatewayConfig extends GatewayLimits {
  /** Region reported by GetBucketLocation / HeadBucket; us-east-1 answers an empty location. */
  region: string;
  /**
   * Replication destinations PutBucketReplication may name (by their key,
   * in `<Role>arn:tessera:replication:::target/NAME</Role>`): endpoints and
   * credentials are set only by configuration, never by a request.
   */
  replicationTargets?: Readonly<Record<string, ReplicationTarget>>;
}

export interface ReplicationTarget {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly requestId: string;
  /**
   * `x-amz-request-id`, `x-amz-id-2` and `server` as a flat `[name, value,
   * ...]` list. The pipeline sets them on the response before every handler
   * except GetObject/HeadObject, which copy this list into their one
   * `writeHead` (server.ts WRITES_OWN_HEADERS); error answers always get them.
   */
  readonly baseHeaders: readonly string[];
  readonly log: Logger;
  readonly method: string;
  /** The path as received, still percent-encoded. */
  readonly rawPath: string;
  readonly query: readonly QueryParam[];
  /** First value of each query parameter, by exact (case-sensitive) name. */
  readonly params: ReadonlyMap<string, string>;
  readonly bucket: string | undefined;
  readonly key: string | undefined;
  readonly store: Store;
  readonly multipart: MultipartStore;
  readonly config: GatewayConfig;
  /** Set by the pipeline once the signature is verified. */
  auth: AuthResult;
  /** Answers `100 Continue` if the client is waiting for it; bodies are read only after this. */
  continueBody(): void;
  /** Body bytes decoded so far (for metrics). */
  receivedBytes: number;
  /** Body bytes written (for metrics). */
  sentBytes: number;
}

export type Handler = (ctx: RequestContext) => Promise<void>;

/** The S3 owner every bucket reports: the gateway has one tenant per credential set. */
export const OWNER_ID = '75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a';
export const OWNER_NAME = 'tessera';

export function sendXml(ctx: RequestContext, status: number, xml: string): void {
  const body = Buffer.from(XML_DECLARATION + xml, 'utf8');
  ctx.res.statusCode = status;
  ctx.res.setHeader('content-type', 'application/xml');
  ctx.res.setHeader('content-length', body.length);
  ctx.sentBytes += body.length;
  ctx.res.end(ctx.method === 'HEAD' ? undefined : body);
}

export function sendEmpty(ctx: RequestContext, status: number): void {
  ctx.res.statusCode = status;
  if (status !== 204 && status !== 304) ctx.res.setHeader('content-length', 0);
  ctx.res.end();
}

/** Header value as one string (first of repeated headers), or undefined. */
export function header(ctx: RequestContext, name: string): string | undefined {
  const value = ctx.req.headers[name];
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value[0] : value;
}

/** `"etag"` as S3 quotes it on the wire. */
export function quoteEtag(etag: string): string {
  return `"${etag}"`;
}

/** S3 timestamps in XML: ISO 8601 with milliseconds. */
export function isoDate(date: Date): string {
  return date.toISOString();
}
