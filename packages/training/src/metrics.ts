/** Classification metrics: top-1/top-5 accuracy, cross-entropy, per-class accuracy and the confusion matrix. */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ClassificationData, checkBatch } from './data';

export interface ClassAccuracy {
  /** Top-1 accuracy on this class's images (NaN when there are none). */
  accuracy: number;
  /** Images of this class. */
  count: number;
}

export interface EvaluationResult {
  /** Fraction of images whose most probable class is their label. */
  top1: number;
  /** Fraction whose label is among the 5 most probable classes (all classes when there are fewer than 5). */
  top5: number;
  /** Mean cross-entropy (probabilities clipped to [1e-7, 1 − 1e-7]); no weight decay. */
  loss: number;
  /** Images evaluated. */
  count: number;
  perClass: ClassAccuracy[];
  /** confusion[label][predicted]: image counts. */
  confusion: number[][];
}

export interface EvaluateOptions {
  /** Default 32. */
  batchSize?: number;
}

/** Runs `model` (inference mode) over every batch of `data` once, in order, and measures it. */
export async function evaluate(model: tfl.LayersModel, data: ClassificationData, options: EvaluateOptions = {}): Promise<EvaluationResult> {
  const { batchSize = 32 } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`evaluate: batchSize must be an integer ≥ 1. Received ${batchSize}.`);
  const classes = data.classes;
  const outputs = (model.outputs[0].shape as number[])[1];
  if (outputs !== classes) {
    throw new RangeError(`evaluate: the model '${model.name}' has ${outputs} outputs but the data has ${classes} classes; they must match.`);
  }
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  const k = Math.min(5, classes);
  let top1 = 0;
  let top5 = 0;
  let lossSum = 0;
  let count = 0;
  for await (const batch of data.batches({ epoch: 0, batchSize, seed: 0, skip: 0, shuffle: false })) {
    checkBatch(batch, classes, 'evaluate');
    const { indices, logP } = tf.tidy(() => {
      const x = tf.tensor4d(batch.images, batch.shape);
      const probabilities = model.predict(x) as tf.Tensor2D;
      const labels = tf.tensor1d(batch.labels, 'int32');
      const picked = tf.sum(tf.mul(probabilities, tf.oneHot(labels, classes)), -1);
      return { indices: tf.topk(probabilities, k).indices.arraySync() as number[][], logP: tf.log(tf.clipByValue(picked, 1e-7, 1 - 1e-7)).dataSync() };
    });
    batch.labels.forEach((label, i) => {
      const ranked = indices[i];
      confusion[label][ranked[0]] += 1;
      if (ranked[0] === label) top1 += 1;
      if (ranked.includes(label)) top5 += 1;
      lossSum -= logP[i];
    });
    count += batch.labels.length;
  }
  if (count === 0) throw new RangeError('evaluate: the data yielded no images; expected at least one batch.');
  const perClass = confusion.map((row, c) => {
    const n = row.reduce((a, b) => a + b, 0);
    return { accuracy: n === 0 ? NaN : row[c] / n, count: n };
  });
  return { top1: top1 / count, top5: top5 / count, loss: lossSum / count, count, perClass, confusion };
}
