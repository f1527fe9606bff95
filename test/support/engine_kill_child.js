/* global require, setImmediate, setTimeout */
/* eslint-disable @typescript-eslint/no-require-imports */
// Child of test/50.engine.killloop.test.ts: writes and deletes objects on a
// native engine as fast as it can, reporting each operation to the parent
// on stdout before submitting it ("I <key> <op>") and once it is
// acknowledged ("A <key> <op>"), until the parent kills it with SIGKILL.
// With mode "gc" the store has small segments and a loop compacts every
// sealed segment with dead bytes meanwhile (docs/gc.md).
'use strict';
const nodeGypBuild = require('node-gyp-build');
const { report, seededRandom, submitRandomWrite } = require('./kill_workload.js');

const [, , root, dir, seedText, startText, mode] = process.argv;
const binding = nodeGypBuild(root);
const random = seededRandom(seedText);

async function main() {
  const engine = await binding.engineOpen({
    path: dir,
    dataShards: 4,
    parityShards: 2,
    ...(mode === 'gc' ? { segmentStripes: 16 } : {}),
  });
  try {
    await engine.submit([{ kind: 'bucketCreate', bucket: 'kill', versioning: 0 }])[0];
  } catch {
    // exists from an earlier cycle
  }
  report('R');
  if (mode === 'gc') void gcLoop(engine);
  let op = Number(startText);
  const counter = { inflight: 0 };
  for (;;) {
    while (counter.inflight >= 16) await new Promise((r) => setImmediate(r));
    submitRandomWrite(engine, random, op++, counter);
  }
}
async function gcLoop(engine) {
  for (;;) {
    const space = engine.spaceStats();
    const c = space.perSegment.find(
      (s) => !s.freed && !s.tail && s.id < space.tailSegment && s.deadBytes > 0,
    );
    if (c === undefined) {
      await new Promise((r) => setTimeout(r, 2));
      continue;
    }
    try {
      await engine.compact(c.id, 0, 0, 0);
    } catch {
      // a compaction already running, or a transient error: try again
    }
  }
}

main().catch((error) => {
  process.stderr.write(`child failed: ${error.stack}\n`);
  process.exit(1);
});
