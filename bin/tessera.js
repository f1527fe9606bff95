#!/usr/bin/env node
'use strict';
// The `tessera` command. The implementation is compiled TypeScript.
require('../dist/cjs/cli/main.js')
  .main(process.argv)
  .then((code) => {
    process.exitCode = code;
  });
