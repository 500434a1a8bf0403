export type { BackendName, RuntimeInfo, SetupOptions } from './backend';
export { BACKEND_PREFERENCE, availableBackends, parseBackendEnv, setup } from './backend';
export type { LatencyOptions, LatencyResult } from './latency';
export { measureLatency } from './latency';
export { WASM_TRAINING_KERNELS, registerWasmTrainingKernels } from './wasm-training/register';
