/**
 * How much memory a training step needs, before training starts: from the model's layers (./layers.ts)
 * and coefficients measured on this project's models (see CALIBRATION and `npm run bench:memory`).
 *
 * tfjs' autodiff keeps every op's output for the backward pass and every op's gradient until the pass
 * ends, so a step's tensors peak at the end of the backward pass at about
 *
 *   2.25 × the layers' outputs  (forward activations, their gradients and batch-norm's extras)
 * + 9.8 × the trainable weights (weights, gradients, RMSprop's 2 slots, weight-decay and update temporaries)
 * + 2.25 × the inputs           (of all micro-batches of the step: an upper bound, the model's input copies)
 * + 1.2 × the largest kernel scratch (im2col patches of a k×k convolution)
 * + 1.15 × the weights per extra micro-batch (their gradients are combined at the end)
 *
 * all float32 (fitted over 28 configurations of V1 and V2, α 0.25–1.4, input 64–224, batch 1–24, then
 * checked on 29 with training's step runner: never below the measured tensors, at most 2 % above, 12 %
 * with accumulation). On wasm the heap needs more than its tensors: the
 * allocator's fragmentation and XNNPACK's own buffers, more for larger heaps (1.05× the tensors at 100 MiB,
 * 1.22× at 4 GiB), and it creeps up by up to 5 % more over the first ~50 steps. On cpu the garbage
 * collector frees tensors late, and V8's heaps grow (CALIBRATION.cpu). The tensorflow backend cannot be
 * measured here (tfjs-node does not install on this project's machines): it gets the cpu estimate,
 * unverified (libtensorflow frees a tensor's memory at once, but its kernels have scratch of their own).
 */
import type * as tfl from '@tensorflow/tfjs-layers';
import type { BackendName } from '../backend';
import { ModelMemoryProfile, modelMemoryProfile } from './layers';

export const MiB = 2 ** 20;
export const GiB = 2 ** 30;

/** The coefficients of the estimate; each is a measurement (`npm run bench:memory` prints them against fresh ones). */
export const CALIBRATION = {
  /** Tensor bytes at the step's peak, per float of each part (× 4 bytes). */
  tensors: { activations: 2.25, parameters: 9.8, inputs: 2.25, scratch: 1.2, parametersPerExtraMicroBatch: 1.15 },
  wasm: {
    /** The heap for t tensor bytes: base + t × (fragmentation + growth × t / GiB), at least the memory's initial 16 MiB. */
    baseBytes: 3 * MiB,
    fragmentation: 1.18,
    fragmentationPerGiB: 0.015,
    initialBytes: 16 * MiB,
    /** The heap keeps growing for ~50 steps as the allocator fragments (V1 0.25-128 b32: 433.6 MiB after 3 steps, 451.6 MiB after 50 and 100). */
    creep: 1.05,
    /** Resident memory of a process besides its wasm heap (Node, tfjs, the TypeScript loader, the app; measured 119–180 MiB). */
    processBytes: 224 * MiB,
    /** Resident memory of a data-parallel worker thread besides its wasm heap (measured ~120 MiB). */
    workerBytes: 192 * MiB,
  },
  cpu: {
    /**
     * What a step adds to the process: stepBytes + tensors × garbage. Tensors live in JavaScript
     * ArrayBuffers that the garbage collector frees some time after their disposal, and the first steps
     * grow V8's own heaps; how much depends on when the collector gets to run (V1 0.25-64 at batch 1
     * added 72 MiB alone, 116 MiB while the whole test suite ran; 11–99 MiB of tensors added 67–197 MiB).
     */
    stepBytes: 144 * MiB,
    garbage: 1.5,
    processBytes: 192 * MiB,
    workerBytes: 192 * MiB,
  },
} as const;

/** The largest wasm memory: 65535 pages of 64 KiB (tfjs-backend-wasm's build). */
export const WASM_HEAP_MAX_BYTES = 4294901760;

export interface TrainingMemoryOptions {
  /** The model, or its {@link modelMemoryProfile} (cheaper when estimating many batch sizes). */
  model: tfl.LayersModel | ModelMemoryProfile;
  /** Images per micro-batch on one replica (in process, or one data-parallel worker). */
  batchSize: number;
  backend: BackendName;
  /** Micro-batches per step (gradient accumulation): the replica holds all their images and gradients. Default 1. */
  accumulate?: number;
}

