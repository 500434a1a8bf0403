/**
 * Backend bootstrap. Libraries never choose a backend; apps call {@link setup} once at start. It also
 * installs the backbone's fused layers and gradients (installFusedLayers), which importing a library never does.
 *
 * Order of preference: `tensorflow` (@tensorflow/tfjs-node, an optional dependency that needs
 * libtensorflow and so is often absent) → `wasm` (XNNPACK with SIMD) → `cpu` (plain JavaScript).
 * The environment variable MOBILENETS_BACKEND overrides the choice.
 */
import * as tf from '@tensorflow/tfjs-core';
import { installFusedLayers } from '@mobilenets/backbone';
import { registerWasmTrainingKernels } from './wasm-training/register';
import { initWasmSimdKernels } from './wasm-training/simd/module';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_PREFERENCE: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

export interface SetupOptions {
  /** Backend to use; default: MOBILENETS_BACKEND, else the first of tensorflow → wasm → cpu that loads. */
  backend?: BackendName;
  /** Where the one-line "backend chosen" message goes; default console.error. Pass null to stay quiet. */
  log?: ((message: string) => void) | null;
}

export interface RuntimeInfo {
  backend: BackendName;
  /** Threads the backend computes with. */
  threads: number;
  /** Backends that load on this machine, in order of preference. */
  available: BackendName[];
}

let current: RuntimeInfo | null = null;

/** Picks and initialises the tfjs backend; logs the choice once. Calling it again with the same answer is free. */
export async function setup(options: SetupOptions = {}): Promise<RuntimeInfo> {
  const requested = options.backend ?? parseBackendEnv(process.env.MOBILENETS_BACKEND);
  // The backbone's fused batch norm and relu6 (also for models loaded from model.json) and the fused
  // ReLU/ReLU6 gradients: process-wide, so installed here rather than when the backbone is imported.
  installFusedLayers();
  // tfjs prints an advert for tfjs-node on first use of the cpu backend; the choice is logged below instead.
  tf.env().set('PROD', true);
  const available = availableBackends();
  const backend = requested ?? available[0];
  if (!available.includes(backend)) {
    throw new Error(`setup: backend '${backend}' is not available here (available: ${available.join(', ')}).` +
      (backend === 'tensorflow' ? ' @tensorflow/tfjs-node is an optional dependency that needs libtensorflow; install it on a connected machine.' : ''));
  }
  if (current?.backend === backend && tf.getBackend() === backend) return current;
  if (backend === 'wasm') {
    registerWasmTrainingKernels(); // before the backend initialises, so its setup covers them
    await initWasmSimdKernels(); // the SIMD versions of their loops; without them the kernels loop in JavaScript
  }
  if (!(await tf.setBackend(backend))) throw new Error(`setup: backend '${backend}' failed to initialise.`);
  await tf.ready();
  current = { backend, threads: threadCount(backend), available };
  const log = options.log === undefined ? (m: string) => console.error(m) : options.log;
  log?.(`mobilenets: tfjs backend '${backend}', ${current.threads} thread${current.threads === 1 ? '' : 's'} (available: ${available.join(', ')})`);
  return current;
}

/** Backends that load on this machine, in order of preference. Loading registers them with tfjs. */
export function availableBackends(): BackendName[] {
  return BACKEND_PREFERENCE.filter(load);
}

const loaded = new Map<BackendName, boolean>();

function load(name: BackendName): boolean {
  if (!loaded.has(name)) {
    const moduleName = { tensorflow: '@tensorflow/tfjs-node', wasm: '@tensorflow/tfjs-backend-wasm', cpu: '@tensorflow/tfjs-backend-cpu' }[name];
    try {
      require(moduleName);
      loaded.set(name, tf.findBackendFactory(name) != null);
    } catch {
      loaded.set(name, false);
    }
  }
  return loaded.get(name) === true;
}

function threadCount(backend: BackendName): number {
  if (backend === 'wasm') {
    const wasm = require('@tensorflow/tfjs-backend-wasm') as { getThreadsCount(): number };
    return wasm.getThreadsCount();
  }
  if (backend === 'tensorflow') return require('node:os').availableParallelism() as number;
  return 1;
}

export function parseBackendEnv(value: string | undefined): BackendName | undefined {
  if (value === undefined || value === '') return undefined;
  if ((BACKEND_PREFERENCE as readonly string[]).includes(value)) return value as BackendName;
  throw new RangeError(`MOBILENETS_BACKEND must be one of ${BACKEND_PREFERENCE.join(', ')}. Received '${value}'.`);
}
