/**
 * Raw O_DIRECT ceilings measured from Node in the same run as the store
 * trials: sequential 1 MiB writes and reads with several in flight, and
 * random 4 KiB reads. node:fs cannot ask for aligned memory, so an aligned
 * view is found by probing: a Buffer a little larger than needed is sliced
 * at 16-byte steps (malloc alignment) until the kernel accepts an O_DIRECT transfer (EINVAL
 * means misaligned). Large Buffers are page-aligned mmaps in practice.
 */
import { constants, type PathLike } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';

export const MiB = 1024 * 1024;

/** A view of `size` bytes that O_DIRECT accepts for `fh`. */
export async function alignedView(fh: FileHandle, size: number): Promise<Buffer> {
  const backing = Buffer.allocUnsafeSlow(size + 8192);
  for (let off = 0; off <= 4096; off += 16) {
    const view = backing.subarray(off, off + size);
    try {
      await fh.read(view, 0, 4096, 0);
      return view;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EINVAL') throw error;
    }
  }
  throw new Error('no O_DIRECT-aligned view found (is the filesystem tmpfs?)');
}

export async function openDirect(path: PathLike, write: boolean): Promise<FileHandle> {
  const flags =
    constants.O_DIRECT | (write ? constants.O_RDWR | constants.O_CREAT : constants.O_RDONLY);
  return open(path, flags, 0o644);
}

/**
 * Sequential 1 MiB O_DIRECT writes of `bytes` with `depth` in flight into a
 * new file, then one fdatasync; seconds include the sync.
 */
export async function rawSequentialWrite(
  path: string,
  bytes: number,
  depth: number,
): Promise<number> {
  const fh = await openDirect(path, true);
  // The file is empty: probe alignment with a 4 KiB write instead of a read.
  const backing = Buffer.allocUnsafeSlow(MiB + 8192);
  let view: Buffer | undefined;
  for (let off = 0; off <= 4096 && !view; off += 16) {
    const v = backing.subarray(off, off + MiB);
    try {
      await fh.write(v, 0, 4096, 0);
      view = v;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EINVAL') throw error;
    }
  }
  if (!view) throw new Error('no O_DIRECT-aligned view found');
  view.fill(0x5a);
  const total = Math.ceil(bytes / MiB);
  let next = 0;
  const started = performance.now();
  async function worker(): Promise<void> {
    while (next < total) {
      const i = next++;
      await fh.write(view!, 0, MiB, i * MiB);
    }
  }
  await Promise.all(Array.from({ length: depth }, worker));
  await fh.datasync();
  const seconds = (performance.now() - started) / 1000;
  await fh.close();
  return seconds;
}

/** Sequential 1 MiB O_DIRECT reads of the whole file, `depth` in flight. */
export async function rawSequentialRead(
  path: string,
  bytes: number,
  depth: number,
): Promise<number> {
  const fh = await openDirect(path, false);
  const views: Buffer[] = [];
  for (let i = 0; i < depth; i++) views.push(await alignedView(fh, MiB));
  const total = Math.ceil(bytes / MiB);
  let next = 0;
  const started = performance.now();
  async function worker(view: Buffer): Promise<void> {
    while (next < total) {
      const i = next++;
      const { bytesRead } = await fh.read(view, 0, MiB, i * MiB);
      if (bytesRead !== MiB) throw new Error(`short read at ${i} MiB`);
    }
  }
  await Promise.all(views.map(worker));
  const seconds = (performance.now() - started) / 1000;
  await fh.close();
  return seconds;
}

/**
 * `count` random 4 KiB O_DIRECT reads of a file of `fileBytes`, `depth` in
 * flight (through libuv's pool); per-read latencies in microseconds.
 */
export async function rawRandomReads(
  path: string,
  fileBytes: number,
  count: number,
  depth: number,
): Promise<{ seconds: number; latenciesUs: number[] }> {
  const fh = await openDirect(path, false);
  const views: Buffer[] = [];
  for (let i = 0; i < depth; i++) views.push(await alignedView(fh, 4096));
  const blocks = Math.floor(fileBytes / 4096);
  let next = 0;
  let x = 12345;
  const latenciesUs: number[] = [];
  const started = performance.now();
  async function worker(view: Buffer): Promise<void> {
    while (next < count) {
      next++;
      x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
      const t0 = performance.now();
      await fh.read(view, 0, 4096, (x % blocks) * 4096);
      latenciesUs.push((performance.now() - t0) * 1000);
    }
  }
  await Promise.all(views.map(worker));
  const seconds = (performance.now() - started) / 1000;
  await fh.close();
  return { seconds, latenciesUs };
}
