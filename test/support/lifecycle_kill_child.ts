// Child of test/54.lifecycle.kill.test.ts: opens the store with a clock
// three days ahead and a slow rate, prints "R", runs a lifecycle pass, and
// is killed with SIGKILL by the parent in the middle of it.
import { Store } from '../../lib/store/store';

const [, , dir] = process.argv;

async function main(): Promise<void> {
  const store = await Store.open({
    path: dir!,
    dataShards: 2,
    parityShards: 1,
    lifecycle: { enabled: false, objectsPerSecond: 60, clock: () => Date.now() + 3 * 86_400_000 },
  });
  process.stdout.write('R\n');
  const report = await store.lifecycle.run();
  process.stdout.write(`D ${JSON.stringify(report)}\n`);
  await store.close();
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
