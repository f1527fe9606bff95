/**
 * SigV4 verification for S3: Authorization-header and presigned-URL forms.
 *
 * Order of checks: the request is unambiguous (exactly one SigV4 form, no
 * SigV2, no repeated auth fields) -> fields parse -> the credential scope
 * matches the request date -> the access key exists -> the date is within
 * the skew window (and a presigned URL has not expired) -> `host` and every
 * `x-amz-*` header present are signed -> the signature matches, compared in
 * constant time. Only then may the caller read the body.
 */
import { timingSafeEqual } from 'node:crypto';
import { S3Error } from '../errors';
import { type QueryParam } from '../request/uri';
import { type HeaderValues, canonicalRequest, headerValues, stringToSign } from './canonical';
import { type CredentialsProvider } from './credentials';
import { SigningKeyCache, hmacSha256 } from './signing_key';

export const ALGORITHM = 'AWS4-HMAC-SHA256';
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
export const clock_skew_ms_max = 15 * 60 * 1000;
export const presigned_expires_s_max = 604800;

/** The `x-amz-content-sha256` values that name a payload mode instead of a digest. */
export const PAYLOAD_MODES = [
  UNSIGNED_PAYLOAD,
  'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
] as const;

const SHA256_HEX_RE = /^[0-9a-f]{64}$/;
const SIGNED_HEADERS_RE = /^[a-z0-9!#$%&'*+.^_`|~-]+(?:;[a-z0-9!#$%&'*+.^_`|~-]+)*$/;
const AMZ_DATE_RE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** What the rest of the request needs from a verified signature. */
export interface AuthResult {
  readonly accessKeyId: string;
  readonly mode: 'header' | 'presigned';
  /** `x-amz-content-sha256` (header form) or `X-Amz-Content-Sha256` / UNSIGNED-PAYLOAD (presigned). */
  readonly payloadHash: string;
  readonly region: string;
  /** The request time, `yyyymmddThhmmssZ`. */
  readonly amzDate: string;
  /** `yyyymmdd/region/s3/aws4_request`. */
  readonly scope: string;
  /** Verified request signature: the seed of the chunk-signature chain. */
  readonly signature: string;
  /** Key that signed it; streaming payloads sign their chunks with it. */
  readonly signingKey: Buffer;
}

export interface SignedRequest {
  readonly method: string;
  /** The path as received, still percent-encoded. */
  readonly rawPath: string;
  /** Decoded query parameters in order (request/uri.ts `parseQuery`). */
  readonly query: readonly QueryParam[];
  /** Lower-case header names; repeated headers as arrays (Node's `headersDistinct`). */
  readonly headers: HeaderValues;
}

export interface SigV4VerifierOptions {
  readonly credentials: CredentialsProvider;
  /** Accept only this region in credential scopes; any region when unset. */
  readonly region?: string;
  /** Current time in ms (tests pin it). */
  readonly now?: () => number;
}

/** Spelling of each presigned parameter, for messages. */
const QUERY_PARAM_NAMES: Readonly<Record<string, string>> = {
  'x-amz-algorithm': 'X-Amz-Algorithm',
  'x-amz-credential': 'X-Amz-Credential',
  'x-amz-date': 'X-Amz-Date',
  'x-amz-expires': 'X-Amz-Expires',
  'x-amz-signedheaders': 'X-Amz-SignedHeaders',
  'x-amz-signature': 'X-Amz-Signature',
};

const QUERY_AUTH_PARAMS = [
  'x-amz-algorithm',
  'x-amz-credential',
  'x-amz-date',
  'x-amz-expires',
  'x-amz-signedheaders',
  'x-amz-signature',
] as const;

interface ParsedAuth {
  readonly accessKeyId: string;
  readonly date: string;
  readonly region: string;
  readonly service: string;
  readonly terminator: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
}

export class SigV4Verifier {
  readonly #credentials: CredentialsProvider;
  readonly #region: string | undefined;
  readonly #now: () => number;
  readonly #keys = new SigningKeyCache();
  /** The last Authorization text before its trailing `,Signature=` and its parse. */
  #lastAuth: { prefix: string; parsed: ParsedAuth } | undefined;

  constructor(options: SigV4VerifierOptions) {
    this.#credentials = options.credentials;
    this.#region = options.region;
    this.#now = options.now ?? Date.now;
  }

  /** Verifies the request's signature; throws the S3Error to answer otherwise. */
  verify(request: SignedRequest): AuthResult {
    const authorization = headerValues(request.headers, 'authorization');
    const queryAuth = request.query.filter((p) => {
      const lower = p.name.toLowerCase();
      return lower.startsWith('x-amz-') && (QUERY_AUTH_PARAMS as readonly string[]).includes(lower);
    });
    const sigV2Query = request.query.some(
      (p) => p.name === 'AWSAccessKeyId' || p.name === 'Signature',
    );
    if (authorization.length > 0 && (queryAuth.length > 0 || sigV2Query)) {
      throw new S3Error(
        'InvalidArgument',
        'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
      );
    }
    if (authorization.length > 0) return this.#verifyHeader(request, authorization);
    if (sigV2Query && queryAuth.length === 0) throw unsupportedV2(true);
    if (sigV2Query) {
      throw new S3Error('InvalidArgument', 'Only one auth mechanism allowed');
    }
    if (queryAuth.length > 0) return this.#verifyPresigned(request);
    throw new S3Error('AccessDenied', 'Anonymous access is forbidden for this operation');
  }

  #verifyHeader(request: SignedRequest, authorization: readonly string[]): AuthResult {
    if (authorization.length > 1) throw malformedHeader('more than one Authorization header');
    const value = authorization[0]!;
    if (value.startsWith('AWS ')) throw unsupportedV2();
    const space = value.indexOf(' ');
    const algorithm = space < 0 ? value : value.slice(0, space);
    if (algorithm !== ALGORITHM) {
      throw new S3Error('InvalidArgument', `Unsupported Authorization Type '${algorithm}'`);
    }
    // Clients sign every request with the same Credential and SignedHeaders
    // (per day): the parse of everything before a trailing Signature is
    // remembered for the last such text. Parsing is a pure function of it,
    // so a hit answers exactly what a full parse would.
    const comma = value.lastIndexOf(',');
    const lastPart = comma > space ? value.slice(comma + 1).trim() : '';
    const memo = this.#lastAuth;
    const hit =
      memo !== undefined &&
      comma === memo.prefix.length &&
      lastPart.startsWith('Signature=') &&
      value.startsWith(memo.prefix);
    let fields: Map<string, string> | undefined;
    if (!hit) {
      fields = new Map<string, string>();
      for (const part of value.slice(space + 1).split(',')) {
        const trimmed = part.trim();
        const eq = trimmed.indexOf('=');
        if (eq <= 0) throw malformedHeader(`malformed component '${trimmed}'`);
        const name = trimmed.slice(0, eq);
        if (name !== 'Credential' && name !== 'SignedHeaders' && name !== 'Signature') {
          throw malformedHeader(`unknown component '${name}'`);
        }
        if (fields.has(name)) throw malformedHeader(`${name} given twice`);
        fields.set(name, trimmed.slice(eq + 1));
      }
      for (const name of ['Credential', 'SignedHeaders', 'Signature']) {
        if (!fields.has(name)) throw malformedHeader(`missing ${name}`);
      }
    }
    const amzDate = singleHeader(request.headers, 'x-amz-date');
    if (amzDate === undefined) {
      throw new S3Error(
        'AccessDenied',
        'AWS authentication requires a valid Date or x-amz-date header',
      );
    }
    let parsed: ParsedAuth;
    if (hit) {
      parsed = { ...memo.parsed, signature: lastPart.slice('Signature='.length) };
    } else {
      parsed = parseCommon(
        fields!.get('Credential')!,
        fields!.get('SignedHeaders')!,
        fields!.get('Signature')!,
        malformedHeader,
      );
      // Signature was the last component (and only once): remember the rest.
      if (lastPart.startsWith('Signature=')) {
        this.#lastAuth = { prefix: value.slice(0, comma), parsed };
      }
    }
    const dateMs = parseAmzDate(amzDate, malformedHeader);
    this.#checkScope(parsed, amzDate, malformedHeader);
    const secret = this.#secret(parsed.accessKeyId);
    this.#checkSkew(dateMs);

    const payloadValues = headerValues(request.headers, 'x-amz-content-sha256');
    if (payloadValues.length === 0) {
      throw new S3Error(
        'InvalidRequest',
        'Missing required header for this request: x-amz-content-sha256',
      );
    }
    if (payloadValues.length > 1) {
      throw new S3Error('InvalidArgument', 'x-amz-content-sha256 given more than once');
    }
    const payloadHash = checkPayloadHash(payloadValues[0]!);
    checkSignedHeaders(request.headers, parsed.signedHeaders, malformedHeader);
    return this.#finish(request, parsed, amzDate, payloadHash, 'header', secret);
  }

  #verifyPresigned(request: SignedRequest): AuthResult {
    const fields = new Map<string, string>();
    for (const p of request.query) {
      const lower = p.name.toLowerCase();
      if (
        !(QUERY_AUTH_PARAMS as readonly string[]).includes(lower) &&
        lower !== 'x-amz-content-sha256'
      ) {
        continue;
      }
      if (fields.has(lower)) throw malformedQuery(`${p.name} given more than once`);
      fields.set(lower, p.value);
    }
    for (const name of QUERY_AUTH_PARAMS) {
      if (!fields.has(name)) throw malformedQuery(`missing ${QUERY_PARAM_NAMES[name]}`);
    }
    const algorithm = fields.get('x-amz-algorithm')!;
    if (algorithm !== ALGORITHM) {
      throw malformedQuery(`X-Amz-Algorithm only supports "${ALGORITHM}", got "${algorithm}"`);
    }
    const amzDate = fields.get('x-amz-date')!;
    const parsed = parseCommon(
      fields.get('x-amz-credential')!,
      fields.get('x-amz-signedheaders')!,
      fields.get('x-amz-signature')!,
      malformedQuery,
    );
    const dateMs = parseAmzDate(amzDate, malformedQuery);
    const expiresText = fields.get('x-amz-expires')!;
    const expires = /^\d{1,7}$/.test(expiresText) ? Number(expiresText) : -1;
    if (expires < 1 || expires > presigned_expires_s_max) {
      throw malformedQuery(
        `X-Amz-Expires must be an integer in 1..${presigned_expires_s_max} seconds, got '${expiresText}'`,
      );
    }
    this.#checkScope(parsed, amzDate, malformedQuery);
    const secret = this.#secret(parsed.accessKeyId);
    const now = this.#now();
    if (dateMs - now > clock_skew_ms_max) throw tooSkewed();
    if (now > dateMs + expires * 1000) throw new S3Error('AccessDenied', 'Request has expired');

    const payloadHash = checkPayloadHash(fields.get('x-amz-content-sha256') ?? UNSIGNED_PAYLOAD);
    checkSignedHeaders(request.headers, parsed.signedHeaders, malformedQuery);
    return this.#finish(request, parsed, amzDate, payloadHash, 'presigned', secret);
  }

  #finish(
    request: SignedRequest,
    parsed: ParsedAuth,
    amzDate: string,
    payloadHash: string,
    mode: 'header' | 'presigned',
    secret: string,
  ): AuthResult {
    const scope = `${parsed.date}/${parsed.region}/${parsed.service}/${parsed.terminator}`;
    const canonical = canonicalRequest({
      method: request.method,
      rawPath: request.rawPath,
      query: request.query,
      headers: request.headers,
      signedHeaders: parsed.signedHeaders,
      payloadHash,
    });
    const signingKey = this.#keys.get(secret, parsed.date, parsed.region, parsed.service);
    const expected = hmacSha256(signingKey, stringToSign(amzDate, scope, canonical)).toString(
      'hex',
    );
    if (!signaturesEqual(expected, parsed.signature)) throw new S3Error('SignatureDoesNotMatch');
    return {
      accessKeyId: parsed.accessKeyId,
      mode,
      payloadHash,
      region: parsed.region,
      amzDate,
      scope,
      signature: expected,
      signingKey,
    };
  }

  #checkScope(parsed: ParsedAuth, amzDate: string, fail: (m: string) => S3Error): void {
    if (parsed.date !== amzDate.slice(0, 8)) {
      throw fail(
        `credential scope date '${parsed.date}' is not the request day '${amzDate.slice(0, 8)}'`,
      );
    }
    if (parsed.service !== 's3')
      throw fail(`credential scope service must be 's3', got '${parsed.service}'`);
    if (parsed.terminator !== 'aws4_request') {
      throw fail(`credential scope must end with 'aws4_request', got '${parsed.terminator}'`);
    }
    if (parsed.region === '') throw fail('credential scope has an empty region');
    if (this.#region !== undefined && parsed.region !== this.#region) {
      throw fail(`the region '${parsed.region}' is wrong; expecting '${this.#region}'`);
    }
  }

  #secret(accessKeyId: string): string {
    const secret = this.#credentials.secretFor(accessKeyId);
    if (secret === undefined) throw new S3Error('InvalidAccessKeyId');
    return secret;
  }

  #checkSkew(dateMs: number): void {
    if (Math.abs(this.#now() - dateMs) > clock_skew_ms_max) throw tooSkewed();
  }
}

