/**
 * Step runners: what takes fit's optimizer steps. fit decides what to train on and when; a runner
 * decides where the step runs. `localRunner()` runs it in fit's thread; `@mobilenets/runtime`'s
 * data-parallel runner spreads each batch over worker threads, and a faster engine can plug in here.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { hashSeed } from '@mobilenets/random';
import { StepResult, trainStep } from './step';
import type { BatchMoments } from './batch-norm-statistics';
import type { Predict, StepBatch, Task } from './task';

export interface RunnerStepOptions {
  /** Learning rate of this step. */
  lr: number;
  /** 0-based index of this optimizer step over the whole run: with the run's seed it fixes the step's dropout masks. */
  step: number;
}

export interface StepRunner {
  /** One optimizer step on `batch`. The model fit holds may lag behind until {@link sync}. */
  step(batch: StepBatch, options: RunnerStepOptions): Promise<StepResult>;
  /**
   * Makes fit's model hold the trained weights (moving statistics included) and, with
   * `optimizer: true`, fit's optimizer hold the optimizer state — before validation, averaging or a checkpoint.
   * `weights: false` leaves the model alone (fit asks for the optimizer only when the model already holds
   * this step's weights and may since have changed them: recomputed moving statistics). Default true.
   */
  sync(options?: { weights?: boolean; optimizer?: boolean }): Promise<void>;
  /** Frees what the runner holds (threads, replicas); fit's model and optimizer stay. */
  dispose(): Promise<void>;
  /**
   * Optional: the forward pass of `model` as it is now (weights and moving statistics) on the runner's
   * own engine, for validation — fit asks for it after sync (with the averaged weights under EMA) and
   * hands `predict` to the task's validate. Without it, or when it returns undefined (a model its engine
   * cannot run), validation predicts on tfjs.
   */
  inference?(model: tfl.LayersModel): RunnerInference | undefined;
  /**
   * Optional: the batch-norm layers' batch statistics of `model` as it is now, computed on the runner's
   * engine, for recomputing the moving statistics before validation (recomputeBatchNormStatistics).
   * Without it, or when it returns undefined, the task's forward pass runs on tfjs.
   */
  batchMoments?(model: tfl.LayersModel): RunnerBatchMoments | undefined;
}

/** Batch statistics on a runner's engine; dispose() frees what computing them holds. */
export interface RunnerBatchMoments {
  moments: BatchMoments;
  dispose(): Promise<void>;
}

/** A model's forward pass on a runner's engine; dispose() frees it. */
export interface RunnerInference {
  predict: Predict;
  dispose(): Promise<void>;
}

/** What fit hands a runner factory: the model and optimizer to train (weights and state as loaded), and the step's settings. */
export interface RunnerContext {
  model: tfl.LayersModel;
  optimizer: tf.Optimizer;
  task: Task<unknown>;
  weightDecay: number;
  /** Micro-batches per step (per worker for data-parallel runners). */
  accumulate: number;
  /** The run's seed: dropout masks of step s, micro-batch k use hashSeed(seed, s, k). */
  seed: number;
}

export type StepRunnerFactory = (context: RunnerContext) => StepRunner | Promise<StepRunner>;

/** Sets an optimizer's learning rate (every tfjs optimizer keeps it in a `learningRate` field). */
export function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  const o = optimizer as unknown as { learningRate?: number; setLearningRate?: (lr: number) => void };
  if (typeof o.learningRate !== 'number') throw new TypeError(`the optimizer ${optimizer.getClassName()} has no learningRate field to schedule.`);
  // SGD and Momentum compute with a scalar made from the rate (their setLearningRate remakes it); the
  // others read the field at every step.
  if (typeof o.setLearningRate === 'function') o.setLearningRate(lr);
  else o.learningRate = lr;
}

/** The dropout seed of step `step` of a run seeded `seed`. */
export function stepSeed(seed: number, step: number): number {
  return hashSeed(seed, step);
}

/** Trains in fit's own thread, on whatever tfjs backend is active. */
export function localRunner(): StepRunnerFactory {
  return ({ model, optimizer, task, weightDecay, accumulate, seed }) => ({
    async step(batch, { lr, step }) {
      setLearningRate(optimizer, lr);
      return trainStep(model, optimizer, task, batch, { weightDecay, accumulate, dropoutSeed: stepSeed(seed, step) });
    },
    async sync() {},
    async dispose() {},
  });
}
