/**
 * One training step of any task, split so that it can be spread over micro-batches and workers: the
 * gradients of a task's loss for a batch, their example-weighted mean over several batches, and their
 * application by the optimizer.
 *
 * The loss is the sum of the task's named parts plus L2 weight decay as TF-slim applies it —
 * weightDecay · ½‖w‖² on convolution and fully connected kernels, and none on depthwise filters,
 * biases or batch norm ("very little or no weight decay on the depthwise filters", V1 §3.2) — reported
 * as its own part, `weightDecay`.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { hashSeed } from '@mobilenets/random';
import { StepBatch, TaskStep, splitBatch, toTensors } from './task';

/** The name of the weight-decay part of every step's loss. */
export const WEIGHT_DECAY_LOSS = 'weightDecay';

export interface StepOptions {
  /** L2 coefficient on conv and FC kernels (TF-slim's 4e-5 in the paper's recipe). Default 0. */
  weightDecay?: number;
  /**
   * Seed of this (micro-)batch's dropout masks: with a seed, every Dropout layer draws its mask from
   * hashSeed(seed, layer index), so a step is reproducible (and a resumed run draws what the
   * uninterrupted one would have). Without, masks come from Math.random.
   */
  dropoutSeed?: number;
}

/** Kernels that get weight decay: trainable Conv2D and Dense kernels; never depthwise filters, biases or batch norm. */
export function decayedWeights(model: tfl.LayersModel): tfl.LayerVariable[] {
  return model.layers.flatMap((layer) => {
    const className = layer.getClassName();
    if (className !== 'Conv2D' && className !== 'Dense') return [];
    return layer.trainableWeights.filter((w) => w.originalName.endsWith('/kernel'));
  });
}

/** weightDecay · ½ Σ‖w‖² over {@link decayedWeights}; a zero scalar when there are none. */
export function weightDecayPenalty(model: tfl.LayersModel, weightDecay: number): tf.Scalar {
  return tf.tidy(() => {
    const weights = decayedWeights(model);
    if (weights.length === 0 || weightDecay === 0) return tf.scalar(0);
    return tf.mul(tf.addN(weights.map((w) => tf.sum(tf.square(w.read())))), weightDecay / 2) as tf.Scalar;
  });
}

/** The model's trainable variables, in the model's weight order (the order optimizers keep their slots in). */
export function trainableVariables(model: tfl.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}

export interface BatchGradients {
  /** The batch's loss: the sum of `losses`. */
  loss: number;
  /** Named parts of the loss (the task's, plus `weightDecay` when it is on), means over the batch. */
  losses: Record<string, number>;
  /** The task's training metrics, means over the batch. */
  metrics: Record<string, number>;
  /** Examples in the batch: the weight of these gradients when batches are combined. */
  examples: number;
  /** d loss / d variable, keyed by the tf.Variable's name. Variables the loss does not reach are absent. */
  grads: tf.NamedTensorMap;
}

const DROPOUT_CLASSES = new Set(['Dropout', 'SpatialDropout1D', 'AlphaDropout', 'GaussianDropout']);

/** Runs `fn` with every dropout layer's seed derived from `seed` (restored afterwards). */
export function withDropoutSeed<T>(model: tfl.LayersModel, seed: number | undefined, fn: () => T): T {
  if (seed === undefined) return fn();
  const layers = model.layers.filter((l) => DROPOUT_CLASSES.has(l.getClassName())) as unknown as { seed?: number }[];
  const saved = layers.map((l) => l.seed);
  // tfjs treats seed 0 as "unseeded"; hashSeed is 0 once in 2³².
  layers.forEach((l, i) => (l.seed = hashSeed(seed, i) || 1));
  try {
    return fn();
  } finally {
    layers.forEach((l, i) => (l.seed = saved[i]));
  }
}