/**
 * Constant-time comparison of hex signatures. Lengths are public (always 64
 * for a well-formed signature); the bytes are compared with timingSafeEqual.
 */
export function signaturesEqual(expectedHex: string, givenHex: string): boolean {
  const expected = Buffer.from(expectedHex, 'latin1');
  const given = Buffer.from(givenHex, 'latin1');
  if (expected.length !== given.length) return false;
  return timingSafeEqual(expected, given);
}

function parseCommon(
  credential: string,
  signedHeadersText: string,
  signature: string,
  fail: (m: string) => S3Error,
): ParsedAuth {
  const parts = credential.split('/');
  if (parts.length < 5)
    throw fail(`Credential '${credential}' must be AK/yyyymmdd/region/s3/aws4_request`);
  const terminator = parts.pop()!;
  const service = parts.pop()!;
  const region = parts.pop()!;
  const date = parts.pop()!;
  const accessKeyId = parts.join('/');
  if (accessKeyId === '') throw fail('Credential has an empty access key');
  if (!/^\d{8}$/.test(date)) throw fail(`credential scope date '${date}' is not yyyymmdd`);
  if (!SIGNED_HEADERS_RE.test(signedHeadersText)) {
    throw fail(
      `SignedHeaders '${signedHeadersText}' is not a ';'-separated list of lower-case header names`,
    );
  }
  const signedHeaders = signedHeadersText.split(';');
  for (let i = 0; i < signedHeaders.length; i++) {
    const name = signedHeaders[i]!;
    if (i > 0 && !(signedHeaders[i - 1]! < name)) {
      throw fail('SignedHeaders must be sorted and without repeats');
    }
  }
  return { accessKeyId, date, region, service, terminator, signedHeaders, signature };
}

