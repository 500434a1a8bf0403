'use strict';
// What every app's bin does: run its TypeScript `main(argv)` directly (ts-node, transpile only — no
// build step after `npm ci`) and end any error with one clear line instead of a stack trace.
require('./ts-register');

module.exports = function runCli(mainFile) {
  require(mainFile)
    .main(process.argv)
    .catch((error) => {
      process.exitCode = require('@mobilenets/cli-kit').reportError(error);
    });
};
