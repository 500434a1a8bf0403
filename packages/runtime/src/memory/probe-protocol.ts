/** Messages between {@link measureTrainingMemory} and its child process. */
import type { BackendName } from '../backend';

export interface ProbeRequest {
  backend: BackendName;
  /** model.toJSON() of the model to train. */
  topology: string;
  batchSize: number;
  accumulate: number;
  steps: number;
  /** 'exact' (default): the wasm memory grows exactly as far as asked; 'emscripten': as it usually does (~20 % more). */
  growth: 'exact' | 'emscripten';
}

export interface ProbeMeasurement {
  backend: BackendName;
  /**
   * The wasm memory's size after each step (bytes). Growing exactly as far as the module asks (the
   * default), its size after the last step is the peak heap the steps needed. Empty on other backends.
   */
  heapBytesAfterStep: number[];
  /** The wasm memory's size once the model and data were ready, before the first step. */
  heapBytesBeforeSteps: number | null;
  /** The size the memory would have reached with emscripten's usual growth (~20 % beyond each request). */
  grownHeapBytes: number | null;
  /** Peak bytes of tensor data in the wasm heap (tfjs' allocations; XNNPACK's own are not counted). */
  peakTensorBytes: number | null;
  /** Resident memory once the model and data were ready, and the peak resident memory (bytes). */
  rssBytesBeforeSteps: number;
  peakRssBytes: number;
  losses: number[];
  msPerStep: number;
}

export type ProbeReply =
  | ({ type: 'done' } & ProbeMeasurement)
  | { type: 'error'; message: string };
