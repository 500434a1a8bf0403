/** Messages between the data-parallel trainer (main thread) and its workers. */
import type { LossOptions } from '@mobilenets/training';

export interface OptimizerSpec {
  /** RMSprop as in the paper's recipe (TF's RMSPropOptimizer: decay, momentum, epsilon). */
  kind: 'rmsprop';
  learningRate: number;
  decay: number;
  momentum: number;
  epsilon: number;
}

export interface InitMessage {
  type: 'init';
  workerIndex: number;
  workers: number;
  backend: 'wasm' | 'cpu' | 'tensorflow';
  /** model.toJSON() of the replica to build. */
  topology: string;
  weights: Float32Array[];
  optimizer: OptimizerSpec;
  loss: LossOptions;
  /** workers × trainable-parameter floats: each worker's weighted gradient, in its own slot. */
  gradients: SharedArrayBuffer;
  /** workers × non-trainable floats (batch-norm moving statistics), averaged after each step. */
  statistics: SharedArrayBuffer;
}

export interface StepMessage {
  type: 'step';
  x: Float32Array;
  xShape: number[];
  labels: Float32Array;
  labelsShape: number[];
  /** This shard's share of the global batch: its gradients are scaled by it before the exchange. */
  weight: number;
  /** Micro-batches the shard is split into (gradient accumulation). */
  accumulate: number;
}

export interface ApplyMessage {
  type: 'apply';
  learningRate: number;
}

export type ToWorker = InitMessage | StepMessage | ApplyMessage | { type: 'weights' } | { type: 'profile' } | { type: 'stop' };

export type FromWorker =
  | { type: 'ready'; backend: string }
  | { type: 'gradients'; loss: number; examples: number }
  | { type: 'applied' }
  | { type: 'weights'; weights: Float32Array[] }
  | { type: 'error'; message: string; stack?: string };
