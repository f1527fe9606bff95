/**
 * A small S3 client for replication: path-style requests to any
 * S3-compatible endpoint, signed with SigV4 (sign.ts), over node:http or
 * node:https with keep-alive agents. Bodies stream through with
 * UNSIGNED-PAYLOAD and a Content-Length, so memory is bounded by the
 * source stream's highWaterMark whatever the object size.
 *
 * Errors are ReplicationTargetError: the HTTP status, the S3 error code and
 * whether the request may have taken effect (`uncertain`). Messages name
 * the method, the bucket and the key, never a header or a credential.
 */
import { Agent as HttpAgent, type IncomingMessage, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TesseraError } from '../errors';
import type { QueryParam } from '../gateway/request/uri';
import { uriEncode } from '../gateway/request/uri';
import { SigV4Signer, type SigningCredentials, wireQuery } from './sign';

export interface S3TargetOptions {
  /** `http(s)://host[:port]`, no path, no user info. */
  endpoint: string;
  region: string;
  credentials: SigningCredentials;
  /** A request with no progress for this long fails (uncertain). Default 30 s. */
  timeoutMs?: number;
  /** Sockets per target. Default 16. */
  maxSockets?: number;
  /** Wall clock for signatures, ms (tests jump it). */
  now?: () => number;
}

export class ReplicationTargetError extends TesseraError {
  constructor(
    message: string,
    /** HTTP status, 0 when no answer arrived. */
    readonly status: number,
    /** S3 error code of the answer, or a local one (ECONNREFUSED, Timeout). */
    readonly s3Code: string,
    /** True when the request may have been applied by the target. */
    readonly uncertain: boolean,
    /**
     * True when no answer came in time after the whole request was sent:
     * the target may still be processing it and commit it later.
     */
    readonly mayLand = false,
  ) {
    super('ERR_REPLICATION_TARGET', message);
    this.name = 'ReplicationTargetError';
  }

  /** A 4xx other than throttling/timeouts: retrying the same request will not help. */
  get permanent(): boolean {
    return (
      this.status >= 400 &&
      this.status < 500 &&
      this.status !== 408 &&
      this.status !== 429 &&
      this.s3Code !== 'RequestTimeTooSkewed'
    );
  }
}

export interface TargetObject {
  etag: string;
  size: number;
  versionId?: string;
  contentType?: string;
  /** x-amz-meta-* without the prefix. */
  metadata: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
}

interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

const ERROR_BODY_MAX = 64 * 1024;

export function decodeMeta(value: string): string {
  // RFC 2047 words (=?UTF-8?B?...?=) as S3 sends non-ASCII metadata.
  const m = /^=\?UTF-8\?B\?([A-Za-z0-9+/=]*)\?=$/i.exec(value);
  return m ? Buffer.from(m[1]!, 'base64').toString('utf8') : value;
}

/**
 * A metadata value as a header: its UTF-8 bytes (Node writes header strings
 * as latin1, so the string carries one character per byte). S3 answers
 * non-ASCII values as RFC 2047 words, which decodeMeta reads back.
 */
export function encodeMetaValue(value: string): string {
  return Buffer.from(value, 'utf8').toString('latin1');
}

export class S3TargetClient {
  readonly endpoint: URL;
  readonly #signer: SigV4Signer;
  readonly #agent: HttpAgent;
  readonly #timeoutMs: number;
  readonly #now: () => number;

