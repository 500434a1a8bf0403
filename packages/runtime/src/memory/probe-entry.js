'use strict';
// The memory probe's entry point: it runs in a child process of its own (a fresh wasm heap and a fresh
// resident memory), which Node starts in plain JavaScript.
// - In the built package, the compiled probe (probe-child.js) sits beside this file: run it.
// - In the workspace, running from the TypeScript sources, the process that started the probe names a
//   TypeScript loader in MOBILENETS_TS_REGISTER (tools/ts-register.js sets it when it is loaded, and so
//   does the Jest environment): load it, then the probe's source (probe-child.ts).
const fs = require('node:fs');
const path = require('node:path');

const compiled = path.join(__dirname, 'probe-child.js');
const tsRegister = process.env.MOBILENETS_TS_REGISTER;

if (fs.existsSync(compiled)) {
  require(compiled);
} else if (tsRegister) {
  require(tsRegister);
  require('./probe-child.ts');
} else {
  throw new Error(
    `@mobilenets/runtime: the memory probe cannot start: ${compiled} does not exist (build the package ` +
      `with 'npx nx build runtime'), and MOBILENETS_TS_REGISTER names no TypeScript loader to run ` +
      `${path.join(__dirname, 'probe-child.ts')} from source (require tools/ts-register.js in the process that measures).`,
  );
}
