/**
 * Bucket CORS, as S3 does it: PutBucketCors / GetBucketCors /
 * DeleteBucketCors keep a bucket's `CORSConfiguration`; an `OPTIONS`
 * preflight (unauthenticated, as in S3) is answered from the first rule that
 * allows its Origin, Access-Control-Request-Method and every
 * Access-Control-Request-Headers name; any other request carrying an
 * `Origin` gets the Access-Control-* headers of the first rule that allows
 * its origin and method (on errors too, so a browser can read them).
 *
 * Configurations live with the bucket's other settings in
 * store.bucketConfigs (kind 'cors'), cached in memory per Store; DeleteBucket
 * removes the bucket's configuration (the store drops every kind). One
 * gateway process owns a store (the Store is embedded), so the cache is
 * never stale.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { S3Error } from '../errors';
import { childNamed, childrenNamed, malformedXml, parseXml } from '../xml/parse';
import { S3_XMLNS, textElement } from '../xml/escape';
import type { Store } from '../../store/store';
import { validateBucketName } from '../../store/validate';
import { type RequestContext, sendEmpty, sendXml } from './context';
import { MULTIPART_BUCKET } from './multipart_store';
import { readSmallBody } from './request_body';

export interface CorsRule {
  id?: string;
  allowedOrigins: string[];
  allowedMethods: string[];
  allowedHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds?: number;
}

/** S3 takes at most 100 rules. */
export const CORS_RULES_MAX = 100;
const CORS_METHODS = new Set(['GET', 'PUT', 'POST', 'DELETE', 'HEAD']);

/** Parses a PutBucketCors body into rules (MalformedXML / InvalidRequest on bad input). */
export function parseCorsConfiguration(body: Buffer | string): CorsRule[] {
  const root = parseXml(body);
  if (root.name !== 'CORSConfiguration')
    throw malformedXml(`the root element must be <CORSConfiguration>, got <${root.name}>`);
  const rules = childrenNamed(root, 'CORSRule');
  if (rules.length === 0) throw malformedXml('<CORSConfiguration> needs a <CORSRule>');
  if (rules.length > CORS_RULES_MAX) {
    throw new S3Error(
      'InvalidRequest',
      `The number of CORS rules should not exceed allowed limit of ${CORS_RULES_MAX} rules.`,
    );
  }
  return rules.map((element) => {
    const texts = (name: string) => childrenNamed(element, name).map((c) => c.text.trim());
    const allowedOrigins = texts('AllowedOrigin');
    const allowedMethods = texts('AllowedMethod');
    if (allowedOrigins.length === 0 || allowedMethods.length === 0) {
      throw malformedXml('each <CORSRule> needs <AllowedOrigin> and <AllowedMethod>');
    }
    for (const method of allowedMethods) {
      if (!CORS_METHODS.has(method)) {
        throw new S3Error(
          'InvalidRequest',
          `Found unsupported HTTP method in CORS config. Unsupported method is ${method}`,
        );
      }
    }
    for (const origin of allowedOrigins) {
      if (origin.split('*').length > 2) {
        throw new S3Error(
          'InvalidRequest',
          `AllowedOrigin "${origin}" can not have more than one wildcard.`,
        );
      }
    }
    const allowedHeaders = texts('AllowedHeader');
    for (const name of allowedHeaders) {
      if (name.split('*').length > 2) {
        throw new S3Error(
          'InvalidRequest',
          `AllowedHeader "${name}" can not have more than one wildcard.`,
        );
      }
    }
    const rule: CorsRule = {
      allowedOrigins,
      allowedMethods,
      allowedHeaders,
      exposeHeaders: texts('ExposeHeader'),
    };
    const id = childNamed(element, 'ID')?.text.trim();
    if (id !== undefined && id !== '') {
      if (id.length > 255)
        throw new S3Error('InvalidRequest', 'A CORS rule ID is at most 255 characters.');
      rule.id = id;
    }
    const maxAge = childNamed(element, 'MaxAgeSeconds')?.text.trim();
    if (maxAge !== undefined) {
      if (!/^\d{1,9}$/.test(maxAge)) throw malformedXml('<MaxAgeSeconds> must be an integer');
      rule.maxAgeSeconds = Number(maxAge);
    }
    return rule;
  });
}

export function renderCorsConfiguration(rules: readonly CorsRule[]): string {
  let out = `<CORSConfiguration xmlns="${S3_XMLNS}">`;
  for (const rule of rules) {
    out += '<CORSRule>';
    if (rule.id !== undefined) out += textElement('ID', rule.id);
    for (const v of rule.allowedHeaders) out += textElement('AllowedHeader', v);
    for (const v of rule.allowedMethods) out += textElement('AllowedMethod', v);
    for (const v of rule.allowedOrigins) out += textElement('AllowedOrigin', v);
    for (const v of rule.exposeHeaders) out += textElement('ExposeHeader', v);
    if (rule.maxAgeSeconds !== undefined) out += textElement('MaxAgeSeconds', rule.maxAgeSeconds);
    out += '</CORSRule>';
  }
  return out + '</CORSConfiguration>';
}

