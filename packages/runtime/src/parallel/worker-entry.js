'use strict';
// Worker threads start in plain Node. Built packages run the compiled worker beside this file; from the
// TypeScript sources (inside the workspace), the module named by MOBILENETS_TS_REGISTER registers a
// TypeScript loader first (tools/ts-register.js sets it, and so does the workspace's Jest set-up).
const fs = require('node:fs');
const path = require('node:path');

const compiled = path.join(__dirname, 'worker.js');
if (fs.existsSync(compiled)) {
  require(compiled);
} else if (process.env.MOBILENETS_TS_REGISTER) {
  require(process.env.MOBILENETS_TS_REGISTER);
  require('./worker.ts');
} else {
  throw new Error(
    `@mobilenets/runtime: the training worker ${compiled} is missing (is the package built?), and MOBILENETS_TS_REGISTER does not name a TypeScript loader to run ${path.join(__dirname, 'worker.ts')} with.`,
  );
}
