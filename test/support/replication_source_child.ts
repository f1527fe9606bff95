/**
 * The source side of the replication kill -9 test, as a child process: a
 * native store with its durable change feed (store.watch) and a running
 * replicator. argv: dir, destination endpoint, mode ('work' | 'drain'),
 * seed, versioned ('1' | '0').
 *   work:  sets the rule (first run only), then puts/overwrites/deletes
 *          random keys until killed.
 *   drain: waits until every committed change is replicated, prints
 *          DRAINED, closes the store and exits 0.
 */
import { Store } from '../../lib/store/store';

const [dir, endpoint, mode, seedText, versionedText] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
];

function mulberry32(a: number): () => number {
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function main(): Promise<void> {
  const store = await Store.open({ path: dir, dataShards: 2, parityShards: 1 });
  if (!(await store.getBucket('src'))) {
    await store.createBucket('src', { versioning: versionedText === '1' });
  }
  await store.startReplication({
    backoff: { baseMs: 5, capMs: 100 },
    breaker: { failureThreshold: 3, openMs: 20, openMsMax: 200 },
    requestTimeoutMs: 3000,
  });
  if (!(await store.bucket('src').getReplication())) {
    await store.bucket('src').setReplication({
      rules: [
        {
          id: 'kill',
          destination: {
            endpoint,
            region: 'us-east-1',
            bucket: 'dst',
            credentials: {
              accessKeyId: 'repl-target',
              secretAccessKey: 'replication-target-secret-0123456789',
            },
          },
          deleteMarkerReplication: true,
          existingObjects: true,
        },
      ],
    });
  }
  process.stdout.write('READY\n');
  if (mode === 'drain') {
    const head = (store as unknown as { committedSeq(): number }).committedSeq();
    await store.replication!.drain(head, AbortSignal.timeout(60_000));
    process.stdout.write('DRAINED\n');
    await store.close();
    return;
  }
  const random = mulberry32(Number(seedText));
  const bucket = store.bucket('src');
  for (let i = 0; ; i++) {
    const key = `k${Math.floor(random() * 12)}`;
    if (random() < 0.7) {
      const size = [0, 10, 5000, 70_000][Math.floor(random() * 4)]!;
      const body = Buffer.alloc(size, i & 0xff);
      await bucket.put(key, body, { metadata: { i: String(i) } });
    } else {
      await bucket.delete(key);
    }
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`source child: ${String(error)}\n`);
  process.exit(1);
});