/** `*` matches any run of characters (one wildcard at most); case-sensitive for origins. */
function wildcardMatch(pattern: string, value: string, caseless: boolean): boolean {
  const p = caseless ? pattern.toLowerCase() : pattern;
  const v = caseless ? value.toLowerCase() : value;
  const star = p.indexOf('*');
  if (star < 0) return p === v;
  const head = p.slice(0, star);
  const tail = p.slice(star + 1);
  return v.length >= head.length + tail.length && v.startsWith(head) && v.endsWith(tail);
}

/** The first rule allowing this origin, method and (for a preflight) every requested header. */
export function matchCorsRule(
  rules: readonly CorsRule[],
  origin: string,
  method: string,
  requestHeaders: readonly string[] | undefined,
): CorsRule | undefined {
  return rules.find(
    (rule) =>
      rule.allowedMethods.includes(method) &&
      rule.allowedOrigins.some((o) => wildcardMatch(o, origin, false)) &&
      (requestHeaders === undefined ||
        requestHeaders.every((h) => rule.allowedHeaders.some((a) => wildcardMatch(a, h, true)))),
  );
}

/** The Access-Control-* headers S3 sends for a matched rule. */
export function corsHeaders(
  rule: CorsRule,
  origin: string,
  requestHeaders: readonly string[] | undefined,
): Record<string, string> {
  const anyOrigin = rule.allowedOrigins.includes('*');
  const headers: Record<string, string> = {
    'access-control-allow-origin': anyOrigin ? '*' : origin,
    'access-control-allow-methods': rule.allowedMethods.join(', '),
    vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
  };
  if (!anyOrigin) headers['access-control-allow-credentials'] = 'true';
  if (requestHeaders !== undefined && requestHeaders.length > 0)
    headers['access-control-allow-headers'] = requestHeaders.join(', ');
  if (rule.exposeHeaders.length > 0)
    headers['access-control-expose-headers'] = rule.exposeHeaders.join(', ');
  if (rule.maxAgeSeconds !== undefined)
    headers['access-control-max-age'] = String(rule.maxAgeSeconds);
  return headers;
}

/** Names of the Access-Control-* headers this module sets (kept on error answers). */
export const CORS_RESPONSE_HEADERS = [
  'access-control-allow-origin',
  'access-control-allow-methods',
  'access-control-allow-credentials',
  'access-control-allow-headers',
  'access-control-expose-headers',
  'access-control-max-age',
  'vary',
] as const;

/** Where a CORS configuration lives in store.bucketConfigs. */
export const CORS_CONFIG_KIND = 'cors';
/** Where earlier versions kept it: `cors/<bucket>` objects in the gateway's internal bucket. */
const LEGACY_PREFIX = 'cors/';

/**
 * Per-store cache of configurations (`null`: none) in front of
 * store.bucketConfigs (kind 'cors'), so a request with an Origin costs no
 * store call once its bucket's rules are known. Configurations written by
 * earlier versions (JSON objects under `cors/<bucket>` in the gateway's
 * internal multipart bucket) are moved into bucketConfigs once, before the
 * first read or write of this store's CORS.
 */
function isBucketName(name: string): boolean {
  try {
    validateBucketName(name);
    return true;
  } catch {
    return false;
  }
}

class CorsConfigs {
  private readonly cache = new Map<string, CorsRule[] | null>();
  private migrated: Promise<void> | undefined;

  constructor(private readonly store: Store) {}

  /** Moves every legacy `cors/<bucket>` object into bucketConfigs, then deletes it. */
  private migrate(): Promise<void> {
    this.migrated ??= (async () => {
      if (!(await this.store.getBucket(MULTIPART_BUCKET))) return;
      const legacy = this.store.bucket(MULTIPART_BUCKET);
      const keys: string[] = [];
      for await (const entry of legacy.list({ prefix: LEGACY_PREFIX }))
        if (entry.type === 'object') keys.push(entry.key);
      for (const key of keys) {
        const bucket = key.slice(LEGACY_PREFIX.length);
        const found = await legacy.get(key);
        if (found && isBucketName(bucket) && (await this.store.getBucket(bucket))) {
          const rules = JSON.parse(found.body.toString('utf8')) as CorsRule[];
          await this.store.bucketConfigs.put(bucket, CORS_CONFIG_KIND, rules);
        }
        // Written only after the new home is durable: a crash here migrates again.
        await legacy.delete(key);
      }
    })().catch((error: unknown) => {
      this.migrated = undefined;
      throw error;
    });
    return this.migrated;
  }

