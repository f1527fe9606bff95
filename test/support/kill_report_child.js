/* global require */
/* eslint-disable @typescript-eslint/no-require-imports */
// Child of the protocol test in test/50.engine.killloop.test.ts: submits
// `count` random operations through kill_workload.js to a stand-in engine
// that records each submitted operation id in `landedFile` (with a blocking
// write, as a durable commit would be), then SIGKILLs itself at once. The
// parent must have heard the "I" line of every operation that landed.
'use strict';
const { openSync, writeSync } = require('node:fs');
const { report, seededRandom, submitRandomWrite } = require('./kill_workload.js');

const [, , landedFile, seedText, countText] = process.argv;
const landed = openSync(landedFile, 'w');
const random = seededRandom(seedText);
let next = 0;
const engine = {
  submit() {
    writeSync(landed, `${next++}\n`);
    return [new Promise(() => {})]; // never settles: the kill comes first
  },
};
report('R');
const counter = { inflight: 0 };
for (let id = 0; id < Number(countText); id++) submitRandomWrite(engine, random, id, counter);
process.kill(process.pid, 'SIGKILL');
