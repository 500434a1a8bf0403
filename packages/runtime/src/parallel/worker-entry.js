'use strict';
// The data-parallel worker's entry point: the compiled replica (worker.js) in the built package, its
// source (worker.ts) in the workspace (see ../start-entry.js).
require('../start-entry.js').startCompiledOrSource(__dirname, 'worker', 'the training worker', 'the process that starts the workers');
