/* global require, setImmediate */
/* eslint-disable @typescript-eslint/no-require-imports */
// Child of test/80.fault.killpoints.test.ts: like engine_kill_child.js
// (puts and deletes, "I <key> <id> <P|D>" before submitting and "A <key>
// <id>" once acknowledged), and every 150 operations it also closes and
// reopens the engine (snapshot, new segment) and runs a heal pass over a
// chunk it damaged on drive 1 (the heal path), so every kill point
// (native/engine/kill_points.h) is reached. TESSERA_KILL_ODDS in its
// environment makes it _exit(9) at a random point.
'use strict';
const { openSync, readSync, writeSync, closeSync } = require('node:fs');
const nodeGypBuild = require('node-gyp-build');
const { report, seededRandom, submitRandomWrite } = require('./kill_workload.js');

const [, , root, dir, seedText, startText] = process.argv;
const binding = nodeGypBuild(root);
const random = seededRandom(seedText);

function damageOneChunk() {
  // Stripe 0 of segment 0 on drive 1: written at creation, never again.
  const file = `${dir}/drive-1/segments/seg-0000000000000000.dat`;
  const fd = openSync(file, 'r+');
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, 4096 + 17);
  b[0] ^= 0x01;
  writeSync(fd, b, 0, 1, 4096 + 17);
  closeSync(fd);
}

async function main() {
  let engine = await binding.engineOpen({ path: dir, dataShards: 4, parityShards: 2 });
  try {
    await engine.submit([{ kind: 'bucketCreate', bucket: 'kill', versioning: 0 }])[0];
  } catch {
    // exists from an earlier cycle
  }
  report('R');
  let op = Number(startText);
  const counter = { inflight: 0 };
  for (let n = 1; ; n++) {
    if (n % 150 === 0) {
      while (counter.inflight > 0) await new Promise((r) => setImmediate(r));
      await engine.close();
      engine = await binding.engineOpen({ path: dir });
      damageOneChunk();
      await engine.scrub(true, 0, 0);
    }
    while (counter.inflight >= 16) await new Promise((r) => setImmediate(r));
    submitRandomWrite(engine, random, op++, counter);
  }
}
main().catch((error) => {
  process.stderr.write(`child failed: ${error.stack}\n`);
  process.exit(1);
});
