/**
 * `tessera serve`: the S3 gateway as a process.
 *
 * Settings: flags > environment (TESSERA_DATA_DIR, TESSERA_HOST,
 * TESSERA_PORT, TESSERA_ACCESS_KEY / TESSERA_SECRET_KEY, else
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, TESSERA_REGION,
 * TESSERA_DOMAIN, LOG_LEVEL, TESSERA_REPLICATION_TARGETS: a JSON file of
 * named replication destinations, docs/replication.md) > defaults (./tessera-data, 127.0.0.1:9000,
 * EC 4+2). A non-loopback address needs credentials.
 *
 * Shutdown on SIGTERM/SIGINT: /readyz turns 503, the listener stops
 * accepting, idle keep-alive sockets close, in-flight requests drain up to
 * --shutdown-timeout, then the store closes (flushing everything) and the
 * process exits 0. A second signal exits 1 at once.
 */
import { mkdir } from 'node:fs/promises';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { Logger } from 'pino';
import { TesseraError } from '../errors';
import { Store } from '../store/store';
import { storeFeed } from '../replication/store_api';
import { loadReplicationTargets } from '../replication/targets';
import { startGateway } from '../gateway/server';
import { createLogger } from '../gateway/observability/logging';
import { UsageError } from './usage_error';

export interface ServeSettings {
  dataDir: string;
  host: string;
  port: number;
  accessKey: string;
  secretKey: string;
  /** True when the credentials are the loopback-only development pair. */
  devCredentials: boolean;
  region: string;
  /**
   * True when --region / TESSERA_REGION was given: only then must request
   * scopes name it. Otherwise any region is accepted (a client whose
   * AWS_DEFAULT_REGION is eu-central-1 just works) and us-east-1 is reported.
   */
  regionStrict: boolean;
  domain: string | undefined;
  logLevel: string;
  shutdownTimeoutMs: number;
  dataShards: number;
  parityShards: number;
  partBytesMin: number;
  staleUploadAgeMs: number;
}

export interface ServeFlags {
  dataDir?: string;
  host?: string;
  port?: string;
  accessKey?: string;
  secretKey?: string;
  region?: string;
  domain?: string;
  logLevel?: string;
  shutdownTimeout?: string;
  ec?: string;
  partSizeMin?: string;
  staleUploadAge?: string;
}

/** The credentials a loopback-only server uses when none are configured. */
export const DEV_ACCESS_KEY = 'tessera';
export const DEV_SECRET_KEY = 'tessera-dev-secret';
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export { UsageError };

