/**
 * Step one of the pipeline (parse -> authenticate -> authorize -> handler):
 * the request line and headers become one immutable ParsedRequest. The
 * signature check and the handler both read this same object, so the bytes
 * that were authenticated are the bytes that are acted on.
 */
import type { HeaderValues } from '../auth/canonical';
import { headerValues } from '../auth/canonical';
import type { SignedRequest } from '../auth/sigv4';
import { S3Error } from '../errors';
import { type Address, type AddressOptions, resolveAddress } from './address';
import { type Operation, routeOperation } from './router';
import { type QueryParam, parseQuery, splitTarget } from './uri';

export interface IncomingRequestLine {
  readonly method: string;
  /** The request target exactly as received (`req.url`). */
  readonly url: string;
  /** Lower-case names, repeated headers as arrays (`req.headersDistinct`). */
  readonly headers: HeaderValues;
}

export interface ParsedRequest extends SignedRequest {
  readonly address: Address;
  readonly operation: Operation;
  /** The path for `<Resource>` in error bodies. */
  readonly resource: string;
}

/** Parses and routes; throws the S3Error to answer (400 InvalidURI, 501, 405...). */
export function parseRequest(
  line: IncomingRequestLine,
  options: AddressOptions = {},
): ParsedRequest {
  const { path, query: rawQuery } = splitTarget(line.url);
  const method = line.method.toUpperCase();
  const hosts = headerValues(line.headers, 'host');
  if (hosts.length > 1) throw new S3Error('InvalidRequest', 'More than one Host header.');
  const query: QueryParam[] = parseQuery(rawQuery);
  const address = resolveAddress(path, hosts[0], options);
  const operation = routeOperation(method, address, query, line.headers);
  return {
    method,
    rawPath: path,
    query,
    headers: line.headers,
    address,
    operation,
    resource: path,
  };
}

/** The value of a query parameter; refuses repeats of parameters that must be single. */
export function queryValue(query: readonly QueryParam[], name: string): string | undefined {
  let found: string | undefined;
  for (const p of query) {
    if (p.name !== name) continue;
    if (found !== undefined)
      throw new S3Error('InvalidArgument', `${name} given more than once.`, { ArgumentName: name });
    found = p.value;
  }
  return found;
}
