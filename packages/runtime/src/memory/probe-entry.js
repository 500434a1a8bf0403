'use strict';
// The memory probe runs in a child process of its own (a fresh wasm heap and a fresh RSS): register the
// TypeScript loader, then run the probe.
require('../../../../tools/ts-register');
require('./probe-child.ts');
