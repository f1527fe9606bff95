/**
 * Object commands on a store directory that is not open elsewhere (the
 * drives are locked while `tessera serve` runs; stop it first, or use an S3
 * client against it): `mb`, `rb`, `put`, `get`, `ls`, `rm`, `stat`.
 *
 * Targets are `bucket/key` (the key is everything after the first `/`).
 * Results go to stdout (`get` without a file writes the object bytes there),
 * `--json` prints one JSON document. `mb` creates the store when the
 * directory has none (EC 4+2 unless --ec); the others refuse a directory
 * without a store. A missing bucket or key is exit 1 with its S3 code.
 */
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { TesseraError } from '../errors';
import { Store } from '../store/store';
import { validateBucketName } from '../store/validate';
import { UsageError } from './usage_error';
import { isStoreDir } from './store_path';

interface StoreFlags {
  dataDir?: string;
  json?: boolean;
}

function dataDir(flags: StoreFlags): string {
  return resolve(flags.dataDir ?? process.env.TESSERA_DATA_DIR ?? './tessera-data');
}

/** Opens an existing store for one command: no lifecycle pass, no background GC. */
async function openExisting(flags: StoreFlags): Promise<Store> {
  const path = dataDir(flags);
  if (!isStoreDir(path)) {
    throw new TesseraError(
      'ERR_INVALID_ARG_VALUE',
      `no tessera store at ${path} (create one with tessera mb <bucket> or tessera serve)`,
    );
  }
  return Store.open({ path, lifecycle: { enabled: false }, gc: { background: false } });
}

