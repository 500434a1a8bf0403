/**
 * The task seam of the training core. `fit` knows steps, schedules, checkpoints and stopping rules; a
 * task knows what a batch is, how the model's outputs and the batch's targets become a loss, and how to
 * measure a model on validation data — Keras' `train_step` / `compute_loss` override, torchvision's
 * "the model returns a dict of named losses".
 *
 * A batch crosses from the data to the step as named host arrays whose first dimension is the batch
 * (`StepBatch`): that is what lets fit split it into accumulated micro-batches and lets data-parallel
 * workers (other threads, with their own tfjs) split it into shards, without knowing the task.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { TrainingData } from './data';

/** One array of a batch. Its first dimension is the batch. Int32Array for integers (labels, indices), Float32Array otherwise. */
export interface HostTensor {
  data: Float32Array | Int32Array;
  shape: number[];
}

export type HostTensors = Record<string, HostTensor>;

/** A batch ready for a training step: named arrays, all with `examples` as their first dimension. */
export interface StepBatch {
  tensors: HostTensors;
  examples: number;
}

/** What a task's loss returns: named scalar parts (each a mean over the batch; the loss is their sum) and named training metrics. */
export interface TaskLoss {
  losses: Record<string, tf.Scalar>;
  /** Means over the batch, measured on the same forward pass (e.g. accuracy); not differentiated. */
  metrics?: Record<string, tf.Scalar>;
}

/** The part of a task a training step needs: runs in fit's thread and in data-parallel workers. */
export interface TaskStep {
  /**
   * Forward pass in training mode (`model.apply(x, { training: true })`) and the loss of one batch.
   * Called inside `tf.variableGrads`; tensors it creates are freed by the caller.
   */
  loss(model: tfl.LayersModel, batch: tf.NamedTensorMap): TaskLoss;
}

/**
 * How a data-parallel worker rebuilds a task's step in its own thread: it requires `module`, calls the
 * export `registerLayers` (when given, to register the task's layer classes before the replica is
 * built from its JSON), then the export `factory` with `options` (JSON) to get the {@link TaskStep}.
 */
export interface TaskModule {
  /** A module path a worker can require (a task's own `__filename`). */
  module: string;
  factory: string;
  options?: unknown;
  registerLayers?: string;
}

export interface ValidationResult<Details = unknown> {
  /** Named metrics of the model on the validation data (e.g. top1, top5, loss). */
  metrics: Record<string, number>;
  /** Task-specific detail (classification: per-class accuracy and the confusion matrix). */
  details?: Details;
}

/** The validation metric that picks the best checkpoint, and which way is better. */
export interface BestMetric {
  name: string;
  mode: 'max' | 'min';
}

export interface Task<Batch = unknown, Details = unknown> extends TaskStep {
  /** A short name for messages ('classification'). */
  readonly name: string;
  readonly best: BestMetric;
  /** How workers load this task's step; without it, the task trains in fit's thread only. */
  readonly worker?: TaskModule;
  /** Checks that the model and the data fit the task; throws a clear error otherwise. */
  check?(model: tfl.LayersModel, data: TrainingData<Batch>, role: 'training' | 'validation'): void;
  /** A batch as the data yields it → named host arrays. Throws a clear error for a malformed batch. */
  prepare(batch: Batch): StepBatch;
  /**
   * Measures the model (inference mode) on every batch of `data` once — through `options.predict` when
   * given (the same forward pass on the training engine, see {@link predictOutputs}).
   */
  validate(model: tfl.LayersModel, data: TrainingData<Batch>, options: ValidateOptions): Promise<ValidationResult<Details>>;
}

/**
 * The model's forward pass in inference mode on one batch of NHWC images, run outside tfjs (the onnx
 * training engine runs it on onnxruntime: StepRunner.inference). Resolves to the model's outputs as host
 * arrays, in model.outputs order, each row-major in the tfjs layout.
 */
export type Predict = (images: Float32Array, shape: readonly [number, number, number, number]) => Promise<Float32Array[]>;

