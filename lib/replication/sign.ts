/**
 * SigV4 signing of outbound requests (the replication client). The
 * canonical request, string to sign and signing key come from the
 * gateway's verifier (lib/gateway/auth), so what we sign is exactly what a
 * tessera gateway verifies; a differential test checks it against
 * @smithy/signature-v4 too.
 */
import { canonicalRequest, stringToSign } from '../gateway/auth/canonical';
import { SigningKeyCache, hmacSha256 } from '../gateway/auth/signing_key';
import { type QueryParam, uriEncode } from '../gateway/request/uri';

export interface SigningCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export interface RequestToSign {
  readonly method: string;
  /** Path as it goes on the wire, already RFC 3986-encoded ('/' kept). */
  readonly rawPath: string;
  readonly query: readonly QueryParam[];
  /** Lower-case names; must include `host`. */
  readonly headers: Record<string, string>;
  /** Hex SHA-256 of the body, or UNSIGNED-PAYLOAD. */
  readonly payloadHash: string;
}

/** `yyyymmddThhmmssZ` of a time in ms. */
export function amzDate(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/** The query string as it goes on the wire, in the given order. */
export function wireQuery(query: readonly QueryParam[]): string {
  return query
    .map((p) =>
      p.hasEquals || p.value !== ''
        ? `${uriEncode(p.name, false)}=${uriEncode(p.value, false)}`
        : uriEncode(p.name, false),
    )
    .join('&');
}

export class SigV4Signer {
  readonly #credentials: SigningCredentials;
  readonly #keys = new SigningKeyCache(4);

  constructor(
    credentials: SigningCredentials,
    readonly region: string,
    readonly service = 's3',
  ) {
    // Kept in a private field: never enumerable, never in JSON or util.inspect output.
    this.#credentials = {
      accessKeyId: credentials.accessKeyId,
      secretAccessKey: credentials.secretAccessKey,
    };
  }

  /** Headers to add to the request: x-amz-date, x-amz-content-sha256, authorization. */
  sign(request: RequestToSign, nowMs: number): Record<string, string> {
    const date = amzDate(nowMs);
    const day = date.slice(0, 8);
    const headers: Record<string, string> = {
      ...request.headers,
      'x-amz-date': date,
      'x-amz-content-sha256': request.payloadHash,
    };
    const signedHeaders = Object.keys(headers)
      .map((h) => h.toLowerCase())
      .sort();
    const canonical = canonicalRequest({
      method: request.method,
      rawPath: request.rawPath,
      query: request.query,
      headers,
      signedHeaders,
      payloadHash: request.payloadHash,
    });
    const scope = `${day}/${this.region}/${this.service}/aws4_request`;
    const key = this.#keys.get(this.#credentials.secretAccessKey, day, this.region, this.service);
    const signature = hmacSha256(key, stringToSign(date, scope, canonical)).toString('hex');
    return {
      'x-amz-date': date,
      'x-amz-content-sha256': request.payloadHash,
      authorization:
        `AWS4-HMAC-SHA256 Credential=${this.#credentials.accessKeyId}/${scope}, ` +
        `SignedHeaders=${signedHeaders.join(';')}, Signature=${signature}`,
    };
  }

  toJSON(): unknown {
    return { region: this.region, service: this.service };
  }
}
