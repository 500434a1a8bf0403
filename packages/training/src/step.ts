/**
 * One training step of a classifier, split so that it can be spread over micro-batches and workers:
 * gradients of the loss for a batch, their weighted sum over several batches, and their application.
 *
 * Loss: categorical cross-entropy of the model's softmax output (probabilities clipped to
 * [1e-7, 1 − 1e-7], as Keras does) plus L2 weight decay as TF-slim applies it —
 * weightDecay · ½‖w‖² on convolution and fully connected kernels, and none on depthwise filters,
 * biases or batch norm ("very little or no weight decay on the depthwise filters", V1 §3.2).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

export interface LossOptions {
  /** L2 coefficient on conv and FC kernels (TF-slim's 4e-5 in the paper's recipe). Default 0. */
  weightDecay?: number;
  /** Label smoothing ε: targets become (1 − ε)·y + ε/classes. Default 0 (the V1 paper uses none). */
  labelSmoothing?: number;
}

/** Kernels that get weight decay: Conv2D and Dense kernels; never depthwise filters, biases or batch norm. */
export function decayedWeights(model: tfl.LayersModel): tfl.LayerVariable[] {
  return model.layers.flatMap((layer) => {
    const className = layer.getClassName();
    if (className !== 'Conv2D' && className !== 'Dense') return [];
    return layer.trainableWeights.filter((w) => w.originalName.endsWith('/kernel'));
  });
}

/** Mean cross-entropy of `probabilities` against one-hot `labels`, plus the weight-decay penalty. */
export function classificationLoss(model: tfl.LayersModel, probabilities: tf.Tensor, labels: tf.Tensor, options: LossOptions = {}): tf.Scalar {
  const { weightDecay = 0, labelSmoothing = 0 } = options;
  return tf.tidy(() => {
    const classes = labels.shape[labels.shape.length - 1];
    const targets = labelSmoothing > 0 ? tf.add(tf.mul(labels, 1 - labelSmoothing), labelSmoothing / classes) : labels;
    const logP = tf.log(tf.clipByValue(probabilities, 1e-7, 1 - 1e-7));
    let loss = tf.neg(tf.mean(tf.sum(tf.mul(targets, logP), -1))) as tf.Scalar;
    if (weightDecay > 0) {
      const penalty = tf.addN(decayedWeights(model).map((w) => tf.sum(tf.square(w.read()))));
      loss = tf.add(loss, tf.mul(penalty, weightDecay / 2));
    }
    return loss;
  });
}

export interface BatchGradients {
  /** Loss of this batch (mean over its examples, plus the penalty). */
  loss: number;
  /** Examples in the batch: the weight of these gradients when batches are combined. */
  examples: number;
  /** d loss / d variable, keyed by the tf.Variable's name. */
  grads: tf.NamedTensorMap;
  /** Examples whose highest probability is at their label's highest target (top-1 hits in training mode). */
  correct?: number;
}

/** The model's trainable variables, in the model's weight order. */
export function trainableVariables(model: tfl.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}

/** Forward in training mode (batch statistics, dropout; moving averages updated) and backward for one batch. */
export function batchGradients(model: tfl.LayersModel, x: tf.Tensor, labels: tf.Tensor, options: LossOptions = {}): BatchGradients {
  let hits: tf.Tensor | null = null;
  const { value, grads } = tf.variableGrads(() => {
    const probabilities = model.apply(x, { training: true }) as tf.Tensor;
    hits = tf.keep(tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(probabilities, -1), tf.argMax(labels, -1)), 'int32'))));
    return classificationLoss(model, probabilities, labels, options);
  }, trainableVariables(model));
  const loss = value.dataSync()[0];
  value.dispose();
  const counted = hits as tf.Tensor | null;
  const correct = counted === null ? undefined : counted.dataSync()[0];
  counted?.dispose();
  return { loss, examples: x.shape[0], grads, correct };
}

/**
 * Example-weighted mean of several batches' gradients: with equal penalties this equals the gradient of
 * one batch made of all of them (batch-norm statistics aside, which stay per batch). Disposes the inputs.
 */
export function combineGradients(parts: BatchGradients[]): BatchGradients {
  if (parts.length === 0) throw new RangeError('combineGradients: no gradients to combine');
  if (parts.length === 1) return parts[0];
  const examples = parts.reduce((n, p) => n + p.examples, 0);
  const grads: tf.NamedTensorMap = {};
  for (const name of Object.keys(parts[0].grads)) {
    grads[name] = tf.tidy(() => tf.addN(parts.map((p) => tf.mul(p.grads[name], p.examples / examples))));
  }
  for (const p of parts) tf.dispose(Object.values(p.grads));
  const correct = parts.every((p) => p.correct !== undefined) ? parts.reduce((n, p) => n + p.correct!, 0) : undefined;
  return { loss: parts.reduce((s, p) => s + p.loss * p.examples, 0) / examples, examples, grads, correct };
}

/** Splits a batch into `parts` micro-batches along the first axis (sizes differ by at most one). */
export function splitBatch(x: tf.Tensor, labels: tf.Tensor, parts: number): { x: tf.Tensor; labels: tf.Tensor }[] {
  const n = x.shape[0];
  if (!Number.isInteger(parts) || parts < 1 || parts > n) throw new RangeError(`splitBatch: parts must be an integer in [1, ${n}] (the batch size). Received ${parts}.`);
  const sizes = Array.from({ length: parts }, (_, i) => Math.floor(n / parts) + (i < n % parts ? 1 : 0));
  const xs = tf.split(x, sizes);
  const ys = tf.split(labels, sizes);
  return xs.map((xi, i) => ({ x: xi, labels: ys[i] }));
}

/**
 * One optimizer step on a batch, computed as `accumulate` micro-batches whose gradients are averaged
 * before the update: the same update as the whole batch at once, with a fraction of the memory.
 */
export function trainStep(model: tfl.LayersModel, optimizer: tf.Optimizer, x: tf.Tensor, labels: tf.Tensor, options: LossOptions & { accumulate?: number } = {}): number {
  return trainStepWithMetrics(model, optimizer, x, labels, options).loss;
}

export interface StepResult {
  /** Mean loss over the batch (cross-entropy plus the weight-decay penalty). */
  loss: number;
  /** Top-1 hits in the batch, measured in training mode before the update. */
  correct: number;
  examples: number;
}

/** {@link trainStep} that also reports the batch's top-1 hits (from the same forward pass). */
export function trainStepWithMetrics(model: tfl.LayersModel, optimizer: tf.Optimizer, x: tf.Tensor, labels: tf.Tensor, options: LossOptions & { accumulate?: number } = {}): StepResult {
  const { accumulate = 1, ...loss } = options;
  const micro = accumulate === 1 ? [{ x, labels }] : splitBatch(x, labels, accumulate);
  const parts = micro.map((m) => batchGradients(model, m.x, m.labels, loss));
  if (accumulate !== 1) tf.dispose(micro.flatMap((m) => [m.x, m.labels]));
  const combined = combineGradients(parts);
  optimizer.applyGradients(combined.grads);
  tf.dispose(Object.values(combined.grads));
  return { loss: combined.loss, correct: combined.correct ?? 0, examples: combined.examples };
}
