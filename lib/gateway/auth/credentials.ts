/**
 * Who may sign requests: access key id -> secret key, for several users.
 * Loaded from the environment or from a JSON file; the verifier only ever
 * asks `secretFor(accessKeyId)`.
 */
import { readFileSync } from 'node:fs';
import { TesseraError } from '../../errors';

export interface CredentialsProvider {
  /** The secret of `accessKeyId`, or `undefined` when the key is unknown. */
  secretFor(accessKeyId: string): string | undefined;
}

export interface Credential {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** Access keys are printable ASCII without '/', ',', '=' or spaces (they sit inside the Credential field). */
const ACCESS_KEY_RE = /^[A-Za-z0-9._~+-]{1,128}$/;

/** A fixed set of users. */
export class StaticCredentials implements CredentialsProvider {
  readonly #secrets = new Map<string, string>();

  constructor(credentials: readonly Credential[]) {
    for (const [i, c] of credentials.entries()) {
      if (typeof c?.accessKeyId !== 'string' || !ACCESS_KEY_RE.test(c.accessKeyId)) {
        throw new TesseraError(
          'ERR_INVALID_ARG_VALUE',
          `credentials[${i}].accessKeyId must be 1..128 characters of [A-Za-z0-9._~+-]`,
        );
      }
      if (typeof c.secretAccessKey !== 'string' || c.secretAccessKey.length === 0) {
        throw new TesseraError(
          'ERR_INVALID_ARG_VALUE',
          `credentials[${i}].secretAccessKey must be a non-empty string`,
        );
      }
      if (this.#secrets.has(c.accessKeyId)) {
        throw new TesseraError(
          'ERR_INVALID_ARG_VALUE',
          `credentials[${i}].accessKeyId '${c.accessKeyId}' is listed twice`,
        );
      }
      this.#secrets.set(c.accessKeyId, c.secretAccessKey);
    }
  }

  get size(): number {
    return this.#secrets.size;
  }

  secretFor(accessKeyId: string): string | undefined {
    return this.#secrets.get(accessKeyId);
  }
}

/**
 * Credentials from `TESSERA_ACCESS_KEY`/`TESSERA_SECRET_KEY`, else
 * `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (so one shell configures both
 * server and client in tests). Returns `undefined` when neither pair is set;
 * half a pair is an error, never a silently anonymous server.
 */
export function credentialsFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): StaticCredentials | undefined {
  for (const [keyVar, secretVar] of [
    ['TESSERA_ACCESS_KEY', 'TESSERA_SECRET_KEY'],
    ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'],
  ] as const) {
    const accessKeyId = env[keyVar];
    const secretAccessKey = env[secretVar];
    if (accessKeyId === undefined && secretAccessKey === undefined) continue;
    if (!accessKeyId || !secretAccessKey) {
      throw new TesseraError(
        'ERR_INVALID_ARG_VALUE',
        `${keyVar} and ${secretVar} must be set together`,
      );
    }
    return new StaticCredentials([{ accessKeyId, secretAccessKey }]);
  }
  return undefined;
}

/**
 * Credentials from a JSON file: `[{"accessKeyId": "...", "secretAccessKey": "..."}, ...]`
 * or `{"credentials": [...]}`.
 */
export function credentialsFromFile(path: string): StaticCredentials {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new TesseraError(
      'ERR_INVALID_ARG_VALUE',
      `credentials file ${path} is not readable JSON: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const list = Array.isArray(parsed)
    ? parsed
    : (parsed as { credentials?: unknown } | null)?.credentials;
  if (!Array.isArray(list) || list.length === 0) {
    throw new TesseraError(
      'ERR_INVALID_ARG_VALUE',
      `credentials file ${path} must hold a non-empty array of {accessKeyId, secretAccessKey}`,
    );
  }
  return new StaticCredentials(list as Credential[]);
}
