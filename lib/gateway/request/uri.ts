/**
 * Percent-decoding and RFC 3986 encoding, shared by the SigV4 canonical
 * request and the router so that authentication and the handler see the same
 * bytes (CVE-2026-54917: a router and an authorizer that parse one URL two
 * ways address two different buckets).
 */
import { isUtf8 } from 'node:buffer';
import { S3Error } from '../errors';

const HEX = '0123456789ABCDEF';

function isUnreserved(byte: number): boolean {
  return (
    (byte >= 0x41 && byte <= 0x5a) || // A-Z
    (byte >= 0x61 && byte <= 0x7a) || // a-z
    (byte >= 0x30 && byte <= 0x39) || // 0-9
    byte === 0x2d || // -
    byte === 0x2e || // .
    byte === 0x5f || // _
    byte === 0x7e // ~
  );
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x41 + 10;
  if (code >= 0x61 && code <= 0x66) return code - 0x61 + 10;
  return -1;
}

/**
 * Decodes `%XX` escapes (and `+` as a space when `plusIsSpace`, as in query
 * strings) into a UTF-8 string. A malformed escape or bytes that are not
 * UTF-8 answer 400 InvalidURI rather than being guessed at.
 */
export function percentDecode(text: string, plusIsSpace: boolean): string {
  if (!text.includes('%') && !(plusIsSpace && text.includes('+'))) return text;
  const raw = Buffer.from(text, 'utf8');
  const out = Buffer.allocUnsafe(raw.length);
  let length = 0;
  for (let i = 0; i < raw.length; i++) {
    const byte = raw[i]!;
    if (byte === 0x25) {
      const high = i + 2 < raw.length ? hexValue(raw[i + 1]!) : -1;
      const low = high >= 0 ? hexValue(raw[i + 2]!) : -1;
      if (low < 0)
        throw new S3Error(
          'InvalidURI',
          `Couldn't parse the specified URI: bad escape at offset ${i}.`,
        );
      out[length++] = high * 16 + low;
      i += 2;
    } else if (byte === 0x2b && plusIsSpace) {
      out[length++] = 0x20;
    } else {
      out[length++] = byte;
    }
  }
  const decoded = out.subarray(0, length);
  if (!isUtf8(decoded)) {
    throw new S3Error('InvalidURI', "Couldn't parse the specified URI: escapes are not UTF-8.");
  }
  return decoded.toString('utf8');
}

/**
 * RFC 3986 encoding as SigV4 defines it: unreserved characters stay, every
 * other UTF-8 byte becomes `%XX` in upper case; '/' stays only if `keepSlash`.
 */
export function uriEncode(text: string, keepSlash: boolean): string {
  let simple = true;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (!isUnreserved(code) && !(keepSlash && code === 0x2f)) {
      simple = false;
      break;
    }
  }
  if (simple) return text;
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    if (isUnreserved(byte) || (keepSlash && byte === 0x2f)) out += String.fromCharCode(byte);
    else out += '%' + HEX[byte >> 4] + HEX[byte & 15];
  }
  return out;
}

export interface QueryParam {
  /** Decoded name, exactly as the client meant it. */
  readonly name: string;
  /** Decoded value; `''` for `?uploads` and `?uploads=` alike. */
  readonly value: string;
  /** Whether the raw parameter had an '=' (`?uploads=` vs `?uploads`). */
  readonly hasEquals: boolean;
}

/** Splits a raw query string (without '?') into decoded parameters, in order. */
export function parseQuery(raw: string): QueryParam[] {
  const params: QueryParam[] = [];
  if (raw === '') return params;
  for (const piece of raw.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const name = percentDecode(eq < 0 ? piece : piece.slice(0, eq), true);
    const value = eq < 0 ? '' : percentDecode(piece.slice(eq + 1), true);
    params.push({ name, value, hasEquals: eq >= 0 });
  }
  return params;
}

/** Splits a request target into its raw path and raw query. */
export function splitTarget(target: string): { path: string; query: string } {
  const q = target.indexOf('?');
  if (q < 0) return { path: target, query: '' };
  return { path: target.slice(0, q), query: target.slice(q + 1) };
}