export interface ValidateOptions {
  batchSize: number;
  /** Runs the forward pass elsewhere; without it the model predicts on tfjs. */
  predict?: Predict;
  /** Stop reading batches once it aborts (fit then discards the validation cut short). */
  signal?: AbortSignal;
  /** Called after each batch with the examples validated so far. */
  onProgress?(progress: ValidationProgress): void | Promise<void>;
}

export interface ValidationProgress {
  examples: number;
  /** The data's size. */
  total: number;
}

/**
 * The batches a validation reads: all of the data once, in order, unshuffled. Ends early, between
 * batches, once `signal` aborts, and reports the examples done after each batch the caller has used.
 */
export async function* validationBatches<Batch extends { shape: readonly number[] }>(data: TrainingData<Batch>, options: ValidateOptions): AsyncGenerator<Batch> {
  const { batchSize, signal, onProgress } = options;
  let examples = 0;
  for await (const batch of data.batches({ epoch: 0, batchSize, seed: 0, skip: 0, shuffle: false })) {
    if (signal?.aborted) return;
    yield batch;
    examples += batch.shape[0];
    await onProgress?.({ examples, total: data.size });
  }
}

/** A single-input model's outputs for one batch of images: through `predict` when given, else model.predict on tfjs. */
export async function predictOutputs(model: tfl.LayersModel, images: Float32Array, shape: readonly [number, number, number, number], predict?: Predict): Promise<Float32Array[]> {
  if (predict !== undefined) return predict(images, shape);
  return tf.tidy(() => {
    const out = model.predict(tf.tensor4d(images, [...shape]));
    return (Array.isArray(out) ? out : [out]).map((t) => t.dataSync() as Float32Array);
  });
}

/** tfjs tensors for host arrays (int32 for Int32Array). The caller disposes them. */
export function toTensors(host: HostTensors): tf.NamedTensorMap {
  const out: tf.NamedTensorMap = {};
  for (const [name, t] of Object.entries(host)) out[name] = tf.tensor(t.data, t.shape, t.data instanceof Int32Array ? 'int32' : 'float32');
  return out;
}

/** Rows [start, end) of every array of a batch (copies). */
export function sliceBatch(batch: StepBatch, start: number, end: number): StepBatch {
  const tensors: HostTensors = {};
  for (const [name, t] of Object.entries(batch.tensors)) {
    const row = t.shape.slice(1).reduce((a, b) => a * b, 1);
    tensors[name] = { data: t.data.slice(start * row, end * row), shape: [end - start, ...t.shape.slice(1)] };
  }
  return { tensors, examples: end - start };
}

/** Sizes of `parts` consecutive shares of `n` examples that differ by at most one (larger first). */
export function shareSizes(n: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(n / parts) + (i < n % parts ? 1 : 0));
}

/** Splits a batch into `parts` consecutive micro-batches whose sizes differ by at most one. */
export function splitBatch(batch: StepBatch, parts: number): StepBatch[] {
  if (!Number.isInteger(parts) || parts < 1 || parts > batch.examples) {
    throw new RangeError(`splitBatch: parts must be an integer in [1, ${batch.examples}] (the batch's examples). Received ${parts}.`);
  }
  if (parts === 1) return [batch];
  let start = 0;
  return shareSizes(batch.examples, parts).map((size) => sliceBatch(batch, start, (start += size)));
}

/** Checks that every array of a step batch has `examples` rows and as many values as its shape says. */
export function checkStepBatch(batch: StepBatch, where: string): void {
  if (!Number.isInteger(batch?.examples) || batch.examples < 1) throw new RangeError(`${where}: a step batch needs examples ≥ 1. Received ${batch?.examples}.`);
  for (const [name, t] of Object.entries(batch.tensors)) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (!(t.data instanceof Float32Array || t.data instanceof Int32Array)) throw new TypeError(`${where}: tensors.${name} must hold a Float32Array or an Int32Array.`);
    if (t.shape[0] !== batch.examples || t.data.length !== size) {
      throw new RangeError(`${where}: tensors.${name} has shape [${t.shape}] and ${t.data.length} values; expected ${batch.examples} rows first and one value per element.`);
    }
  }
}