export interface TrainingMemoryEstimate {
  backend: BackendName;
  batchSize: number;
  accumulate: number;
  /** Bytes of tfjs tensors at the step's peak, by part. */
  tensors: { activations: number; parameters: number; inputs: number; scratch: number; total: number };
  /**
   * The step's peak: on wasm the heap it needs (what must fit under the 4 GiB cap, after the first ~50
   * steps); on cpu and tensorflow the memory it adds to the process.
   */
  bytes: number;
  /** wasm: at most what the heap's memory grows to (emscripten over-allocates by 20 %, at most 96 MiB); elsewhere = bytes. */
  grownBytes: number;
  /** Resident memory of the process (in process) or of one worker thread while it trains. */
  residentBytes: number;
  /** Resident memory of a worker thread (data-parallel training) while it trains. */
  workerResidentBytes: number;
}

function profileOf(model: tfl.LayersModel | ModelMemoryProfile): ModelMemoryProfile {
  return 'activationFloats' in model ? model : modelMemoryProfile(model);
}

function checkCount(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`estimateTrainingMemory: ${name} must be an integer ≥ 1. Received ${value}.`);
}

/** The step's tensor bytes at its peak (all backends hold the same tensors). */
export function estimateTensorBytes(profile: ModelMemoryProfile, batchSize: number, accumulate = 1): TrainingMemoryEstimate['tensors'] {
  const c = CALIBRATION.tensors;
  const activations = 4 * c.activations * batchSize * profile.activationFloats;
  const parameters = 4 * (c.parameters + c.parametersPerExtraMicroBatch * (accumulate - 1)) * profile.trainableFloats + 4 * profile.nonTrainableFloats;
  const inputs = 4 * c.inputs * batchSize * accumulate * profile.inputFloats;
  const scratch = 4 * c.scratch * batchSize * profile.scratchFloats;
  return { activations, parameters, inputs, scratch, total: activations + parameters + inputs + scratch };
}

/** The wasm heap that holds `tensorBytes` of tensors, after the first ~50 steps. */
export function wasmHeapForTensors(tensorBytes: number): number {
  const w = CALIBRATION.wasm;
  return Math.max(w.initialBytes, (w.baseBytes + tensorBytes * (w.fragmentation + (w.fragmentationPerGiB * tensorBytes) / GiB)) * w.creep);
}

/** What emscripten grows the memory to when the heap needs `bytes`: 20 % more than it had, at most 96 MiB beyond the request. */
export function wasmGrownHeap(bytes: number): number {
  return Math.min(WASM_HEAP_MAX_BYTES, Math.ceil(Math.min(bytes * 1.2, bytes + 96 * MiB) / 65536) * 65536);
}

/** Estimates the peak memory of one training step of `model` on `backend` (see the module's comment). */
export function estimateTrainingMemory(options: TrainingMemoryOptions): TrainingMemoryEstimate {
  const { batchSize, backend, accumulate = 1 } = options;
  checkCount('batchSize', batchSize);
  checkCount('accumulate', accumulate);
  const tensors = estimateTensorBytes(profileOf(options.model), batchSize, accumulate);
  if (backend === 'wasm') {
    const bytes = wasmHeapForTensors(tensors.total);
    const w = CALIBRATION.wasm;
    return { backend, batchSize, accumulate, tensors, bytes, grownBytes: wasmGrownHeap(bytes), residentBytes: w.processBytes + bytes, workerResidentBytes: w.workerBytes + bytes };
  }
  // cpu (measured) and tensorflow (the cpu figure, unverified: tfjs-node does not install on this project's machines).
  const c = CALIBRATION.cpu;
  const bytes = c.stepBytes + tensors.total * c.garbage;
  return { backend, batchSize, accumulate, tensors, bytes, grownBytes: bytes, residentBytes: c.processBytes + bytes, workerResidentBytes: c.workerBytes + bytes };
}

/** "2.9 GiB", "310 MiB". */
export function formatBytes(bytes: number): string {
  if (bytes >= GiB) return `${(bytes / GiB).toFixed(bytes >= 10 * GiB ? 0 : 1)} GiB`;
  return `${Math.max(1, Math.round(bytes / MiB))} MiB`;
}
