'use strict';
// The data-parallel worker's entry point: Node starts worker threads in plain JavaScript.
// - In the built package, the compiled replica (worker.js) sits beside this file: run it.
// - In the workspace, running from the TypeScript sources, the process that started the worker names
//   a TypeScript loader in MOBILENETS_TS_REGISTER (tools/ts-register.js sets it when it is loaded, and
//   so does the Jest environment): load it, then the replica's source (worker.ts).
const fs = require('node:fs');
const path = require('node:path');

const compiled = path.join(__dirname, 'worker.js');
const tsRegister = process.env.MOBILENETS_TS_REGISTER;

if (fs.existsSync(compiled)) {
  require(compiled);
} else if (tsRegister) {
  require(tsRegister);
  require('./worker.ts');
} else {
  throw new Error(
    `@mobilenets/runtime: the training worker cannot start: ${compiled} does not exist (build the package ` +
      `with 'npx nx build runtime'), and MOBILENETS_TS_REGISTER names no TypeScript loader to run ` +
      `${path.join(__dirname, 'worker.ts')} from source (require tools/ts-register.js in the process that starts the workers).`,
  );
}