  async get(bucket: string): Promise<CorsRule[] | undefined> {
    const cached = this.cache.get(bucket);
    if (cached !== undefined) return cached ?? undefined;
    await this.migrate();
    const rules =
      (await this.store.bucketConfigs.get<CorsRule[]>(bucket, CORS_CONFIG_KIND)) ?? null;
    this.cache.set(bucket, rules);
    return rules ?? undefined;
  }

  async put(bucket: string, rules: CorsRule[]): Promise<void> {
    await this.migrate();
    this.cache.delete(bucket);
    await this.store.bucketConfigs.put(bucket, CORS_CONFIG_KIND, rules);
    this.cache.set(bucket, rules);
  }

  async delete(bucket: string): Promise<void> {
    await this.migrate();
    this.cache.delete(bucket);
    await this.store.bucketConfigs.delete(bucket, CORS_CONFIG_KIND);
    this.cache.set(bucket, null);
  }

  /** DeleteBucket: the store dropped the bucket's configurations; a new bucket starts without. */
  forget(bucket: string): void {
    this.cache.delete(bucket);
  }
}

const CONFIGS = new WeakMap<Store, CorsConfigs>();

export function corsConfigs(store: Store): CorsConfigs {
  let configs = CONFIGS.get(store);
  if (configs === undefined) {
    configs = new CorsConfigs(store);
    CONFIGS.set(store, configs);
  }
  return configs;
}

async function requireBucket(ctx: RequestContext): Promise<void> {
  if (!(await ctx.store.getBucket(ctx.bucket!)))
    throw new S3Error('NoSuchBucket', undefined, { BucketName: ctx.bucket! });
}

export async function putBucketCors(ctx: RequestContext): Promise<void> {
  const rules = parseCorsConfiguration(await readSmallBody(ctx, ctx.config.xmlBytesMax));
  await requireBucket(ctx);
  await corsConfigs(ctx.store).put(ctx.bucket!, rules);
  sendEmpty(ctx, 200);
}

export async function getBucketCors(ctx: RequestContext): Promise<void> {
  await requireBucket(ctx);
  const rules = await corsConfigs(ctx.store).get(ctx.bucket!);
  if (rules === undefined)
    throw new S3Error('NoSuchCORSConfiguration', undefined, { BucketName: ctx.bucket! });
  sendXml(ctx, 200, renderCorsConfiguration(rules));
}

export async function deleteBucketCors(ctx: RequestContext): Promise<void> {
  await requireBucket(ctx);
  await corsConfigs(ctx.store).delete(ctx.bucket!);
  sendEmpty(ctx, 204);
}

function requestHeaderList(req: IncomingMessage): string[] {
  const raw = req.headers['access-control-request-headers'];
  if (raw === undefined) return [];
  return raw
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== '');
}

/**
 * An OPTIONS preflight on `bucket` (undefined for the service root): sets
 * status and headers and ends the response, or throws the S3Error to answer.
 */
export async function answerPreflight(
  store: Store,
  bucket: string | undefined,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const origin = req.headers.origin;
  const method = req.headers['access-control-request-method'];
  if (origin === undefined || origin === '') throw new S3Error('BadRequest');
  if (method === undefined || method === '') {
    throw new S3Error('BadRequest', 'Invalid Access-Control-Request-Method: null');
  }
  if (!CORS_METHODS.has(method)) {
    throw new S3Error('BadRequest', `Invalid Access-Control-Request-Method: ${method}`);
  }
  const rules =
    bucket !== undefined && bucket !== MULTIPART_BUCKET && (await store.getBucket(bucket))
      ? await corsConfigs(store).get(bucket)
      : undefined;
  const requested = requestHeaderList(req);
  const rule = rules && matchCorsRule(rules, origin, method, requested);
  if (!rule)
    throw new S3Error('AccessForbidden', undefined, {
      Method: method,
      ResourceType: bucket === undefined ? 'SERVICE' : 'BUCKET',
    });
  const headers = corsHeaders(rule, origin, requested);
  for (const name in headers) res.setHeader(name, headers[name]!);
  res.statusCode = 200;
  res.setHeader('content-length', 0);
  res.end();
}

/** Access-Control-* headers of an actual (non-preflight) request that carries an Origin. */
export async function applyCors(ctx: RequestContext): Promise<void> {
  const origin = ctx.req.headers.origin;
  if (origin === undefined || ctx.bucket === undefined) return;
  const rules = await corsConfigs(ctx.store).get(ctx.bucket);
  if (rules === undefined) return;
  const method = ctx.method === 'HEAD' ? 'HEAD' : ctx.method;
  const rule = matchCorsRule(rules, origin, method, undefined);
  if (!rule) return;
  const headers = corsHeaders(rule, origin, undefined);
  for (const name in headers) ctx.res.setHeader(name, headers[name]!);
}