async function withStore<T>(store: Store, fn: (store: Store) => Promise<T>): Promise<T> {
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** `bucket/key` -> [bucket, key]; the key is required unless `keyOptional`. */
function target(text: string, keyOptional = false): [string, string] {
  const slash = text.indexOf('/');
  const bucket = slash < 0 ? text : text.slice(0, slash);
  const key = slash < 0 ? '' : text.slice(slash + 1);
  if (bucket === '' || (!keyOptional && key === '')) {
    throw new UsageError(`expected bucket/key, got '${text}'`);
  }
  return [bucket, key];
}

function out(text: string): void {
  process.stdout.write(text);
}

function noSuchKey(bucket: string, key: string): TesseraError {
  return new TesseraError('NoSuchKey', `no object ${bucket}/${key}`);
}

const STORE_OPTIONS: ReadonlyArray<readonly [string, string]> = [
  ['--data-dir <dir>', 'store directory (env TESSERA_DATA_DIR, default ./tessera-data)'],
  ['--json', 'print one JSON document'],
];

function withStoreOptions(command: Command): Command {
  for (const [flags, description] of STORE_OPTIONS) command.option(flags, description);
  return command;
}

export function registerObjects(program: Command): void {
  withStoreOptions(
    program
      .command('mb')
      .argument('<bucket>')
      .description('make a bucket (creates the store when the directory has none)')
      .option('--ec <k+m>', 'erasure coding of a new store (default 4+2)')
      .option('--versioning', 'turn versioning on'),
  ).action(async (bucket: string, flags: StoreFlags & { ec?: string; versioning?: boolean }) => {
    const ec = /^(\d{1,2})\+(\d{1,2})$/.exec(flags.ec ?? '4+2');
    if (!ec) throw new UsageError(`--ec must look like 4+2, got '${flags.ec}'`);
    validateBucketName(bucket); // before a store is created for it
    const path = dataDir(flags);
    const fresh = !isStoreDir(path);
    if (fresh) await mkdir(path, { recursive: true });
    const store = await Store.open({
      path,
      ...(fresh ? { dataShards: Number(ec[1]), parityShards: Number(ec[2]) } : {}),
      lifecycle: { enabled: false },
      gc: { background: false },
    });
    await withStore(store, async (s) => {
      await s.createBucket(bucket, { versioning: flags.versioning === true });
      out(
        flags.json
          ? JSON.stringify({ bucket, store: path, created: fresh }) + '\n'
          : `made bucket ${bucket}\n`,
      );
    });
  });

  withStoreOptions(
    program.command('rb').argument('<bucket>').description('remove an empty bucket'),
  ).action(async (bucket: string, flags: StoreFlags) => {
    await withStore(await openExisting(flags), async (s) => {
      await s.deleteBucket(bucket);
      out(
        flags.json
          ? JSON.stringify({ bucket, removed: true }) + '\n'
          : `removed bucket ${bucket}\n`,
      );
    });
  });

  withStoreOptions(
    program
      .command('put')
      .argument('<file>', "a file, or '-' for stdin")
      .argument('<bucket/key>')
      .description('store a file as an object (acknowledged once durable)')
      .option('--content-type <type>', 'Content-Type to store'),
  ).action(async (file: string, dest: string, flags: StoreFlags & { contentType?: string }) => {
    const [bucket, key] = target(dest);
    if (file !== '-' && !existsSync(file)) throw new UsageError(`no such file: ${file}`);
    await withStore(await openExisting(flags), async (s) => {
      const body = file === '-' ? process.stdin : createReadStream(file);
      const r = await s.bucket(bucket).put(key, body, {
        ...(flags.contentType !== undefined ? { contentType: flags.contentType } : {}),
      });
      out(
        flags.json
          ? JSON.stringify({ bucket, key, ...r }) + '\n'
          : `put ${bucket}/${key}: ${r.size} bytes, etag ${r.etag}` +
              (r.versionId !== 'null' ? `, version ${r.versionId}` : '') +
              '\n',
      );
    });
  });

  program
    .command('get')
    .argument('<bucket/key>')
    .argument('[file]', "where to write the object (default, or '-': stdout)")
    .description('read an object into a file or to stdout')
    .option('--data-dir <dir>', 'store directory (env TESSERA_DATA_DIR, default ./tessera-data)')
    .option('--version-id <id>', 'a given version')
    .action(
      async (
        source: string,
        file: string | undefined,
        flags: StoreFlags & { versionId?: string },
      ) => {
        const [bucket, key] = target(source);
        await withStore(await openExisting(flags), async (s) => {
          const found = await s
            .bucket(bucket)
            .getStream(key, flags.versionId !== undefined ? { versionId: flags.versionId } : {});
          if (!found) throw noSuchKey(bucket, key);
          const sink =
            file === undefined || file === '-' ? process.stdout : createWriteStream(file);
          if (sink === process.stdout) {
            // Never end the process's stdout; just drain the object into it.
            for await (const chunk of found.stream) {
              if (!process.stdout.write(chunk as Buffer)) {
                await new Promise((r) => process.stdout.once('drain', r));
              }
            }
          } else {
            await pipeline(found.stream, sink);
          }
        });
      },
    );

  withStoreOptions(
    program
      .command('ls')
      .argument('[bucket[/prefix]]')
      .description('list buckets, or the objects of a bucket under a prefix')
      .option('-r, --recursive', 'every key under the prefix (no / grouping)'),
  ).action(async (where: string | undefined, flags: StoreFlags & { recursive?: boolean }) => {
    await withStore(await openExisting(flags), async (s) => {
      if (where === undefined) {
        const buckets = await s.listBuckets();
        if (flags.json) {
          out(JSON.stringify({ buckets }) + '\n');
          return;
        }
        for (const b of buckets) out(`${b.creationDate.toISOString()}  ${b.name}\n`);
        return;
      }
      const [bucket, prefix] = target(where, true);
      const objects: unknown[] = [];
      const prefixes: string[] = [];
      for await (const e of s.bucket(bucket).list({
        ...(prefix !== '' ? { prefix } : {}),
        ...(flags.recursive ? {} : { delimiter: '/' }),
      })) {
        if (flags.json) {
          if (e.type === 'prefix') prefixes.push(e.prefix);
          else
            objects.push({ key: e.key, size: e.size, etag: e.etag, lastModified: e.lastModified });
        } else if (e.type === 'prefix') {
          out(`${'PRE'.padStart(37)}  ${e.prefix}\n`);
        } else {
          out(`${e.lastModified.toISOString()}  ${String(e.size).padStart(12)}  ${e.key}\n`);
        }
      }
      if (flags.json) out(JSON.stringify({ bucket, prefix, objects, prefixes }) + '\n');
    });
  });

  withStoreOptions(
    program
      .command('rm')
      .argument('<bucket/key>')
      .description('delete an object (a delete marker in a versioned bucket)')
      .option('--version-id <id>', 'delete this version for good'),
  ).action(async (source: string, flags: StoreFlags & { versionId?: string }) => {
    const [bucket, key] = target(source);
    await withStore(await openExisting(flags), async (s) => {
      const r = await s
        .bucket(bucket)
        .delete(key, flags.versionId !== undefined ? { versionId: flags.versionId } : {});
      out(
        flags.json
          ? JSON.stringify({ bucket, key, ...r }) + '\n'
          : `removed ${bucket}/${key}` +
              (r.deleteMarker && r.versionId ? ` (delete marker ${r.versionId})` : '') +
              '\n',
      );
    });
  });

  withStoreOptions(
    program
      .command('stat')
      .argument('<bucket/key>')
      .description("show an object's size, ETag, version, dates, type and metadata")
      .option('--version-id <id>', 'a given version'),
  ).action(async (source: string, flags: StoreFlags & { versionId?: string }) => {
    const [bucket, key] = target(source);
    await withStore(await openExisting(flags), async (s) => {
      const info = await s
        .bucket(bucket)
        .head(key, flags.versionId !== undefined ? { versionId: flags.versionId } : {});
      if (!info) throw noSuchKey(bucket, key);
      if (flags.json) {
        out(JSON.stringify(info) + '\n');
        return;
      }
      out(
        `key:           ${bucket}/${info.key}\n` +
          `size:          ${info.size}\n` +
          `etag:          ${info.etag}\n` +
          `version:       ${info.versionId}\n` +
          `last-modified: ${info.lastModified.toISOString()}\n` +
          `content-type:  ${info.contentType ?? '(none)'}\n` +
          Object.entries(info.metadata)
            .map(([k, v]) => `meta ${k}: ${v}\n`)
            .join(''),
      );
    });
  });
}
