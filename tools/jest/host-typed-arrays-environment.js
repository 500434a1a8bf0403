'use strict';
// Jest gives every test file its own realm, so `new Float32Array()` inside a test is a different
// class from the Float32Array that native addons (onnxruntime-node) and the host's Buffer use.
// onnxruntime-node then rejects its own output tensors ("A float32 tensor's data must be type of
// Float32Array"). This environment hands the test realm the host's typed arrays instead.
//
// It also names tools/ts-register.js in MOBILENETS_TS_REGISTER, so that worker threads that tests start
// (runtime's data-parallel workers) can run the TypeScript sources, as they do under the CLIs.
const path = require('node:path');
const { TestEnvironment } = require('jest-environment-node');

process.env.MOBILENETS_TS_REGISTER = path.join(__dirname, '..', 'ts-register.js');

const HOST_GLOBALS = [
  'ArrayBuffer', 'SharedArrayBuffer', 'DataView',
  'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array',
  'Int32Array', 'Uint32Array', 'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array',
];

class HostTypedArraysEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of HOST_GLOBALS) {
      if (name in globalThis) this.global[name] = globalThis[name];
    }
  }
}

module.exports = HostTypedArraysEnvironment;
