/**
 * Continuation tokens: opaque to callers (base64url), versioned so the
 * format can change, and validated on the way back in.
 */
import { TesseraError } from '../errors';

const PREFIX = 'v1:';

export function encodeToken(startAfter: string): string {
  return Buffer.from(PREFIX + startAfter, 'utf8').toString('base64url');
}

export function decodeToken(token: unknown): string {
  if (typeof token !== 'string' || token.length === 0) {
    throw new TesseraError('InvalidArgument', 'continuationToken must be a non-empty string');
  }
  const text = Buffer.from(token, 'base64url').toString('utf8');
  if (!text.startsWith(PREFIX) || Buffer.from(text, 'utf8').toString('base64url') !== token) {
    throw new TesseraError('InvalidArgument', 'continuationToken is not a token this store issued');
  }
  return text.slice(PREFIX.length);
}
