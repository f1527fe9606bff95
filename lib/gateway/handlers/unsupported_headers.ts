/**
 * Write headers that ask for a guarantee the gateway does not give. S3
 * clones often accept and drop them; a client then believes an object is
 * encrypted, locked or tagged when it is not. These answer 501
 * NotImplemented before any body byte is read, so nothing is stored.
 * (ACLs and storage classes stay accepted and ignored: every object is
 * private and stored the same way, which promises nothing it does not keep.)
 */
import { S3Error } from '../errors';
import type { RequestContext } from './context';

const REFUSED: ReadonlyArray<readonly [prefix: string, feature: string]> = [
  ['x-amz-server-side-encryption', 'Server-side encryption'],
  ['x-amz-object-lock-', 'Object Lock'],
  ['x-amz-tagging', 'Object tagging'],
];

/** Throws 501 NotImplemented when the request carries one of the refused headers. */
export function refuseUnsupportedWriteHeaders(ctx: RequestContext): void {
  for (const name of Object.keys(ctx.req.headers)) {
    for (const [prefix, feature] of REFUSED) {
      if (name.startsWith(prefix)) {
        throw new S3Error(
          'NotImplemented',
          `${feature} is not implemented (header ${name}); the object was not stored.`,
        );
      }
    }
  }
}
