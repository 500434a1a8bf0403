'use strict';
// Worker threads start in plain Node: register the TypeScript loader, then run the replica.
require('../../../../tools/ts-register');
require('./worker.ts');
