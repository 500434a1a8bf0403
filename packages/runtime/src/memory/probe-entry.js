'use strict';
// The memory probe's entry point: it runs in a child process of its own (a fresh wasm heap and a fresh
// resident memory). The compiled probe (probe-child.js) in the built package, its source
// (probe-child.ts) in the workspace (see ../start-entry.js).
require('../start-entry.js').startCompiledOrSource(__dirname, 'probe-child', 'the memory probe', 'the process that measures');
