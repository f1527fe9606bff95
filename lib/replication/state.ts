/**
 * Durable replication state: each bucket's rules and each (bucket, rule)
 * cursor. The interface is the one of `store.bucketConfigs` (per-bucket
 * internal documents by kind); FileConfigStore keeps them as JSON files in
 * a directory of their own, written atomically (tmp file, fdatasync,
 * rename, directory fsync), mode 0600 because rules hold credentials.
 */
import { mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

export interface BucketConfigStore {
  get<T>(bucket: string, kind: string): Promise<T | undefined>;
  put(bucket: string, kind: string, value: unknown): Promise<void>;
  delete(bucket: string, kind: string): Promise<void>;
  /** Every bucket that has a document of this kind, with its value. */
  list<T>(kind: string): Promise<Array<{ bucket: string; value: T }>>;
}

const KIND_RE = /^[a-z0-9-]{1,32}$/;

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

export class FileConfigStore implements BucketConfigStore {
  private ready: Promise<void> | undefined;
  private serial = 0;

  constructor(readonly dir: string) {}

  private kindDir(kind: string): string {
    if (!KIND_RE.test(kind)) throw new Error(`bad config kind ${kind}`);
    return join(this.dir, kind);
  }

  private async ensure(kind: string): Promise<string> {
    this.ready ??= mkdir(this.dir, { recursive: true, mode: 0o700 }).then(() => undefined);
    await this.ready;
    const dir = this.kindDir(kind);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  async get<T>(bucket: string, kind: string): Promise<T | undefined> {
    try {
      return JSON.parse(await readFile(join(this.kindDir(kind), `${bucket}.json`), 'utf8')) as T;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async put(bucket: string, kind: string, value: unknown): Promise<void> {
    const dir = await this.ensure(kind);
    const final = join(dir, `${bucket}.json`);
    const tmp = join(dir, `.${bucket}.${process.pid}.${this.serial++}.tmp`);
    const handle = await open(tmp, 'w', 0o600);
    try {
      await handle.writeFile(JSON.stringify(value));
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await rename(tmp, final);
    await fsyncDir(dir);
  }

  async delete(bucket: string, kind: string): Promise<void> {
    const dir = await this.ensure(kind);
    await rm(join(dir, `${bucket}.json`), { force: true });
    await fsyncDir(dir);
  }

  async list<T>(kind: string): Promise<Array<{ bucket: string; value: T }>> {
    let names: string[];
    try {
      names = await readdir(this.kindDir(kind));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const out: Array<{ bucket: string; value: T }> = [];
    for (const name of names.sort()) {
      if (!name.endsWith('.json') || name.startsWith('.')) continue;
      const bucket = name.slice(0, -'.json'.length);
      const value = await this.get<T>(bucket, kind);
      if (value !== undefined) out.push({ bucket, value });
    }
    return out;
  }
}
