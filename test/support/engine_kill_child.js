/* global require, setImmediate */
/* eslint-disable @typescript-eslint/no-require-imports */
// Child of test/50.engine.killloop.test.ts: writes and deletes objects on a
// native engine as fast as it can, reporting each operation to the parent
// on stdout before submitting it ("I <key> <op>") and once it is
// acknowledged ("A <key> <op>"), until the parent kills it with SIGKILL.
'use strict';
const nodeGypBuild = require('node-gyp-build');
const { bodyFor } = require('./engine_kill_body.js');

const [, , root, dir, seedText, startText] = process.argv;
const binding = nodeGypBuild(root);
let seed = Number(seedText) >>> 0 || 1;
function random() {
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed / 4294967296;
}

async function main() {
  const engine = await binding.engineOpen({ path: dir, dataShards: 4, parityShards: 2 });
  try {
    await engine.submit([{ kind: 'bucketCreate', bucket: 'kill', versioning: 0 }])[0];
  } catch {
    // exists from an earlier cycle
  }
  process.stdout.write('R\n');
  let op = Number(startText);
  let inflight = 0;
  for (;;) {
    while (inflight >= 16) await new Promise((r) => setImmediate(r));
    const key = `k${Math.floor(random() * 40)}`;
    const id = op++;
    const isDelete = random() < 0.2;
    process.stdout.write(`I ${key} ${id} ${isDelete ? 'D' : 'P'}\n`);
    const write = isDelete
      ? { kind: 'delete', bucket: 'kill', key }
      : { kind: 'put', bucket: 'kill', key, body: bodyFor(id), metadata: [] };
    inflight++;
    engine.submit([write])[0].then(
      () => {
        inflight--;
        process.stdout.write(`A ${key} ${id}\n`);
      },
      (error) => {
        inflight--;
        process.stdout.write(`F ${key} ${id} ${error.code}\n`);
      },
    );
  }
}
main().catch((error) => {
  process.stderr.write(`child failed: ${error.stack}\n`);
  process.exit(1);
});
