/**
 * Checksum throughput through the public API against what a Node user has
 * otherwise: node:zlib crc32 (native, CRC32 only) and the AWS SDK's own
 * checksum packages (@aws-crypto/crc32c, @aws-crypto/crc32,
 * @aws-sdk/crc64-nvme), on the same random buffers. Single-threaded: run it
 * under `taskset -c 1`.
 */
import { randomBytes } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { microAsync, microSync } from '../lib/micro';
import type { BenchSuite, Trial } from '../lib/types';
import { checksums } from '../../lib/index';

type Sync = (data: Uint8Array) => unknown;

function tryRequire<T>(name: string): T | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(name) as T;
  } catch {
    return undefined;
  }
}

const SIZES: Array<[string, number]> = [
  ['64B', 64],
  ['4KiB', 4096],
  ['1MiB', 1 << 20],
];

function trialsFor(
  algorithm: string,
  tessera: Sync,
  peers: Array<{
    subject: string;
    baseline?: boolean;
    fn?: Sync;
    asyncFn?: (d: Uint8Array) => Promise<unknown>;
  }>,
): Trial[] {
  const trials: Trial[] = [];
  for (const [label, size] of SIZES) {
    const group = `${algorithm} ${label}`;
    const make = (
      subject: string,
      baseline: boolean,
      fn?: Sync,
      asyncFn?: (d: Uint8Array) => Promise<unknown>,
    ): Trial => ({
      name: `${subject} ${algorithm} ${label}`,
      group,
      subject,
      baseline,
      run: (context) => {
        const data = randomBytes(size);
        const minTime = context.quick ? 0.2 : 1;
        if (asyncFn) return microAsync(() => asyncFn(data), { bytesPerOp: size, minTime });
        return microSync(() => void fn!(data), { bytesPerOp: size, minTime });
      },
    });
    trials.push(make('tessera', false, tessera));
    for (const p of peers) {
      if (p.fn || p.asyncFn) trials.push(make(p.subject, p.baseline ?? false, p.fn, p.asyncFn));
    }
  }
  return trials;
}

export const suite: BenchSuite = {
  name: 'checksum',
  description: 'CRC32C / CRC32 / CRC64-NVME GB/s vs node:zlib and the AWS SDK checksum packages',
  trials: () => {
    const awsCrc32c = tryRequire<{ crc32c(d: Uint8Array): number }>('@aws-crypto/crc32c');
    const awsCrc32 = tryRequire<{ crc32(d: Uint8Array): number }>('@aws-crypto/crc32');
    const awsCrc64 = tryRequire<{
      Crc64Nvme: new () => { update(d: Uint8Array): void; digest(): Promise<Uint8Array> };
    }>('@aws-sdk/crc64-nvme');
    return [
      ...trialsFor('crc32c', (d) => checksums.crc32c(d), [
        {
          subject: '@aws-crypto/crc32c',
          baseline: true,
          fn: awsCrc32c && ((d) => awsCrc32c.crc32c(d)),
        },
      ]),
      ...trialsFor('crc32', (d) => checksums.crc32(d), [
        { subject: 'node:zlib', baseline: true, fn: (d) => zlibCrc32(d) },
        { subject: '@aws-crypto/crc32', fn: awsCrc32 && ((d) => awsCrc32.crc32(d)) },
      ]),
      ...trialsFor('crc64nvme', (d) => checksums.crc64nvme(d), [
        {
          subject: '@aws-sdk/crc64-nvme',
          baseline: true,
          asyncFn:
            awsCrc64 &&
            ((d) => {
              const h = new awsCrc64.Crc64Nvme();
              h.update(d);
              return h.digest();
            }),
        },
      ]),
    ];
  },
};