  constructor(options: S3TargetOptions) {
    this.endpoint = new URL(options.endpoint);
    this.#signer = new SigV4Signer(options.credentials, options.region);
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 16 };
    this.#agent =
      this.endpoint.protocol === 'https:'
        ? new HttpsAgent(agentOptions)
        : new HttpAgent(agentOptions);
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#now = options.now ?? Date.now;
  }

  close(): void {
    this.#agent.destroy();
  }

  async headObject(
    bucket: string,
    key: string,
    versionId?: string,
  ): Promise<TargetObject | undefined> {
    const query = versionId ? [{ name: 'versionId', value: versionId, hasEquals: true }] : [];
    const answer = await this.send('HEAD', bucket, key, query, {}, undefined, 0, false);
    if (answer.status === 404) return undefined;
    this.check('HEAD', bucket, key, answer, false);
    return objectOf(answer.headers);
  }

  /** Streams `body` (exactly `size` bytes) to bucket/key. */
  async putObject(
    bucket: string,
    key: string,
    body: Readable | Buffer,
    size: number,
    headers: Record<string, string>,
  ): Promise<{ etag: string; versionId?: string }> {
    const answer = await this.send('PUT', bucket, key, [], headers, body, size, true);
    this.check('PUT', bucket, key, answer, true);
    const result: { etag: string; versionId?: string } = {
      etag: String(answer.headers.etag ?? '').replace(/"/g, ''),
    };
    const version = answer.headers['x-amz-version-id'];
    if (typeof version === 'string') result.versionId = version;
    return result;
  }

  async deleteObject(bucket: string, key: string): Promise<void> {
    const answer = await this.send('DELETE', bucket, key, [], {}, undefined, 0, true);
    this.check('DELETE', bucket, key, answer, true);
  }

  /** GET as a stream (read repair). Undefined when the object is missing. */
  async getObject(
    bucket: string,
    key: string,
  ): Promise<(TargetObject & { stream: IncomingMessage }) | undefined> {
    const res = await this.open('GET', bucket, key, [], {}, undefined, 0);
    if (res.statusCode === 404) {
      res.resume();
      return undefined;
    }
    if (res.statusCode !== 200) {
      const body = await collect(res, ERROR_BODY_MAX);
      this.check(
        'GET',
        bucket,
        key,
        { status: res.statusCode ?? 0, headers: res.headers, body },
        false,
      );
    }
    return { ...objectOf(res.headers), stream: res };
  }

  /** CreateMultipartUpload: the upload id. `headers` carry the object's metadata. */
  async createMultipartUpload(
    bucket: string,
    key: string,
    headers: Record<string, string>,
  ): Promise<string> {
    const query: QueryParam[] = [{ name: 'uploads', value: '', hasEquals: false }];
    const answer = await this.send('POST', bucket, key, query, headers, undefined, 0, false);
    this.check('POST', bucket, key, answer, false);
    const id = /<UploadId>([^<]+)<\/UploadId>/.exec(answer.body.toString('utf8'))?.[1];
    if (!id) {
      throw new ReplicationTargetError(
        `POST ${this.endpoint.host}/${bucket}/${key}: no UploadId in the answer`,
        answer.status,
        'MalformedAnswer',
        false,
      );
    }
    return unescapeXml(id);
  }

  /** UploadPart: streams `body` (exactly `size` bytes); the part's ETag (quoted, as sent back in Complete). */
  async uploadPart(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    body: Readable | Buffer,
    size: number,
  ): Promise<string> {
    const query: QueryParam[] = [
      { name: 'partNumber', value: String(partNumber), hasEquals: true },
      { name: 'uploadId', value: uploadId, hasEquals: true },
    ];
    // A part is invisible until Complete: a lost answer is simply retried.
    const answer = await this.send('PUT', bucket, key, query, {}, body, size, false);
    this.check('PUT', bucket, key, answer, false);
    const etag = answer.headers.etag;
    if (typeof etag !== 'string' || etag === '') {
      throw new ReplicationTargetError(
        `PUT ${this.endpoint.host}/${bucket}/${key} part ${partNumber}: no ETag`,
        answer.status,
        'MalformedAnswer',
        false,
      );
    }
    return etag.startsWith('"') ? etag : `"${etag}"`;
  }

  /**
   * CompleteMultipartUpload. S3 may answer 200 and then an error document
   * (the connection stays open while it assembles): that is an error too,
   * and like a lost answer it leaves the outcome uncertain.
   */
  async completeMultipartUpload(
    bucket: string,
    key: string,
    uploadId: string,
    parts: ReadonlyArray<{ partNumber: number; etag: string }>,
  ): Promise<{ etag: string; versionId?: string }> {
    const query: QueryParam[] = [{ name: 'uploadId', value: uploadId, hasEquals: true }];
    const xml =
      '<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
      parts
        .map(
          (p) =>
            `<Part><PartNumber>${p.partNumber}</PartNumber><ETag>${escapeXml(p.etag)}</ETag></Part>`,
        )
        .join('') +
      '</CompleteMultipartUpload>';
    const body = Buffer.from(xml, 'utf8');
    const answer = await this.send(
      'POST',
      bucket,
      key,
      query,
      { 'content-type': 'application/xml' },
      body,
      body.length,
      true,
    );
    this.check('POST', bucket, key, answer, true);
    const text = answer.body.toString('utf8');
    const code = /<Error>[\s\S]*?<Code>([^<]{1,64})<\/Code>/.exec(text)?.[1];
    if (code !== undefined) {
      throw new ReplicationTargetError(
        `POST ${this.endpoint.host}/${bucket}/${key}: 200 ${code}`,
        code === 'InternalError' || code === 'SlowDown' ? 500 : 400,
        code,
        true,
      );
    }
    const result: { etag: string; versionId?: string } = {
      etag: unescapeXml(/<ETag>([^<]*)<\/ETag>/.exec(text)?.[1] ?? '').replace(/"/g, ''),
    };
    const version = answer.headers['x-amz-version-id'];
    if (typeof version === 'string') result.versionId = version;
    return result;
  }

  /** AbortMultipartUpload; an upload already gone (completed or aborted) is fine. */
  async abortMultipartUpload(bucket: string, key: string, uploadId: string): Promise<void> {
    const query: QueryParam[] = [{ name: 'uploadId', value: uploadId, hasEquals: true }];
    const answer = await this.send('DELETE', bucket, key, query, {}, undefined, 0, true);
    if (answer.status === 404) return;
    this.check('DELETE', bucket, key, answer, true);
  }

  /** Incomplete multipart uploads of exactly `key` (ListMultipartUploads, first page). */
  async listKeyUploads(bucket: string, key: string, max = 100): Promise<string[]> {
    const query: QueryParam[] = [
      { name: 'max-uploads', value: String(max), hasEquals: true },
      { name: 'prefix', value: key, hasEquals: true },
      { name: 'uploads', value: '', hasEquals: false },
    ];
    const answer = await this.send('GET', bucket, undefined, query, {}, undefined, 0, false);
    this.check('GET', bucket, key, answer, false);
    const out: string[] = [];
    const xml = answer.body.toString('utf8');
    for (const m of xml.matchAll(/<Upload>([\s\S]*?)<\/Upload>/g)) {
      const k = /<Key>([^<]*)<\/Key>/.exec(m[1]!)?.[1];
      const id = /<UploadId>([^<]*)<\/UploadId>/.exec(m[1]!)?.[1];
      if (k === undefined || id === undefined || unescapeXml(k) !== key) continue;
      out.push(unescapeXml(id));
    }
    return out;
  }

  /**
   * Versions and delete markers of exactly `key` on the target, newest
   * first (ListObjectVersions with the key as prefix, first page).
   */
  async listKeyVersions(
    bucket: string,
    key: string,
    max = 100,
  ): Promise<Array<{ versionId: string; deleteMarker: boolean }>> {
    const query: QueryParam[] = [
      { name: 'max-keys', value: String(max), hasEquals: true },
      { name: 'prefix', value: key, hasEquals: true },
      { name: 'versions', value: '', hasEquals: false },
    ];
    const answer = await this.send('GET', bucket, undefined, query, {}, undefined, 0, false);
    this.check('GET', bucket, key, answer, false);
    const out: Array<{ versionId: string; deleteMarker: boolean }> = [];
    const xml = answer.body.toString('utf8');
    for (const m of xml.matchAll(/<(Version|DeleteMarker)>([\s\S]*?)<\/\1>/g)) {
      const k = /<Key>([^<]*)<\/Key>/.exec(m[2]!)?.[1];
      if (k === undefined || unescapeXml(k) !== key) continue;
      out.push({
        versionId: unescapeXml(/<VersionId>([^<]*)<\/VersionId>/.exec(m[2]!)?.[1] ?? 'null'),
        deleteMarker: m[1] === 'DeleteMarker',
      });
    }
    return out;
  }

  private check(
    method: string,
    bucket: string,
    key: string,
    answer: Answer,
    mutating: boolean,
  ): void {
    if (answer.status >= 200 && answer.status < 300) return;
    const code =
      /<Code>([^<]{1,64})<\/Code>/.exec(answer.body.toString('utf8'))?.[1] ??
      `HTTP${answer.status}`;
    // A 5xx after the target read our request may still have committed it.
    throw new ReplicationTargetError(
      `${method} ${this.endpoint.host}/${bucket}/${key}: ${answer.status} ${code}`,
      answer.status,
      code,
      mutating && answer.status >= 500,
    );
  }

  private async send(
    method: string,
    bucket: string,
    key: string | undefined,
    query: QueryParam[],
    headers: Record<string, string>,
    body: Readable | Buffer | undefined,
    size: number,
    mutating: boolean,
  ): Promise<Answer> {
    try {
      const res = await this.open(method, bucket, key, query, headers, body, size);
      const data = await collect(res, ERROR_BODY_MAX);
      return { status: res.statusCode ?? 0, headers: res.headers, body: data };
    } catch (error) {
      if (error instanceof ReplicationTargetError) throw error;
      const code = (error as NodeJS.ErrnoException).code ?? 'NetworkError';
      // A request whose body never fully left cannot be committed (the
      // target commits only complete bodies of the announced length).
      const sent = (error as { requestSent?: boolean }).requestSent === true;
      throw new ReplicationTargetError(
        `${method} ${this.endpoint.host}/${bucket}/${key ?? ''}: ${code}`,
        0,
        code,
        mutating && sent,
        // A timeout: the target holds the whole request and has not answered.
        mutating && sent && code === 'Timeout',
      );
    }
  }

  private open(
    method: string,
    bucket: string,
    key: string | undefined,
    query: QueryParam[],
    extra: Record<string, string>,
    body: Readable | Buffer | undefined,
    size: number,
  ): Promise<IncomingMessage> {
    const rawPath =
      '/' + uriEncode(bucket, false) + (key === undefined ? '' : '/' + uriEncode(key, true));
    const host = this.endpoint.host;
    const headers: Record<string, string> = { host, ...extra };
    if (body !== undefined) headers['content-length'] = String(size);
    const signed = this.#signer.sign(
      { method, rawPath, query, headers, payloadHash: 'UNSIGNED-PAYLOAD' },
      this.#now(),
    );
    const qs = wireQuery(query);
    const send = this.endpoint.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = send({
        protocol: this.endpoint.protocol,
        hostname: this.endpoint.hostname,
        port: this.endpoint.port || undefined,
        method,
        path: rawPath + (qs ? `?${qs}` : ''),
        headers: { ...headers, ...signed },
        agent: this.#agent,
      });
      let settled = false;
      let sent = false;
      req.once('finish', () => (sent = true));
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        reject(Object.assign(error, { requestSent: sent }));
      };
      req.setTimeout(this.#timeoutMs, () => {
        const error = Object.assign(new Error('request timed out'), { code: 'Timeout' });
        req.destroy(error);
      });
      req.once('response', (res) => {
        settled = true;
        res.setTimeout(this.#timeoutMs, () =>
          res.destroy(Object.assign(new Error('response timed out'), { code: 'Timeout' })),
        );
        resolve(res);
      });
      req.once('error', fail);
      if (body === undefined) req.end();
      else if (Buffer.isBuffer(body)) req.end(body);
      else {
        pipeline(body, req).catch((error: unknown) => {
          req.destroy(error as Error);
          fail(error as Error);
        });
      }
    });
  }

  toJSON(): unknown {
    return { endpoint: this.endpoint.origin };
  }
}