function integer(name: string, text: string, min: number, max: number): number {
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`${name} must be an integer in ${min}..${max}, got '${text}'`);
  }
  return value;
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/** Resolves flags > env > defaults and checks them; throws UsageError. */
export function resolveServeSettings(
  flags: ServeFlags,
  env: NodeJS.ProcessEnv = process.env,
): ServeSettings {
  const host = flags.host ?? env.TESSERA_HOST ?? '127.0.0.1';
  if (host !== 'localhost' && isIP(host) === 0) {
    throw new UsageError(`--host must be an IP address or localhost, got '${host}'`);
  }
  const port = integer('--port', flags.port ?? env.TESSERA_PORT ?? '9000', 0, 65535);
  let accessKey = flags.accessKey;
  let secretKey = flags.secretKey;
  if (accessKey === undefined && secretKey === undefined) {
    for (const [k, s] of [
      ['TESSERA_ACCESS_KEY', 'TESSERA_SECRET_KEY'],
      ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'],
    ] as const) {
      if (env[k] !== undefined || env[s] !== undefined) {
        if (!env[k] || !env[s]) throw new UsageError(`${k} and ${s} must be set together`);
        accessKey = env[k];
        secretKey = env[s];
        break;
      }
    }
  }
  if ((accessKey === undefined) !== (secretKey === undefined)) {
    throw new UsageError('--access-key and --secret-key must be given together');
  }
  let devCredentials = false;
  if (accessKey === undefined || secretKey === undefined) {
    if (!isLoopback(host)) {
      throw new UsageError(
        `refusing to listen on ${host} without credentials: set --access-key/--secret-key or TESSERA_ACCESS_KEY/TESSERA_SECRET_KEY`,
      );
    }
    accessKey = DEV_ACCESS_KEY;
    secretKey = DEV_SECRET_KEY;
    devCredentials = true;
  }
  const logLevel = flags.logLevel ?? env.LOG_LEVEL ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new UsageError(`log level must be one of ${LOG_LEVELS.join(', ')}, got '${logLevel}'`);
  }
  const ec = /^(\d{1,2})\+(\d{1,2})$/.exec(flags.ec ?? '4+2');
  if (!ec) throw new UsageError(`--ec must look like 4+2, got '${flags.ec}'`);
  const dataShards = integer('--ec data shards', ec[1]!, 1, 32);
  const parityShards = integer('--ec parity shards', ec[2]!, 0, 32);
  return {
    dataDir: resolve(flags.dataDir ?? env.TESSERA_DATA_DIR ?? './tessera-data'),
    host,
    port,
    accessKey,
    secretKey,
    devCredentials,
    region: flags.region ?? env.TESSERA_REGION ?? 'us-east-1',
    regionStrict: (flags.region ?? env.TESSERA_REGION) !== undefined,
    domain: flags.domain ?? env.TESSERA_DOMAIN,
    logLevel,
    shutdownTimeoutMs: integer('--shutdown-timeout', flags.shutdownTimeout ?? '25', 0, 3600) * 1000,
    dataShards,
    parityShards,
    partBytesMin: integer(
      '--part-size-min',
      flags.partSizeMin ?? String(5 * 1024 * 1024),
      1,
      5 * 1024 ** 3,
    ),
    staleUploadAgeMs:
      integer(
        '--stale-upload-age',
        flags.staleUploadAge ?? String(7 * 24 * 3600),
        60,
        10 * 365 * 24 * 3600,
      ) * 1000,
  };
}

/** Opens the store of `settings.dataDir`: k+m drive folders inside it. */
export type StoreOpener = (settings: ServeSettings) => Promise<Store>;

/**
 * The native store under `dataDir` (drives `dataDir/drive-<i>`), created k+m
 * when empty. Missing parent directories are made first (`--data-dir
 * ./var/lib/tessera` works as `./tessera-data` does).
 */
export const openNativeStore: StoreOpener = async (settings) => {
  await mkdir(settings.dataDir, { recursive: true });
  return Store.open({
    path: settings.dataDir,
    dataShards: settings.dataShards,
    parityShards: settings.parityShards,
  });
};

export interface ServeDependencies {
  openStore?: StoreOpener;
  logger?: Logger;
  /** Where signals come from (the process by default). */
  signals?: Pick<NodeJS.Process, 'on' | 'off'>;
  /** Called on a second signal; exits the process with 1 by default. */
  forceExit?: (code: number) => void;
  /** Called once the server listens (tests learn the port). */
  onListening?: (url: string) => void;
}

