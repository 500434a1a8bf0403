/** Messages between the data-parallel runner (fit's thread) and its workers. */
import type { HostTensors, OptimizerSpec, TaskModule } from '@mobilenets/training';
import type { BackendName } from '../backend';

/** A named array crossing threads (optimizer slots). */
export interface NamedArray {
  name: string;
  data: Float32Array;
  shape: number[];
}

export interface InitMessage {
  type: 'init';
  workerIndex: number;
  workers: number;
  backend: BackendName;
  /** model.toJSON() of the replica to build. */
  topology: string;
  /** model.getWeights(), in order. */
  weights: Float32Array[];
  /** The optimizer's class and config, and its state (optimizer.getWeights(): iterations, then slots). */
  optimizer: OptimizerSpec & { state: NamedArray[] };
  task: TaskModule;
  weightDecay: number;
  /** workers × trainable-parameter floats: each worker's weighted gradient, in its own slot. */
  gradients: SharedArrayBuffer;
  /** workers × non-trainable floats (batch-norm moving statistics), averaged over the active workers after each step. */
  statistics: SharedArrayBuffer;
}

export interface StepMessage {
  type: 'step';
  /** This worker's shard of the batch. */
  tensors: HostTensors;
  examples: number;
  /** This shard's share of the batch: its gradients are scaled by it before the exchange. */
  weight: number;
  /** Dropout seed of each of the shard's micro-batches (their count is the accumulation). */
  seeds: number[];
}

export interface ApplyMessage {
  type: 'apply';
  learningRate: number;
  /** Workers that computed a shard this step (workers 0 … active − 1); only their statistics are averaged. */
  active: number;
  /** Indices of trainable variables no worker got a gradient for: left untouched, as a single process would. */
  skip: number[];
}

export type ToWorker = InitMessage | StepMessage | ApplyMessage | { type: 'weights' } | { type: 'optimizer' } | { type: 'stop' };

export type FromWorker =
  | { type: 'ready'; backend: string }
  | { type: 'gradients'; losses: Record<string, number>; metrics: Record<string, number>; examples: number; missing: number[] }
  | { type: 'applied' }
  | { type: 'weights'; weights: Float32Array[] }
  | { type: 'optimizer'; state: NamedArray[] }
  | { type: 'error'; message: string; stack?: string };