/** Forward in training mode (batch statistics, dropout; moving averages updated) and backward for one batch of a task. */
export function batchGradients(model: tfl.LayersModel, task: TaskStep, batch: StepBatch, options: StepOptions = {}): BatchGradients {
  const { weightDecay = 0 } = options;
  const inputs = toTensors(batch.tensors);
  let lossNames: string[] = [];
  let metricNames: string[] = [];
  let values: tf.Tensor | null = null;
  try {
    const { value, grads } = withDropoutSeed(model, options.dropoutSeed, () =>
      tf.variableGrads(() => {
        const out = task.loss(model, inputs);
        const parts: Record<string, tf.Scalar> = { ...out.losses };
        if (WEIGHT_DECAY_LOSS in parts) throw new RangeError(`the task's loss has a part named '${WEIGHT_DECAY_LOSS}', which is reserved for the weight-decay penalty.`);
        if (Object.keys(parts).length === 0) throw new RangeError('the task returned no loss parts; expected at least one scalar in losses.');
        if (weightDecay > 0) parts[WEIGHT_DECAY_LOSS] = weightDecayPenalty(model, weightDecay);
        const metrics = out.metrics ?? {};
        lossNames = Object.keys(parts);
        metricNames = Object.keys(metrics);
        values = tf.keep(tf.stack([...Object.values(parts), ...Object.values(metrics)].map((t) => tf.reshape(tf.cast(t, 'float32'), []))));
        return tf.addN(Object.values(parts)) as tf.Scalar;
      }, trainableVariables(model)),
    );
    value.dispose();
    const read = (values as unknown as tf.Tensor).dataSync();
    const losses = Object.fromEntries(lossNames.map((n, i) => [n, read[i]]));
    const metrics = Object.fromEntries(metricNames.map((n, i) => [n, read[lossNames.length + i]]));
    const loss = lossNames.reduce((s, _n, i) => s + read[i], 0);
    return { loss, losses, metrics, examples: batch.examples, grads };
  } finally {
    tf.dispose(Object.values(inputs));
    if (values !== null) (values as tf.Tensor).dispose();
  }
}

function weightedMean(parts: BatchGradients[], pick: (p: BatchGradients) => Record<string, number>, examples: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of Object.keys(pick(parts[0]))) out[name] = parts.reduce((s, p) => s + (pick(p)[name] ?? NaN) * p.examples, 0) / examples;
  return out;
}

/**
 * Example-weighted mean of several batches' gradients, losses and metrics: with equal penalties this
 * equals the gradient of one batch made of all of them (batch-norm statistics aside, which stay per
 * batch). Disposes the inputs' gradients.
 */
export function combineGradients(parts: BatchGradients[]): BatchGradients {
  if (parts.length === 0) throw new RangeError('combineGradients: no gradients to combine');
  if (parts.length === 1) return parts[0];
  const examples = parts.reduce((n, p) => n + p.examples, 0);
  const grads: tf.NamedTensorMap = {};
  const names = new Set(parts.flatMap((p) => Object.keys(p.grads)));
  for (const name of names) {
    const present = parts.filter((p) => p.grads[name] !== undefined);
    grads[name] = tf.tidy(() => tf.addN(present.map((p) => tf.mul(p.grads[name], p.examples / examples))));
  }
  for (const p of parts) tf.dispose(Object.values(p.grads));
  const losses = weightedMean(parts, (p) => p.losses, examples);
  return { loss: Object.values(losses).reduce((a, b) => a + b, 0), losses, metrics: weightedMean(parts, (p) => p.metrics, examples), examples, grads };
}

export interface TrainStepOptions extends Omit<StepOptions, 'dropoutSeed'> {
  /** Micro-batches per step whose gradients are averaged before the update. Default 1. */
  accumulate?: number;
  /** Seed of the step's dropout masks; micro-batch k uses hashSeed(dropoutSeed, k). */
  dropoutSeed?: number;
}

/** The outcome of one optimizer step: the batch's loss, its parts and the training metrics. */
export type StepResult = Omit<BatchGradients, 'grads'>;

/**
 * One optimizer step on a batch, computed as `accumulate` micro-batches whose gradients are averaged
 * before the update: the same update as the whole batch at once (batch-norm statistics aside), with a
 * fraction of the memory. The optimizer's learning rate is whatever it is set to.
 */
export function trainStep(model: tfl.LayersModel, optimizer: tf.Optimizer, task: TaskStep, batch: StepBatch, options: TrainStepOptions = {}): StepResult {
  const { accumulate = 1, dropoutSeed, ...rest } = options;
  const micro = splitBatch(batch, Math.min(accumulate, batch.examples));
  const parts = micro.map((m, k) => batchGradients(model, task, m, { ...rest, dropoutSeed: dropoutSeed === undefined ? undefined : hashSeed(dropoutSeed, k) }));
  const { grads, ...result } = combineGradients(parts);
  applyGradients(model, optimizer, grads);
  tf.dispose(Object.values(grads));
  return result;
}

/**
 * Applies gradients in the order of the model's trainable variables. Optimizers keep their slots by
 * position in that list, so the order must not depend on which variables a batch happened to reach
 * (a variable without a gradient is skipped, its slots untouched), nor on the thread computing it.
 */
export function applyGradients(model: tfl.LayersModel, optimizer: tf.Optimizer, grads: tf.NamedTensorMap): void {
  const ordered = trainableVariables(model).map((v) => ({ name: v.name, tensor: grads[v.name] ?? (null as unknown as tf.Tensor) }));
  optimizer.applyGradients(ordered);
}