function objectOf(headers: IncomingMessage['headers']): TargetObject {
  const metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith('x-amz-meta-') && typeof value === 'string') {
      metadata[name.slice('x-amz-meta-'.length)] = decodeMeta(value);
    }
  }
  const out: TargetObject = {
    etag: String(headers.etag ?? '').replace(/"/g, ''),
    size: Number(headers['content-length'] ?? 0),
    metadata,
    headers,
  };
  const version = headers['x-amz-version-id'];
  if (typeof version === 'string') out.versionId = version;
  if (typeof headers['content-type'] === 'string') out.contentType = headers['content-type'];
  return out;
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function unescapeXml(text: string): string {
  return text.replace(
    /&(lt|gt|amp|quot|apos|#(\d+)|#x([0-9a-fA-F]+));/g,
    (_m, name: string, dec?: string, hex?: string) => {
      if (dec) return String.fromCodePoint(Number(dec));
      if (hex) return String.fromCodePoint(parseInt(hex, 16));
      return { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }[name] ?? '';
    },
  );
}

function collect(res: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let n = 0;
    res.on('data', (c: Buffer) => {
      if (n < max) parts.push(c);
      n += c.length;
    });
    res.once('end', () => resolve(Buffer.concat(parts)));
    res.once('error', reject);
    res.once('aborted', () => reject(Object.assign(new Error('aborted'), { code: 'ECONNRESET' })));
  });
}