/** The last date parsed: requests signed within the same second share it. */
let lastAmzDate = { text: '', ms: 0 };

function parseAmzDate(text: string, fail: (m: string) => S3Error): number {
  if (text === lastAmzDate.text) return lastAmzDate.ms;
  const m = AMZ_DATE_RE.exec(text);
  if (m !== null) {
    const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const ms = Date.UTC(y, mo - 1, d, h, mi, s);
    const back = new Date(ms);
    if (
      back.getUTCFullYear() === y &&
      back.getUTCMonth() === mo - 1 &&
      back.getUTCDate() === d &&
      h < 24 &&
      mi < 60 &&
      s < 60
    ) {
      lastAmzDate = { text, ms };
      return ms;
    }
  }
  throw fail(`X-Amz-Date '${text}' must be yyyymmddThhmmssZ`);
}

/** `host` must be signed, every `x-amz-*` header present must be signed, every signed header present. */
function checkSignedHeaders(
  headers: HeaderValues,
  signedHeaders: readonly string[],
  fail: (m: string) => S3Error,
): void {
  if (!signedHeaders.includes('host')) throw fail("SignedHeaders must include 'host'");
  for (const name of signedHeaders) {
    if (headerValues(headers, name).length === 0)
      throw fail(`signed header '${name}' is not in the request`);
  }
  let unsigned: string[] | undefined;
  for (const name in headers) {
    if (name.startsWith('x-amz-') && headers[name] !== undefined && !signedHeaders.includes(name))
      (unsigned ??= []).push(name);
  }
  if (unsigned !== undefined) {
    throw new S3Error(
      'AccessDenied',
      `There were headers present in the request which were not signed: ${unsigned.sort().join(', ')}`,
    );
  }
}

