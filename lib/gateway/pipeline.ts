/**
 * The request pipeline: parse -> authenticate -> authorize -> handler, with
 * S3 errors and request ids on every response. Handlers for the operations
 * of issue 6 plug in by operation name; an operation without a handler
 * answers 501 NotImplemented.
 *
 * `Expect: 100-continue` is answered only after authentication, and only
 * when the handler asks for the body: `ctx.body()` first checks the
 * payload headers (length, checksums, trailers), then sends 100 Continue,
 * then starts reading. A request refused before that never has its body
 * read, and its connection is closed after the answer.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { finished } from 'node:stream';
import type { AuthResult, SigV4Verifier } from './auth/sigv4';
import { S3Error, renderErrorResponse, toS3Error } from './errors';
import type { ChecksumFunctions } from './payload/checksums';
import { PayloadDecoder } from './payload/decoder';
import { type ParsedRequest, parseRequest } from './request/parse';
import type { Operation } from './request/router';
import { splitTarget } from './request/uri';

export interface RequestContext {
  readonly requestId: string;
  readonly request: ParsedRequest;
  readonly auth: AuthResult;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /**
   * The verified request body. Checks the payload headers now (throws the
   * S3Error to answer), then answers 100 Continue if the client asked, then
   * streams. Commit only after `decoder.verified` resolves.
   */
  body(options?: {
    readonly length_bytes_max?: number;
    readonly computeMd5?: boolean;
  }): PayloadDecoder;
}

export type OperationHandler = (ctx: RequestContext) => Promise<void> | void;

/** Decides whether an authenticated user may run the operation; throws AccessDenied otherwise. */
export type Authorize = (auth: AuthResult, request: ParsedRequest) => Promise<void> | void;

export interface GatewayProtocolOptions {
  readonly verifier: SigV4Verifier;
  readonly handlers: Partial<Record<Operation, OperationHandler>>;
  /** Base domains for virtual-host addressing. */
  readonly domains?: readonly string[];
  readonly authorize?: Authorize;
  readonly checksumFunctions?: ChecksumFunctions;
  readonly requestId?: () => string;
}

function defaultRequestId(): string {
  return randomBytes(8).toString('hex').toUpperCase();
}

export interface GatewayProtocol {
  /** For `server.on('request', ...)`. */
  handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** For `server.on('checkContinue', ...)`: the same, with 100 Continue deferred to `ctx.body()`. */
  handleCheckContinue(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

export function createGatewayProtocol(options: GatewayProtocolOptions): GatewayProtocol {
  const newId = options.requestId ?? defaultRequestId;

  async function handle(
    req: IncomingMessage,
    res: ServerResponse,
    expectContinue: boolean,
  ): Promise<void> {
    const requestId = newId();
    res.setHeader('x-amz-request-id', requestId);
    res.setHeader('x-amz-id-2', requestId);
    let resource = splitTarget(req.url ?? '/').path;
    let bodyStarted = false;
    try {
      const request = parseRequest(
        { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headersDistinct },
        { domains: options.domains ?? [] },
      );
      resource = request.resource;
      const auth = options.verifier.verify(request);
      await options.authorize?.(auth, request);
      const handler = options.handlers[request.operation];
      if (handler === undefined)
        throw new S3Error('NotImplemented', `${request.operation} is not implemented.`);
      const ctx: RequestContext = {
        requestId,
        request,
        auth,
        req,
        res,
        body(bodyOptions = {}) {
          if (bodyStarted)
            throw new S3Error('InternalError', 'The request body was requested twice.');
          const decoder = new PayloadDecoder({
            auth,
            headers: request.headers,
            ...(options.checksumFunctions ? { checksumFunctions: options.checksumFunctions } : {}),
            ...(bodyOptions.length_bytes_max !== undefined
              ? { length_bytes_max: bodyOptions.length_bytes_max }
              : {}),
            ...(bodyOptions.computeMd5 !== undefined ? { computeMd5: bodyOptions.computeMd5 } : {}),
          });
          bodyStarted = true;
          if (expectContinue) res.writeContinue();
          req.pipe(decoder);
          // A client that goes away mid-body rejects `verified` with IncompleteBody.
          finished(req, (error) => {
            if (error) decoder.destroy(error);
          });
          // On a refused body, stop feeding the decoder but keep the socket readable so the
          // error response can be written (pipeline() would destroy the request and its socket).
          decoder.once('error', () => {
            req.unpipe(decoder);
            req.resume();
          });
          return decoder;
        },
      };
      await handler(ctx);
    } catch (error) {
      writeError(req, res, error, resource, requestId, bodyStarted);
    }
  }

  return {
    handleRequest: (req, res) => handle(req, res, false),
    handleCheckContinue: (req, res) => handle(req, res, true),
  };
}

function writeError(
  req: IncomingMessage,
  res: ServerResponse,
  error: unknown,
  resource: string,
  requestId: string,
  bodyStarted: boolean,
): void {
  if (res.headersSent) {
    // Too late for an error document: cut the response so the client sees a failure, not a short body.
    res.destroy(toS3Error(error));
    return;
  }
  const response = renderErrorResponse(req.method ?? 'GET', error, { resource, requestId });
  for (const [name, value] of Object.entries(response.headers)) res.setHeader(name, value);
  // A body we never read (or stopped reading) would otherwise be drained first: close instead.
  const hasBody =
    req.headers['transfer-encoding'] !== undefined ||
    Number(req.headers['content-length'] ?? '0') > 0;
  if (hasBody && (!bodyStarted || !req.readableEnded)) res.setHeader('connection', 'close');
  res.statusCode = response.status;
  res.end(response.body ?? undefined);
}

/** Wires the protocol into a node:http server: 'request' and 'checkContinue'. */
export function attachGatewayProtocol(
  server: Server,
  options: GatewayProtocolOptions,
): GatewayProtocol {
  const protocol = createGatewayProtocol(options);
  server.on('request', (req, res) => void protocol.handleRequest(req, res));
  server.on('checkContinue', (req, res) => void protocol.handleCheckContinue(req, res));
  return protocol;
}
