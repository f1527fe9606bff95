/* global module, require */
/* eslint-disable @typescript-eslint/no-require-imports */
'use strict';
// What the kill-loop children (engine_kill_child.js, fault_kill_child.js)
// share: the seeded random stream, the body of each operation, and the
// line protocol to the parent: "I <key> <id> <P|D>" before an operation is
// submitted, "A <key> <id>" once acknowledged, "F <key> <id> <code>" on
// failure.
const { writeSync } = require('node:fs');

/**
 * Writes one protocol line to the parent with a blocking write(2) on fd 1.
 * Not process.stdout.write: on a pipe that the parent drains slowly, Node
 * queues the bytes in the child's memory and returns, so a SIGKILL right
 * after an operation was submitted could drop its "I" line while the
 * operation itself lands; the parent would then see bytes of an operation
 * it never heard of. The children never touch process.stdout, so fd 1 stays
 * as spawned (blocking); EAGAIN is retried should it ever be non-blocking.
 */
function report(line) {
  const bytes = Buffer.from(`${line}\n`, 'latin1');
  let done = 0;
  while (done < bytes.length) {
    try {
      done += writeSync(1, bytes, done, bytes.length - done);
    } catch (error) {
      if (error.code !== 'EAGAIN') throw error;
    }
  }
}

/** xorshift32 over `seedText`; the same seed gives the same operations. */
function seededRandom(seedText) {
  let seed = Number(seedText) >>> 0 || 1;
  return () => {
    seed ^= seed << 13;
    seed >>>= 0;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    seed >>>= 0;
    return seed / 4294967296;
  };
}

// The body of operation `id` in the kill loop: its size and bytes depend on
// the id alone, so the parent can check what it reads back.
function bodyFor(id) {
  const size = (id * 7919) % 3 === 0 ? (id * 104729) % 70000 : (id * 31) % 900;
  const body = Buffer.alloc(size);
  let x = (id * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    body[i] = x & 0xff;
  }
  return body;
}

/**
 * Submits one random put or delete of operation `id` (on one of 40 keys of
 * bucket 'kill'), reporting it on stdout before and after. `counter.inflight`
 * counts operations not yet settled.
 */
function submitRandomWrite(engine, random, id, counter) {
  const key = `k${Math.floor(random() * 40)}`;
  const isDelete = random() < 0.2;
  report(`I ${key} ${id} ${isDelete ? 'D' : 'P'}`);
  const write = isDelete
    ? { kind: 'delete', bucket: 'kill', key }
    : { kind: 'put', bucket: 'kill', key, body: bodyFor(id), metadata: [] };
  counter.inflight++;
  engine.submit([write])[0].then(
    () => {
      counter.inflight--;
      report(`A ${key} ${id}`);
    },
    (error) => {
      counter.inflight--;
      report(`F ${key} ${id} ${error.code}`);
    },
  );
}

module.exports = { bodyFor, report, seededRandom, submitRandomWrite };