/** The last digest accepted (every GET sends the empty body's). */
let lastPayloadHash = '';

function checkPayloadHash(value: string): string {
  if (value === lastPayloadHash) return value;
  if (SHA256_HEX_RE.test(value)) {
    lastPayloadHash = value;
    return value;
  }
  if ((PAYLOAD_MODES as readonly string[]).includes(value)) return value;
  throw new S3Error(
    'InvalidArgument',
    'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a lower-case hex SHA-256',
  );
}

function singleHeader(headers: HeaderValues, name: string): string | undefined {
  const values = headerValues(headers, name);
  if (values.length > 1) throw malformedHeader(`${name} given more than once`);
  return values[0];
}

function malformedHeader(message: string): S3Error {
  return new S3Error(
    'AuthorizationHeaderMalformed',
    `The authorization header is malformed; ${message}.`,
  );
}

function malformedQuery(message: string): S3Error {
  return new S3Error(
    'AuthorizationQueryParametersError',
    `The authorization query parameters are malformed; ${message}.`,
  );
}

function unsupportedV2(presigned = false): S3Error {
  // boto3 presigns with SigV2 unless the client is made with
  // signature_version='s3v4': say so, since that is who sends these.
  return new S3Error(
    'InvalidRequest',
    'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.' +
      (presigned
        ? " (This is a SigV2 presigned URL; boto3 makes SigV4 ones with Config(signature_version='s3v4').)"
        : ''),
  );
}

function tooSkewed(): S3Error {
  return new S3Error('RequestTimeTooSkewed');
}