/** Runs the gateway until a signal; resolves with the exit code. */
export async function runServe(
  settings: ServeSettings,
  deps: ServeDependencies = {},
): Promise<number> {
  const logger = deps.logger ?? createLogger(settings.logLevel);
  const targetsFile = process.env.TESSERA_REPLICATION_TARGETS;
  const replicationTargets = targetsFile ? loadReplicationTargets(targetsFile) : undefined;
  const store = await (deps.openStore ?? openNativeStore)(settings);
  const gateway = await startGateway({
    ...(replicationTargets ? { replicationTargets } : {}),
    store,
    host: settings.host,
    port: settings.port,
    credentials: [{ accessKeyId: settings.accessKey, secretAccessKey: settings.secretKey }],
    ...(settings.regionStrict ? { region: settings.region } : {}),
    ...(settings.domain !== undefined ? { domain: settings.domain } : {}),
    logger,
    shutdownTimeoutMs: settings.shutdownTimeoutMs,
    limits: { partBytesMin: settings.partBytesMin, staleUploadAgeMs: settings.staleUploadAgeMs },
  }).catch(async (error: unknown) => {
    await store.close();
    throw error;
  });
  if (settings.devCredentials) {
    logger.warn(
      { accessKey: DEV_ACCESS_KEY },
      `no credentials configured: loopback-only development credentials ${DEV_ACCESS_KEY} / ${DEV_SECRET_KEY}`,
    );
  }
  if (storeFeed(store)) {
    await store.startReplication({ logger, registry: gateway.metrics.registry });
  } else if (replicationTargets) {
    logger.warn('replication rules are stored but not run: this store has no change feed yet');
  }
  // The access key (never the secret) so a new user sees which one to use.
  logger.info(
    { url: gateway.url, dataDir: settings.dataDir, accessKey: settings.accessKey },
    'tessera S3 gateway listening',
  );
  deps.onListening?.(gateway.url);
  const signals = deps.signals ?? process;
  const forceExit = deps.forceExit ?? ((code: number) => process.exit(code));
  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        logger.error({ signal }, 'second signal: exiting now');
        forceExit(1);
        return;
      }
      stopping = true;
      logger.info({ signal }, 'shutting down: draining in-flight requests');
      gateway
        .close()
        .then(() => store.close())
        .then(
          () => {
            signals.off('SIGTERM', onSignal);
            signals.off('SIGINT', onSignal);
            logger.info('stopped');
            resolveExit(0);
          },
          (error: unknown) => {
            logger.error({ err: error }, 'shutdown failed');
            resolveExit(1);
          },
        );
    };
    signals.on('SIGTERM', onSignal);
    signals.on('SIGINT', onSignal);
  });
}

/** Adds `serve` to the program. */
export function registerServe(program: Command, deps: ServeDependencies = {}): void {
  program
    .command('serve')
    .description('run the S3-compatible gateway over a store directory')
    .option('--data-dir <dir>', 'store directory (env TESSERA_DATA_DIR, default ./tessera-data)')
    .option('--host <address>', 'address to listen on (env TESSERA_HOST, default 127.0.0.1)')
    .option('--port <port>', 'port (env TESSERA_PORT, default 9000; 0 picks a free one)')
    .option('--access-key <id>', 'access key id (env TESSERA_ACCESS_KEY or AWS_ACCESS_KEY_ID)')
    .option('--secret-key <secret>', 'secret key (env TESSERA_SECRET_KEY or AWS_SECRET_ACCESS_KEY)')
    .option(
      '--region <region>',
      'region clients must sign for (env TESSERA_REGION; default: any accepted, us-east-1 reported)',
    )
    .option('--domain <domain>', 'base domain for virtual-host buckets (env TESSERA_DOMAIN)')
    .option(
      '--log-level <level>',
      'fatal|error|warn|info|debug|trace|silent (env LOG_LEVEL, default info)',
    )
    .option('--shutdown-timeout <seconds>', 'how long to drain requests on SIGTERM (default 25)')
    .option('--ec <k+m>', 'erasure coding of a new store: data+parity shards (default 4+2)')
    .option('--part-size-min <bytes>', 'smallest non-last multipart part (default 5 MiB)')
    .option(
      '--stale-upload-age <seconds>',
      'remove incomplete multipart uploads older than this (default 7 days)',
    )
    .action(async (flags: ServeFlags, command: Command) => {
      let settings: ServeSettings;
      try {
        settings = resolveServeSettings(flags);
      } catch (error) {
        if (error instanceof UsageError)
          command.error(`error: ${error.message}`, { exitCode: 2, code: 'tessera.usage' });
        throw error;
      }
      const code = await runServe(settings, deps);
      if (code !== 0)
        throw new TesseraError('ERR_STORE_INTERNAL', 'the gateway did not shut down cleanly');
    });
}
