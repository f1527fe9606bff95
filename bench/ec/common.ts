/**
 * Setup shared by the EC benchmarks (suite.ts, paired.ts): stripes laid out
 * as one block per stripe, a round-robin picker, and the
 * @ronomon/reed-solomon peer.
 */

export const MiB = 1024 * 1024;

/** The part of @ronomon/reed-solomon's API the benchmarks call. */
export interface Ronomon {
  create(k: number, m: number): unknown;
  encode(
    context: unknown,
    sources: number,
    targets: number,
    buffer: Buffer,
    bufferOffset: number,
    bufferSize: number,
    parity: Buffer,
    parityOffset: number,
    paritySize: number,
    callback: (error?: Error) => void,
  ): void;
}

/** The peer, or why it could not be loaded (first line of the error). */
export function loadRonomon(): { module?: Ronomon; reason: string } {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return { module: require('@ronomon/reed-solomon') as Ronomon, reason: '' };
  } catch (error) {
    return { reason: error instanceof Error ? error.message.split('\n')[0]! : String(error) };
  }
}

/**
 * Stripes of k+m shards, each stripe one block (shards adjacent): one stripe
 * when `workingSetBytes` is 0 (hot), else enough to cover it (cold).
 */
export function makeStripes(
  k: number,
  m: number,
  stripeBytes: number,
  workingSetBytes: number,
): Uint8Array[][] {
  const shard = stripeBytes / k;
  const perStripe = shard * (k + m);
  const count = Math.max(1, Math.ceil(workingSetBytes / perStripe));
  return Array.from({ length: count }, () => {
    const block = new Uint8Array(perStripe);
    for (let i = 0; i < block.length; i += 4096) block[i] = (i * 2654435761) >>> 24;
    return Array.from({ length: k + m }, (_, i) => block.subarray(i * shard, (i + 1) * shard));
  });
}

/** Returns the items in turn, forever. */
export function cycle<T>(items: T[]): () => T {
  let i = 0;
  return () => {
    const item = items[i]!;
    i = i + 1 === items.length ? 0 : i + 1;
    return item;
  };
}

/**
 * One @ronomon encode per call (its async, thread-pool path), cycling over
 * `count` data/parity buffer pairs of one stripe each.
 */
export function ronomonEncodeOp(
  ronomon: Ronomon,
  k: number,
  m: number,
  stripeBytes: number,
  count: number,
): () => Promise<void> {
  const shard = stripeBytes / k;
  const next = cycle(
    Array.from({ length: count }, () => ({
      data: Buffer.alloc(stripeBytes, 0x5a),
      parity: Buffer.alloc(shard * m),
    })),
  );
  const context = ronomon.create(k, m);
  let sources = 0;
  let targets = 0;
  for (let i = 0; i < k + m; i++) {
    if (i < k) sources |= 1 << i;
    else targets |= 1 << i;
  }
  return () =>
    new Promise<void>((resolve, reject) => {
      const { data, parity } = next();
      ronomon.encode(
        context,
        sources,
        targets,
        data,
        0,
        data.length,
        parity,
        0,
        parity.length,
        (error) => (error ? reject(error) : resolve()),
      );
    });
}
