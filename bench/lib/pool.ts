/**
 * Runs `total` operations with at most `limit` in flight and records each
 * one's latency: the closed-loop load shape the store and fault suites use.
 */
export async function pool(
  total: number,
  limit: number,
  op: (i: number) => Promise<unknown>,
): Promise<{ seconds: number; latenciesUs: number[] }> {
  const latenciesUs: number[] = [];
  let next = 0;
  const started = performance.now();
  async function worker(): Promise<void> {
    while (next < total) {
      const i = next++;
      const t0 = performance.now();
      await op(i);
      latenciesUs.push((performance.now() - t0) * 1000);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, total) }, worker));
  return { seconds: (performance.now() - started) / 1000, latenciesUs };
}
