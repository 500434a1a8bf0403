#!/usr/bin/env node
'use strict';
// Runs the TypeScript sources directly (ts-node, transpile only): no build step after `npm ci`.
require('../../../tools/ts-register');
require('../src/main.ts')
  .main(process.argv)
  .catch((error) => {
    process.exitCode = require('@mobilenets/cli-kit').reportError(error);
  });
