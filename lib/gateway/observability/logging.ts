/**
 * Logging: pino, one child logger per request carrying `reqId` (the
 * `x-amz-request-id` the client sees). Secrets never reach a log line: the
 * Authorization and security-token headers are redacted by pino, and the
 * presigned signature and credential are cut out of logged URLs.
 */
import pino, { type Logger } from 'pino';

export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-amz-security-token"]',
  'headers.authorization',
  'headers["x-amz-security-token"]',
];

/** The gateway's default logger when none is given: silent (a library logs nothing by default). */
export function silentLogger(): Logger {
  return pino({ enabled: false });
}

/** The logger `tessera serve` uses: NDJSON to stdout at LOG_LEVEL (default info). */
export function createLogger(
  level = process.env.LOG_LEVEL ?? 'info',
  destination?: pino.DestinationStream,
): Logger {
  const options = { level, redact: { paths: REDACT_PATHS, censor: '[REDACTED]' } };
  return destination ? pino(options, destination) : pino(options);
}

const SECRET_PARAMS =
  /([?&](?:X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|Signature|AWSAccessKeyId)=)[^&]*/gi;

/** The request target with presigned secrets replaced by [REDACTED]. */
export function redactUrl(url: string): string {
  return url.replace(SECRET_PARAMS, '$1[REDACTED]');
}
